#include "watch/linux_console.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kvmbed {
namespace watch {
namespace {

std::vector<LinuxConsoleEvent> Watch(const std::string& text) {
  std::vector<LinuxConsoleEvent> out;
  LinuxConsoleWatcher w([&](const LinuxConsoleEvent& e) { out.push_back(e); });
  for (char c : text) w.Feed(c);
  w.Flush();
  return out;
}

TEST(LinuxConsole, SoftLockupWithCpuAndEnd) {
  auto ev = Watch(
      "[   30.1] watchdog: BUG: soft lockup - CPU#2 stuck for 22s! [stress-ng:123]\n"
      "[   30.1] Modules linked in:\n"
      "[   30.1] RIP: 0010:smp_call_function_many_cond+0x11b/0x3c0\n"
      "[   30.2] ---[ end trace 0000000000000000 ]---\n"
      "[   31.0] unrelated\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, "soft_lockup");
  EXPECT_EQ(ev[0].cpu, 2);
  EXPECT_EQ(ev[0].stuck_s, 22);
  EXPECT_EQ(ev[0].lines.size(), 4u);
  EXPECT_TRUE(ev[0].fatal);
}

TEST(LinuxConsole, Kinds) {
  EXPECT_EQ(ClassifyLinuxLine("[ 1.0] csd: Detected non-responsive CSD lock (#1) on CPU#3, waiting 5000000 ns for CPU#01 do_flush_tlb_all+0x0/0x30(0x0).").kind, "csd");
  EXPECT_EQ(ClassifyLinuxLine("[ 1.0] csd: CSD lock (#1) got unstuck on CPU#03, CPU#01 released the lock.").kind, "csd_unstuck");
  EXPECT_FALSE(ClassifyLinuxLine("csd: CSD lock (#1) got unstuck on CPU#03, CPU#01 released the lock.").fatal);
  EXPECT_EQ(ClassifyLinuxLine("[ 9.9] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:").kind, "rcu_stall");
  EXPECT_EQ(ClassifyLinuxLine("[ 9.9] rcu: INFO: rcu_preempt self-detected stall on CPU").kind, "rcu_stall");
  EXPECT_EQ(ClassifyLinuxLine("[ 9.9] INFO: task kworker/0:1:12 blocked for more than 120 seconds.").kind, "hung_task");
  EXPECT_EQ(ClassifyLinuxLine("[ 9.9] Kernel panic - not syncing: sysrq triggered crash").kind, "panic");
  EXPECT_EQ(ClassifyLinuxLine("[ 9.9] BUG: kernel NULL pointer dereference, address: 0000000000000000").kind, "bug");
  EXPECT_EQ(ClassifyLinuxLine("[ 9.9] Oops: 0002 [#1] PREEMPT SMP NOPTI").kind, "oops");
  EXPECT_EQ(ClassifyLinuxLine("[ 9.9] NMI watchdog: Watchdog detected hard LOCKUP on cpu 1").kind, "hard_lockup");
  EXPECT_EQ(ClassifyLinuxLine("[ 9.9] Run /init as init process").kind, "");
  EXPECT_EQ(ClassifyLinuxLine("kvmbed: BUG: soft lockups are watched").kind, "");
}

TEST(LinuxConsole, RcuStallNamesTheStalledCpus) {
  auto ev = Watch(
      "[   52.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n"
      "[   52.0] rcu: \t2-...!: (0 ticks this GP) idle=8ec/0/0x0 softirq=900/900 fqs=0\n"
      "[   52.0] rcu: \t0-....: (5249 ticks this GP) idle=b2c/1/0x4000000000000000 softirq=1/1 fqs=2\n"
      "[   52.0] rcu: \t2-...!: (0 ticks this GP) repeated\n"
      "[   52.0] \t(detected by 1, t=5252 jiffies, g=2457, q=12 ncpus=3)\n"
      "[   52.1] Sending NMI from CPU 1 to CPUs 2:\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, "rcu_stall");
  EXPECT_EQ(RcuStalledCpus(ev[0]), (std::vector<int>{2, 0}));
  // Other kinds name none, whatever their lines say.
  LinuxConsoleEvent soft = ev[0];
  soft.kind = "soft_lockup";
  EXPECT_TRUE(RcuStalledCpus(soft).empty());
  // A report cut before its CPU lines names none.
  EXPECT_TRUE(RcuStalledCpus(Watch("[ 9.9] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:\n")[0]).empty());
}

TEST(LinuxConsole, SysrqCrashGivesOopsThenPanic) {
  auto ev = Watch(
      "[ 5.0] sysrq: Trigger a crash\n"
      "[ 5.0] Kernel panic - not syncing: sysrq triggered crash\n"
      "[ 5.0] CPU: 1 PID: 77 Comm: sh Not tainted 6.1.0-57-amd64 #1  Debian 6.1.158-1\n"
      "[ 5.0] Kernel Offset: disabled\n"
      "[ 5.0] ---[ end Kernel panic - not syncing: sysrq triggered crash ]---\n");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, "panic");
  EXPECT_EQ(ev[0].lines.size(), 4u);
}

TEST(LinuxConsole, ReportLineLimit) {
  std::string text = "BUG: unable to handle page fault for address: 0\n";
  for (int i = 0; i < 200; ++i) text += "filler\n";
  auto ev = Watch(text);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].lines.size(), 60u);
}

TEST(LinuxConsole, SymbolLines) {
  uint64_t a = 0;
  std::string n;
  ASSERT_TRUE(ParseSymbolLine("kvmbed-sym: ffffffff81150a10 T smp_call_function_many_cond", &a, &n));
  EXPECT_EQ(a, 0xffffffff81150a10ull);
  EXPECT_EQ(n, "smp_call_function_many_cond");
  EXPECT_FALSE(ParseSymbolLine("ffffffff81150a10 T x", &a, &n));
}

}  // namespace
}  // namespace watch
}  // namespace kvmbed
