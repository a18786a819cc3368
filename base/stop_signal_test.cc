#include "base/stop_signal.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "gtest/gtest.h"

namespace kvmbed {
namespace {

struct SlowStop {
  std::atomic<bool> entered{false};
  std::atomic<bool> release{false};
  std::atomic<bool> finished{false};
};

void SlowStopFn(void* arg) {
  auto* s = static_cast<SlowStop*>(arg);
  s->entered.store(true);
  // Async-signal-safe busy wait, bounded so a broken test cannot hang.
  for (long i = 0; i < 2'000'000'000L && !s->release.load(); ++i) {
  }
  s->finished.store(true);
}

// A SIGTERM handler on another thread is inside a callback when the owner
// clears the callbacks to destroy it: the clear must wait for the handler.
TEST(StopSignalTest, ClearWaitsForAHandlerStillRunningACallback) {
  InstallStopSignalHandler();
  SlowStop stop;
  OnStopSignal(&SlowStopFn, &stop);

  std::atomic<bool> quit{false};
  std::thread target([&quit] {
    while (!quit.load()) pause();  // the signal lands here
  });
  ASSERT_EQ(pthread_kill(target.native_handle(), SIGTERM), 0);
  for (int i = 0; i < 10000 && !stop.entered.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(stop.entered.load()) << "the handler never ran the callback";

  std::atomic<bool> cleared{false};
  std::atomic<bool> finished_before_clear_returned{false};
  std::thread owner([&] {
    ClearStopCallbacks();
    finished_before_clear_returned.store(stop.finished.load());
    cleared.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(cleared.load()) << "ClearStopCallbacks returned while the handler still ran";
  stop.release.store(true);
  owner.join();
  EXPECT_TRUE(cleared.load());
  EXPECT_TRUE(finished_before_clear_returned.load());

  quit.store(true);
  pthread_kill(target.native_handle(), SIGTERM);  // wake pause(); no callbacks now
  target.join();
  EXPECT_EQ(StopSignalReceived(), SIGTERM);
}

// After the clear, a new stop signal calls nothing that was removed.
TEST(StopSignalTest, NoRemovedCallbackRunsAfterTheClear) {
  InstallStopSignalHandler();
  SlowStop stop;
  stop.release.store(true);
  OnStopSignal(&SlowStopFn, &stop);  // runs it at once if a signal came before
  ClearStopCallbacks();
  stop.entered.store(false);
  raise(SIGTERM);
  EXPECT_FALSE(stop.entered.load());
}

}  // namespace
}  // namespace kvmbed
