#include "configs/libvirt.h"

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "configs/profile.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

ProfileOptions NoHost() {
  ProfileOptions opts;
  opts.check_host_cpus = false;
  return opts;
}

// A domain as `virsh dumpxml` writes one, trimmed.
constexpr char kDomain[] = R"(<domain type='kvm' id='3'>
  <name>guest-x</name>
  <uuid>6a3c4f0e-0000-4000-8000-000000000001</uuid>
  <memory unit='KiB'>4194304</memory>
  <currentMemory unit='KiB'>4194304</currentMemory>
  <vcpu placement='static'>6</vcpu>
  <cputune>
    <shares>1024</shares>
    <vcpupin vcpu='0' cpuset='0-3'/>
    <vcpupin vcpu='1' cpuset='0-3'/>
    <vcpupin vcpu='2' cpuset='4-7'/>
    <vcpupin vcpu='3' cpuset='4-7'/>
    <vcpupin vcpu='5' cpuset='1-4,^3,6'/>
    <emulatorpin cpuset='8-9'/>
  </cputune>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <cpu mode='host-passthrough'>
    <topology sockets='1' dies='1' cores='3' threads='2'/>
  </cpu>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
  </devices>
</domain>
)";

TEST(LibvirtImportTest, ImportsPinningTopologyAndMemory) {
  absl::StatusOr<std::string> yaml = ImportLibvirtDomain(kDomain, "dom.xml");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_EQ(*yaml,
            "# Imported from dom.xml (libvirt domain XML) by kvmbed.\n"
            "# Not imported (no kvmbed equivalent): <cputune><shares>, "
            "<cpu mode='host-passthrough'>, <uuid>, <currentMemory>, <os>, "
            "<devices>\n"
            "name: guest-x\n"
            "vcpus: 6\n"
            "topology: {sockets: 1, cores: 3, threads: 2}\n"
            "memory: 4G\n"
            "vcpupin:\n"
            "  - {vcpu: \"0-1\", cpuset: \"0-3\"}\n"
            "  - {vcpu: \"2-3\", cpuset: \"4-7\"}\n"
            "  - {vcpu: \"5\", cpuset: \"1-2,4,6\"}\n"
            "emulatorpin: \"8-9\"\n");
  absl::StatusOr<RunSpec> spec = LoadProfileFromString(*yaml, "p", NoHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  const VmSpec& vm = spec->vms[0];
  EXPECT_EQ(vm.vcpus, 6);
  EXPECT_EQ(vm.memory_bytes, 4ull << 30);
  EXPECT_THAT(vm.vcpu_pinned, ElementsAre(true, true, true, true, false, true));
  EXPECT_THAT(vm.vcpu_affinity[5], ElementsAre(1, 2, 4, 6));
  EXPECT_THAT(vm.emulatorpin_as_written, ElementsAre(8, 9));
}

TEST(LibvirtImportTest, VcpuCpusetAttributeIsTheDefaultPin) {
  absl::StatusOr<std::string> yaml = ImportLibvirtDomain(
      "<domain><name>d</name><memory unit='MiB'>64</memory>"
      "<vcpu cpuset='0-1'>3</vcpu>"
      "<cputune><vcpupin vcpu='2' cpuset='5'/></cputune></domain>",
      "d.xml");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_THAT(*yaml, HasSubstr("vcpupin:\n  - {vcpu: \"0-1\", cpuset: "
                               "\"0-1\"}\n  - {vcpu: \"2\", cpuset: \"5\"}\n"));
  EXPECT_THAT(*yaml, HasSubstr("# No <cpu><topology>"));
}

TEST(LibvirtImportTest, MemoryUnitsAsLibvirt) {
  for (auto [unit, number, want] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"", "65536", "64M"},  // default unit is KiB
           {" unit='KiB'", "65536", "64M"},
           {" unit='k'", "65536", "64M"},
           {" unit='M'", "64", "64M"},
           {" unit='GiB'", "224", "224G"},
           {" unit='bytes'", "67108864", "64M"},
           {" unit='KB'", "4096", "4000K"},
       }) {
    absl::StatusOr<std::string> yaml =
        ImportLibvirtDomain("<domain><name>d</name><memory" + unit + ">" +
                                number + "</memory><vcpu>1</vcpu></domain>",
                            "d.xml");
    ASSERT_TRUE(yaml.ok()) << unit << ": " << yaml.status();
    EXPECT_THAT(*yaml, HasSubstr("memory: " + want + "\n")) << unit;
  }
}

