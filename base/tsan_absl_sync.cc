// ThreadSanitizer support for Debian's Abseil, linked into every binary and
// test of --config=tsan only (with tsan_suppressions.cc, see base/BUILD).
//
// Debian's libabsl_synchronization.so is not built with -fsanitize=thread,
// so TSan cannot see absl::Mutex, absl::CondVar or absl::Notification
// synchronize anything: every access guarded by an absl::Mutex would look
// like a race. Instead of suppressing those reports (which would hide real
// races in the same functions), this file interposes the library's entry
// points: each definition below takes precedence over the library's (the
// executable's symbols come first in the dynamic lookup), calls the real one
// through dlsym(RTLD_NEXT) and tells TSan what it did, with the semantics of
// a lock: __tsan_acquire(mutex) once it is held, __tsan_release(mutex) before
// it is given up (also around the waits of CondVar::Wait and Mutex::Await,
// which give it up inside). Notification: Notify releases, a successful wait
// acquires; conditions acquire before they are evaluated. With this, TSan checks our absl::Mutex-guarded code like code
// guarded by std::mutex.
#if defined(__SANITIZE_THREAD__)

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace {

void* Real(const char* mangled) {
  void* f = dlsym(RTLD_NEXT, mangled);
  if (f == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found in Abseil: %s\n", mangled, dlerror());
    std::abort();
  }
  return f;
}

#define KVMBED_REAL(type, mangled) \
  static const auto real = reinterpret_cast<type>(Real(mangled))

void Acquire(const void* p) { __tsan_acquire(const_cast<void*>(p)); }
void Release(const void* p) { __tsan_release(const_cast<void*>(p)); }

static_assert(sizeof(absl::Notification) == sizeof(absl::Mutex) + sizeof(void*),
              "absl::Notification is {Mutex mutex_; std::atomic<bool> notified_yet_;}");
const void* NotifiedFlag(const absl::Notification* n) {
  return reinterpret_cast<const char*>(n) + sizeof(absl::Mutex);
}

// absl evaluates the condition of Await and LockWhen with the mutex held
// but inside the library, e.g. in the waiter once it has taken the mutex
// back, before the call returns: so the condition itself acquires first.
// It runs in whichever thread holds the mutex at that moment, which may give
// the mutex up inside the library right after: so it releases again too.
// The wrapper condition itself is handed to other threads through absl's
// internal wait queue, which TSan cannot see either: its construction is
// not recorded (TSan's ignore-writes annotation).
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);
struct AcquiringCondition {
  const absl::Condition* cond;
  const absl::Mutex* mu;
  absl::Condition wrapped;
  AcquiringCondition(const absl::Condition* c, const absl::Mutex* m)
      : cond((AnnotateIgnoreWritesBegin(__FILE__, __LINE__), c)),
        mu(m),
        wrapped(&AcquiringCondition::Eval, this) {
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
  }
  static bool Eval(AcquiringCondition* c) {
    Acquire(c->mu);
    bool r = c->cond->Eval();
    Release(c->mu);
    return r;
  }
};

}  // namespace

namespace absl {

void Mutex::Lock() {
  KVMBED_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex4LockEv");
  real(this);
  Acquire(this);
}

void Mutex::Unlock() {
  KVMBED_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex6UnlockEv");
  Release(this);
  real(this);
}

bool Mutex::TryLock() {
  KVMBED_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex7TryLockEv");
  bool held = real(this);
  if (held) Acquire(this);
  return held;
}

void Mutex::ReaderLock() {
  KVMBED_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex10ReaderLockEv");
  real(this);
  Acquire(this);
}

void Mutex::ReaderUnlock() {
  KVMBED_REAL(void (*)(Mutex*), "_ZN4absl7debian35Mutex12ReaderUnlockEv");
  Release(this);
  real(this);
}

bool Mutex::ReaderTryLock() {
  KVMBED_REAL(bool (*)(Mutex*), "_ZN4absl7debian35Mutex13ReaderTryLockEv");
  bool held = real(this);
  if (held) Acquire(this);
  return held;
}

void Mutex::LockWhen(const Condition& cond) {
  KVMBED_REAL(void (*)(Mutex*, const Condition&), "_ZN4absl7debian35Mutex8LockWhenERKNS0_9ConditionE");
  AcquiringCondition c(&cond, this);
  real(this, c.wrapped);
  Acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  KVMBED_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
              "_ZN4absl7debian35Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AcquiringCondition c(&cond, this);
  bool r = real(this, c.wrapped, timeout);
  Acquire(this);  // held on return either way
  return r;
}

void Mutex::Await(const Condition& cond) {
  KVMBED_REAL(void (*)(Mutex*, const Condition&), "_ZN4absl7debian35Mutex5AwaitERKNS0_9ConditionE");
  AcquiringCondition c(&cond, this);
  Release(this);
  real(this, c.wrapped);
  Acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  KVMBED_REAL(bool (*)(Mutex*, const Condition&, absl::Duration),
              "_ZN4absl7debian35Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AcquiringCondition c(&cond, this);
  Release(this);
  bool r = real(this, c.wrapped, timeout);
  Acquire(this);
  return r;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  KVMBED_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
              "_ZN4absl7debian35Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AcquiringCondition c(&cond, this);
  Release(this);
  bool r = real(this, c.wrapped, deadline);
  Acquire(this);
  return r;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  KVMBED_REAL(bool (*)(Mutex*, const Condition&, absl::Time),
              "_ZN4absl7debian35Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AcquiringCondition c(&cond, this);
  bool r = real(this, c.wrapped, deadline);
  Acquire(this);  // held on return either way
  return r;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  KVMBED_REAL(bool (*)(CondVar*, Mutex*, absl::Time),
              "_ZN4absl7debian37CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Release(mu);
  bool r = real(this, mu, deadline);
  Acquire(mu);
  return r;
}

void CondVar::Wait(Mutex* mu) {
  KVMBED_REAL(void (*)(CondVar*, Mutex*), "_ZN4absl7debian37CondVar4WaitEPNS0_5MutexE");
  Release(mu);
  real(this, mu);
  Acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  KVMBED_REAL(bool (*)(CondVar*, Mutex*, absl::Duration),
              "_ZN4absl7debian37CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Release(mu);
  bool r = real(this, mu, timeout);
  Acquire(mu);
  return r;
}

// HasBeenNotified() is inline (instrumented): it loads notified_yet_, the
// member after mutex_, with acquire order. Notify's store to it happens in
// the library, unseen, so release on that address too.

void Notification::Notify() {
  KVMBED_REAL(void (*)(Notification*), "_ZN4absl7debian312Notification6NotifyEv");
  Release(this);
  Release(NotifiedFlag(this));
  real(this);
}

void Notification::WaitForNotification() const {
  KVMBED_REAL(void (*)(const Notification*),
              "_ZNK4absl7debian312Notification19WaitForNotificationEv");
  real(this);
  Acquire(this);
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  KVMBED_REAL(bool (*)(const Notification*, absl::Duration),
              "_ZNK4absl7debian312Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  bool r = real(this, timeout);
  if (r) Acquire(this);
  return r;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  KVMBED_REAL(bool (*)(const Notification*, absl::Time),
              "_ZNK4absl7debian312Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  bool r = real(this, deadline);
  if (r) Acquire(this);
  return r;
}

}  // namespace absl

#endif  // __SANITIZE_THREAD__
