#include "report/run_data.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/event_schema.h"
#include "base/input.h"
#include "base/status_macros.h"
#include "absl/strings/str_join.h"

namespace kvmbed {
namespace report {

// ---------------------------------------------------------------- Timeline

int Timeline::AddSeries() {
  series_.emplace_back(bins_);
  return static_cast<int>(series_.size()) - 1;
}

void Timeline::Cover(double t) {
  if (t < 0) t = 0;
  while (t >= kMaxBins * width_s_) {
    // Merge pairs of bins: the width doubles, the bin count halves.
    int merged = (bins_ + 1) / 2;
    for (auto& s : series_) {
      std::vector<Cell> m(merged);
      for (int i = 0; i < bins_; ++i) {
        Cell& d = m[i / 2];
        const Cell& c = s[i];
        d.progress += c.progress;
        d.covered_s += c.covered_s;
        d.stalled_s += c.stalled_s;
        if (c.has_max) {
          d.max = d.has_max ? std::max(d.max, c.max) : c.max;
          d.has_max = true;
        }
      }
      s = std::move(m);
    }
    bins_ = merged;
    width_s_ *= 2;
  }
  int need = static_cast<int>(std::floor(t / width_s_)) + 1;
  if (need > bins_) {
    bins_ = need;
    for (auto& s : series_) s.resize(bins_);
  }
}

void Timeline::AddInterval(int series, double t0, double t1, double progress) {
  if (t0 < 0) t0 = 0;
  if (t1 <= t0) {  // a zero-length interval: put the progress in one bin
    Cover(t1);
    int b = std::min(bins_ - 1, static_cast<int>(std::floor(t1 / width_s_)));
    series_[series][std::max(b, 0)].progress += progress;
    return;
  }
  Cover(t1);
  const double len = t1 - t0;
  int b0 = static_cast<int>(std::floor(t0 / width_s_));
  int b1 = std::min(bins_ - 1, static_cast<int>(std::floor(t1 / width_s_)));
  for (int b = b0; b <= b1; ++b) {
    double lo = std::max(t0, b * width_s_), hi = std::min(t1, (b + 1) * width_s_);
    if (hi <= lo) continue;
    Cell& c = series_[series][b];
    double frac = (hi - lo) / len;
    c.progress += progress * frac;
    c.covered_s += hi - lo;
    if (progress <= 0) c.stalled_s += hi - lo;
  }
}

void Timeline::AddMax(int series, double t, double value) {
  Cover(t);
  int b = std::min(bins_ - 1, static_cast<int>(std::floor(std::max(t, 0.0) / width_s_)));
  Cell& c = series_[series][b];
  c.max = c.has_max ? std::max(c.max, value) : value;
  c.has_max = true;
}

// ---------------------------------------------------------------- parsing

namespace {

// Field access that turns a schema mismatch into "path:line: field ...".
class LineFields {
 public:
  LineFields(const std::string& path, int64_t line, const nlohmann::json& j)
      : path_(path), line_(line), j_(j) {}

  absl::Status Error(const std::string& field, const std::string& what) const {
    std::string type = j_.contains("type") && j_["type"].is_string()
                           ? Excerpt(j_["type"].get<std::string>())
                           : std::string("?");
    return absl::InvalidArgumentError(absl::StrCat(
        path_, ":", line_, ": event '", type, "': field '", field, "' ", what,
        " (see docs/events.md for the event schema; fix or remove the line)"));
  }

  bool Has(const std::string& f) const { return j_.contains(f) && !j_[f].is_null(); }

