#include "hostipi/kernel_model.h"

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

constexpr const char* kSites =
    "mb-before-set=on|off, mb-after-clear=on|off, "
    "demux=xchg|xchg-relaxed|peek, message-pass-mb=on|off, "
    "cause-ipi-mb=on|off";

absl::StatusOr<bool> ParseOnOff(absl::string_view text, absl::string_view key,
                                absl::string_view whole) {
  if (text == "on") return true;
  if (text == "off") return false;
  return absl::InvalidArgumentError(
      absl::StrCat("kernel model \"", whole, "\": site ", key, "=\"", text,
                   "\" is not on/off; write ", key, "=on or ", key, "=off"));
}

const char* OnOff(bool b) { return b ? "on" : "off"; }

}  // namespace

const char* DemuxReadName(DemuxRead demux) {
  switch (demux) {
    case DemuxRead::kXchg:
      return "xchg";
    case DemuxRead::kXchgRelaxed:
      return "xchg-relaxed";
    case DemuxRead::kPeek:
      return "peek";
  }
  return "?";
}

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
  bool seen[5] = {false, false, false, false, false};
  for (size_t i = 1; i < items.size(); ++i) {
    absl::string_view item = absl::StripAsciiWhitespace(items[i]);
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(item, absl::MaxSplits('=', 1));
    absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    absl::string_view value = absl::StripAsciiWhitespace(kv.second);
    if (item.find('=') == absl::string_view::npos || value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("kernel model \"", text, "\": item \"", item,
                       "\" is not site=value; sites: ", kSites));
    }
    int index;
    if (key == "mb-before-set") {
      index = 0;
      absl::StatusOr<bool> b = ParseOnOff(value, key, text);
      if (!b.ok()) return b.status();
      m.mb_before_set = *b;
    } else if (key == "mb-after-clear") {
      index = 1;
      absl::StatusOr<bool> b = ParseOnOff(value, key, text);
      if (!b.ok()) return b.status();
      m.mb_after_clear = *b;
    } else if (key == "demux") {
      index = 2;
      if (value == "xchg") {
        m.demux = DemuxRead::kXchg;
      } else if (value == "xchg-relaxed") {
        m.demux = DemuxRead::kXchgRelaxed;
      } else if (value == "peek") {
        m.demux = DemuxRead::kPeek;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("kernel model \"", text, "\": demux=\"", value,
                         "\" is unknown; write demux=xchg, demux=xchg-relaxed "
                         "or demux=peek"));
      }
    } else if (key == "message-pass-mb") {
      index = 3;
      absl::StatusOr<bool> b = ParseOnOff(value, key, text);
      if (!b.ok()) return b.status();
      m.message_pass_mb = *b;
    } else if (key == "cause-ipi-mb") {
      index = 4;
      absl::StatusOr<bool> b = ParseOnOff(value, key, text);
      if (!b.ok()) return b.status();
      m.cause_ipi_mb = *b;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("kernel model \"", text,
                                                     "\": unknown site \"", key,
                                                     "\"; sites: ", kSites));
    }
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
  if (mb_before_set != base->mb_before_set)
    absl::StrAppend(&out, ",mb-before-set=", OnOff(mb_before_set));
  if (mb_after_clear != base->mb_after_clear)
    absl::StrAppend(&out, ",mb-after-clear=", OnOff(mb_after_clear));
  if (demux != base->demux)
    absl::StrAppend(&out, ",demux=", DemuxReadName(demux));
  if (message_pass_mb != base->message_pass_mb)
    absl::StrAppend(&out, ",message-pass-mb=", OnOff(message_pass_mb));
  if (cause_ipi_mb != base->cause_ipi_mb)
    absl::StrAppend(&out, ",cause-ipi-mb=", OnOff(cause_ipi_mb));
  return out;
}

std::string KernelModel::Describe() const {
  return absl::StrCat("mb-before-set=", OnOff(mb_before_set),
                      " mb-after-clear=", OnOff(mb_after_clear),
                      " demux=", DemuxReadName(demux),
                      " message-pass-mb=", OnOff(message_pass_mb),
                      cause_ipi_mb ? "" : " cause-ipi-mb=off");
}

}  // namespace hostipi
}  // namespace kvmbed
