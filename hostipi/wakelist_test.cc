#include "hostipi/wakelist.h"

#include <string>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace hostipi {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kResched = 1u << 1;  // IpiMessage kReschedule as a bit

// Sanitizers slow the modelled CPUs 3-15x; wall-time budgets grow with them
// (a phase still ends at its wakeup target, so a fast build is not slowed).
#if defined(__SANITIZE_THREAD__)
constexpr int kSlowdown = 16;
#elif defined(__SANITIZE_ADDRESS__)
constexpr int kSlowdown = 8;
#else
constexpr int kSlowdown = 1;
#endif

WakelistOptions Small() {
  WakelistOptions o;
  o.buggy_budget = absl::Seconds(10) * kSlowdown;
  o.fixed_budget = absl::Seconds(15) * kSlowdown;
  return o;
}

absl::StatusOr<WakelistPhase> Buggy(const std::string& model,
                                    uint64_t seed = 1) {
  WakelistOptions o = Small();
  o.seed = seed;
  return RunWakelistPhase(o, KernelModel::Known(model), o.buggy_budget, 0);
}

// Everything but the headline (which carries a wall time).
std::string WithoutHeadline(const std::string& report) {
  const size_t nl = report.find('\n');
  return nl == std::string::npos ? "" : report.substr(nl + 1);
}

TEST(WakelistTest, BuggyModelLeavesATaskInTaskWakingWithTheEvidence) {
  absl::StatusOr<WakelistPhase> p = Buggy("pre-9fb1b36");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->hung) << "no stuck task in " << p->wakeups << " wake-ups\n"
                       << p->report;
  ASSERT_GE(p->stuck_waker, 0);
  ASSERT_GE(p->stuck_target, 0);
  const std::string task = absl::StrCat("wakee/", p->stuck_waker, "->",
                                        p->stuck_target);
  // The stuck entry is still queued, nothing took it.
  EXPECT_TRUE(p->wake_list_bits & (uint64_t{1} << p->stuck_waker));
  // The receiver's demux took the RESCHEDULE and read the list empty.
  EXPECT_EQ(p->missed_read_messages & kResched, kResched);
  EXPECT_FALSE(p->messages_now & kResched);
  const std::string& r = p->report;
  EXPECT_THAT(r, HasSubstr(absl::StrCat("INFO: task ", task,
                                        " stuck in TASK_WAKING for ")));
  EXPECT_THAT(r, HasSubstr(absl::StrCat("missed wake_list entry: ", task)));
  EXPECT_THAT(r, HasSubstr("took RESCHEDULE and scheduler_ipi() read "
                           "rq->wake_list empty (plain load) while it held"));
  EXPECT_THAT(r, HasSubstr("stores still buffered at that read: "));
  EXPECT_THAT(r, HasSubstr("verdict: LOST"));
  EXPECT_THAT(r, HasSubstr("pre-9fb1b36 (message-pass-mb=off "
                           "demux=xchg-relaxed cause-ipi-mb=on)"));
  // The CPU-by-CPU trace shows the demux, the missed read and the IPI of
  // the stuck wake-up that found no message.
  EXPECT_THAT(r, HasSubstr("smp_ipi_demux(): xchg_local -> RESCHEDULE"));
  EXPECT_THAT(r, HasSubstr(absl::StrCat("// MISSED ")));
  EXPECT_THAT(r, HasSubstr("smp_ipi_demux(): xchg_local -> none"));
  EXPECT_THAT(r, HasSubstr(absl::StrCat(
                     p->stuck_waker, ": try_to_wake_up(", task, ")")));
  EXPECT_THAT(r, HasSubstr(absl::StrCat("hung task: ", task,
                                        " still TASK_WAKING")));
}

TEST(WakelistTest, FixedModelStaysCleanOverManyWakeups) {
  for (int cpus : {4, 8}) {
    WakelistOptions o = Small();
    o.num_cpus = cpus;
    const int64_t n = cpus == 4 ? 300'000 : 100'000;
    absl::StatusOr<WakelistPhase> p =
        RunWakelistPhase(o, KernelModel::Known("9fb1b36"), o.fixed_budget, n);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_FALSE(p->hung) << p->report;
    EXPECT_GE(p->wakeups, n) << cpus << " CPUs: budget too short";
    EXPECT_GT(p->ipis, 0);
    EXPECT_EQ(p->slow, 0) << p->report;
  }
}