  absl::Status Number(const std::string& f, double* out, bool required = true) const {
    if (!Has(f)) return required ? Error(f, "is missing") : absl::OkStatus();
    if (!j_[f].is_number()) return Error(f, "must be a number");
    *out = j_[f].get<double>();
    return absl::OkStatus();
  }
  absl::Status Int(const std::string& f, int64_t* out, bool required = true) const {
    if (!Has(f)) return required ? Error(f, "is missing") : absl::OkStatus();
    if (!j_[f].is_number_integer()) return Error(f, "must be an integer");
    *out = j_[f].get<int64_t>();
    return absl::OkStatus();
  }
  absl::Status Uint(const std::string& f, uint64_t* out, bool required = true) const {
    int64_t v = 0;
    absl::Status s = Int(f, &v, required);
    if (!s.ok()) return s;
    if (v < 0) return Error(f, "must not be negative");
    if (Has(f)) *out = static_cast<uint64_t>(v);
    return absl::OkStatus();
  }
  absl::Status String(const std::string& f, std::string* out, bool required = true) const {
    if (!Has(f)) return required ? Error(f, "is missing") : absl::OkStatus();
    if (!j_[f].is_string()) return Error(f, "must be a string");
    *out = j_[f].get<std::string>();
    return absl::OkStatus();
  }
  absl::Status Bool(const std::string& f, bool* out, bool required = true) const {
    if (!Has(f)) return required ? Error(f, "is missing") : absl::OkStatus();
    if (!j_[f].is_boolean()) return Error(f, "must be true or false");
    *out = j_[f].get<bool>();
    return absl::OkStatus();
  }
  absl::Status IntList(const nlohmann::json& a, const std::string& f,
                       std::vector<int64_t>* out) const {
    if (!a.is_array()) return Error(f, "must be an array of integers");
    out->clear();
    for (const auto& v : a) {
      if (!v.is_number_integer()) return Error(f, "must be an array of integers");
      out->push_back(v.get<int64_t>());
    }
    return absl::OkStatus();
  }
  const nlohmann::json& json() const { return j_; }

 private:
  const std::string& path_;
  int64_t line_;
  const nlohmann::json& j_;
};

std::string Cap(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  // Do not cut a UTF-8 sequence in half.
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  absl::StrAppend(&s, "\n[... cut at ", max, " bytes by kvmbed report]");
  return s;
}

class Reader {
 public:
  Reader(const std::string& path, RunData* d) : path_(path), d_(d) {}

  absl::Status Line(int64_t n, const nlohmann::json& j) {
    if (!j.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path_, ":", n, ": not a JSON object (each line must be one event)"));
    }
    LineFields f(path_, n, j);
    double t = 0;
    std::string type;
    RETURN_IF_ERROR(f.Number("t", &t));
    RETURN_IF_ERROR(f.String("type", &type));
    if (!std::isfinite(t)) return f.Error("t", "must be a finite number");
    d_->last_t = std::max(d_->last_t, t);
    if (type.size() > kExcerptBytes) type = Excerpt(type);
    if (d_->type_counts.count(type) || d_->type_counts.size() < 256) d_->type_counts[type]++;
    if (type == "run_start") {
      d_->run_start = j;
    } else if (type == "run_end") {
      int64_t code = 0;
      RETURN_IF_ERROR(f.Int("exit_code", &code));
      d_->run_end = j;
    } else if (type == "vm_online") {
      std::string vm;
      double ms = 0;
      RETURN_IF_ERROR(f.String("vm", &vm));
      RETURN_IF_ERROR(f.Number("boot_ms", &ms));
      d_->vm_boot_ms[vm] = ms;
    } else if (type == "status") {
      return Status(f, t);
    } else if (type == "heartbeats") {
      return Heartbeats(f, t);
    } else if (type == "ipi_latency") {
      return Latency(f, t, n);
    } else if (type == "stall") {
      return StallEvent(f, t);
    } else if (type == "stall_cleared") {
      return Cleared(f, t);
    } else if (type == "soft_lockup") {
      return Lockup(f, t);
    } else if (type == "console") {
      std::string vm, text;
      RETURN_IF_ERROR(f.String("vm", &vm));
      RETURN_IF_ERROR(f.String("text", &text));
      if (!d_->console.count(vm) && d_->console.size() >= static_cast<size_t>(kMaxVmsKept)) {
        d_->console_vms_not_kept.insert(vm);
        return absl::OkStatus();
      }
      auto& lines = d_->console[vm];
      lines.push_back(Cap(text, kMaxConsoleLineBytes));
      if (lines.size() > static_cast<size_t>(kConsoleLinesKept)) lines.erase(lines.begin());
      d_->console_total[vm]++;
    } else if (type == "vm_summary") {
      return Summary(f);
    } else if (FindEventType(type) == nullptr) {  // types the schema knows are kept, not drawn
      if (d_->unknown_types.count(type) ||
          d_->unknown_types.size() < static_cast<size_t>(kMaxUnknownTypesKept)) {
        d_->unknown_types[type]++;
      } else {
        d_->unknown_types_not_kept++;
      }
    }
    return absl::OkStatus();
  }

