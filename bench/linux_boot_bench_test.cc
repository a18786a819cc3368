#include "bench/linux_boot_bench.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace bench {
namespace {

std::string TmpDir() {
  const char* t = std::getenv("TEST_TMPDIR");
  return t != nullptr ? t : "/tmp";
}

// A script standing in for a VMM: `body` is shell.
std::string Script(const std::string& name, const std::string& body) {
  const std::string path = absl::StrCat(TmpDir(), "/", name);
  std::ofstream(path) << "#!/bin/sh\n" << body;
  chmod(path.c_str(), 0755);
  return path;
}

// kvmbed's stand-in: reads console_log from the profile (the last argument),
// prints the init line there, writes the linux_boot event, exits 0.
std::string FakeKvmbed() {
  return Script("fake-kvmbed",
                "for a in \"$@\"; do case \"$a\" in --events=*) ev=${a#--events=};; esac; done\n"
                "eval \"prof=\\${$#}\"\n"
                "con=$(sed -n 's/^  console_log: //p' \"$prof\")\n"
                "echo '[ 1.0] kvmbed-init: start 2 cpus' > \"$con\"\n"
                "echo '{\"type\":\"linux_boot\",\"kernel\":\"/boot/vmlinuz-x\",\"initrd\":\"/x.cpio\","
                "\"cmdline\":\"console=ttyS0\"}' > \"$ev\"\n"
                "exit 0\n");
}

// QEMU's stand-in: finds -serial file:PATH, prints the init line unless
// $1 is told otherwise, exits with `status`.
std::string FakeQemu(const std::string& name, bool reach_init, int status) {
  return Script(name, absl::StrCat(
                          "while [ $# -gt 0 ]; do [ \"$1\" = -serial ] && con=${2#file:}; shift; done\n",
                          reach_init ? "echo 'kvmbed-init: start 2 cpus' > \"$con\"\n"
                                     : "echo 'Kernel panic' > \"$con\"\n",
                          "exit ", status, "\n"));
}

LinuxBootBenchOptions Opts(const std::string& dir) {
  LinuxBootBenchOptions o;
  o.kvmbed = FakeKvmbed();
  o.work_dir = absl::StrCat(TmpDir(), "/", dir);
  o.runs = 2;
  o.timeout = absl::Seconds(20);
  return o;
}

TEST(LinuxBootBench, EveryVmmIsMeasuredTheSameWayAndQemuGetsKvmbedsInputs) {
  LinuxBootBenchOptions o = Opts("all");
  o.qemu = FakeQemu("fake-qemu", true, 1);  // isa-debug-exit: (0 << 1) | 1
  absl::StatusOr<LinuxBootBenchResult> r = RunLinuxBootBench(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->kernel, "/boot/vmlinuz-x");
  EXPECT_EQ(r->initrd, "/x.cpio");
  EXPECT_EQ(r->cmdline, "console=ttyS0");
  ASSERT_EQ(r->rows.size(), 4u);
  for (const LinuxBootRow& row : r->rows) {
    ASSERT_EQ(row.samples.size(), 2u) << row.vmm;
    for (const LinuxBootSample& s : row.samples) {
      EXPECT_TRUE(s.ok) << row.vmm << ": " << s.error;
      EXPECT_GE(s.to_init_s, 0);
      EXPECT_GE(s.total_s, s.to_init_s - 0.05);
      EXPECT_GT(s.peak_rss_kib, 0);
    }
  }
  const std::string text = FormatLinuxBootBench(*r);
  for (const char* vmm : {"kvmbed", "kvmbed-unwatched", "qemu-pc", "qemu-microvm"}) {
    EXPECT_TRUE(absl::StrContains(text, absl::StrFormat("  %-17s 2/2 ", vmm))) << vmm << "\n" << text;
  }
  // The unwatched kvmbed samples at 0.1 Hz; the watched one at the default.
  std::ifstream unwatched(o.work_dir + "/kvmbed-unwatched-1.yaml"), watched(o.work_dir + "/kvmbed-1.yaml");
  const std::string u((std::istreambuf_iterator<char>(unwatched)), std::istreambuf_iterator<char>());
  const std::string w((std::istreambuf_iterator<char>(watched)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(absl::StrContains(u, "  sample_hz: 0.1\n")) << u;
  EXPECT_FALSE(absl::StrContains(w, "sample_hz")) << w;
  // The timed boots get the files the warm-up resolved.
  EXPECT_TRUE(absl::StrContains(w, "  kernel: /boot/vmlinuz-x\n")) << w;
  EXPECT_TRUE(absl::StrContains(w, "  initrd: /x.cpio\n")) << w;
  EXPECT_TRUE(absl::StrContains(text, "1.00, 1.00")) << text;
  EXPECT_TRUE(absl::StrContains(text, "functional only")) << text;
  EXPECT_FALSE(absl::StrContains(text, "failed boots")) << text;
}

TEST(LinuxBootBench, FailedBootsAreCountedAndExplained) {
  LinuxBootBenchOptions o = Opts("fail");
  o.vmms = {"kvmbed", "qemu-pc"};
  o.qemu = FakeQemu("fake-qemu-panic", false, 1);
  absl::StatusOr<LinuxBootBenchResult> r = RunLinuxBootBench(o);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->rows.size(), 2u);
  for (const LinuxBootSample& s : r->rows[1].samples) {
    EXPECT_FALSE(s.ok);
    EXPECT_TRUE(absl::StrContains(s.error, "no \"kvmbed-init: start\" on the console")) << s.error;
  }
  const std::string text = FormatLinuxBootBench(*r);
  EXPECT_TRUE(absl::StrContains(text, absl::StrFormat("  %-17s 0/2 ", "qemu-pc"))) << text;
  EXPECT_TRUE(absl::StrContains(text, "failed boots:\n  qemu-pc run 1: no")) << text;

  o.qemu = FakeQemu("fake-qemu-status", true, 3);  // init's status 1
  r = RunLinuxBootBench(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->rows[1].samples[0].ok);
  EXPECT_TRUE(absl::StrContains(r->rows[1].samples[0].error, "exit status 3 (a clean boot gives 1)"))
      << r->rows[1].samples[0].error;

  o.qemu = "/nonexistent/qemu-system-x86_64";
  r = RunLinuxBootBench(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(absl::StrContains(r->rows[1].samples[0].error, "not found")) << r->rows[1].samples[0].error;
}

TEST(LinuxBootBench, AHungBootIsKilledAtTheTimeout) {
  LinuxBootBenchOptions o = Opts("hang");
  o.vmms = {"kvmbed", "qemu-pc"};
  o.runs = 1;
  o.timeout = absl::Seconds(1);
  o.qemu = Script("fake-qemu-hang", "exec sleep 60\n");
  absl::StatusOr<LinuxBootBenchResult> r = RunLinuxBootBench(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->rows[1].samples[0].ok);
  EXPECT_TRUE(absl::StrContains(r->rows[1].samples[0].error, "no power-off within 1s"))
      << r->rows[1].samples[0].error;
}

TEST(LinuxBootBench, BadOptionsAreErrors) {
  LinuxBootBenchOptions o = Opts("bad");
  o.runs = 0;
  EXPECT_FALSE(RunLinuxBootBench(o).ok());
  o = Opts("bad");
  o.vmms = {"qemu-pc"};
  EXPECT_TRUE(absl::StrContains(RunLinuxBootBench(o).status().message(), "start with kvmbed"));
  o = Opts("bad");
  o.vmms = {"kvmbed", "firecracker"};
  EXPECT_TRUE(absl::StrContains(RunLinuxBootBench(o).status().message(), "unknown VMM 'firecracker'"));
  o = Opts("bad");
  o.kvmbed = Script("fake-kvmbed-silent", "exit 0\n");
  EXPECT_TRUE(absl::StrContains(RunLinuxBootBench(o).status().message(), "no linux_boot event"));
}

TEST(LinuxBootBench, QemuArgvCarriesTheSameGuestAndTheExitPort) {
  LinuxBootBenchResult in;
  in.kernel = "/boot/vmlinuz";
  in.initrd = "/i.cpio";
  in.cmdline = "console=ttyS0 quiet";
  in.vcpus = 4;
  in.memory_bytes = 1ull << 30;
  const std::vector<std::string> pc = QemuBootArgv("qemu", "pc", in, "/c");
  const std::string joined = absl::StrJoin(pc, " ");
  EXPECT_TRUE(absl::StrContains(joined, "-M pc -enable-kvm -cpu host -smp 4 -m 1024M")) << joined;
  EXPECT_TRUE(absl::StrContains(joined, "-kernel /boot/vmlinuz -initrd /i.cpio")) << joined;
  EXPECT_TRUE(absl::StrContains(joined, "-serial file:/c")) << joined;
  EXPECT_TRUE(absl::StrContains(joined, "isa-debug-exit,iobase=0x4f0,iosize=1")) << joined;
  const std::vector<std::string> micro = QemuBootArgv("qemu", "microvm", in, "/c");
  EXPECT_EQ(micro[2].rfind("microvm", 0), 0u);
  // The command line is one argument, spaces and all.
  EXPECT_NE(std::find(pc.begin(), pc.end(), "console=ttyS0 quiet"), pc.end());
}

}  // namespace
}  // namespace bench
}  // namespace kvmbed
