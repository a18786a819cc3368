// ThreadSanitizer suppressions, linked into every binary and test of
// --config=tsan only (.bazelrc: --custom_malloc=//base:tsan_suppressions,
// Bazel's hook for linking one library into every cc_binary and cc_test).
//
// Debian's Abseil (libabsl_*.so) is not built with -fsanitize=thread, so TSan
// never sees absl::Mutex being acquired or released: every access guarded by
// an absl::Mutex looks unsynchronized to it. Each entry below is such a
// report, checked by hand to be an access made inside an absl::MutexLock on
// the mutex that guards the field. Anything else is a real race: fix it.
extern "C" const char* __tsan_default_suppressions() {
  return
      // EventLog::Emit writes bytes_, events_ and status_
      // (ABSL_GUARDED_BY(mu_)) inside absl::MutexLock lock(&mu_).
      "race:kvmbed::EventLog::Emit\n"
      // ThreadStoreBuffers' drainer reads stopping_ in DrainerLoop under
      // absl::MutexLock(&mu_); Shutdown writes it under the same lock.
      "race:DrainerLoop\n"
      // NativeSystem::Run's start/finish counters (ready, done) are read and
      // written by its threads inside absl::MutexLock(&mu).
      "race:NativeSystem::Run\n";
}