  void Finish() {
    // Verdict totals from each stall's final state.
    for (const auto& [key, v] : verdicts_) {
      if (v == "lost") d_->stalls_lost++;
      else if (v == "slow") d_->stalls_slow++;
      else d_->stalls_pending++;
    }
    d_->stalls_total = static_cast<int64_t>(verdicts_.size());
  }

 private:
  using Key = std::tuple<std::string, std::string, int64_t>;

  absl::Status Status(const LineFields& f, double t) {
    StatusPoint p;
    p.t = t;
    RETURN_IF_ERROR(f.Number("elapsed_s", &p.elapsed_s));
    RETURN_IF_ERROR(f.Number("ipis", &p.ipis));
    RETURN_IF_ERROR(f.Number("ipis_per_s", &p.ipis_per_s));
    RETURN_IF_ERROR(f.Number("csd_waits", &p.csd_waits));
    RETURN_IF_ERROR(f.Number("max_wait_ns", &p.max_wait_ns));
    RETURN_IF_ERROR(f.Number("stalls_lost", &p.stalls_lost));
    RETURN_IF_ERROR(f.Number("stalls_slow", &p.stalls_slow));
    Timeline& tl = d_->timeline;
    if (d_->ipi_rate_series < 0) {
      d_->ipi_rate_series = tl.AddSeries();
      d_->max_wait_series = tl.AddSeries();
    }
    if (d_->have_status) {
      double delta = p.ipis - d_->prev_status.ipis;
      if (delta < 0) delta = 0;  // counter reset
      tl.AddInterval(d_->ipi_rate_series, d_->prev_status.t, t, delta);
    }
    tl.AddMax(d_->max_wait_series, t, p.max_wait_ns);
    d_->max_wait_ns = std::max(d_->max_wait_ns, p.max_wait_ns);
    d_->prev_status = p;
    d_->last_status = p;
    d_->have_status = true;
    return absl::OkStatus();
  }

  absl::Status Heartbeats(const LineFields& f, double t) {
    std::string vm;
    RETURN_IF_ERROR(f.String("vm", &vm));
    if (!f.Has("counts")) return f.Error("counts", "is missing");
    const auto& counts = f.json()["counts"];
    if (!counts.is_array()) return f.Error("counts", "must be an array of numbers");
    auto at = d_->beats_index.find(vm);
    if (at == d_->beats_index.end()) {
      if (d_->beats.size() >= static_cast<size_t>(kMaxVmsKept) ||
          d_->heartbeat_rows + counts.size() > static_cast<size_t>(kMaxHeartbeatRows)) {
        d_->beats_vms_not_kept.insert(vm);
        return absl::OkStatus();
      }
      at = d_->beats_index.emplace(vm, d_->beats.size()).first;
      d_->beats.emplace_back(vm, VmBeats());
    }
    VmBeats& b = d_->beats[at->second].second;
    if (b.series.size() < counts.size()) {
      if (d_->heartbeat_rows + (counts.size() - b.series.size()) >
          static_cast<size_t>(kMaxHeartbeatRows)) {
        return f.Error("counts", absl::StrCat("has ", counts.size(), " entries; the report draws at most ",
                                              kMaxHeartbeatRows, " vCPU strips in all"));
      }
      d_->heartbeat_rows += static_cast<int>(counts.size() - b.series.size());
      while (b.series.size() < counts.size()) {
        b.series.push_back(d_->timeline.AddSeries());
        b.last_count.push_back(-1);
      }
    } else if (counts.size() < b.series.size()) {
      return f.Error("counts", absl::StrCat("has ", counts.size(), " entries but earlier lines had ",
                                            b.series.size(), " for vm '", vm, "'"));
    }
    for (size_t i = 0; i < counts.size(); ++i) {
      if (!counts[i].is_number()) return f.Error("counts", "must be an array of numbers");
      double c = counts[i].get<double>();
      if (b.last_t >= 0 && b.last_count[i] >= 0) {
        double delta = c - b.last_count[i];
        if (delta < 0) delta = 0;  // counter reset (vCPU restarted)
        d_->timeline.AddInterval(b.series[i], b.last_t, t, delta);
      }
      b.last_count[i] = c;
    }
    b.last_t = t;
    b.samples++;
    return absl::OkStatus();
  }

