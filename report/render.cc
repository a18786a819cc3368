#include "report/render.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace kvmbed {
namespace report {
namespace {

// Layout shared by every time chart so their x axes line up.
constexpr double kLeft = 78;      // room for row labels
constexpr double kPlotW = 860;    // plot area width
constexpr double kRight = 34;
constexpr double kTotalW = kLeft + kPlotW + kRight;

// Heat-strip colours: 9 levels of a sequential blue scale (pale = few beats).
constexpr const char* kLevels[] = {"#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6",
                                   "#4292c6", "#2171b5", "#08519c", "#08306b"};
constexpr int kNumLevels = 9;
constexpr const char* kNoData = "#e4e4e4";
constexpr const char* kLostColor = "#d62728";
constexpr const char* kSlowColor = "#e69f00";
constexpr const char* kPendingColor = "#8e44ad";
constexpr const char* kLockupColor = "#000000";

std::string F(double v) {  // compact coordinate
  return absl::StrFormat("%.1f", v);
}

std::string FmtNs(double ns) {
  if (ns < 1e3) return absl::StrFormat("%.0f ns", ns);
  if (ns < 1e6) return absl::StrFormat("%.3g µs", ns / 1e3);
  if (ns < 1e9) return absl::StrFormat("%.3g ms", ns / 1e6);
  return absl::StrFormat("%.3g s", ns / 1e9);
}

std::string FmtDuration(double s) {
  if (s < 0) s = 0;
  if (s < 60) return s < 10 ? absl::StrFormat("%.2gs", s) : absl::StrFormat("%.0fs", s);
  // Past ~30 years an h/m form says nothing (and overflows int64 past 9e18).
  if (s >= 1e9) return absl::StrFormat("%.3gs", s);
  int64_t total = static_cast<int64_t>(std::llround(s));
  int64_t h = total / 3600, m = (total % 3600) / 60, sec = total % 60;
  if (h == 0) return sec ? absl::StrFormat("%dm%02ds", m, sec) : absl::StrFormat("%dm", m);
  return m ? absl::StrFormat("%dh%02dm", h, m) : absl::StrFormat("%dh", h);
}

// A decade tick `v` is drawn while it is finite and within `hi` (+0.01%).
bool DecadeWithin(double v, double hi) { return std::isfinite(v) && v <= hi * 1.0001; }

std::string FmtCount(double v) {
  if (v >= 1e9) return absl::StrFormat("%.3gG", v / 1e9);
  if (v >= 1e6) return absl::StrFormat("%.3gM", v / 1e6);
  if (v >= 1e4) return absl::StrFormat("%.3gk", v / 1e3);
  return absl::StrFormat("%.4g", v);
}

std::string FmtBytes(uint64_t b) {
  if (b >= (uint64_t{1} << 30)) return absl::StrFormat("%.4g GiB", b / 1073741824.0);
  return absl::StrFormat("%.4g MiB", b / 1048576.0);
}

std::string JsonText(const nlohmann::json& j, const char* key) {
  if (j.is_null() || !j.contains(key) || j[key].is_null()) return "";
  if (j[key].is_string()) return j[key].get<std::string>();
  return j[key].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

const char* VerdictColor(const std::string& v) {
  if (v == "lost") return kLostColor;
  if (v == "slow") return kSlowColor;
  return kPendingColor;
}

// A time axis: maps seconds to x and draws ticks.
struct TimeAxis {
  double end_s;  // right edge
  double X(double t) const { return kLeft + kPlotW * std::clamp(t / end_s, 0.0, 1.0); }
  std::string Ticks(double y_top, double y_bottom) const {
    static const double kSteps[] = {1,    2,    5,     10,    15,    30,    60,    120,
                                    300,  600,  900,   1800,  3600,  7200,  10800, 14400,
                                    21600, 43200, 86400, 172800, 604800};
    double step = kSteps[0];
    for (double s : kSteps) {
      step = s;
      if (end_s / s <= 10) break;
    }
    // Past the longest step (a week): a 1-2-5 multiple of it, so there are
    // at most about 10 ticks whatever end_s is.
    if (end_s / step > 10) {
      double unit = std::pow(10, std::floor(std::log10(end_s / step / 10)));
      for (double m : {1.0, 2.0, 5.0, 10.0}) {
        if (end_s / (step * unit * m) <= 10) {
          step *= unit * m;
          break;
        }
      }
    }
    std::string out;
    // Ticks by index: t += step cannot advance once step < ulp(t).
    const int ticks = static_cast<int>(std::min(20.0, std::floor(end_s / step + 1e-9)));
    for (int i = 0; i <= ticks; ++i) {
      const double t = i * step;
      double x = X(t);
      absl::StrAppend(&out, "<line class=\"grid\" x1=\"", F(x), "\" x2=\"", F(x), "\" y1=\"",
                      F(y_top), "\" y2=\"", F(y_bottom), "\"/>", "<text class=\"tick\" x=\"",
                      F(x), "\" y=\"", F(y_bottom + 12), "\" text-anchor=\"middle\">",
                      FmtDuration(t), "</text>");
    }
    return out;
  }
};

class Page {
 public:
  explicit Page(const RunData& d) : d_(d) {
    end_s_ = std::max({d.last_t, d.timeline.bins() * d.timeline.width_s(), 1e-3});
    // Trim the axis to the data rather than to the last (partly empty) bin.
    end_s_ = std::max(d.last_t, 1e-3);
    axis_ = TimeAxis{end_s_};
  }

  std::string Render() {
    std::string body;
    Header(&body);
    StatusCharts(&body);
    Latency(&body);
    Heartbeats(&body);
    Stalls(&body);
    Lockups(&body);
    Summaries(&body);
    Console(&body);
    std::string out;
    absl::StrAppend(&out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
                    "<meta name=\"viewport\" content=\"width=device-width\">",
                    "<title>kvmbed report: ", HtmlEscape(Title()), "</title>\n<style>", kCss,
                    "</style></head>\n<body data-plots=\"", plots_, "\">\n", body,
                    "<div id=\"readout\" hidden></div>\n<script>", kScript,
                    "</script>\n</body></html>\n");
    return out;
  }

 private:
  static const char* const kCss;
  static const char* const kScript;

  std::string Title() const {
    std::string name = JsonText(d_.run_start, "name");
    return name.empty() ? d_.path : name;
  }

  void Header(std::string* out) {
    const auto& rs = d_.run_start;
    const auto& re = d_.run_end;
    absl::StrAppend(out, "<header><h1>kvmbed run <span class=\"mono\">", HtmlEscape(Title()),
                    "</span></h1>");
    // Verdict badge: from run_end when present, else the run did not finish.
    std::string badge, cls;
    if (re.is_null()) {
      badge = "NO run_end: killed or still running";
      cls = "b-pending";
    } else {
      int64_t code = re.value("exit_code", int64_t{-1});
      std::string verdict = JsonText(re, "verdict");
      if (code == 0) {
        badge = "CLEAN (exit 0)";
        cls = "b-ok";
      } else if (code == 1) {
        badge = "FOUND a stall or failure (exit 1)";
        cls = "b-lost";
      } else {
        badge = absl::StrCat("exit ", code);
        cls = "b-slow";
      }
      if (!verdict.empty()) absl::StrAppend(&badge, ": ", verdict);
      int64_t sig = re.value("signal", int64_t{0});
      if (sig != 0) absl::StrAppend(&badge, ", stopped by signal ", sig);
    }
    absl::StrAppend(out, "<div class=\"verdict badge ", cls, "\" id=\"verdict\">",
                    HtmlEscape(badge), "</div><dl class=\"facts\">");
    auto fact = [&](const std::string& k, const std::string& v) {
      if (!v.empty())
        absl::StrAppend(out, "<div><dt>", HtmlEscape(k), "</dt><dd>", HtmlEscape(v), "</dd></div>");
    };
    fact("profile", JsonText(rs, "profile"));
    fact("kernel model", JsonText(rs, "kernel_model"));
    fact("mode", JsonText(rs, "mode"));
    std::string dur;
    if (rs.contains("duration_s") && rs["duration_s"].is_number()) {
      dur = absl::StrCat(FmtDuration(rs["duration_s"].get<double>()), " asked, ");
    }
    fact("duration", absl::StrCat(dur, FmtDuration(d_.last_t), " logged"));
    fact("VMs", JsonText(rs, "vms"));
    fact("host CPUs", JsonText(rs, "host_cpus"));
    if (rs.contains("cpus_folded") && rs["cpus_folded"].is_boolean() &&
        rs["cpus_folded"].get<bool>()) {
      fact("pinning", "folded onto this host's CPUs");
    }
    fact("stalls", absl::StrCat(d_.stalls_lost, " lost, ", d_.stalls_slow, " slow, ",
                                d_.stalls_pending, " pending"));
    fact("soft lockups", absl::StrCat(d_.soft_lockups_total));
    if (d_.have_status) {
      fact("IPIs", absl::StrCat(FmtCount(d_.last_status.ipis), " (",
                                FmtCount(d_.last_status.csd_waits), " csd waits, longest wait ",
                                FmtNs(d_.max_wait_ns), ")"));
    }
    fact("log", absl::StrCat(d_.path, ", ", d_.lines, " lines"));
    absl::StrAppend(out, "</dl>");
    if (d_.truncated_last_line) {
      absl::StrAppend(out, "<p class=\"note\" id=\"truncated\">Last line ignored: ",
                      HtmlEscape(d_.truncated_note), ".</p>");
    }
    if (!d_.unknown_types.empty()) {
      std::vector<std::string> u;
      for (const auto& [t, n] : d_.unknown_types) u.push_back(absl::StrCat(t, " ×", n));
      if (d_.unknown_types_not_kept > 0) {
        u.push_back(absl::StrCat(d_.unknown_types_not_kept, " events of further types"));
      }
      absl::StrAppend(out, "<p class=\"note\">Event types this renderer does not know were "
                           "skipped: ",
                      HtmlEscape(absl::StrJoin(u, ", ")), ".</p>");
    }
    absl::StrAppend(out, "<nav><a href=\"#status\">throughput</a> <a href=\"#latency\">IPI "
                         "latency</a> <a href=\"#heartbeats\">heartbeats</a> <a "
                         "href=\"#stalls\">stalls</a> <a href=\"#lockups\">soft lockups</a> "
                         "<a href=\"#vms\">VMs</a> <a href=\"#console\">console</a></nav>"
                         "</header>\n");
  }

  // ---------------------------------------------------------------- status
  void StatusCharts(std::string* out) {
    absl::StrAppend(out, "<section id=\"status\"><h2>Throughput and csd waits over time</h2>");
    if (!d_.have_status || d_.ipi_rate_series < 0) {
      absl::StrAppend(out, "<p class=\"empty\">No status events in the log.</p>");
      StallDensity(out);
      absl::StrAppend(out, "</section>\n");
      return;
    }
    const Timeline& tl = d_.timeline;
    const auto& rate = tl.series(d_.ipi_rate_series);
    const auto& wait = tl.series(d_.max_wait_series);
    absl::StrAppend(out, "<p class=\"hint\">Bins of ", FmtDuration(tl.width_s()),
                    ". IPIs/s is the mean over each bin; max wait is the longest csd wait seen "
                    "in it (log scale).</p>");
    // IPIs/s: area chart.
    double peak = 0;
    for (const Cell& c : rate)
      if (c.covered_s > 0) peak = std::max(peak, c.progress / c.covered_s);
    if (peak <= 0) peak = 1;
    const double h = 90, top = 8, bottom = top + h;
    std::string svg;
    std::string path;
    bool pen = false;
    for (int b = 0; b < tl.bins(); ++b) {
      const Cell& c = rate[b];
      if (c.covered_s <= 0) {
        pen = false;
        continue;
      }
      double v = c.progress / c.covered_s;
      double x0 = axis_.X(b * tl.width_s()), x1 = axis_.X((b + 1) * tl.width_s());
      double y = bottom - h * v / peak;
      absl::StrAppend(&path, pen ? "L" : "M", F(x0), " ", F(y), "L", F(x1), " ", F(y));
      pen = true;
    }
    absl::StrAppend(&svg, Svg("ipirate", bottom + 22, "line"), axis_.Ticks(top, bottom),
                    YLabel(top, bottom, FmtCount(peak), "0", "IPIs/s"),
                    "<path class=\"series\" d=\"", path, "\"/></svg>");
    // Max wait, log y.
    double wmax = 1, wmin = 1e300;
    for (const Cell& c : wait)
      if (c.has_max && c.max > 0) {
        wmax = std::max(wmax, c.max);
        wmin = std::min(wmin, c.max);
      }
    if (wmin > wmax) wmin = wmax / 10;
    double lo = std::pow(10, std::floor(std::log10(std::max(wmin, 1.0))));
    double hi = std::pow(10, std::ceil(std::log10(wmax * 1.0001)));
    if (hi <= lo) hi = lo * 10;
    std::string dots;
    for (int b = 0; b < tl.bins(); ++b) {
      const Cell& c = wait[b];
      if (!c.has_max) continue;
      double v = std::max(c.max, lo);
      double y = bottom - h * (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
      double x = axis_.X((b + 0.5) * tl.width_s());
      absl::StrAppend(&dots, "<circle class=\"dot\" cx=\"", F(x), "\" cy=\"", F(y),
                      "\" r=\"2\"><title>", FmtDuration(b * tl.width_s()), ": max wait ",
                      FmtNs(c.max), "</title></circle>");
    }
    std::string decades;
    // At most 40 decades (t += 10x never ends when hi is infinite).
    for (int k = 0; k < 40 && DecadeWithin(lo * std::pow(10, k), hi); ++k) {
      const double v = lo * std::pow(10, k);
      double y = bottom - h * (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
      absl::StrAppend(&decades, "<line class=\"grid\" x1=\"", F(kLeft), "\" x2=\"",
                      F(kLeft + kPlotW), "\" y1=\"", F(y), "\" y2=\"", F(y),
                      "\"/><text class=\"tick\" x=\"", F(kLeft - 4), "\" y=\"", F(y + 3),
                      "\" text-anchor=\"end\">", FmtNs(v), "</text>");
    }
    absl::StrAppend(&svg, Svg("maxwait", bottom + 22, "scatter"), axis_.Ticks(top, bottom),
                    decades, VLabel(top, bottom, "max wait"), dots, "</svg>");
    absl::StrAppend(out, svg);
    StallDensity(out);
    absl::StrAppend(out, "</section>\n");
  }

  // Every stall (not only the ones printed in full), as new stalls per bin.
  void StallDensity(std::string* out) {
    if (d_.stall_series < 0) return;
    const Timeline& tl = d_.timeline;
    const auto& cells = tl.series(d_.stall_series);
    double peak = 0;
    for (const Cell& c : cells) peak = std::max(peak, c.progress);
    if (peak <= 0) return;
    const double h = 40, top = 6, bottom = top + h;
    std::string svg = Svg("stallrate", bottom + 22, "bars");
    absl::StrAppend(&svg, axis_.Ticks(top, bottom),
                    YLabel(top, bottom, FmtCount(peak), "0", "stalls"));
    for (int b = 0; b < tl.bins(); ++b) {
      if (cells[b].progress <= 0) continue;
      double x0 = axis_.X(b * tl.width_s()), x1 = axis_.X((b + 1) * tl.width_s());
      double y = bottom - h * cells[b].progress / peak;
      absl::StrAppend(&svg, "<rect class=\"stallbar\" x=\"", F(x0), "\" y=\"", F(y),
                      "\" width=\"", F(std::max(x1 - x0 - 0.5, 1.5)), "\" height=\"",
                      F(bottom - y), "\"><title>", FmtDuration(b * tl.width_s()), ": ",
                      absl::StrFormat("%.0f", cells[b].progress), " new stalls</title></rect>");
    }
    absl::StrAppend(&svg, "</svg>");
    absl::StrAppend(out, "<p class=\"hint\">New csd stalls per bin (all ", d_.stalls_total,
                    ", whatever their verdict):</p>", svg);
  }

  // Opens an <svg> plot of the standard width.
  std::string Svg(const std::string& id, double height, const std::string& kind) {
    ++plots_;
    return absl::StrCat("<svg class=\"plot\" id=\"", HtmlEscape(id), "\" data-kind=\"", kind,
                        "\" width=\"", F(kTotalW), "\" height=\"", F(height),
                        "\" viewBox=\"0 0 ", F(kTotalW), " ", F(height),
                        "\" xmlns=\"http://www.w3.org/2000/svg\">");
  }

  std::string YLabel(double top, double bottom, const std::string& hi, const std::string& lo,
                     const std::string& name) {
    return absl::StrCat("<text class=\"tick\" x=\"", F(kLeft - 4), "\" y=\"", F(top + 8),
                        "\" text-anchor=\"end\">", HtmlEscape(hi), "</text><text class=\"tick\" x=\"",
                        F(kLeft - 4), "\" y=\"", F(bottom), "\" text-anchor=\"end\">",
                        HtmlEscape(lo), "</text>", VLabel(top, bottom, name));
  }

  // A left-axis title written bottom-to-top beside the tick labels.
  static std::string VLabel(double top, double bottom, const std::string& name) {
    double y = (top + bottom) / 2;
    return absl::StrCat("<text class=\"axislabel\" x=\"12\" y=\"", F(y),
                        "\" text-anchor=\"middle\" transform=\"rotate(-90 12 ", F(y), ")\">",
                        HtmlEscape(name), "</text>");
  }

  // ---------------------------------------------------------------- latency
  void Latency(std::string* out) {
    absl::StrAppend(out, "<section id=\"latency\"><h2>IPI latency</h2>");
    if (d_.histograms.empty()) {
      absl::StrAppend(out, "<p class=\"empty\">No ipi_latency events in the log.</p></section>");
      return;
    }
    absl::StrAppend(out, "<p class=\"hint\">Log2 buckets, log-scale time axis. Bars: count per "
                         "bucket (log scale). Line: cumulative fraction (CDF). Percentiles are "
                         "bucket upper bounds.</p>");
    int idx = 0;
    double span_lo = 1e300, span_hi = 0;
    for (const Histogram& h : d_.histograms) {
      if (h.count == 0 || h.buckets.empty()) continue;
      double lo, hi;
      Span(h, &lo, &hi);
      span_lo = std::min(span_lo, lo);
      span_hi = std::max(span_hi, hi);
    }
    for (const Histogram& h : d_.histograms) LatencyPlot(h, idx++, span_lo, span_hi, out);
    NotKept(d_.histogram_vms_not_kept.size(), "latency histograms", out);
    absl::StrAppend(out, "</section>\n");
  }

  static double Percentile(const Histogram& h, double q) {
    uint64_t need = static_cast<uint64_t>(std::ceil(q * h.count));
    uint64_t acc = 0;
    for (const auto& [ub, c] : h.buckets) {
      acc += c;
      if (acc >= need && acc > 0) return ub;
    }
    return h.buckets.empty() ? 0 : h.buckets.back().first;
  }

  // The populated range of a histogram with one bucket of margin either side.
  static void Span(const Histogram& h, double* lo_ns, double* hi_ns) {
    size_t first = 0, last = h.buckets.size() - 1;
    while (first < last && h.buckets[first].second == 0) ++first;
    while (last > first && h.buckets[last].second == 0) --last;
    // The margin bucket is first-1; its lower bound is the bound before it.
    double lo = first > 1 ? h.buckets[first - 2].first : h.buckets[0].first / 2;
    double hi = h.buckets[std::min(last + 1, h.buckets.size() - 1)].first;
    *lo_ns = std::max(lo, 1.0);
    *hi_ns = std::max(hi, h.max_ns);
  }

  void LatencyPlot(const Histogram& h, int idx, double span_lo, double span_hi,
                   std::string* out) {
    std::string title = absl::StrCat(h.plane, " plane", h.vm.empty() ? "" : ", vm ", h.vm);
    absl::StrAppend(out, "<h3>", HtmlEscape(title), "</h3>");
    if (h.count == 0 || h.buckets.empty()) {
      absl::StrAppend(out, "<p class=\"empty\">No IPIs measured.</p>");
      return;
    }
    // Lower bound of bucket i: the previous upper bound, or half the first.
    std::vector<double> lo(h.buckets.size());
    for (size_t i = 0; i < h.buckets.size(); ++i)
      lo[i] = i ? h.buckets[i - 1].first : h.buckets[0].first / 2;
    // Show only the populated span, one bucket of margin either side.
    size_t first = 0, last = h.buckets.size() - 1;
    while (first < last && h.buckets[first].second == 0) ++first;
    while (last > first && h.buckets[last].second == 0) --last;
    if (first > 0) --first;
    if (last + 1 < h.buckets.size()) ++last;
    // One x range for every plane's plot so they compare at a glance.
    double xlo = span_lo, xhi = span_hi;
    double lxlo = std::log10(xlo), lxhi = std::log10(xhi);
    if (lxhi <= lxlo) lxhi = lxlo + 1;
    auto X = [&](double ns) {
      return kLeft + kPlotW * (std::log10(std::max(ns, xlo)) - lxlo) / (lxhi - lxlo);
    };
    uint64_t cmax = 1;
    for (const auto& b : h.buckets) cmax = std::max(cmax, b.second);
    double lymax = std::ceil(std::log10(static_cast<double>(cmax) * 1.0001));
    if (lymax < 1) lymax = 1;
    const double top = 10, hh = 150, bottom = top + hh;
    auto Y = [&](uint64_t c) { return bottom - hh * std::log10(static_cast<double>(c)) / lymax; };
    std::string id = absl::StrCat("lat", idx);
    std::string svg = Svg(id, bottom + 36, "latency");
    // x grid: decades of ns.
    for (int k = 0; k < 40 && DecadeWithin(std::pow(10, std::ceil(lxlo) + k), xhi); ++k) {
      const double v = std::pow(10, std::ceil(lxlo) + k);
      absl::StrAppend(&svg, "<line class=\"grid\" x1=\"", F(X(v)), "\" x2=\"", F(X(v)),
                      "\" y1=\"", F(top), "\" y2=\"", F(bottom), "\"/><text class=\"tick\" x=\"",
                      F(X(v)), "\" y=\"", F(bottom + 12), "\" text-anchor=\"middle\">", FmtNs(v),
                      "</text>");
    }
    for (int e = 0; e <= lymax; ++e) {
      double y = bottom - hh * e / lymax;
      absl::StrAppend(&svg, "<line class=\"grid\" x1=\"", F(kLeft), "\" x2=\"",
                      F(kLeft + kPlotW), "\" y1=\"", F(y), "\" y2=\"", F(y),
                      "\"/><text class=\"tick\" x=\"", F(kLeft - 4), "\" y=\"", F(y + 3),
                      "\" text-anchor=\"end\">", FmtCount(std::pow(10, e)), "</text>");
    }
    absl::StrAppend(&svg, VLabel(top, bottom, "count"));
    // Right axis: the CDF's fraction.
    for (double q : {0.0, 0.25, 0.5, 0.75, 1.0}) {
      double y = bottom - hh * q;
      absl::StrAppend(&svg, "<text class=\"tick cdftick\" x=\"", F(kLeft + kPlotW + 4),
                      "\" y=\"", F(y + 3), "\">", absl::StrFormat("%g", q), "</text>");
    }
    absl::StrAppend(&svg, "<text class=\"axislabel cdftick\" x=\"", F(kLeft + kPlotW + 4),
                    "\" y=\"", F(top - 2), "\">CDF</text>");
    // Bars.
    uint64_t acc = 0;
    std::string cdf;
    for (size_t i = first; i <= last; ++i) {
      const auto& [ub, c] = h.buckets[i];
      double x0 = X(lo[i]), x1 = X(ub);
      if (c > 0) {
        absl::StrAppend(&svg, "<rect class=\"bar\" x=\"", F(x0 + 0.5), "\" y=\"", F(Y(c)),
                        "\" width=\"", F(std::max(x1 - x0 - 1, 0.5)), "\" height=\"",
                        F(bottom - Y(c)), "\"><title>", FmtNs(lo[i]), " – ", FmtNs(ub), ": ", c,
                        " IPIs</title></rect>");
      }
      double y_before = bottom - hh * static_cast<double>(acc) / h.count;
      acc += c;
      double y_after = bottom - hh * static_cast<double>(acc) / h.count;
      absl::StrAppend(&cdf, cdf.empty() ? "M" : "L", F(x0), " ", F(y_before), "L", F(x1), " ",
                      F(y_after));
    }
    absl::StrAppend(&svg, "<path class=\"cdf\" d=\"", cdf, "\"/>");
    // Percentile markers.
    struct Q {
      const char* name;
      double q;
    };
    std::string table = "<table class=\"pct\"><tr><th>count</th><th>mean</th>";
    std::string row = absl::StrCat("<tr><td>", h.count, "</td><td>",
                                   h.sum_ns > 0 ? FmtNs(h.sum_ns / h.count) : "–", "</td>");
    int k = 0;
    for (Q q : {Q{"p50", 0.5}, Q{"p90", 0.9}, Q{"p99", 0.99}, Q{"p99.9", 0.999}}) {
      double v = Percentile(h, q.q);
      absl::StrAppend(&svg, "<line class=\"pline\" x1=\"", F(X(v)), "\" x2=\"", F(X(v)),
                      "\" y1=\"", F(top), "\" y2=\"", F(bottom), "\"/><text class=\"ptext\" x=\"",
                      F(X(v) - 2), "\" y=\"", F(top + 10 + 11 * (k++ % 2)),
                      "\" text-anchor=\"end\">", q.name, "</text>");
      absl::StrAppend(&table, "<th>", q.name, "</th>");
      absl::StrAppend(&row, "<td>≤ ", FmtNs(v), "</td>");
    }
    if (h.max_ns > 0) {
      absl::StrAppend(&svg, "<line class=\"pline max\" x1=\"", F(X(h.max_ns)), "\" x2=\"",
                      F(X(h.max_ns)), "\" y1=\"", F(top), "\" y2=\"", F(bottom),
                      "\"/><text class=\"ptext max\" x=\"", F(X(h.max_ns) - 2), "\" y=\"",
                      F(bottom - 4), "\" text-anchor=\"end\">max</text>");
      absl::StrAppend(&table, "<th>max</th>");
      absl::StrAppend(&row, "<td>", FmtNs(h.max_ns), "</td>");
    }
    absl::StrAppend(&svg, "<text class=\"axislabel\" x=\"", F(kLeft + kPlotW / 2), "\" y=\"",
                    F(bottom + 28), "\" text-anchor=\"middle\">IPI latency (log scale)</text>",
                    "</svg>");
    absl::StrAppend(out, svg, table, "</tr>", row, "</tr></table>");
  }

  // ---------------------------------------------------------------- heartbeats
  // Row of a vCPU in a VM's heat map, or -1.
  int RowOf(const std::string& vm, int64_t vcpu) const {
    for (const auto& [name, b] : d_.beats)
      if (name == vm && vcpu >= 0 && vcpu < static_cast<int64_t>(b.series.size()))
        return static_cast<int>(vcpu);
    return -1;
  }

  void Heartbeats(std::string* out) {
    absl::StrAppend(out, "<section id=\"heartbeats\"><h2>Heartbeats per vCPU</h2>");
    if (d_.beats.empty()) {
      absl::StrAppend(out, "<p class=\"empty\">No heartbeats events in the log.</p>");
    } else {
      absl::StrAppend(
          out, "<p class=\"hint\">One strip per vCPU; each cell is one bin of ",
          FmtDuration(d_.timeline.width_s()),
          ". Blue: heartbeat rate relative to the VM's 99th-percentile rate (darker = faster). "
          "<span class=\"sw\" style=\"background:",
          kLostColor,
          "\"></span> red: part of the bin had no heartbeat progress (stronger = longer). Grey: "
          "no data. Markers above each map: stalls (",
          "<span style=\"color:", kLostColor, "\">▼ lost</span>, <span style=\"color:",
          kSlowColor, "\">▼ slow</span>, <span style=\"color:", kPendingColor,
          "\">▼ pending</span>) on the target vCPU's row, <b>◆</b> soft lockups; outlined "
          "spans show how long each lasted. Hover for values.</p>");
    }
    for (const auto& [vm, beats] : d_.beats) HeatMap(vm, beats, out);
    NotKept(d_.beats_vms_not_kept.size(), "heat maps", out);
    HostLane(out);
    absl::StrAppend(out, "</section>\n");
  }

  void HeatMap(const std::string& vm, const VmBeats& beats, std::string* out) {
    const Timeline& tl = d_.timeline;
    const int rows = static_cast<int>(beats.series.size());
    // Reference rate: the 99th percentile of all bin rates of this VM.
    std::vector<double> rates;
    for (int s : beats.series)
      for (const Cell& c : tl.series(s))
        if (c.covered_s > 0) rates.push_back(c.progress / c.covered_s);
    double ref = 1;
    if (!rates.empty()) {
      std::sort(rates.begin(), rates.end());
      ref = rates[std::min(rates.size() - 1, static_cast<size_t>(0.99 * rates.size()))];
      if (ref <= 0) ref = rates.back() > 0 ? rates.back() : 1;
    }
    const double row_h = rows > 32 ? 7 : (rows > 8 ? 10 : 14);
    const double lane = 16;
    const double top = lane + 4, height = top + rows * row_h;
    std::string id = absl::StrCat("heat-", plots_);
    std::string svg = Svg(id, height + 22, "heat");
    // Hover data: per row, levels 'a'+level ('.' no data) and stalled deciles.
    std::string data_levels, data_stall;
    absl::StrAppend(&svg, "<g shape-rendering=\"crispEdges\">");
    for (int r = 0; r < rows; ++r) {
      const auto& cells = tl.series(beats.series[r]);
      double y = top + r * row_h;
      std::string lv(tl.bins(), '.'), st(tl.bins(), '0');
      int run_start = 0;
      auto level_of = [&](int b) -> int {
        const Cell& c = cells[b];
        if (c.covered_s <= 0) return -1;
        double v = c.progress / c.covered_s / ref;
        return std::clamp(static_cast<int>(std::floor(v * (kNumLevels - 1) + 0.5)), 0,
                          kNumLevels - 1);
      };
      for (int b = 0; b <= tl.bins(); ++b) {
        int l = b < tl.bins() ? level_of(b) : -2;
        if (b < tl.bins()) {
          lv[b] = l < 0 ? '.' : static_cast<char>('a' + l);
          const Cell& c = cells[b];
          if (c.stalled_s > 0 && c.covered_s > 0) {
            int dec = std::clamp(static_cast<int>(std::ceil(10 * c.stalled_s / tl.width_s())), 1, 9);
            st[b] = static_cast<char>('0' + dec);
          }
        }
        if (b > run_start && (b == tl.bins() || l != level_of(run_start))) {
          int l0 = level_of(run_start);
          double x0 = axis_.X(run_start * tl.width_s()), x1 = axis_.X(b * tl.width_s());
          absl::StrAppend(&svg, "<rect x=\"", F(x0), "\" y=\"", F(y), "\" width=\"",
                          F(x1 - x0), "\" height=\"", F(row_h - 1), "\" fill=\"",
                          l0 < 0 ? kNoData : kLevels[l0], "\"/>");
          run_start = b;
        }
      }
      // Stall overlay, one rect per bin with some zero-progress time.
      for (int b = 0; b < tl.bins(); ++b) {
        if (st[b] == '0') continue;
        double frac = std::min(1.0, cells[b].stalled_s / tl.width_s());
        double x0 = axis_.X(b * tl.width_s()), x1 = axis_.X((b + 1) * tl.width_s());
        absl::StrAppend(&svg, "<rect class=\"stuck\" x=\"", F(x0), "\" y=\"", F(y),
                        "\" width=\"", F(std::max(x1 - x0, 1.5)), "\" height=\"", F(row_h - 1),
                        "\" fill-opacity=\"", absl::StrFormat("%.2f", 0.35 + 0.65 * frac),
                        "\"/>");
      }
      absl::StrAppend(&data_levels, r ? "," : "", lv);
      absl::StrAppend(&data_stall, r ? "," : "", st);
      if (rows <= 16 || r % 4 == 0) {
        absl::StrAppend(&svg, "<text class=\"rowlabel\" x=\"", F(kLeft - 4), "\" y=\"",
                        F(y + row_h - 1.5), "\" text-anchor=\"end\">vCPU ", r, "</text>");
      }
    }
    absl::StrAppend(&svg, "</g>");
    absl::StrAppend(&svg, "<text class=\"axislabel\" x=\"4\" y=\"", F(lane - 4),
                    "\">events</text>");
    // Markers: stalls of this VM on the target's row, soft lockups.
    auto stall_marker = [&](const Stall& s) {
      if (s.vm != vm) return;
      int row = RowOf(vm, s.target);
      double x = axis_.X(s.first_t);
      double end = s.cleared ? s.cleared_t : s.last_t;
      std::string tip = HtmlEscape(absl::StrCat(
          "stall #", s.seq, " (", s.plane, " plane): CPU#", s.waiter, " waiting for CPU#",
          s.target, " ", s.func, ", verdict ", s.verdict, ", max wait ", FmtNs(s.max_wait_ns),
          s.cleared ? absl::StrCat(", got unstuck at ", FmtDuration(s.cleared_t)) : ""));
      absl::StrAppend(&svg, "<a href=\"#stall-", HtmlEscape(s.plane), "-", HtmlEscape(s.vm), "-",
                      s.seq, "\"><path class=\"marker stall-marker\" data-verdict=\"",
                      HtmlEscape(s.verdict), "\" d=\"M", F(x - 5), " ", F(lane - 10), "L",
                      F(x + 5), " ", F(lane - 10), "L", F(x), " ", F(lane), "Z\" fill=\"",
                      VerdictColor(s.verdict), "\"><title>", tip, "</title></path></a>");
      if (row >= 0) {
        double y = top + row * row_h;
        absl::StrAppend(&svg, "<rect class=\"span\" x=\"", F(x - 1), "\" y=\"", F(y - 1),
                        "\" width=\"", F(std::max(axis_.X(end) - x, 0.0) + 2), "\" height=\"",
                        F(row_h + 1), "\" stroke=\"", VerdictColor(s.verdict), "\"><title>",
                        tip, "</title></rect>");
      }
    };
    for (const Stall& s : d_.stalls_first) stall_marker(s);
    for (const Stall& s : d_.stalls_last) stall_marker(s);
    for (const SoftLockup& l : d_.soft_lockups) {
      if (l.vm != vm) continue;
      double x = axis_.X(l.t), x0 = axis_.X(l.t - l.stuck_s);
      std::string tip = HtmlEscape(absl::StrCat("soft lockup: vCPU#", l.vcpu, " stuck for ",
                                                FmtDuration(l.stuck_s), " at ",
                                                FmtDuration(l.t)));
      absl::StrAppend(&svg, "<path class=\"marker lockup-marker\" d=\"M", F(x), " ",
                      F(lane - 11), "L", F(x + 5), " ", F(lane - 5.5), "L", F(x), " ", F(lane),
                      "L", F(x - 5), " ", F(lane - 5.5), "Z\" fill=\"", kLockupColor,
                      "\"><title>", tip, "</title></path>");
      int row = RowOf(vm, l.vcpu);
      if (row >= 0) {
        double y = top + row * row_h;
        absl::StrAppend(&svg, "<rect class=\"span lockup\" x=\"", F(x0), "\" y=\"", F(y - 1),
                        "\" width=\"", F(std::max(x - x0, 1.0)), "\" height=\"", F(row_h + 1),
                        "\"><title>", tip, "</title></rect>");
      }
    }
    absl::StrAppend(&svg, axis_.Ticks(top, height), "</svg>");
    // The hover read-out needs the geometry and the compact per-cell levels.
    std::string wrap = absl::StrFormat(
        "<div class=\"heatwrap\" data-vm=\"%s\" data-top=\"%s\" data-rowh=\"%s\" data-left=\"%s\" "
        "data-plotw=\"%s\" data-binw=\"%s\" data-end=\"%s\" data-ref=\"%s\" data-levels=\"%s\" "
        "data-stall=\"%s\">",
        HtmlEscape(vm), F(top), F(row_h), F(kLeft), F(kPlotW), absl::StrFormat("%g", tl.width_s()),
        absl::StrFormat("%g", end_s_), absl::StrFormat("%g", ref), data_levels, data_stall);
    absl::StrAppend(out, "<h3>vm ", HtmlEscape(vm), " <small>", rows, " vCPUs, ",
                    beats.samples, " samples, reference rate ", FmtCount(ref),
                    " beats/s</small></h3>", wrap, svg, "</div>");
  }

  // Host-plane stalls that name no VM get a lane of their own.
  void HostLane(std::string* out) {
    std::vector<const Stall*> host;
    for (const auto* v : {&d_.stalls_first, &d_.stalls_last})
      for (const Stall& s : *v)
        if (s.vm.empty() || RowOf(s.vm, 0) < 0) host.push_back(&s);
    if (host.empty()) return;
    const double lane = 24, height = lane;
    std::string svg = Svg("hostlane", height + 22, "lane");
    absl::StrAppend(&svg, "<text class=\"axislabel\" x=\"4\" y=\"", F(lane - 6),
                    "\">host plane</text>");
    for (const Stall* s : host) {
      double x = axis_.X(s->first_t), end = axis_.X(s->cleared ? s->cleared_t : s->last_t);
      std::string tip = HtmlEscape(absl::StrCat("stall #", s->seq, " (", s->plane,
                                                " plane): CPU#", s->waiter, " waiting for CPU#",
                                                s->target, ", verdict ", s->verdict));
      absl::StrAppend(&svg, "<rect class=\"span\" x=\"", F(x), "\" y=\"", F(lane - 8),
                      "\" width=\"", F(std::max(end - x, 1.0)), "\" height=\"6\" stroke=\"",
                      VerdictColor(s->verdict), "\"/>", "<a href=\"#stall-",
                      HtmlEscape(s->plane), "-", HtmlEscape(s->vm), "-", s->seq,
                      "\"><path class=\"marker stall-marker\" data-verdict=\"",
                      HtmlEscape(s->verdict), "\" d=\"M", F(x - 5), " ", F(lane - 20), "L",
                      F(x + 5), " ", F(lane - 20), "L", F(x), " ", F(lane - 10), "Z\" fill=\"",
                      VerdictColor(s->verdict), "\"><title>", tip, "</title></path></a>");
    }
    absl::StrAppend(&svg, axis_.Ticks(2, height), "</svg>");
    absl::StrAppend(out, "<h3>host plane <small>stalls with no VM row</small></h3>", svg);
  }

  // ---------------------------------------------------------------- stalls
  void Stalls(std::string* out) {
    absl::StrAppend(out, "<section id=\"stalls\"><h2>Stalls <small>", d_.stalls_total,
                    " (", d_.stalls_lost, " lost, ", d_.stalls_slow, " slow, ", d_.stalls_pending,
                    " pending) from ", d_.stall_events, " stall events</small></h2>");
    std::vector<const Stall*> all;
    for (const Stall& s : d_.stalls_first) all.push_back(&s);
    for (const Stall& s : d_.stalls_last) all.push_back(&s);
    if (all.empty()) {
      absl::StrAppend(out, "<p class=\"empty\">No csd stall reported.</p></section>\n");
      return;
    }
    int64_t hidden = d_.stalls_total - static_cast<int64_t>(all.size());
    if (hidden > 0) {
      absl::StrAppend(out, "<p class=\"note\">Showing the first ", d_.stalls_first.size(),
                      " and the last ", d_.stalls_last.size(), " stalls; ", hidden,
                      " in between are counted above but not printed (the log has them).</p>");
    }
    absl::StrAppend(out, "<table class=\"stalls\"><tr><th>#</th><th>plane</th><th>vm</th>"
                         "<th>waiter → target</th><th>func(info)</th><th>first seen</th>"
                         "<th>max wait</th><th>verdict</th><th>cleared</th></tr>");
    for (const Stall* s : all) {
      absl::StrAppend(out, "<tr><td><a href=\"#stall-", HtmlEscape(s->plane), "-",
                      HtmlEscape(s->vm), "-", s->seq, "\">", s->seq, "</a></td><td>",
                      HtmlEscape(s->plane), "</td><td>", HtmlEscape(s->vm), "</td><td>CPU#",
                      s->waiter, " → CPU#", s->target, "</td><td class=\"mono\">",
                      HtmlEscape(s->func), "(", HtmlEscape(s->info), ")</td><td>",
                      FmtDuration(s->first_t), "</td><td>", FmtNs(s->max_wait_ns), "</td><td>",
                      Badge(s->verdict), "</td><td>",
                      s->cleared ? absl::StrCat("got unstuck at ", FmtDuration(s->cleared_t))
                                 : "no",
                      "</td></tr>");
    }
    absl::StrAppend(out, "</table>");
    for (const Stall* s : all) {
      absl::StrAppend(out, "<details class=\"report\" id=\"stall-", HtmlEscape(s->plane), "-",
                      HtmlEscape(s->vm), "-", s->seq, "\"", s->verdict == "lost" ? " open" : "",
                      "><summary>", Badge(s->verdict), " stall #", s->seq, " — ",
                      HtmlEscape(s->plane), " plane", s->vm.empty() ? "" : ", vm ",
                      HtmlEscape(s->vm), ", CPU#", s->waiter, " → CPU#", s->target, ", ",
                      s->reports, s->reports == 1 ? " report" : " reports",
                      s->cleared ? ", got unstuck" : "", "</summary><pre class=\"stall-report\">",
                      HtmlEscape(s->first_report.empty() ? "(no report text in the log)"
                                                         : s->first_report),
                      "</pre>");
      if (!s->last_report.empty()) {
        absl::StrAppend(out, "<p class=\"hint\">Latest continued report:</p><pre "
                             "class=\"stall-report\">",
                        HtmlEscape(s->last_report), "</pre>");
      }
      absl::StrAppend(out, "</details>");
    }
    absl::StrAppend(out, "</section>\n");
  }

  static std::string Badge(const std::string& verdict) {
    std::string cls = verdict == "lost" ? "b-lost" : verdict == "slow" ? "b-slow" : "b-pending";
    return absl::StrCat("<span class=\"badge ", cls, "\">", HtmlEscape(verdict), "</span>");
  }

  void Lockups(std::string* out) {
    absl::StrAppend(out, "<section id=\"lockups\"><h2>Soft lockups <small>",
                    d_.soft_lockups_total, "</small></h2>");
    if (d_.soft_lockups.empty()) {
      absl::StrAppend(out, "<p class=\"empty\">No soft lockup reported.</p></section>\n");
      return;
    }
    if (d_.soft_lockups_total > static_cast<int64_t>(d_.soft_lockups.size())) {
      absl::StrAppend(out, "<p class=\"note\">Showing the first ", d_.soft_lockups.size(),
                      ".</p>");
    }
    for (const SoftLockup& l : d_.soft_lockups) {
      absl::StrAppend(out, "<details class=\"report\" open><summary><span class=\"badge "
                           "b-lost\">soft lockup</span> vm ",
                      HtmlEscape(l.vm), " vCPU#", l.vcpu, " stuck for ", FmtDuration(l.stuck_s),
                      " at ", FmtDuration(l.t), "</summary><pre class=\"lockup-report\">",
                      HtmlEscape(l.report), "</pre></details>");
    }
    absl::StrAppend(out, "</section>\n");
  }

  static std::string Cpus(const std::vector<int64_t>& v) {
    // Ranges: 0-3,8
    std::string out;
    for (size_t i = 0; i < v.size();) {
      size_t j = i;
      while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
      absl::StrAppend(&out, out.empty() ? "" : ",", v[i]);
      if (j > i) absl::StrAppend(&out, "-", v[j]);
      i = j + 1;
    }
    return out.empty() ? "–" : out;
  }

  void Summaries(std::string* out) {
    absl::StrAppend(out, "<section id=\"vms\"><h2>VMs and vCPUs</h2>");
    if (d_.vm_summaries.empty()) {
      absl::StrAppend(out, "<p class=\"empty\">No vm_summary events (the run did not reach its "
                           "end).</p></section>\n");
      return;
    }
    absl::StrAppend(out, "<table class=\"vms\"><tr><th>vm</th><th>vCPUs</th><th>memory</th>"
                         "<th>all online</th><th>boot</th><th>ran</th><th>error</th></tr>");
    for (const auto& v : d_.vm_summaries) {
      absl::StrAppend(out, "<tr><td>", HtmlEscape(v.vm), "</td><td>", v.vcpus, "</td><td>",
                      FmtBytes(v.memory_bytes), "</td><td>", v.all_online ? "yes" : "<b>no</b>",
                      "</td><td>", absl::StrFormat("%.1f ms", v.boot_ms), "</td><td>",
                      FmtDuration(v.run_s), "</td><td class=\"err\">",
                      v.error.empty() ? "" : HtmlEscape(v.error), "</td></tr>");
    }
    absl::StrAppend(out, "</table>");
    NotKept(d_.summaries_not_kept, "vm_summary rows", out);
    for (const auto& v : d_.vm_summaries) {
      std::set<std::string> reasons;
      for (const auto& c : v.per_vcpu)
        for (const auto& e : c.exits) reasons.insert(e.first);
      absl::StrAppend(out, "<details class=\"vcpus\"", v.per_vcpu.size() <= 8 ? " open" : "",
                      "><summary>vm ", HtmlEscape(v.vm), ": ", v.per_vcpu.size(),
                      " vCPUs</summary><table class=\"vcpus\"><tr><th>vCPU</th><th>state</th>"
                      "<th>pinned</th><th>asked</th><th>in force</th><th>ran on</th>"
                      "<th>heartbeats</th><th>kicks</th>");
      for (const auto& r : reasons) {
        absl::string_view shown = r;
        absl::ConsumePrefix(&shown, "KVM_EXIT_");
        absl::StrAppend(out, "<th title=\"", HtmlEscape(r), "\">", HtmlEscape(std::string(shown)), "</th>");
      }
      absl::StrAppend(out, "</tr>");
      for (const auto& c : v.per_vcpu) {
        bool odd = c.state != "online" && c.state != "stopped";
        absl::StrAppend(out, "<tr><td>", c.vcpu, "</td><td", odd ? " class=\"err\"" : "", ">",
                        HtmlEscape(c.state), "</td><td>", c.pinned ? "yes" : "no", "</td><td>",
                        Cpus(c.affinity_requested), "</td><td>", Cpus(c.affinity_in_force),
                        "</td><td>", Cpus(c.ran_on), "</td><td>", c.heartbeats, "</td><td>",
                        c.kicks, "</td>");
        for (const auto& r : reasons) {
          auto it = c.exits.find(r);
          absl::StrAppend(out, "<td>", it == c.exits.end() ? 0 : it->second, "</td>");
        }
        absl::StrAppend(out, "</tr>");
      }
      absl::StrAppend(out, "</table></details>");
    }
    absl::StrAppend(out, "</section>\n");
  }

  // Notes what a per-VM section left out (past kMaxVmsKept).
  static void NotKept(size_t n, const char* what, std::string* out) {
    if (n == 0) return;
    absl::StrAppend(out, "<p class=\"note\">", n, " more ", what,
                    " not shown: the report keeps the first ", kMaxVmsKept, " VMs (",
                    kMaxHeartbeatRows, " vCPU strips).</p>");
  }

  void Console(std::string* out) {
    absl::StrAppend(out, "<section id=\"console\"><h2>Guest console</h2>");
    if (d_.console.empty()) {
      absl::StrAppend(out, "<p class=\"empty\">No console output in the log.</p>");
    }
    for (const auto& [vm, lines] : d_.console) {
      int64_t total = d_.console_total.at(vm);
      absl::StrAppend(out, "<details><summary>vm ", HtmlEscape(vm), ": ", total, " lines",
                      total > static_cast<int64_t>(lines.size())
                          ? absl::StrCat(", the last ", lines.size(), " shown")
                          : "",
                      "</summary><pre>", HtmlEscape(absl::StrJoin(lines, "\n")), "</pre></details>");
    }
    NotKept(d_.console_vms_not_kept.size(), "VMs' console output", out);
    absl::StrAppend(out, "</section>\n");
  }

  const RunData& d_;
  double end_s_ = 1;
  TimeAxis axis_{1};
  int plots_ = 0;
};

const char* const Page::kCss = R"css(
:root{--fg:#1d1d1f;--muted:#666;--line:#ddd;--lost:#d62728;--slow:#e69f00;--pending:#8e44ad;--ok:#2ca02c}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);margin:16px auto;max-width:1000px;padding:0 12px}
h1{font-size:20px;margin:0 0 8px}h2{font-size:17px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:28px}
h3{font-size:14px;margin:14px 0 4px}small{color:var(--muted);font-weight:normal}
.mono,pre{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace}
pre{font-size:12px;background:#f6f8fa;border:1px solid var(--line);padding:8px;overflow-x:auto;white-space:pre;max-height:480px}
.facts{display:flex;flex-wrap:wrap;gap:4px 22px;margin:8px 0}.facts div{display:flex;gap:6px}
dt{color:var(--muted)}dd{margin:0;font-weight:600}
.badge{display:inline-block;border-radius:3px;padding:0 6px;color:#fff;font-size:12px;font-weight:600}
.verdict{font-size:15px;padding:3px 10px}
.b-lost{background:var(--lost)}.b-slow{background:var(--slow);color:#000}.b-pending{background:var(--pending)}.b-ok{background:var(--ok)}
.note{background:#fff8e1;border-left:4px solid var(--slow);padding:4px 8px}.empty,.hint{color:var(--muted)}
.hint{font-size:12.5px}.sw{display:inline-block;width:10px;height:10px;vertical-align:middle}
nav a{margin-right:10px}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}th,td{border:1px solid var(--line);padding:2px 6px;text-align:left}
th{background:#f3f3f3}td.err{color:var(--lost)}
svg.plot{display:block;overflow:visible}
.grid{stroke:#e6e6e6;stroke-width:1}.tick{font-size:10px;fill:#555}.axislabel{font-size:11px;fill:#333}
.rowlabel{font-size:9px;fill:#555}.series{fill:none;stroke:#1f77b4;stroke-width:1.5}
.dot{fill:#d62728}.stallbar{fill:#d62728}.bar{fill:#6baed6}.cdf{fill:none;stroke:#08306b;stroke-width:2}
.pline{stroke:#444;stroke-dasharray:3 3}.pline.max{stroke:var(--lost)}.ptext{font-size:10px;fill:#333}.cdftick{fill:#08306b}.ptext.max{fill:var(--lost)}
.stuck{fill:var(--lost)}.span{fill:none;stroke-width:1.5}.span.lockup{stroke:#000;stroke-dasharray:2 1}
.marker{stroke:#fff;stroke-width:.5;cursor:pointer}
.heatwrap{position:relative}
#readout{position:fixed;pointer-events:none;background:#222;color:#fff;font-size:12px;padding:3px 6px;border-radius:3px;z-index:9;white-space:pre}
details.report summary{cursor:pointer;margin:6px 0}
)css";

const char* const Page::kScript = R"js(
(function(){
  var ro=document.getElementById('readout');
  function dur(s){if(s<60)return s.toFixed(s<10?2:0)+'s';var m=Math.floor(s/60);
    if(m<60)return m+'m'+String(Math.round(s-m*60)).padStart(2,'0')+'s';
    return Math.floor(m/60)+'h'+String(m%60).padStart(2,'0')+'m';}
  document.querySelectorAll('.heatwrap').forEach(function(w){
    var d=w.dataset,lv=d.levels.split(','),st=d.stall.split(','),svg=w.querySelector('svg');
    var top=+d.top,rh=+d.rowh,left=+d.left,pw=+d.plotw,bw=+d.binw,end=+d.end,ref=+d.ref;
    svg.addEventListener('mousemove',function(e){
      var r=svg.getBoundingClientRect(),x=e.clientX-r.left,y=e.clientY-r.top;
      var row=Math.floor((y-top)/rh),t=(x-left)/pw*end,b=Math.floor(t/bw);
      if(row<0||row>=lv.length||b<0||b>=lv[row].length||x<left){ro.hidden=true;return;}
      var c=lv[row][b],s=+st[row][b],txt='vm '+d.vm+' vCPU '+row+'\n'+dur(b*bw)+' – '+dur((b+1)*bw)+'\n';
      if(c=='.')txt+='no data';else{var l=c.charCodeAt(0)-97;
        txt+='rate ≈ '+Math.round(l/8*ref)+' beats/s ('+Math.round(l/8*100)+'% of ref)';}
      if(s>0)txt+='\nno progress for ~'+(s*10)+'% of the bin';
      ro.textContent=txt;ro.hidden=false;ro.style.left=(e.clientX+14)+'px';ro.style.top=(e.clientY+10)+'px';});
    svg.addEventListener('mouseleave',function(){ro.hidden=true;});
  });
  // Self-check for headless runs: every plot laid out with a real size and content.
  var plots=document.querySelectorAll('svg.plot'),bad=[];
  plots.forEach(function(p){var b=p.getBBox();if(!(b.width>0&&b.height>0)||p.childElementCount<2)bad.push(p.id);});
  // ... and the hover read-out answers on the first heat map's first cell.
  var hw=document.querySelector('.heatwrap');
  if(hw){var sv=hw.querySelector('svg'),r=sv.getBoundingClientRect();
    sv.dispatchEvent(new MouseEvent('mousemove',{clientX:r.left+(+hw.dataset.left)+1,clientY:r.top+(+hw.dataset.top)+1}));
    if(ro.hidden||ro.textContent.indexOf('vCPU 0')<0)bad.push('readout');
    document.body.setAttribute('data-readout',ro.textContent.split('\n').join(' | '));ro.hidden=true;}
  var want=+document.body.dataset.plots;
  document.body.setAttribute('data-rendered',bad.length==0&&plots.length==want?'ok '+plots.length:'FAILED '+bad.join(' '));
})();
)js";

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderHtml(const RunData& data) { return Page(data).Render(); }

absl::StatusOr<std::string> RenderReport(const std::string& jsonl_path) {
  absl::StatusOr<RunData> data = ReadRunLog(jsonl_path);
  if (!data.ok()) return data.status();
  return RenderHtml(*data);
}

}  // namespace report
}  // namespace kvmbed