// ---- bad XML: each error names the file, line and element ----

std::string ImportError(const std::string& xml) {
  absl::StatusOr<std::string> yaml = ImportLibvirtDomain(xml, "bad.xml");
  EXPECT_FALSE(yaml.ok()) << xml;
  if (yaml.ok()) return "";
  EXPECT_EQ(yaml.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(yaml.status().message());
}

TEST(LibvirtBadXmlTest, NotWellFormed) {
  EXPECT_EQ(ImportError("<domain>\n  <name>d</name>\n  <vcpu>2</vcpu\n"
                        "</domain>\n"),
            "bad.xml:3: the XML is not well-formed (XML_ERROR_PARSING_ELEMENT);"
            " fix it there (`xmllint --noout FILE` shows the spot)");
  EXPECT_THAT(ImportError("<domain><name>d</name>"),
              StartsWith("bad.xml:1: the XML is not well-formed"));
  EXPECT_THAT(ImportError(""), StartsWith("bad.xml:1: the XML is not "
                                          "well-formed"));
}

TEST(LibvirtBadXmlTest, WrongRoot) {
  EXPECT_EQ(ImportError("<network><name>n</name></network>"),
            "bad.xml:1: <network>: the root element must be <domain>; give a "
            "libvirt domain XML (e.g. from `virsh dumpxml NAME`)");
}

TEST(LibvirtBadXmlTest, MissingVcpu) {
  EXPECT_EQ(ImportError("<domain type='kvm'>\n  <name>d</name>\n"
                        "  <memory>65536</memory>\n</domain>"),
            "bad.xml:1: <domain type='kvm'>: missing <vcpu>; add e.g. <vcpu "
            "placement='static'>4</vcpu>");
}

TEST(LibvirtBadXmlTest, MissingNameOrMemory) {
  EXPECT_THAT(ImportError("<domain><vcpu>1</vcpu></domain>"),
              HasSubstr("<domain>: missing <name>"));
  EXPECT_THAT(ImportError("<domain><name>d</name><vcpu>1</vcpu></domain>"),
              HasSubstr("<domain>: missing <memory>"));
}

TEST(LibvirtBadXmlTest, BadCpuset) {
  EXPECT_EQ(ImportError("<domain>\n<name>d</name>\n<memory>65536</memory>\n"
                        "<vcpu>2</vcpu>\n<cputune>\n"
                        "  <vcpupin vcpu='1' cpuset='4-1'/>\n"
                        "</cputune>\n</domain>"),
            "bad.xml:6: <vcpupin vcpu='1' cpuset='4-1'>: cpuset='4-1' is not a "
            "valid cpuset: column 1: reversed range 4-1; write the lower CPU "
            "first: 1-4");
  EXPECT_THAT(ImportError("<domain><name>d</name><memory>65536</memory>"
                          "<vcpu>2</vcpu><cputune><emulatorpin cpuset='a'/>"
                          "</cputune></domain>"),
              HasSubstr("<emulatorpin cpuset='a'>: cpuset='a' is not a valid "
                        "cpuset: column 1: expected a CPU number"));
  EXPECT_THAT(ImportError("<domain><name>d</name><memory>65536</memory>"
                          "<vcpu cpuset='^1'>2</vcpu></domain>"),
              HasSubstr("<vcpu cpuset='^1'>: cpuset='^1' is not a valid "
                        "cpuset"));
  EXPECT_THAT(ImportError("<domain><name>d</name><memory>65536</memory>"
                          "<vcpu>2</vcpu><cputune><vcpupin vcpu='0'/>"
                          "</cputune></domain>"),
              HasSubstr("<vcpupin vcpu='0'>: missing attribute cpuset="));
}

TEST(LibvirtBadXmlTest, VcpupinOutOfRange) {
  EXPECT_EQ(ImportError("<domain>\n<name>d</name>\n<memory>65536</memory>\n"
                        "<vcpu placement='static'>56</vcpu>\n<cputune>\n"
                        "  <vcpupin vcpu='60' cpuset='4-7'/>\n"
                        "</cputune>\n</domain>"),
            "bad.xml:6: <vcpupin vcpu='60' cpuset='4-7'>: vCPU 60 is out of "
            "range (<vcpu> is 56 on line 4); use vcpu='0' to vcpu='55'");
  EXPECT_THAT(ImportError("<domain><name>d</name><memory>65536</memory>"
                          "<vcpu>2</vcpu><cputune><vcpupin vcpu='x' "
                          "cpuset='0'/></cputune></domain>"),
              HasSubstr("vcpu='x' is not a vCPU index"));
}

TEST(LibvirtBadXmlTest, VcpuPinnedTwice) {
  EXPECT_EQ(ImportError("<domain>\n<name>d</name>\n<memory>65536</memory>\n"
                        "<vcpu>2</vcpu>\n<cputune>\n"
                        "  <vcpupin vcpu='1' cpuset='0'/>\n"
                        "  <vcpupin vcpu='1' cpuset='1'/>\n"
                        "</cputune>\n</domain>"),
            "bad.xml:7: <vcpupin vcpu='1' cpuset='1'>: vCPU 1 is pinned twice "
            "(first on line 6); keep one <vcpupin> per vCPU");
}

TEST(LibvirtBadXmlTest, TopologyMismatch) {
  EXPECT_EQ(ImportError("<domain>\n<name>d</name>\n<memory>65536</memory>\n"
                        "<vcpu>56</vcpu>\n<cpu>\n"
                        "  <topology sockets='1' cores='28' threads='1'/>\n"
                        "</cpu>\n</domain>"),
            "bad.xml:6: <topology sockets='1' cores='28' threads='1'>: "
            "sockets*cores*threads = 1*28*1 = 28, but <vcpu> is 56; make them "
            "equal");
  EXPECT_THAT(ImportError("<domain><name>d</name><memory>65536</memory>"
                          "<vcpu>4</vcpu><cpu><topology sockets='1' dies='2' "
                          "cores='1' threads='2'/></cpu></domain>"),
              HasSubstr("dies='2' is not supported"));
}

TEST(LibvirtBadXmlTest, BadValues) {
  EXPECT_THAT(ImportError("<domain><name>d</name><memory>65536</memory>"
                          "<vcpu>many</vcpu></domain>"),
              HasSubstr("bad.xml:1: <vcpu>: 'many' is not a vCPU count"));
  EXPECT_THAT(ImportError("<domain><name>d</name><memory unit='MX'>64"
                          "</memory><vcpu>1</vcpu></domain>"),
              HasSubstr("<memory unit='MX'>: unknown unit 'MX'"));
  EXPECT_THAT(ImportError("<domain><name>d</name><memory unit='b'>1000"
                          "</memory><vcpu>1</vcpu></domain>"),
              HasSubstr("not a positive whole number of 4 KiB pages"));
  EXPECT_THAT(ImportError("<domain><name>my vm</name><memory>65536</memory>"
                          "<vcpu>1</vcpu></domain>"),
              HasSubstr("<name>: 'my vm' is not a valid kvmbed name"));
  EXPECT_THAT(ImportError("<domain><name>d</name><memory>65536</memory>"
                          "<vcpu current='1'>2</vcpu></domain>"),
              HasSubstr("current='1' (fewer vCPUs online than <vcpu>) is not "
                        "supported"));
  EXPECT_THAT(ImportError("<domain><name>d</name><memory>65536</memory>"
                          "<vcpu>1</vcpu><vcpu>2</vcpu></domain>"),
              HasSubstr("<vcpu>: a second <vcpu>"));
}

TEST(LibvirtImportTest, MissingFile) {
  absl::StatusOr<std::string> yaml = ImportLibvirtDomainFile("no/such.xml");
  ASSERT_FALSE(yaml.ok());
  EXPECT_THAT(std::string(yaml.status().message()),
              StartsWith("no/such.xml: cannot read the domain XML: No such "
                         "file or directory"));
}

// ---- export and round trips ----

TEST(LibvirtExportTest, WritesDomainXml) {
  absl::StatusOr<RunSpec> spec = LoadProfile("configs/default.yaml", NoHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::string> xml = ExportLibvirtDomain(*spec, "");
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_EQ(*xml,
            "<!-- Exported by kvmbed from configs/default.yaml: vCPUs, pinning "
            "(as the profile wrote it), topology and memory only. -->\n"
            "<domain type=\"kvm\">\n"
            "    <name>default</name>\n"
            "    <memory unit=\"KiB\">65536</memory>\n"
            "    <vcpu placement=\"static\">4</vcpu>\n"
            "    <cputune>\n"
            "        <vcpupin vcpu=\"0\" cpuset=\"0\"/>\n"
            "        <vcpupin vcpu=\"1\" cpuset=\"0\"/>\n"
            "        <vcpupin vcpu=\"2\" cpuset=\"1\"/>\n"
            "        <vcpupin vcpu=\"3\" cpuset=\"1\"/>\n"
            "        <emulatorpin cpuset=\"0-1\"/>\n"
            "    </cputune>\n"
            "    <cpu>\n"
            "        <topology sockets=\"1\" dies=\"1\" cores=\"2\" "
            "threads=\"2\"/>\n"
            "    </cpu>\n"
            "    <os>\n"
            "        <type arch=\"x86_64\">hvm</type>\n"
            "    </os>\n"
            "</domain>\n");
}

TEST(LibvirtExportTest, ExportsPinningAsWrittenNotFolded) {
  ProfileOptions folded;
  folded.host_cpus = std::vector<int>{0, 1};
  folded.fold_cpus = true;
  absl::StatusOr<RunSpec> spec =
      LoadProfile("configs/seed-guest-a.yaml", folded);
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::string> xml = ExportLibvirtDomain(*spec, "seed-guest-a");
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_THAT(*xml, HasSubstr("<vcpupin vcpu=\"55\" cpuset=\"108-111\"/>"));
  EXPECT_THAT(*xml, HasSubstr("<vcpupin vcpu=\"0\" cpuset=\"0-3\"/>"));
  EXPECT_THAT(*xml, HasSubstr("<memory unit=\"KiB\">234881024</memory>"));
  EXPECT_THAT(*xml, HasSubstr("cores=\"28\" threads=\"2\""));
}

TEST(LibvirtExportTest, ChoosesAVmByName) {
  absl::StatusOr<RunSpec> spec =
      LoadProfile("configs/seed-two-vms.yaml", NoHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::string> xml = ExportLibvirtDomain(*spec, "guest-b");
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_THAT(*xml, HasSubstr("<name>guest-b</name>"));
  EXPECT_THAT(*xml, ::testing::Not(HasSubstr("<cputune>")));
  EXPECT_EQ(ExportLibvirtDomain(*spec, "").status().message(),
            "configs/seed-two-vms.yaml: the profile has 2 VMs (guest-a, "
            "guest-b); choose one to export by name");
  EXPECT_EQ(ExportLibvirtDomain(*spec, "zz").status().message(),
            "configs/seed-two-vms.yaml: no VM named 'zz'; the profile's VMs "
            "are: guest-a, guest-b");
}

void ExpectSameVm(const VmSpec& a, const VmSpec& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.vcpus, b.vcpus);
  EXPECT_EQ(a.topology.sockets, b.topology.sockets);
  EXPECT_EQ(a.topology.cores, b.topology.cores);
  EXPECT_EQ(a.topology.threads, b.topology.threads);
  EXPECT_EQ(a.memory_bytes, b.memory_bytes);
  EXPECT_EQ(a.vcpu_pinned, b.vcpu_pinned);
  EXPECT_EQ(a.vcpu_affinity, b.vcpu_affinity);
  EXPECT_EQ(a.emulatorpin_as_written, b.emulatorpin_as_written);
  ASSERT_EQ(a.vcpupin_as_written.size(), b.vcpupin_as_written.size());
  for (size_t i = 0; i < a.vcpupin_as_written.size(); ++i) {
    EXPECT_EQ(a.vcpupin_as_written[i].vcpus, b.vcpupin_as_written[i].vcpus);
    EXPECT_EQ(a.vcpupin_as_written[i].cpus, b.vcpupin_as_written[i].cpus);
  }
}

TEST(LibvirtRoundTripTest, ShippedProfilesSurviveExportThenImport) {
  for (const char* path : {"configs/default.yaml", "configs/seed-guest-a.yaml",
                           "configs/seed-guest-b.yaml"}) {
    SCOPED_TRACE(path);
    absl::StatusOr<RunSpec> before = LoadProfile(path, NoHost());
    ASSERT_TRUE(before.ok()) << before.status();
    std::string xml = ExportLibvirtDomain(before->vms[0], path);
    absl::StatusOr<std::string> yaml = ImportLibvirtDomain(xml, "export.xml");
    ASSERT_TRUE(yaml.ok()) << yaml.status();
    absl::StatusOr<RunSpec> after =
        LoadProfileFromString(*yaml, "imported.yaml", NoHost());
    ASSERT_TRUE(after.ok()) << after.status();
    ExpectSameVm(before->vms[0], after->vms[0]);
    // And the XML is a fixed point.
    EXPECT_EQ(ExportLibvirtDomain(after->vms[0], path), xml);
  }
}

TEST(LibvirtRoundTripTest, DomainSurvivesImportThenExport) {
  absl::StatusOr<std::string> yaml = ImportLibvirtDomain(kDomain, "dom.xml");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  absl::StatusOr<RunSpec> spec = LoadProfileFromString(*yaml, "p", NoHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::string xml = ExportLibvirtDomain(spec->vms[0], "p");
  for (const char* want :
       {"<name>guest-x</name>", "<memory unit=\"KiB\">4194304</memory>",
        "<vcpu placement=\"static\">6</vcpu>",
        "<vcpupin vcpu=\"0\" cpuset=\"0-3\"/>",
        "<vcpupin vcpu=\"1\" cpuset=\"0-3\"/>",
        "<vcpupin vcpu=\"2\" cpuset=\"4-7\"/>",
        "<vcpupin vcpu=\"3\" cpuset=\"4-7\"/>",
        "<vcpupin vcpu=\"5\" cpuset=\"1-2,4,6\"/>",
        "<emulatorpin cpuset=\"8-9\"/>",
        "<topology sockets=\"1\" dies=\"1\" cores=\"3\" threads=\"2\"/>"}) {
    EXPECT_THAT(xml, HasSubstr(want));
  }
  EXPECT_THAT(xml, ::testing::Not(HasSubstr("vcpu=\"4\"")));
  // Importing the export gives the same profile body.
  absl::StatusOr<std::string> again = ImportLibvirtDomain(xml, "dom.xml");
  ASSERT_TRUE(again.ok()) << again.status();
  auto body = [](const std::string& s) { return s.substr(s.find("name:")); };
  EXPECT_EQ(body(*again), body(*yaml));
}

// Mutated domains never crash the importer; it either writes a profile that
// loads or gives an error naming the file and line (never an internal error,
// which would mean it wrote YAML that does not load).
TEST(LibvirtRobustnessTest, MutatedDomainsGiveAProfileOrAnError) {
  const std::string base = kDomain;
  const std::string alphabet = "0123456789-^,<>/='\" abx&;\n";
  std::mt19937 rng(777);
  int ok = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string xml = base;
    for (int m = 1 + rng() % 3; m > 0; --m) {
      size_t at = rng() % xml.size();
      switch (rng() % 3) {
        case 0:
          xml[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          xml.erase(at, 1);
          break;
        default:
          xml.insert(at, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    absl::StatusOr<std::string> yaml = ImportLibvirtDomain(xml, "m.xml");
    if (yaml.ok()) {
      ++ok;
      ASSERT_TRUE(LoadProfileFromString(*yaml, "p", NoHost()).ok()) << *yaml;
      continue;
    }
    ASSERT_EQ(yaml.status().code(), absl::StatusCode::kInvalidArgument)
        << xml << "\n"
        << yaml.status();
    ASSERT_THAT(std::string(yaml.status().message()),
                ::testing::MatchesRegex("m\\.xml:[1-9][0-9]*: .*"))
        << xml;
  }
  EXPECT_GT(ok, 0);
  EXPECT_LT(ok, 3000);
  std::printf("mutated domains: %d imported, %d rejected\n", ok, 3000 - ok);
}


// ---- the input contract ----

TEST(LibvirtContractTest, SecondRootElementIsRefused) {
  std::string two = std::string(kDomain) + "<domain><name>y</name></domain>\n";
  EXPECT_THAT(ImportError(two), AllOf(StartsWith("bad.xml:26: <domain>"),
                                      HasSubstr("a second root element")));
}

TEST(LibvirtContractTest, NewlineInTheSourceNameCannotInjectKeys) {
  absl::StatusOr<std::string> yaml = ImportLibvirtDomain(kDomain, "x\nduration: 999h\n.xml");
  ASSERT_TRUE(yaml.ok()) << yaml.status();
  EXPECT_THAT(*yaml, HasSubstr("# Imported from x\\nduration: 999h\\n.xml (libvirt"));
  absl::StatusOr<RunSpec> spec = LoadProfileFromString(*yaml, "a.yaml", NoHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->duration, RunSpec().duration);  // no injected duration
}

TEST(LibvirtContractTest, ExportCommentSurvivesDashesInTheSource) {
  absl::StatusOr<RunSpec> spec = LoadProfile("configs/default.yaml", NoHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  for (const char* source : {"a-->b.yaml", "a--b", "x-", "a---b\n<!--"}) {
    spec->source = source;
    absl::StatusOr<std::string> xml = ExportLibvirtDomain(*spec, "");
    ASSERT_TRUE(xml.ok()) << xml.status();
    // Well-formed: it imports back, and the comment holds no "--".
    absl::StatusOr<std::string> back = ImportLibvirtDomain(*xml, "rt.xml");
    EXPECT_TRUE(back.ok()) << source << ": " << back.status() << "\n" << *xml;
    std::string comment = xml->substr(4, xml->find("-->") - 4);
    EXPECT_EQ(comment.find("--"), std::string::npos) << *xml;
  }
}

TEST(LibvirtContractTest, ErrorsQuoteABoundedExcerpt) {
  std::string huge(1 << 20, '7');
  std::string e = ImportError("<domain><name>d</name><memory>" + huge +
                              "</memory><vcpu>2</vcpu></domain>");
  EXPECT_LT(e.size(), 600u) << e.substr(0, 300);
  EXPECT_THAT(e, HasSubstr("bytes in all"));
}

TEST(LibvirtContractTest, FileSizeIsCapped) {
  absl::StatusOr<std::string> yaml = ImportLibvirtDomainFile("/dev/zero");
  ASSERT_FALSE(yaml.ok());
  EXPECT_THAT(std::string(yaml.status().message()),
              AllOf(HasSubstr("/dev/zero"), HasSubstr("larger than 4 MiB")));
}

TEST(LibvirtContractTest, VcpuLimitIsTheGuestAbis) {
  std::string dom = "<domain><name>d</name><memory unit='MiB'>64</memory><vcpu>257</vcpu></domain>";
  EXPECT_THAT(ImportError(dom), HasSubstr("from 1 to 256"));
}

}  // namespace
}  // namespace kvmbed