  absl::Status Latency(const LineFields& f, double t, int64_t n) {
    Histogram h;
    h.t = t;
    h.line = static_cast<int>(n);
    RETURN_IF_ERROR(f.String("plane", &h.plane));
    RETURN_IF_ERROR(f.String("vm", &h.vm, /*required=*/false));
    std::string unit = "ns";
    RETURN_IF_ERROR(f.String("unit", &unit, false));
    if (unit != "ns") return f.Error("unit", "must be \"ns\"");
    if (!f.Has("buckets")) return f.Error("buckets", "is missing");
    const auto& bk = f.json()["buckets"];
    if (!bk.is_array()) return f.Error("buckets", "must be an array of [upper_bound_ns, count]");
    uint64_t total = 0;
    double prev_ub = -1;
    for (const auto& e : bk) {
      if (!e.is_array() || e.size() != 2 || !e[0].is_number() || !e[1].is_number_integer() ||
          e[1].get<int64_t>() < 0) {
        return f.Error("buckets", "must be an array of [upper_bound_ns, count] pairs");
      }
      double ub = e[0].get<double>();
      if (ub <= prev_ub) return f.Error("buckets", "upper bounds must increase");
      prev_ub = ub;
      uint64_t c = static_cast<uint64_t>(e[1].get<int64_t>());
      h.buckets.emplace_back(ub, c);
      total += c;
    }
    RETURN_IF_ERROR(f.Uint("count", &h.count));
    if (total != h.count) {
      return f.Error("count", absl::StrCat("is ", h.count, " but the buckets add up to ", total));
    }
    RETURN_IF_ERROR(f.Number("sum_ns", &h.sum_ns, false));
    RETURN_IF_ERROR(f.Number("max_ns", &h.max_ns, false));
    auto key = std::make_pair(h.plane, h.vm);
    auto at = histogram_index_.find(key);
    if (at != histogram_index_.end()) {
      d_->histograms[at->second] = std::move(h);  // cumulative: the latest is the total so far
      return absl::OkStatus();
    }
    if (d_->histograms.size() >= static_cast<size_t>(kMaxVmsKept)) {
      d_->histogram_vms_not_kept.insert(h.vm);
      return absl::OkStatus();
    }
    histogram_index_.emplace(std::move(key), d_->histograms.size());
    d_->histograms.push_back(std::move(h));
    return absl::OkStatus();
  }

  Stall* Keep(const Key& key) {
    Stall* s = d_->FindStall(std::get<0>(key), std::get<1>(key), std::get<2>(key));
    if (s) return s;
    if (d_->stalls_first.size() < static_cast<size_t>(kFirstStallsKept)) {
      d_->stalls_first.emplace_back();
      return &d_->stalls_first.back();
    }
    if (d_->stalls_last.size() >= static_cast<size_t>(kLastStallsKept)) {
      d_->stalls_last.erase(d_->stalls_last.begin());
    }
    d_->stalls_last.emplace_back();
    return &d_->stalls_last.back();
  }

  absl::Status StallEvent(const LineFields& f, double t) {
    std::string plane, vm, func, info, verdict, text;
    int64_t seq = 0, waiter = -1, target = -1;
    double wait_ns = 0;
    bool continued = false;
    RETURN_IF_ERROR(f.String("plane", &plane));
    RETURN_IF_ERROR(f.String("vm", &vm, false));
    RETURN_IF_ERROR(f.Int("seq", &seq));
    RETURN_IF_ERROR(f.Int("waiter", &waiter));
    RETURN_IF_ERROR(f.Int("target", &target));
    RETURN_IF_ERROR(f.String("func", &func, false));
    RETURN_IF_ERROR(f.String("info", &info, false));
    RETURN_IF_ERROR(f.Number("wait_ns", &wait_ns));
    RETURN_IF_ERROR(f.String("verdict", &verdict));
    if (verdict != "lost" && verdict != "slow" && verdict != "pending") {
      return f.Error("verdict", "must be \"lost\", \"slow\" or \"pending\"");
    }
    RETURN_IF_ERROR(f.Bool("continued", &continued, false));
    RETURN_IF_ERROR(f.String("report", &text, false));
    d_->stall_events++;
    Key key{plane, vm, seq};
    bool fresh = verdicts_.find(key) == verdicts_.end();
    verdicts_[key] = verdict;
    if (fresh) {
      if (d_->stall_series < 0) d_->stall_series = d_->timeline.AddSeries();
      d_->timeline.AddInterval(d_->stall_series, t, t, 1);
    }
    if (!fresh && !d_->FindStall(plane, vm, seq)) return absl::OkStatus();  // evicted
    Stall* s = Keep(key);
    if (s->reports == 0) {
      s->plane = plane;
      s->vm = vm;
      s->seq = seq;
      s->waiter = waiter;
      s->target = target;
      s->func = func;
      s->info = info;
      s->first_t = t;
      s->first_report = Cap(text, kMaxReportBytes);
    } else {
      s->last_report = Cap(text, kMaxReportBytes);
    }
    s->reports++;
    s->last_t = t;
    s->verdict = verdict;
    s->max_wait_ns = std::max(s->max_wait_ns, wait_ns);
    return absl::OkStatus();
  }

