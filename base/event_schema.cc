#include "base/event_schema.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kvmbed {
namespace {

constexpr FieldKind N = FieldKind::kNumber;
constexpr FieldKind S = FieldKind::kString;
constexpr FieldKind B = FieldKind::kBool;
constexpr FieldKind A = FieldKind::kArray;
constexpr FieldKind O = FieldKind::kObject;
constexpr FieldKind X = FieldKind::kAny;

EventField Req(const char* name, FieldKind k) { return {name, k, true}; }
EventField Opt(const char* name, FieldKind k) { return {name, k, false}; }

bool KindMatches(FieldKind k, const nlohmann::json& v) {
  switch (k) {
    case FieldKind::kNumber:
      return v.is_number();
    case FieldKind::kString:
      return v.is_string();
    case FieldKind::kBool:
      return v.is_boolean();
    case FieldKind::kArray:
      return v.is_array();
    case FieldKind::kObject:
      return v.is_object();
    case FieldKind::kAny:
      return true;
  }
  return false;
}

}  // namespace

const char* FieldKindName(FieldKind k) { return kFieldKindNames.Name(k); }

const std::vector<EventType>& EventSchema() {
  static const auto* schema = new std::vector<EventType>{
      // ---- the run
      {"run_start",
       {Req("profile", S), Req("name", S), Req("kvm", S), Req("kvm_nested", B),
        Opt("duration_s", N), Opt("vms", N), Opt("cpus_folded", B), Opt("fold_cpus", B),
        Opt("host_cpus", X), Opt("kernel_model", S), Opt("mode", S), Opt("store_hold_ns", N),
        Opt("scale", N), Opt("thp", B), Opt("ksm", B), Opt("watchdogs", B),
        Opt("host_ksm_run", S), Opt("host_thp", S), Opt("command", S), Opt("workload", S)}},
      {"vm_online", {Req("vm", S), Req("boot_ms", N)}},
      {"run_end", {Req("exit_code", N), Opt("signal", N), Opt("verdict", S), Opt("error", S)}},
      // ---- periodic
      {"status",
       {Req("elapsed_s", N), Req("ipis", N), Req("ipis_per_s", N), Req("csd_waits", N),
        Req("max_wait_ns", N), Req("stalls_lost", N), Req("stalls_slow", N),
        Opt("max_wait_run_ns", N), Opt("soft_lockups", N), Opt("vms_online", N)}},
      {"heartbeats", {Req("vm", S), Req("counts", A)}},
      {"ipi_latency",
       {Req("plane", S), Opt("vm", S), Req("unit", S), Req("buckets", A), Req("count", N),
        Opt("sum_ns", N), Opt("max_ns", N)}},
      // ---- stalls and lockups
      {"stall",
       {Req("plane", S), Opt("vm", S), Opt("seq", N), Req("waiter", N), Req("target", N),
        Opt("func", S), Opt("info", X), Opt("wait_ns", N), Opt("verdict", S),
        Opt("continued", B), Opt("activity", S), Opt("reason", S), Opt("kind", S),
        Opt("source", S), Opt("fatal", B), Opt("vcpus", A), Opt("waiter_kind", S),
        Opt("target_kind", S), Req("report", S)}},
      {"stall_cleared",
       {Req("plane", S), Opt("vm", S), Req("seq", N), Req("waiter", N), Req("target", N),
        Req("wait_ns", N), Opt("verdict", S), Opt("reason", S), Opt("waiter_kind", S),
        Opt("target_kind", S)}},
      {"soft_lockup",
       {Req("vm", S), Req("vcpu", N), Req("stuck_s", N), Opt("first", B), Opt("rip", S),
        Req("report", S)}},
      {"console", {Req("vm", S), Req("vcpu", N), Req("text", S)}},
      // ---- the end of each VM
      {"vm_summary",
       {Req("vm", S), Req("vcpus", N), Req("memory_bytes", N), Req("all_online", B),
        Req("boot_ms", N), Req("run_s", N), Req("error", S), Req("per_vcpu", A)}},
      // ---- extras: the report knows them and draws none
      {"smp_start",
       {Req("vm", S), Req("vcpus", N), Req("workload", S), Req("csd_timeout_ns", N),
        Req("soft_lockup_ns", N), Req("calibrated", B), Opt("calibration_p50_cycles", N),
        Opt("calibration_max_cycles", N), Opt("drop_ipi_fraction", N), Opt("csd_resend", B)}},
      {"scf_stats", {Req("vm", S), Req("final", B), Req("stats", O)}},
      {"guest_error", {Req("vm", S), Req("vcpu", N), Req("what", S)}},
      {"smp_end",
       {Req("vm", S), Req("success", B), Req("reason", S), Req("lost", N), Req("slow", N),
        Req("unresolved", N), Req("soft_lockups", N)}},
      {"stop_requested", {Req("reason", S), Opt("stalls_lost", N)}},
      {"host_stress_start", {Req("argv", A), Req("log", S)}},
      {"host_stress_ended", {Req("status", S)}},
      {"host_stress",
       {Req("ok", B), Req("status", S), Req("error", S), Req("yaml", S), Req("metrics", A)}},
      {"hostipi_start",
       {Req("vm", S), Req("kernel_model", S), Req("mode", S), Opt("store_hold_ns", N),
        Opt("threshold_ns", N), Opt("calibrated", B), Opt("kick_p50_ns", N),
        Opt("kick_p99_ns", N), Opt("kick_max_ns", N)}},
      {"hostipi_end",
       {Req("vm", S), Req("kernel_model", S), Opt("doorbells_sent", N),
        Opt("doorbells_taken_in_guest", N), Opt("doorbells_taken_in_host", N),
        Opt("doorbells_ignored", N), Opt("csd_calls", N), Opt("exit_calls", N),
        Opt("csds_run", N), Opt("max_wait_ns", N), Opt("stalls_lost", N),
        Opt("stalls_slow", N), Opt("stores_buffered", N), Opt("stores_drained_by_drainer", N),
        Opt("store_max_held_ns", N)}},
      {"linux_boot",
       {Req("kernel", S), Opt("kernel_version", S), Opt("boot_protocol", S), Opt("initrd", S),
        Req("cmdline", S), Req("vcpus", N)}},
      {"linux_init", {Req("boot_to_init_s", N)}},
      {"linux_end",
       {Req("end", S), Opt("guest_status", N), Opt("boot_to_init_s", N), Opt("rip_samples", N),
        Opt("symbols", N), Opt("culprit", S), Opt("stalls", A)}},
      {"reproduce", {}, /*open=*/true},
  };
  return *schema;
}

