#include "configs/libvirt.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/input.h"
#include "base/status_macros.h"
#include "base/cpuset.h"
#include "configs/profile.h"
#include "tinyxml2.h"
#include "yaml-cpp/yaml.h"

namespace kvmbed {
namespace {

using tinyxml2::XMLAttribute;
using tinyxml2::XMLDocument;
using tinyxml2::XMLElement;

// "<vcpupin vcpu='3' cpuset='0-x'>", as the element appears in the file.
std::string Describe(const XMLElement* e) {
  std::string out = absl::StrCat("<", Excerpt(e->Name()));
  for (const XMLAttribute* a = e->FirstAttribute(); a != nullptr;
       a = a->Next()) {
    absl::StrAppend(&out, " ", Excerpt(a->Name()), "='", Excerpt(a->Value()), "'");
  }
  return out + ">";
}

std::string Text(const XMLElement* e) {
  const char* text = e->GetText();
  return text == nullptr ? "" : std::string(absl::StripAsciiWhitespace(text));
}

// Parses a libvirt scaled integer (virScaleInteger): `unit` empty means
// KiB; b/bytes; k/M/G/T/P/E alone or with "iB" are powers of 1024, with "B"
// powers of 1000 (case-insensitive first letter, as libvirt).
bool ScaleMemory(uint64_t number, absl::string_view unit, uint64_t* bytes,
                 std::string* why) {
  std::string u = absl::AsciiStrToLower(unit);
  uint64_t scale = 1;
  if (u.empty()) {
    scale = 1024;
  } else if (u == "b" || u == "bytes") {
    scale = 1;
  } else {
    static const char kPowers[] = "kmgtpe";
    const char* p = std::strchr(kPowers, u[0]);
    std::string rest = u.substr(1);
    uint64_t base = 0;
    if (p == nullptr || u[0] == '\0') {
      base = 0;
    } else if (rest.empty() || rest == "ib") {
      base = 1024;
    } else if (rest == "b") {
      base = 1000;
    }
    if (base == 0) {
      *why = absl::StrCat("unknown unit '", Excerpt(unit),
                          "'; use b, KiB, MiB, GiB, TiB (or KB, MB, GB, TB "
                          "for powers of 1000)");
      return false;
    }
    for (const char* q = kPowers; q <= p; ++q) scale *= base;
  }
  if (number > ~uint64_t{0} / scale) {
    *why = "the size overflows 64 bits; give a smaller size";
    return false;
  }
  *bytes = number * scale;
  return true;
}

// `text` made safe inside an XML comment, which may not hold "--" (nor end
// in '-'): C-escaped, then every '-' that follows a '-' written as \x2d.
std::string XmlCommentSafe(absl::string_view text) {
  std::string in = absl::CEscape(text), out;
  for (char c : in) {
    if (c == '-' && !out.empty() && out.back() == '-') {
      out += "\\x2d";
    } else {
      out += c;
    }
  }
  return out;
}

// Reads one domain XML. Not thread-safe; one per import.
class DomainImporter {
 public:
  explicit DomainImporter(std::string source) : source_(std::move(source)) {}

  absl::StatusOr<std::string> Import(absl::string_view xml);

 private:
  absl::Status Error(const XMLElement* e, const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s:%d: %s: %s", source_, e->GetLineNum(), Describe(e), message));
  }

  // The only child `name` of `parent`, or nullptr; a second one is an error.
  absl::StatusOr<const XMLElement*> OnlyChild(const XMLElement* parent,
                                              const char* name) const {
    const XMLElement* first = parent->FirstChildElement(name);
    if (first == nullptr) return first;
    const XMLElement* second = first->NextSiblingElement(name);
    if (second != nullptr) {
      return Error(second, absl::StrFormat("a second <%s> (the first is on "
                                           "line %d); keep only one",
                                           name, first->GetLineNum()));
    }
    return first;
  }

  absl::StatusOr<std::vector<int>> Cpuset(const XMLElement* e,
                                          const char* attribute) const {
    const char* text = e->Attribute(attribute);
    if (text == nullptr) {
      return Error(e, absl::StrFormat("missing attribute %s=; add e.g. "
                                      "%s='0-3'",
                                      attribute, attribute));
    }
    std::vector<int> cpus;
    CpusetError error;
    if (!ParseCpuset(text, &cpus, &error)) {
      return Error(
          e, absl::StrFormat("%s='%s' is not a valid cpuset: "
                             "column %d: %s",
                             attribute, Excerpt(text), error.column, error.message));
    }
    return cpus;
  }

