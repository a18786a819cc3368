#include <cstdio>
#include <string>
#include <vector>
#include "hostipi/litmus.h"
using namespace kvmbed::hostipi;
int main(int argc, char** argv) {
 for (uint64_t seed = 1; seed <= 30; ++seed) {
  LitmusTest t = TwoPlusTwoW(Fence::kLwsync, Fence::kLwsync);
  std::vector<std::string> log;
  RunOptions o; o.mode = OrderingMode::kEmulatedPower; o.seed = seed;
  o.trace = [&](const TraceEvent& e) {
    char b[200]; snprintf(b, sizeof b, "t=%ld cpu%d %s %s v=%lu old=%lu", (long)e.time, e.cpu, TraceOpName(e.op), e.word ? e.word->name : "", (unsigned long)e.value, (unsigned long)e.old);
    log.push_back(b);
  };
  auto sys = MemorySystem::Create(o);
  SharedWord w[2]; w[0].name = "x"; w[1].name = "y";
  LitmusOutcome out;
  for (int it = 0; it < 40000; ++it) {
    log.clear(); w[0].value = 0; w[1].value = 0;
    sys->Run({[&](CpuMemory& m){ t.cpu[0](m, w, out.regs[0]); }, [&](CpuMemory& m){ t.cpu[1](m, w, out.regs[1]); }}, absl::Seconds(5));
    if (w[0].value == 1 && w[1].value == 1) { for (auto& l : log) puts(l.c_str()); printf("seed %lu it %d\n", (unsigned long)seed, it); return 0; }
  }
 }
 puts("none"); }