const EventType* FindEventType(absl::string_view type) {
  for (const EventType& t : EventSchema()) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

absl::Status CheckEvent(const nlohmann::json& event, Strictness strictness) {
  if (!event.is_object()) return absl::InvalidArgumentError("an event is a JSON object");
  auto t = event.find("t");
  if (t == event.end() || !t->is_number()) {
    return absl::InvalidArgumentError("field t (number) is missing");
  }
  auto ty = event.find("type");
  if (ty == event.end() || !ty->is_string()) {
    return absl::InvalidArgumentError("field type (string) is missing");
  }
  const std::string type = ty->get<std::string>();
  const EventType* def = FindEventType(type);
  if (def == nullptr) {
    if (strictness == Strictness::kReader) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(type, ": not an event type of the schema (base/event_schema.cc)"));
  }
  if (def->open) return absl::OkStatus();
  for (const EventField& f : def->fields) {
    auto v = event.find(f.name);
    if (v == event.end()) {
      if (f.required) {
        return absl::InvalidArgumentError(absl::StrCat(type, ": field ", f.name, " is missing"));
      }
      continue;
    }
    if (!KindMatches(f.kind, *v)) {
      return absl::InvalidArgumentError(absl::StrCat(type, ": field ", f.name, " is not a ",
                                                     FieldKindName(f.kind)));
    }
  }
  if (strictness == Strictness::kStrict) {
    for (auto it = event.begin(); it != event.end(); ++it) {
      if (it.key() == "t" || it.key() == "type") continue;
      bool known = false;
      for (const EventField& f : def->fields) known |= f.name == it.key();
      if (!known) {
        return absl::InvalidArgumentError(absl::StrCat(
            type, ": field ", it.key(), " is not in the schema (base/event_schema.cc)"));
      }
    }
  }
  return absl::OkStatus();
}

std::string FieldList(const EventType& type) {
  std::vector<std::string> parts;
  for (const EventField& f : type.fields) {
    parts.push_back(absl::StrCat("`", f.name, "`", f.required ? "" : "?"));
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace kvmbed