  std::string source_;
};

absl::StatusOr<std::string> DomainImporter::Import(absl::string_view xml) {
  if (xml.size() > kMaxDomainXmlBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        source_, ": the domain XML is larger than ", FormatByteCap(kMaxDomainXmlBytes),
        ", kvmbed's limit for it; give one domain (`virsh dumpxml NAME`)"));
  }
  XMLDocument doc;
  if (doc.Parse(xml.data(), xml.size()) != tinyxml2::XML_SUCCESS) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s:%d: the XML is not well-formed (%s); fix it there (`xmllint "
        "--noout FILE` shows the spot)",
        source_, std::max(1, doc.ErrorLineNum()), doc.ErrorName()));
  }
  const XMLElement* domain = doc.RootElement();
  if (domain == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_,
                     ":1: the document has no root element; give a libvirt "
                     "domain XML (e.g. from `virsh dumpxml NAME`)"));
  }
  if (std::strcmp(domain->Name(), "domain") != 0) {
    return Error(domain,
                 "the root element must be <domain>; give a libvirt "
                 "domain XML (e.g. from `virsh dumpxml NAME`)");
  }
  if (const XMLElement* second = domain->NextSiblingElement()) {
    // tinyxml2 accepts several root elements; XML and libvirt do not.
    return Error(second, absl::StrFormat("a second root element (the <domain> is on line %d); "
                                         "a domain XML holds one <domain>: give one per file",
                                         domain->GetLineNum()));
  }
  std::vector<std::string> ignored;

  // <name>
  ASSIGN_OR_RETURN(const XMLElement* name_el, OnlyChild(domain, "name"));
  if (name_el == nullptr) {
    return Error(domain, "missing <name>; add e.g. <name>guest-a</name>");
  }
  std::string name = Text(name_el);
  bool name_ok =
      !name.empty() && name.size() <= 64 &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
      });
  if (!name_ok) {
    return Error(name_el, absl::StrCat("'", Excerpt(name),
                                       "' is not a valid kvmbed name; use 1 "
                                       "to 64 letters, digits, '-', '_' or "
                                       "'.'"));
  }

  // <memory unit='KiB'>N</memory>
  ASSIGN_OR_RETURN(const XMLElement* mem_el, OnlyChild(domain, "memory"));
  if (mem_el == nullptr) {
    return Error(domain,
                 "missing <memory>; add e.g. <memory unit='MiB'>64</memory>");
  }
  uint64_t number = 0;
  if (!absl::SimpleAtoi(Text(mem_el), &number) || Text(mem_el)[0] == '-' ||
      Text(mem_el)[0] == '+') {
    return Error(mem_el, absl::StrCat("'", Excerpt(Text(mem_el)),
                                      "' is not a whole number; write e.g. "
                                      "<memory unit='MiB'>64</memory>"));
  }
  const char* unit = mem_el->Attribute("unit");
  uint64_t bytes = 0;
  std::string why;
  if (!ScaleMemory(number, unit == nullptr ? "" : unit, &bytes, &why)) {
    return Error(mem_el, why);
  }
  if (bytes == 0 || bytes % 4096 != 0) {
    return Error(mem_el, absl::StrFormat("%d bytes is not a positive whole "
                                         "number of 4 KiB pages; round it",
                                         bytes));
  }

  // <vcpu placement='static' cpuset='..' current='..'>N</vcpu>
  ASSIGN_OR_RETURN(const XMLElement* vcpu_el, OnlyChild(domain, "vcpu"));
  if (vcpu_el == nullptr) {
    return Error(domain,
                 "missing <vcpu>; add e.g. <vcpu "
                 "placement='static'>4</vcpu>");
  }
  int vcpus = 0;
  if (!absl::SimpleAtoi(Text(vcpu_el), &vcpus) || vcpus < 1 ||
      vcpus > kMaxVcpus) {
    return Error(vcpu_el, absl::StrFormat("'%s' is not a vCPU count; write a "
                                          "whole number from 1 to %d",
                                          Excerpt(Text(vcpu_el)), kMaxVcpus));
  }
  if (const char* current = vcpu_el->Attribute("current")) {
    int online = 0;
    if (!absl::SimpleAtoi(current, &online) || online != vcpus) {
      return Error(vcpu_el,
                   absl::StrFormat("current='%s' (fewer vCPUs online than "
                                   "<vcpu>) is not supported; remove "
                                   "current= or set <vcpu> to %s",
                                   Excerpt(current), Excerpt(current)));
    }
  }
  std::vector<std::vector<int>> pin(vcpus);  // per vCPU; empty: unpinned
  std::vector<int> pin_line(vcpus, 0);
  if (vcpu_el->Attribute("cpuset") != nullptr) {
    ASSIGN_OR_RETURN(std::vector<int> all, Cpuset(vcpu_el, "cpuset"));
    pin.assign(vcpus, all);
  }

  // <cputune>
  std::vector<int> emulatorpin;
  ASSIGN_OR_RETURN(const XMLElement* tune, OnlyChild(domain, "cputune"));
  if (tune != nullptr) {
    int emulator_line = 0;
    for (const XMLElement* e = tune->FirstChildElement(); e != nullptr;
         e = e->NextSiblingElement()) {
      if (std::strcmp(e->Name(), "vcpupin") == 0) {
        const char* v = e->Attribute("vcpu");
        int index = 0;
        if (v == nullptr) {
          return Error(e, "missing attribute vcpu=; add e.g. vcpu='0'");
        }
        if (!absl::SimpleAtoi(v, &index) || index < 0) {
          return Error(e, absl::StrFormat("vcpu='%s' is not a vCPU index; "
                                          "write one number from 0 to %d",
                                          Excerpt(v), vcpus - 1));
        }
        if (index >= vcpus) {
          return Error(e, absl::StrFormat("vCPU %d is out of range (<vcpu> is "
                                          "%d on line %d); use vcpu='0' to "
                                          "vcpu='%d'",
                                          index, vcpus, vcpu_el->GetLineNum(),
                                          vcpus - 1));
        }
        if (pin_line[index] != 0) {
          return Error(e, absl::StrFormat("vCPU %d is pinned twice (first on "
                                          "line %d); keep one <vcpupin> per "
                                          "vCPU",
                                          index, pin_line[index]));
        }
        ASSIGN_OR_RETURN(pin[index], Cpuset(e, "cpuset"));
        pin_line[index] = e->GetLineNum();
      } else if (std::strcmp(e->Name(), "emulatorpin") == 0) {
        if (emulator_line != 0) {
          return Error(e, absl::StrFormat("a second <emulatorpin> (the first "
                                          "is on line %d); keep only one",
                                          emulator_line));
        }
        ASSIGN_OR_RETURN(emulatorpin, Cpuset(e, "cpuset"));
        emulator_line = e->GetLineNum();
      } else {
        ignored.push_back(absl::StrCat("<cputune><", Excerpt(e->Name()), ">"));
      }
    }
  }

  // <cpu><topology sockets cores threads [dies] [clusters]/></cpu>
  bool have_topology = false;
  Topology topology;
  ASSIGN_OR_RETURN(const XMLElement* cpu, OnlyChild(domain, "cpu"));
  if (cpu != nullptr) {
    if (cpu->FirstAttribute() != nullptr) ignored.push_back(Describe(cpu));
    for (const XMLElement* e = cpu->FirstChildElement(); e != nullptr;
         e = e->NextSiblingElement()) {
      if (std::strcmp(e->Name(), "topology") != 0) {
        ignored.push_back(absl::StrCat("<cpu><", Excerpt(e->Name()), ">"));
      }
    }
    ASSIGN_OR_RETURN(const XMLElement* t, OnlyChild(cpu, "topology"));
    if (t != nullptr) {
      have_topology = true;
      for (const char* extra : {"dies", "clusters"}) {
        const char* value = t->Attribute(extra);
        if (value != nullptr && std::strcmp(value, "1") != 0) {
          return Error(t, absl::StrFormat("%s='%s' is not supported (kvmbed "
                                          "topologies are sockets, cores, "
                                          "threads); use %s='1' and fold "
                                          "them into sockets",
                                          extra, Excerpt(value), extra));
        }
      }
      for (auto [attr, field] :
           {std::pair<const char*, int*>{"sockets", &topology.sockets},
            {"cores", &topology.cores},
            {"threads", &topology.threads}}) {
        const char* value = t->Attribute(attr);
        if (value == nullptr) {
          return Error(t, absl::StrFormat("missing attribute %s=; give "
                                          "sockets=, cores= and threads=",
                                          attr));
        }
        if (!absl::SimpleAtoi(value, field) || *field < 1 ||
            *field > kMaxVcpus) {
          return Error(t, absl::StrFormat("%s='%s' is not a count; write a "
                                          "whole number from 1 to %d",
                                          attr, Excerpt(value), kMaxVcpus));
        }
      }
      long product = static_cast<long>(topology.sockets) * topology.cores *
                     topology.threads;
      if (product != vcpus) {
        return Error(t, absl::StrFormat("sockets*cores*threads = %d*%d*%d = "
                                        "%ld, but <vcpu> is %d; make them "
                                        "equal",
                                        topology.sockets, topology.cores,
                                        topology.threads, product, vcpus));
      }
    }
  }

  for (const XMLElement* e = domain->FirstChildElement(); e != nullptr;
       e = e->NextSiblingElement()) {
    static const char* kImported[] = {"name", "memory", "vcpu", "cputune",
                                      "cpu"};
    if (std::none_of(
            std::begin(kImported), std::end(kImported),
            [&](const char* n) { return std::strcmp(n, e->Name()) == 0; })) {
      ignored.push_back(absl::StrCat("<", Excerpt(e->Name()), ">"));
    }
  }

  // Group vCPUs that share a cpuset into one vcpupin entry, in vCPU order.
  std::vector<VcpuPin> groups;
  for (int v = 0; v < vcpus; ++v) {
    if (pin[v].empty()) continue;
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const VcpuPin& p) { return p.cpus == pin[v]; });
    if (g == groups.end()) {
      groups.push_back(VcpuPin{{v}, pin[v]});
    } else {
      g->vcpus.push_back(v);
    }
  }

  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  out << YAML::Key << "vcpus" << YAML::Value << vcpus;
  if (have_topology) {
    out << YAML::Key << "topology" << YAML::Value << YAML::Flow
        << YAML::BeginMap << YAML::Key << "sockets" << YAML::Value
        << topology.sockets << YAML::Key << "cores" << YAML::Value
        << topology.cores << YAML::Key << "threads" << YAML::Value
        << topology.threads << YAML::EndMap;
  }
  out << YAML::Key << "memory" << YAML::Value << FormatMemorySize(bytes);
  if (!groups.empty()) {
    out << YAML::Key << "vcpupin" << YAML::Value << YAML::BeginSeq;
    for (const VcpuPin& g : groups) {
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "vcpu" << YAML::Value
          << YAML::DoubleQuoted << FormatCpuset(g.vcpus) << YAML::Key
          << "cpuset" << YAML::Value << YAML::DoubleQuoted
          << FormatCpuset(g.cpus) << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  if (!emulatorpin.empty()) {
    out << YAML::Key << "emulatorpin" << YAML::Value << YAML::DoubleQuoted
        << FormatCpuset(emulatorpin);
  }
  out << YAML::EndMap;
  if (!out.good()) {
    return absl::InternalError(
        absl::StrCat(source_, ": YAML emitter error: ", out.GetLastError()));
  }

  // The source path goes into a YAML comment: C-escaped, so a newline in a
  // file name cannot end the comment and inject keys.
  std::string text = absl::StrCat("# Imported from ", absl::CEscape(source_),
                                  " (libvirt domain XML) by kvmbed.\n");
  if (!ignored.empty()) {
    absl::StrAppend(&text, "# Not imported (no kvmbed equivalent): ",
                    absl::StrJoin(ignored, ", "), "\n");
  }
  if (!have_topology) {
    absl::StrAppend(&text,
                    "# No <cpu><topology>: kvmbed's default applies "
                    "(1 socket, one core per vCPU, 1 thread).\n");
  }
  absl::StrAppend(&text, out.c_str(), "\n");

  // The result must load as a profile (without a host: it may be for another
  // machine).
  ProfileOptions opts;
  opts.check_host_cpus = false;
  absl::StatusOr<RunSpec> check = LoadProfileFromString(text, source_, opts);
  if (!check.ok()) {
    return absl::InternalError(
        absl::StrCat("kvmbed bug: the profile imported from ", source_,
                     " does not load: ", check.status().message()));
  }
  return text;
}

}  // namespace