TEST(WakelistTest, EachBarrierSiteMattersOnItsOwn) {
  // Sender side: without the smp_mb() the message store overtakes the
  // wake_list store.
  absl::StatusOr<WakelistPhase> p = Buggy("9fb1b36,message-pass-mb=off");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->hung) << p->wakeups << " wake-ups";
  EXPECT_EQ(p->missed_read_messages & kResched, kResched);
  EXPECT_THAT(p->report, HasSubstr("but its earlier llist_add store was not "
                                   "(no smp_mb() before the message store)"));

  // Receiver side: xchg_local() lets the list load pass the message read.
  p = Buggy("9fb1b36,demux=xchg-relaxed");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->hung) << p->wakeups << " wake-ups";
  EXPECT_EQ(p->missed_read_messages & kResched, kResched);
  EXPECT_THAT(p->report, HasSubstr("satisfied early (xchg_local() orders "
                                   "nothing after the read)"));

  // cause_ipi without its barrier: the IPI overtakes the message store,
  // the handler finds no message, RESCHEDULE lands later with no IPI.
  p = Buggy("9fb1b36,cause-ipi-mb=off");
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->hung) << p->wakeups << " wake-ups";
  EXPECT_TRUE(p->message_landed_late);
  EXPECT_EQ(p->messages_now & kResched, kResched);
  EXPECT_THAT(p->report, HasSubstr("RESCHEDULE is set but no IPI is coming"));

  // Either half of 9fb1b36 alone leaves the other site open.
  p = Buggy("pre-9fb1b36,message-pass-mb=on");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->hung);
  p = Buggy("pre-9fb1b36,demux=xchg");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->hung);
}

TEST(WakelistTest, SeedsReplayExactly) {
  absl::StatusOr<WakelistPhase> a = Buggy("pre-9fb1b36", 3);
  absl::StatusOr<WakelistPhase> b = Buggy("pre-9fb1b36", 3);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a->hung && b->hung);
  EXPECT_EQ(a->wakeups_to_hang, b->wakeups_to_hang);
  EXPECT_EQ(a->ticks, b->ticks);
  EXPECT_EQ(a->stuck_waker, b->stuck_waker);
  EXPECT_EQ(a->stuck_target, b->stuck_target);
  EXPECT_EQ(WithoutHeadline(a->report), WithoutHeadline(b->report));
  absl::StatusOr<WakelistPhase> c = Buggy("pre-9fb1b36", 4);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->ticks, c->ticks);
}