  absl::Status Cleared(const LineFields& f, double t) {
    std::string plane, vm;
    int64_t seq = 0;
    double wait_ns = 0;
    RETURN_IF_ERROR(f.String("plane", &plane));
    RETURN_IF_ERROR(f.String("vm", &vm, false));
    RETURN_IF_ERROR(f.Int("seq", &seq));
    RETURN_IF_ERROR(f.Number("wait_ns", &wait_ns, false));
    Stall* s = d_->FindStall(plane, vm, seq);
    if (s) {
      s->cleared = true;
      s->cleared_t = t;
      s->cleared_wait_ns = wait_ns;
      s->max_wait_ns = std::max(s->max_wait_ns, wait_ns);
    }
    return absl::OkStatus();
  }

  absl::Status Lockup(const LineFields& f, double t) {
    SoftLockup l;
    l.t = t;
    RETURN_IF_ERROR(f.String("vm", &l.vm));
    RETURN_IF_ERROR(f.Int("vcpu", &l.vcpu));
    RETURN_IF_ERROR(f.Number("stuck_s", &l.stuck_s));
    RETURN_IF_ERROR(f.String("report", &l.report, false));
    l.report = Cap(l.report, kMaxReportBytes);
    d_->soft_lockups_total++;
    if (d_->soft_lockups.size() < static_cast<size_t>(kSoftLockupsKept)) {
      d_->soft_lockups.push_back(std::move(l));
    }
    return absl::OkStatus();
  }

  absl::Status Summary(const LineFields& f) {
    VmSummaryRow r;
    RETURN_IF_ERROR(f.String("vm", &r.vm));
    RETURN_IF_ERROR(f.Int("vcpus", &r.vcpus));
    RETURN_IF_ERROR(f.Uint("memory_bytes", &r.memory_bytes, false));
    RETURN_IF_ERROR(f.Bool("all_online", &r.all_online, false));
    RETURN_IF_ERROR(f.Number("boot_ms", &r.boot_ms, false));
    RETURN_IF_ERROR(f.Number("run_s", &r.run_s, false));
    RETURN_IF_ERROR(f.String("error", &r.error, false));
    if (f.Has("per_vcpu")) {
      const auto& pv = f.json()["per_vcpu"];
      if (!pv.is_array()) return f.Error("per_vcpu", "must be an array of objects");
      for (const auto& v : pv) {
        if (!v.is_object()) return f.Error("per_vcpu", "must be an array of objects");
        VcpuRow row;
        auto get_int = [&](const char* k, auto* out) -> absl::Status {
          if (!v.contains(k)) return absl::OkStatus();
          if (!v[k].is_number_integer() || v[k].get<int64_t>() < 0) {
            return f.Error(absl::StrCat("per_vcpu[].", k), "must be a non-negative integer");
          }
          *out = v[k].get<int64_t>();
          return absl::OkStatus();
        };
        RETURN_IF_ERROR(get_int("vcpu", &row.vcpu));
        RETURN_IF_ERROR(get_int("kicks", &row.kicks));
        RETURN_IF_ERROR(get_int("heartbeats", &row.heartbeats));
        if (v.contains("pinned")) {
          if (!v["pinned"].is_boolean()) return f.Error("per_vcpu[].pinned", "must be true or false");
          row.pinned = v["pinned"].get<bool>();
        }
        if (v.contains("state")) {
          if (!v["state"].is_string()) return f.Error("per_vcpu[].state", "must be a string");
          row.state = v["state"].get<std::string>();
        }
        for (auto [k, out] : {std::make_pair("affinity_requested", &row.affinity_requested),
                              std::make_pair("affinity_in_force", &row.affinity_in_force),
                              std::make_pair("ran_on", &row.ran_on)}) {
          if (v.contains(k)) RETURN_IF_ERROR(f.IntList(v[k], absl::StrCat("per_vcpu[].", k), out));
        }
        if (v.contains("exits")) {
          if (!v["exits"].is_object()) return f.Error("per_vcpu[].exits", "must be an object");
          for (const auto& [reason, n] : v["exits"].items()) {
            if (!n.is_number_integer() || n.get<int64_t>() < 0) {
              return f.Error("per_vcpu[].exits", "values must be non-negative integers");
            }
            row.exits[reason] = n.get<uint64_t>();
          }
        }
        r.per_vcpu.push_back(std::move(row));
      }
    }
    if (d_->vm_summaries.size() >= static_cast<size_t>(kMaxVmsKept)) {
      d_->summaries_not_kept++;
      return absl::OkStatus();
    }
    d_->vm_summaries.push_back(std::move(r));
    return absl::OkStatus();
  }