absl::StatusOr<std::string> ImportLibvirtDomain(
    absl::string_view xml, const std::string& source_name) {
  return DomainImporter(source_name).Import(xml);
}

absl::StatusOr<std::string> ImportLibvirtDomainFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileCapped(path, kMaxDomainXmlBytes, "domain XML");
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) {
      return absl::NotFoundError(absl::StrCat(text.status().message(),
                                              " (`virsh dumpxml NAME > FILE` writes one)"));
    }
    return text.status();
  }
  return ImportLibvirtDomain(*text, path);
}

std::string ExportLibvirtDomain(const VmSpec& vm, const std::string& source) {
  tinyxml2::XMLPrinter p;
  p.PushComment(absl::StrCat(" Exported by kvmbed from ", XmlCommentSafe(source),
                             ": vCPUs, pinning (as the profile wrote it), "
                             "topology and memory only. ")
                    .c_str());
  p.OpenElement("domain");
  p.PushAttribute("type", "kvm");
  p.OpenElement("name");
  p.PushText(vm.name.c_str());
  p.CloseElement();
  p.OpenElement("memory");
  p.PushAttribute("unit", "KiB");
  p.PushText(static_cast<uint64_t>(vm.memory_bytes / 1024));
  p.CloseElement();
  p.OpenElement("vcpu");
  p.PushAttribute("placement", "static");
  p.PushText(vm.vcpus);
  p.CloseElement();

  std::vector<std::vector<int>> pin(vm.vcpus);
  for (const VcpuPin& entry : vm.vcpupin_as_written) {
    for (int v : entry.vcpus) {
      if (v >= 0 && v < vm.vcpus) pin[v] = entry.cpus;
    }
  }
  bool any_pin =
      std::any_of(pin.begin(), pin.end(),
                  [](const std::vector<int>& c) { return !c.empty(); });
  if (any_pin || !vm.emulatorpin_as_written.empty()) {
    p.OpenElement("cputune");
    for (int v = 0; v < vm.vcpus; ++v) {
      if (pin[v].empty()) continue;
      p.OpenElement("vcpupin");
      p.PushAttribute("vcpu", v);
      p.PushAttribute("cpuset", FormatCpuset(pin[v]).c_str());
      p.CloseElement();
    }
    if (!vm.emulatorpin_as_written.empty()) {
      p.OpenElement("emulatorpin");
      p.PushAttribute("cpuset",
                      FormatCpuset(vm.emulatorpin_as_written).c_str());
      p.CloseElement();
    }
    p.CloseElement();
  }
  p.OpenElement("cpu");
  p.OpenElement("topology");
  p.PushAttribute("sockets", vm.topology.sockets);
  p.PushAttribute("dies", 1);
  p.PushAttribute("cores", vm.topology.cores);
  p.PushAttribute("threads", vm.topology.threads);
  p.CloseElement();
  p.CloseElement();
  // libvirt needs <os> to define a domain; kvmbed does not import it.
  p.OpenElement("os");
  p.OpenElement("type");
  p.PushAttribute("arch", "x86_64");
  p.PushText("hvm");
  p.CloseElement();
  p.CloseElement();
  p.CloseElement();  // domain
  return p.CStr();
}

absl::StatusOr<std::string> ExportLibvirtDomain(const RunSpec& spec,
                                                const std::string& vm_name) {
  std::vector<std::string> names;
  for (const VmSpec& vm : spec.vms) {
    names.push_back(vm.name);
    if (vm.name == vm_name || (vm_name.empty() && spec.vms.size() == 1)) {
      return ExportLibvirtDomain(vm, spec.source);
    }
  }
  if (vm_name.empty()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: the profile has %d VMs (%s); choose one to export by name",
        spec.source, spec.vms.size(), absl::StrJoin(names, ", ")));
  }
  return absl::InvalidArgumentError(
      absl::StrFormat("%s: no VM named '%s'; the profile's VMs are: %s",
                      spec.source, vm_name, absl::StrJoin(names, ", ")));
}

}  // namespace kvmbed