TEST(WakelistTest, ASlowReceiverIsSlowNotLost) {
  // scheduler_ipi() takes longer than the threshold: tasks run late, every
  // report finds the target in its handler, and each task does run.
  WakelistOptions o = Small();
  o.threshold_ticks = 2'000;
  o.ttwu_relax = 3'000;
  absl::StatusOr<WakelistPhase> p =
      RunWakelistPhase(o, KernelModel::Known("9fb1b36"), o.fixed_budget, 2'000);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE(p->hung) << p->report;
  EXPECT_GE(p->wakeups, 2'000);
  EXPECT_GT(p->slow, 0);
  EXPECT_THAT(p->report, HasSubstr("verdict: SLOW"));
  EXPECT_THAT(p->report, Not(HasSubstr("verdict: LOST")));
}

TEST(WakelistTest, ReproductionFillsTheSharedContract) {
  WakelistOptions o = Small();
  o.fixed_wakeups = 50'000;
  absl::StatusOr<Reproduction> r = ReproduceMuxedIpiWakelist(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "muxed-ipi-wakelist");
  EXPECT_EQ(r->commit, "9fb1b36ca1");
  EXPECT_EQ(r->unit, "wake-ups");
  EXPECT_TRUE(r->buggy.ran);
  EXPECT_TRUE(r->buggy.hung);
  EXPECT_EQ(r->buggy.hangs, 1);
  EXPECT_THAT(r->buggy.report, HasSubstr("stuck in TASK_WAKING"));
  EXPECT_THAT(r->buggy.kernel_model, HasSubstr("pre-9fb1b36"));
  EXPECT_TRUE(r->fixed.ran);
  EXPECT_EQ(r->fixed.hangs, 0);
  EXPECT_GE(r->fixed.operations, 50'000);
  EXPECT_NEAR(r->PBound(), 3.0 / r->fixed.operations, 1e-12);
  EXPECT_TRUE(r->Pass());
  const std::string text = RenderReproduction(*r);
  EXPECT_THAT(text, HasSubstr("reproduce muxed-ipi-wakelist: PASS"));
  EXPECT_THAT(text, HasSubstr("wake-ups"));
}

TEST(WakelistTest, PassNeedsBothPhases) {
  // A "buggy" model that is correct never hangs: FAIL.
  WakelistOptions o = Small();
  o.buggy_model = KernelModel::Known("9fb1b36");
  o.buggy_budget = absl::Seconds(1);
  o.fixed_wakeups = 10'000;
  absl::StatusOr<Reproduction> r = ReproduceMuxedIpiWakelist(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->buggy.hung);
  EXPECT_FALSE(r->Pass());
  // A "fixed" model that is buggy hangs: FAIL.
  o = Small();
  o.fixed_model = KernelModel::Known("pre-9fb1b36");
  r = ReproduceMuxedIpiWakelist(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->buggy.hung);
  EXPECT_EQ(r->fixed.hangs, 1);
  EXPECT_FALSE(r->Pass());
}

TEST(WakelistTest, KernelModelCauseIpiSiteAndPreset) {
  absl::StatusOr<KernelModel> fixed = KernelModel::Parse("9fb1b36");
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_TRUE(fixed->message_pass_mb);
  EXPECT_EQ(fixed->demux, DemuxRead::kXchg);
  EXPECT_TRUE(fixed->cause_ipi_mb);
  EXPECT_EQ(*fixed, *KernelModel::Parse("v5.3"));  // same sites, named for 000
  absl::StatusOr<KernelModel> old = KernelModel::Parse("pre-9fb1b36");
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->cause_ipi_mb);  // pre-9fb1b36 had mb() before cause_ipi
  absl::StatusOr<KernelModel> off =
      KernelModel::Parse("9fb1b36,cause-ipi-mb=off");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->cause_ipi_mb);
  EXPECT_NE(*off, *fixed);
  EXPECT_EQ(off->ToString(), "9fb1b36,cause-ipi-mb=off");
  EXPECT_THAT(off->Describe(), HasSubstr("cause-ipi-mb=off"));
  EXPECT_THAT(fixed->Describe(), Not(HasSubstr("cause-ipi-mb")));
  EXPECT_THAT(std::string(KernelModel::Parse("9fb1b36,cause-ipi-mb=on,"
                                             "cause-ipi-mb=off")
                              .status()
                              .message()),
              HasSubstr("given twice"));
}

TEST(WakelistTest, BadOptionsGiveClearErrors) {
  WakelistOptions o;
  o.mode = OrderingMode::kNative;
  absl::Status s = ValidateWakelistOptions(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("x86-TSO forbids"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("mode=emulated-power"));
  EXPECT_FALSE(ReproduceMuxedIpiWakelist(o).ok());

  o = WakelistOptions();
  o.num_cpus = 1;
  EXPECT_THAT(std::string(ValidateWakelistOptions(o).message()),
              HasSubstr("cpus=1 is out of range; use 2..64"));
  o = WakelistOptions();
  o.threshold_ticks = -1;
  EXPECT_FALSE(ValidateWakelistOptions(o).ok());
  o = WakelistOptions();
  o.fixed_budget = absl::ZeroDuration();
  EXPECT_THAT(std::string(ValidateWakelistOptions(o).message()),
              HasSubstr("positive finite"));
}

}  // namespace
}  // namespace hostipi
}  // namespace kvmbed
