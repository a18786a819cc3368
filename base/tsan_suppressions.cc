// ThreadSanitizer suppressions, linked into every binary and test of
// --config=tsan only (.bazelrc: --custom_malloc=//base:tsan_suppressions,
// Bazel's hook for linking one library into every cc_binary and cc_test).
//
// Debian's Abseil is not built with -fsanitize=thread; instead of
// suppressing what that hides from TSan, tsan_absl_sync.cc (same library)
// tells TSan about every absl::Mutex, CondVar and Notification operation.
// So this list is empty: a report is a race in our code; fix it. An entry
// added here needs, beside it, the report it silences and why that report
// is not a race.
extern "C" const char* __tsan_default_suppressions() { return ""; }
