#include "base/stop_signal.h"

#include <sched.h>
#include <signal.h>

#include <cerrno>

#include <atomic>

namespace kvmbed {
namespace {

constexpr int kMaxCallbacks = 64;
struct Callback {
  std::atomic<StopFn> fn{nullptr};
  std::atomic<void*> arg{nullptr};
};
Callback g_callbacks[kMaxCallbacks];
std::atomic<int> g_num_callbacks{0};
std::atomic<int> g_signal{0};
// Handlers between announcing themselves and finishing their callbacks.
// ClearStopCallbacks waits for it to drop to 0, so no handler that loaded a
// callback before the clear still runs it after (the pattern of
// VcpuThread::Join with kicks in flight). All accesses are seq_cst: either
// a handler's load of a callback sees the clear, or the clear's read of
// this counter sees that handler.
std::atomic<int> g_handlers_running{0};

void RunCallbacks() {
  g_handlers_running.fetch_add(1);
  int n = g_num_callbacks.load();
  for (int i = 0; i < n && i < kMaxCallbacks; ++i) {
    StopFn fn = g_callbacks[i].fn.load();
    if (fn != nullptr) fn(g_callbacks[i].arg.load());
  }
  g_handlers_running.fetch_sub(1);
}

void Handler(int sig) {
  int saved_errno = errno;
  int expected = 0;
  g_signal.compare_exchange_strong(expected, sig);
  RunCallbacks();
  errno = saved_errno;
}

}  // namespace

void InstallStopSignalHandler() {
  struct sigaction sa = {};
  sa.sa_handler = Handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  IgnoreFileSizeSignal();
}

void IgnoreFileSizeSignal() {
  struct sigaction ign = {};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  sigaction(SIGXFSZ, &ign, nullptr);
}

void OnStopSignal(StopFn fn, void* arg) {
  int i = g_num_callbacks.load();
  if (i >= kMaxCallbacks) return;
  g_callbacks[i].arg.store(arg);
  g_callbacks[i].fn.store(fn);
  g_num_callbacks.store(i + 1);
  if (g_signal.load() != 0) fn(arg);
}

void ClearStopCallbacks() {
  for (Callback& c : g_callbacks) c.fn.store(nullptr);
  g_num_callbacks.store(0);
  // A handler on another thread may have loaded a callback just before the
  // stores above; wait until it is done with it. (A handler interrupting
  // this thread runs to completion before the loop goes on.)
  while (g_handlers_running.load() != 0) sched_yield();
}

int StopSignalReceived() { return g_signal.load(); }

}  // namespace kvmbed
