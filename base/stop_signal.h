// SIGINT/SIGTERM -> an orderly stop. The handler only sets a flag and calls
// registered async-signal-safe stop callbacks (Machine::RequestStop is one
// atomic store); the run then ends normally and keeps everything it measured.
#ifndef KVMBED_BASE_STOP_SIGNAL_H_
#define KVMBED_BASE_STOP_SIGNAL_H_

namespace kvmbed {

using StopFn = void (*)(void* arg);

// Installs the SIGINT/SIGTERM handler and ignores SIGXFSZ (idempotent): with
// a file size limit (ulimit -f) a write past it then fails with EFBIG, which
// the event log reports and the run stops in order on, instead of the signal
// killing kvmbed with the log half-written. Call before opening the log.
void InstallStopSignalHandler();
// Only the SIGXFSZ part, for commands that keep the default SIGINT (e.g.
// reproduce, which has no orderly stop). Call before opening an event log.
void IgnoreFileSizeSignal();
// Registers fn(arg) to run (in the signal handler) when a stop signal
// arrives; runs it at once if one already arrived. Up to 64 registrations.
void OnStopSignal(StopFn fn, void* arg);
// Removes every registration (before the registered objects die). Returns
// only when no signal handler is still running a removed callback, so the
// objects may be destroyed right after.
void ClearStopCallbacks();
// The signal that asked to stop, or 0.
int StopSignalReceived();

}  // namespace kvmbed

#endif  // KVMBED_BASE_STOP_SIGNAL_H_