  const std::string& path_;
  RunData* d_;
  std::map<Key, std::string> verdicts_;  // every stall's latest verdict
  std::map<std::pair<std::string, std::string>, size_t> histogram_index_;  // (plane, vm)
};

}  // namespace

Stall* RunData::FindStall(const std::string& plane, const std::string& vm, int64_t seq) {
  for (auto* v : {&stalls_first, &stalls_last}) {
    for (Stall& s : *v) {
      if (s.seq == seq && s.plane == plane && s.vm == vm && s.reports > 0) return &s;
    }
  }
  return nullptr;
}

namespace {

// Parses one log line; a number beyond a double (1e400) is a parse error too.
bool ParseLine(const std::string& line, nlohmann::json* j, std::string* error) {
  try {
    *j = nlohmann::json::parse(line);
    return true;
  } catch (const nlohmann::json::exception& e) {
    *error = e.what();
    return false;
  }
}

bool Blank(const std::string& line) {
  return line.find_first_not_of(" \t\r") == std::string::npos;
}

}  // namespace

absl::StatusOr<RunData> ReadRunLog(const std::string& path) {
  absl::StatusOr<LineReader> in =
      LineReader::Open(path, kMaxEventLineBytes, kMaxEventLogBytes, "event log");
  if (!in.ok()) {
    return absl::Status(in.status().code(),
                        absl::StrCat(in.status().message(),
                                     "; give the JSON-lines file that `kvmbed soak --events` or "
                                     "`kvmbed run --events` wrote"));
  }
  RunData d;
  d.path = path;
  Reader reader(path, &d);
  std::string line;
  while (in->Next(&line)) {
    const int64_t n = in->line_number();
    // Blank lines are tolerated (an editor may add one at the end).
    if (Blank(line)) continue;
    nlohmann::json j;
    std::string parse_error;
    if (!ParseLine(line, &j, &parse_error)) {
      // Only the last line may be broken: what a kill -9 mid-write leaves.
      const bool ended_with_newline = in->ended_with_newline();
      const size_t bytes = line.size();
      bool is_last = true;
      while (is_last && in->Next(&line)) is_last = Blank(line);
      if (!in->status().ok()) return in->status();
      if (is_last) {
        d.truncated_last_line = true;
        d.truncated_note = absl::StrCat(
            "line ", n, " (", bytes, " bytes", ended_with_newline ? "" : ", no newline",
            ") is not complete JSON and was ignored: the run was probably killed while "
            "writing it");
        break;
      }
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", n, ": not valid JSON (", Excerpt(parse_error, 200),
          "); only the last line of a log may be cut short"));
    }
    absl::Status s = reader.Line(n, j);
    if (!s.ok()) return s;
    d.lines = n;
  }
  if (!in->status().ok()) return in->status();
  reader.Finish();
  if (d.lines == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no events in the log (is it the right file?)"));
  }
  return d;
}

}  // namespace report
}  // namespace kvmbed
