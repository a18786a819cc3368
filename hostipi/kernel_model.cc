#include "hostipi/kernel_model.h"

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kvmbed {
namespace hostipi {
namespace {

struct PresetDef {
  const char* name;
  const char* what;
  bool mb_before_set;
  bool mb_after_clear;
  DemuxRead demux;
  bool message_pass_mb;
  bool cause_ipi_mb;
};

// Oldest first. pre-9fb1b36 is the v5.3 host_ipi path with seed 000's fix
// reverted (no real kernel had both; it exists to exercise that site).
// 9fb1b36 is that kernel with seed 000's fix applied: the same sites as
// v5.3, named for the muxed-ipi-wakelist scenario.
constexpr PresetDef kPresets[] = {
    {"pre-9fb1b36", "v5.3 with 9fb1b36 reverted", false, false,
     DemuxRead::kXchgRelaxed, false, true},
    {"9fb1b36", "9fb1b36 applied, 3a83f677 not", false, false,
     DemuxRead::kXchg, true, true},
    {"v5.3", "before 3a83f677", false, false, DemuxRead::kXchg, true, true},
    {"v5.4", "3a83f677 applied", true, true, DemuxRead::kXchg, true, true},
};

// The sites a kernel model string can override, in the order ToString and
// Describe write them.
enum class Site { kMbBeforeSet, kMbAfterClear, kDemux, kMessagePassMb, kCauseIpiMb };

constexpr auto kSiteNames = MakeEnumNames<Site>(
    {{Site::kMbBeforeSet, "mb-before-set"}, {Site::kMbAfterClear, "mb-after-clear"},
     {Site::kDemux, "demux"}, {Site::kMessagePassMb, "message-pass-mb"},
     {Site::kCauseIpiMb, "cause-ipi-mb"}});

constexpr auto kOnOff = MakeEnumNames<bool>({{true, "on"}, {false, "off"}});

// "mb-before-set=on|off, ..., demux=xchg|xchg-relaxed|peek, ...".
std::string SitesHelp() {
  std::string out;
  for (const EnumName<Site>& s : kSiteNames) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", s.name, "=",
                    s.value == Site::kDemux ? kDemuxReadNames.Joined("|") : kOnOff.Joined("|"));
  }
  return out;
}

// The on/off field behind a site other than demux.
bool KernelModel::*OnOffField(Site site) {
  switch (site) {
    case Site::kMbBeforeSet:
      return &KernelModel::mb_before_set;
    case Site::kMbAfterClear:
      return &KernelModel::mb_after_clear;
    case Site::kMessagePassMb:
      return &KernelModel::message_pass_mb;
    case Site::kCauseIpiMb:
      return &KernelModel::cause_ipi_mb;
    case Site::kDemux:
      break;
  }
  return nullptr;
}

// The value `m` has at `site`, as written after "site=".
absl::string_view SiteValue(const KernelModel& m, Site site) {
  if (site == Site::kDemux) return DemuxReadName(m.demux);
  return kOnOff.Name(m.*OnOffField(site));
}

// Sets `site` of `m` from `value`; `whole` is the model string for errors.
absl::Status SetSite(KernelModel& m, Site site, absl::string_view value,
                     absl::string_view whole) {
  const char* key = kSiteNames.Name(site);
  if (site == Site::kDemux) {
    std::optional<DemuxRead> demux = kDemuxReadNames.Parse(value);
    if (!demux) {
      return absl::InvalidArgumentError(
          absl::StrCat("kernel model \"", whole, "\": ", key, "=\"", value, "\" is unknown; write ",
                       kDemuxReadNames.OneOf(absl::StrCat(key, "="))));
    }
    m.demux = *demux;
    return absl::OkStatus();
  }
  std::optional<bool> on = kOnOff.Parse(value);
  if (!on) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel model \"", whole, "\": site ", key, "=\"", value, "\" is not ",
                     kOnOff.Joined("/"), "; write ", kOnOff.OneOf(absl::StrCat(key, "="))));
  }
  m.*OnOffField(site) = *on;
  return absl::OkStatus();
}

}  // namespace

const char* DemuxReadName(DemuxRead demux) { return kDemuxReadNames.Name(demux); }

std::vector<std::string> KernelModel::PresetNames() {
  std::vector<std::string> names;
  for (const PresetDef& p : kPresets) names.push_back(p.name);
  return names;
}

absl::StatusOr<KernelModel> KernelModel::Preset(absl::string_view name) {
  for (const PresetDef& p : kPresets) {
    if (name == p.name) {
      KernelModel m;
      m.preset = p.name;
      m.mb_before_set = p.mb_before_set;
      m.mb_after_clear = p.mb_after_clear;
      m.demux = p.demux;
      m.message_pass_mb = p.message_pass_mb;
      m.cause_ipi_mb = p.cause_ipi_mb;
      return m;
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown kernel model preset \"", name,
                   "\"; known presets: ", absl::StrJoin(PresetNames(), ", ")));
}

KernelModel KernelModel::Known(absl::string_view text) {
  absl::StatusOr<KernelModel> m = Parse(text);
  if (!m.ok()) {
    std::fprintf(stderr, "built-in kernel model: %s\n", std::string(m.status().message()).c_str());
    std::abort();
  }
  return *m;
}

absl::StatusOr<KernelModel> KernelModel::Parse(absl::string_view text) {
  std::vector<absl::string_view> items = absl::StrSplit(text, ',');
  absl::string_view first = absl::StripAsciiWhitespace(items[0]);
  if (first.empty() || first.find('=') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("kernel model \"", text, "\": must start with a preset (",
                     absl::StrJoin(PresetNames(), ", "),
                     "), then optional overrides, e.g. \"v5.3,demux=peek\""));
  }
  absl::StatusOr<KernelModel> preset = Preset(first);
  if (!preset.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kernel model \"", text, "\": ", preset.status().message()));
  }
  KernelModel m = *preset;
  bool seen[kSiteNames.size()] = {};
  for (size_t i = 1; i < items.size(); ++i) {
    absl::string_view item = absl::StripAsciiWhitespace(items[i]);
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    absl::string_view value = absl::StripAsciiWhitespace(kv.second);
    if (item.find('=') == absl::string_view::npos || value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("kernel model \"", text, "\": item \"", item,
                       "\" is not site=value; sites: ", SitesHelp()));
    }
    std::optional<Site> site = kSiteNames.Parse(key);
    if (!site) {
      return absl::InvalidArgumentError(absl::StrCat("kernel model \"", text,
                                                     "\": unknown site \"", key,
                                                     "\"; sites: ", SitesHelp()));
    }
    absl::Status set = SetSite(m, *site, value, text);
    if (!set.ok()) return set;
    const size_t index = static_cast<size_t>(*site);
    if (seen[index]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "kernel model \"", text, "\": site ", key, " is given twice"));
    }
    seen[index] = true;
  }
  return m;
}

std::string KernelModel::ToString() const {
  std::string out = preset;
  absl::StatusOr<KernelModel> base = Preset(preset);
  if (!base.ok()) return absl::StrCat("?(", Describe(), ")");
  for (const EnumName<Site>& s : kSiteNames) {
    absl::string_view value = SiteValue(*this, s.value);
    if (value != SiteValue(*base, s.value)) absl::StrAppend(&out, ",", s.name, "=", value);
  }
  return out;
}

std::string KernelModel::Describe() const {
  std::string out;
  for (const EnumName<Site>& s : kSiteNames) {
    // cause-ipi-mb only when off, so the host_ipi scenario's output is unchanged.
    if (s.value == Site::kCauseIpiMb && cause_ipi_mb) continue;
    absl::StrAppend(&out, out.empty() ? "" : " ", s.name, "=", SiteValue(*this, s.value));
  }
  return out;
}

}  // namespace hostipi
}  // namespace kvmbed
