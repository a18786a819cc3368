#include "configs/profile.h"
#include "configs/profile_yaml.h"

#include <dirent.h>

#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/cpuset.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvmbed {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

ProfileOptions TwoCpuHost(bool fold = false) {
  ProfileOptions opts;
  opts.host_cpus = std::vector<int>{0, 1};
  opts.fold_cpus = fold;
  return opts;
}

std::vector<int> Range(int first, int last) {
  std::vector<int> v(last - first + 1);
  std::iota(v.begin(), v.end(), first);
  return v;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Loads `text` as "t.yaml" on a 2-CPU host and returns the error message.
std::string ErrorOf(const std::string& text,
                    const ProfileOptions& opts = TwoCpuHost()) {
  absl::StatusOr<RunSpec> spec = LoadProfileFromString(text, "t.yaml", opts);
  EXPECT_FALSE(spec.ok()) << text;
  if (spec.ok()) return "";
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(spec.status().message());
}

constexpr char kSmall[] =
    "name: small\n"
    "vcpus: 2\n"
    "memory: 64M\n";

// ---- shipped profiles ----

TEST(ShippedProfilesTest, DefaultRunsAsIsOnTwoCpus) {
  absl::StatusOr<RunSpec> spec =
      LoadProfile("configs/default.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "default");
  EXPECT_EQ(spec->duration, absl::Seconds(3));
  ASSERT_EQ(spec->vms.size(), 1u);
  const VmSpec& vm = spec->vms[0];
  EXPECT_EQ(vm.name, "default");
  EXPECT_EQ(vm.vcpus, 4);
  EXPECT_EQ(vm.topology.sockets, 1);
  EXPECT_EQ(vm.topology.cores, 2);
  EXPECT_EQ(vm.topology.threads, 2);
  EXPECT_EQ(vm.memory_bytes, 64ull << 20);
  EXPECT_THAT(vm.vcpu_affinity, ElementsAre(ElementsAre(0), ElementsAre(0),
                                            ElementsAre(1), ElementsAre(1)));
  EXPECT_THAT(vm.vcpu_pinned, ElementsAre(true, true, true, true));
  EXPECT_THAT(vm.emulator_affinity, ElementsAre(0, 1));
  EXPECT_FALSE(spec->cpus_folded);
}

TEST(ShippedProfilesTest, CompiledInDefaultEqualsTheFile) {
  std::string file = ReadFile("configs/default.yaml");
  ASSERT_FALSE(file.empty());
  EXPECT_EQ(std::string(DefaultProfileText()), file);
  // Every shipped profile is compiled in, byte for byte, and loads.
  int shipped = 0;
  for (const ShippedProfile& p : ShippedProfiles()) {
    EXPECT_EQ(std::string(ShippedProfileText(p.name)),
              ReadFile(std::string("configs/") + p.name + ".yaml"))
        << p.name;
    ProfileOptions o;
    o.fold_cpus = true;
    o.scale = 0.25;  // seed-soak's stress does not fit guest RAM unscaled
    auto loaded = LoadProfileOrShipped(std::string("/nonexistent/") + p.name, o);
    EXPECT_FALSE(loaded.ok());  // a path with a directory is never a shipped name
    loaded = LoadProfileOrShipped(p.name, o);
    EXPECT_TRUE(loaded.ok()) << p.name << ": " << loaded.status();
    if (loaded.ok()) EXPECT_EQ(loaded->source, std::string("configs/") + p.name + ".yaml (built in)");
    ++shipped;
  }
  EXPECT_GE(shipped, 4);
  absl::StatusOr<RunSpec> spec = LoadDefaultProfile(TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->source, kDefaultProfileSource);
  EXPECT_EQ(spec->vms[0].vcpus, 4);
}

TEST(ShippedProfilesTest, GuestAFoldsOntoTwoCpus) {
  absl::StatusOr<RunSpec> spec =
      LoadProfile("configs/seed-guest-a.yaml", TwoCpuHost(/*fold=*/true));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->cpus_folded);
  const VmSpec& vm = spec->vms[0];
  EXPECT_EQ(vm.vcpus, 56);
  EXPECT_EQ(vm.topology.cores, 28);
  EXPECT_EQ(vm.topology.threads, 2);
  EXPECT_EQ(vm.memory_bytes, 224ull << 30);
  ASSERT_EQ(vm.vcpu_affinity.size(), 56u);
  for (int v = 0; v < 56; ++v) {
    EXPECT_THAT(vm.vcpu_affinity[v], ElementsAre(0, 1)) << "vCPU " << v;
    EXPECT_TRUE(vm.vcpu_pinned[v]);
  }
  // The pinning as written survives folding (for export).
  ASSERT_EQ(vm.vcpupin_as_written.size(), 28u);
  for (int k = 0; k < 28; ++k) {
    EXPECT_EQ(vm.vcpupin_as_written[k].vcpus, Range(2 * k, 2 * k + 1));
    EXPECT_EQ(vm.vcpupin_as_written[k].cpus, Range(4 * k, 4 * k + 3));
  }
}

TEST(ShippedProfilesTest, GuestAWithoutFoldNamesTheMissingCpus) {
  absl::StatusOr<RunSpec> spec =
      LoadProfile("configs/seed-guest-a.yaml", TwoCpuHost());
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(std::string(spec.status().message()),
            "configs/seed-guest-a.yaml:12:28: vcpupin[0].cpuset: CPUs 2-3 are "
            "not on this host (host has CPUs 0-1); pin to CPUs 0-1 or run "
            "with --fold-cpus to map a profile written for a larger host "
            "onto this one");
}

TEST(ShippedProfilesTest, GuestAPinsInPairsOnA112CpuHost) {
  ProfileOptions opts;
  opts.host_cpus = Range(0, 111);
  absl::StatusOr<RunSpec> spec = LoadProfile("configs/seed-guest-a.yaml", opts);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const VmSpec& vm = spec->vms[0];
  for (int v = 0; v < 56; ++v) {
    int k = v / 2;
    EXPECT_EQ(vm.vcpu_affinity[v], Range(4 * k, 4 * k + 3)) << "vCPU " << v;
  }
}

TEST(ShippedProfilesTest, GuestBIsUnpinned) {
  ProfileOptions opts;
  opts.host_cpus = std::vector<int>{1, 0};  // order does not matter
  absl::StatusOr<RunSpec> spec = LoadProfile("configs/seed-guest-b.yaml", opts);
  ASSERT_TRUE(spec.ok()) << spec.status();
  const VmSpec& vm = spec->vms[0];
  EXPECT_EQ(vm.vcpus, 4);
  EXPECT_EQ(vm.memory_bytes, 4ull << 30);
  EXPECT_EQ(vm.topology.cores, 4);
  for (int v = 0; v < 4; ++v) {
    EXPECT_THAT(vm.vcpu_affinity[v], ElementsAre(0, 1));
    EXPECT_FALSE(vm.vcpu_pinned[v]);
  }
  EXPECT_TRUE(vm.emulator_affinity.empty());
  EXPECT_TRUE(vm.vcpupin_as_written.empty());
}

TEST(ShippedProfilesTest, TwoVmsScenario) {
  absl::StatusOr<RunSpec> spec =
      LoadProfile("configs/seed-two-vms.yaml", TwoCpuHost(/*fold=*/true));
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->vms.size(), 2u);
  EXPECT_EQ(spec->vms[0].name, "guest-a");
  EXPECT_EQ(spec->vms[0].vcpus, 56);
  EXPECT_EQ(spec->vms[1].name, "guest-b");
  EXPECT_EQ(spec->vms[1].vcpus, 4);
}

TEST(ShippedProfilesTest, EveryShippedProfileLoadsFolded) {
  DIR* dir = opendir("configs");
  ASSERT_NE(dir, nullptr);
  int loaded = 0;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name.size() < 5 || name.substr(name.size() - 5) != ".yaml") continue;
    absl::StatusOr<RunSpec> spec =
        LoadProfile("configs/" + name, TwoCpuHost(/*fold=*/true));
    if (!spec.ok() && absl::StrContains(spec.status().message(), "--scale")) {
      // Seed-sized stress (seed-soak.yaml) fits only scaled; the error says so.
      ProfileOptions scaled = TwoCpuHost(/*fold=*/true);
      scaled.scale = 0.25;
      spec = LoadProfile("configs/" + name, scaled);
    }
    EXPECT_TRUE(spec.ok()) << name << ": " << spec.status();
    ++loaded;
  }
  closedir(dir);
  EXPECT_GE(loaded, 4);
}

TEST(ProfileTest, ProcessAffinityIsTheDefaultHostSet) {
  absl::StatusOr<std::vector<int>> cpus = ProcessCpus();
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  ASSERT_FALSE(cpus->empty());
  absl::StatusOr<RunSpec> spec =
      LoadProfileFromString(kSmall, "t.yaml", ProfileOptions{});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->host_cpus, *cpus);
  EXPECT_EQ(spec->vms[0].vcpu_affinity[0], *cpus);
}

TEST(ProfileTest, FormatRunSpecGroupsVcpus) {
  absl::StatusOr<RunSpec> spec = LoadDefaultProfile(TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(FormatRunSpec(*spec),
            "run default (<built-in default profile>): 3s, host CPUs 0-1\n"
            "  VM default: 4 vCPUs (sockets=1 cores=2 threads=2), memory 64M\n"
            "    vCPUs 0-1: CPUs 0\n"
            "    vCPUs 2-3: CPUs 1\n"
            "    emulator threads: CPUs 0-1\n");
  spec = LoadProfile("configs/seed-two-vms.yaml", TwoCpuHost(/*fold=*/true));
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::string text = FormatRunSpec(*spec);
  EXPECT_THAT(text, HasSubstr("profile CPUs folded (--fold-cpus)\n"));
  EXPECT_THAT(text, HasSubstr("    vCPUs 0-1: CPUs 0-1 (profile: 0-3)\n"
                              "    vCPUs 2-3: CPUs 0-1 (profile: 4-7)\n"));
  EXPECT_THAT(text, HasSubstr("  VM guest-b: 4 vCPUs (sockets=1 cores=4 "
                              "threads=1), memory 4G\n"
                              "    vCPUs 0-3 unpinned: CPUs 0-1\n"));
}

// ---- folding ----

TEST(FoldTest, MapsModuloTheHostSet) {
  EXPECT_THAT(FoldCpus({4, 5, 6, 7}, {0, 1}), ElementsAre(0, 1));
  EXPECT_THAT(FoldCpus({4, 6}, {0, 1}), ElementsAre(0));
  // c -> host[c mod 3] with host {2,5,7}: 0->2, 1->5, 4->5, 8->7.
  EXPECT_THAT(FoldCpus({0}, {2, 5, 7}), ElementsAre(2));
  EXPECT_THAT(FoldCpus({1, 4}, {2, 5, 7}), ElementsAre(5));
  EXPECT_THAT(FoldCpus({8}, {2, 5, 7}), ElementsAre(7));
}

TEST(FoldTest, FoldAppliesToEmulatorpinToo) {
  ProfileOptions opts;
  opts.host_cpus = std::vector<int>{2, 5, 7};
  opts.fold_cpus = true;
  absl::StatusOr<RunSpec> spec = LoadProfileFromString(
      std::string(kSmall) + "emulatorpin: \"9\"\n", "t.yaml", opts);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(spec->vms[0].emulator_affinity, ElementsAre(2));
  EXPECT_THAT(spec->vms[0].emulatorpin_as_written, ElementsAre(9));
}

// ---- fields ----

TEST(ProfileTest, TopologyDefaultsToOneSocketOneThread) {
  absl::StatusOr<RunSpec> spec =
      LoadProfileFromString(kSmall, "t.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->vms[0].topology.sockets, 1);
  EXPECT_EQ(spec->vms[0].topology.cores, 2);
  EXPECT_EQ(spec->vms[0].topology.threads, 1);
  EXPECT_EQ(spec->duration, absl::Seconds(2));  // RunSpec's default
}

TEST(ProfileTest, Durations) {
  for (auto [text, want] : std::vector<std::pair<std::string, absl::Duration>>{
           {"10s", absl::Seconds(10)},
           {"5m", absl::Minutes(5)},
           {"20h", absl::Hours(20)},
           {"1h30m", absl::Minutes(90)}}) {
    absl::StatusOr<RunSpec> spec =
        LoadProfileFromString(std::string(kSmall) + "duration: " + text + "\n",
                              "t.yaml", TwoCpuHost());
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->duration, want) << text;
  }
}

TEST(ProfileTest, MemorySizes) {
  EXPECT_EQ(*ParseMemorySize("64M"), 64ull << 20);
  EXPECT_EQ(*ParseMemorySize("4G"), 4ull << 30);
  EXPECT_EQ(*ParseMemorySize("224G"), 224ull << 30);
  EXPECT_EQ(*ParseMemorySize("1T"), 1ull << 40);
  EXPECT_EQ(*ParseMemorySize("512MiB"), 512ull << 20);
  EXPECT_EQ(*ParseMemorySize("8192K"), 8ull << 20);
  EXPECT_EQ(*ParseMemorySize("67108864"), 64ull << 20);
  EXPECT_THAT(std::string(ParseMemorySize("64MB").status().message()),
              HasSubstr("ambiguous"));
  EXPECT_THAT(std::string(ParseMemorySize("64X").status().message()),
              HasSubstr("unknown unit 'X'"));
  EXPECT_THAT(std::string(ParseMemorySize("0").status().message()),
              HasSubstr("larger than 0"));
  EXPECT_THAT(std::string(ParseMemorySize("1000").status().message()),
              HasSubstr("4 KiB pages"));
  EXPECT_THAT(std::string(ParseMemorySize("99999999999T").status().message()),
              HasSubstr("too large"));
  EXPECT_FALSE(ParseMemorySize("-4G").ok());
  EXPECT_EQ(FormatMemorySize(224ull << 30), "224G");
  EXPECT_EQ(FormatMemorySize(64ull << 20), "64M");
  EXPECT_EQ(FormatMemorySize(1536ull << 20), "1536M");
  EXPECT_EQ(FormatMemorySize(1ull << 40), "1T");
  EXPECT_EQ(FormatMemorySize(12288), "12K");
}

// ---- one test per validation error: file:line:col, field and fix ----

TEST(ProfileErrorTest, UnknownKeySuggestsTheNearest) {
  EXPECT_EQ(ErrorOf("name: x\nvcpu: 2\nmemory: 64M\n"),
            "t.yaml:2:1: vcpu: unknown key; did you mean 'vcpus'? known keys "
            "here: name, duration, hostipi, vms, guest, reproduce, guest_memory, host_stress, vcpus, topology, memory, vcpupin, "
            "emulatorpin");
  EXPECT_THAT(ErrorOf(std::string(kSmall) + "topology: {sockets: 1, "
                                            "core: 2, threads: 1}\n"),
              StartsWith("t.yaml:4:24: topology.core: unknown key; did you "
                         "mean 'cores'?"));
  // Nothing close: no guess, but the list of known keys.
  std::string e = ErrorOf(std::string(kSmall) + "zzzzzzzz: 1\n");
  EXPECT_THAT(e, StartsWith("t.yaml:4:1: zzzzzzzz: unknown key; known keys"));
}

TEST(ProfileErrorTest, VcpuIndexOutOfRange) {
  EXPECT_EQ(
      ErrorOf(std::string(kSmall) + "vcpupin:\n  - {vcpu: 0, cpuset: \"0\"}\n"
                                    "  - {vcpu: \"1-2\", cpuset: \"1\"}\n"),
      "t.yaml:6:15: vcpupin[1].vcpu: vCPU 2 is out of range: this VM "
      "has vcpus: 2 (indexes 0-1); use indexes in 0-1 or raise vcpus");
}

TEST(ProfileErrorTest, MalformedCpusetPointsAtTheCharacter) {
  // Quoted: the column counts the quote.
  EXPECT_EQ(ErrorOf(std::string(kSmall) +
                    "vcpupin:\n  - {vcpu: 0, cpuset: \"0,4-1\"}\n"),
            "t.yaml:5:26: vcpupin[0].cpuset: malformed cpuset \"0,4-1\": "
            "reversed range 4-1; write the lower CPU first: 1-4");
  // Plain scalar.
  EXPECT_EQ(ErrorOf(std::string(kSmall) + "emulatorpin: 0-1,x\n"),
            "t.yaml:4:18: emulatorpin: malformed cpuset \"0-1,x\": expected a "
            "CPU number, found 'x'; a cpuset is a comma-separated list of N, "
            "N-M and ^N, e.g. \"0-3\" or \"1-4,^3,6\"");
  EXPECT_THAT(ErrorOf(std::string(kSmall) + "emulatorpin: \"^1\"\n"),
              HasSubstr("emulatorpin: malformed cpuset \"^1\": the cpuset "
                        "only excludes CPUs"));
  EXPECT_THAT(ErrorOf(std::string(kSmall) + "emulatorpin: [0, 1]\n"),
              StartsWith("t.yaml:4:14: emulatorpin: expected a cpuset in "
                         "libvirt cpuset syntax"));
}

TEST(ProfileErrorTest, CpusetNamingCpusTheHostLacksSuggestsFold) {
  EXPECT_EQ(
      ErrorOf(std::string(kSmall) + "vcpupin:\n  - {vcpu: 0, cpuset: \"0\"}\n"
                                    "  - {vcpu: 1, cpuset: \"1,12\"}\n"),
      "t.yaml:6:26: vcpupin[1].cpuset: CPU 12 is not on this host (host "
      "has CPUs 0-1); pin to CPUs 0-1 or run with --fold-cpus to map a "
      "profile written for a larger host onto this one");
  EXPECT_THAT(ErrorOf(std::string(kSmall) + "emulatorpin: 2-3\n"),
              StartsWith("t.yaml:4:14: emulatorpin: CPUs 2-3 are not on this "
                         "host (host has CPUs 0-1); pin to CPUs 0-1 or run "
                         "with --fold-cpus"));
}

TEST(ProfileErrorTest, TopologyMismatchSaysTheProduct) {
  EXPECT_EQ(ErrorOf("name: x\nvcpus: 56\nmemory: 64M\n"
                    "topology: {sockets: 1, cores: 28, threads: 1}\n"),
            "t.yaml:4:11: topology: sockets*cores*threads = 1*28*1 = 28, but "
            "vcpus is 56; make the product equal vcpus (e.g. cores: 56) or "
            "change vcpus to 28");
  EXPECT_THAT(ErrorOf("name: x\nvcpus: 5\nmemory: 64M\n"
                      "topology: {sockets: 1, cores: 2, threads: 2}\n"),
              HasSubstr("= 4, but vcpus is 5; make the product equal vcpus "
                        "(e.g. {sockets: 1, cores: 5, threads: 1})"));
}

TEST(ProfileErrorTest, MissingRequiredField) {
  EXPECT_EQ(ErrorOf("name: x\nvcpus: 2\n"),
            "t.yaml:1:1: memory: missing required field; add e.g. 'memory: "
            "64M'");
  EXPECT_EQ(ErrorOf(std::string(kSmall) + "vcpupin:\n  - {vcpu: 0}\n"),
            "t.yaml:5:5: vcpupin[0].cpuset: missing required field; add e.g. "
            "'cpuset: \"0-3\"'");
}

TEST(ProfileErrorTest, WrongTypes) {
  EXPECT_EQ(ErrorOf("name: x\nvcpus: [2]\nmemory: 64M\n"),
            "t.yaml:2:8: vcpus: expected a whole number from 1 to 256, got a "
            "list");
  EXPECT_EQ(ErrorOf("name: x\nvcpus: two\nmemory: 64M\n"),
            "t.yaml:2:8: vcpus: expected a whole number from 1 to 256, got "
            "'two'");
  EXPECT_EQ(ErrorOf("name: x\nvcpus: 0\nmemory: 64M\n"),
            "t.yaml:2:8: vcpus: 0 is out of range; use a number from 1 to "
            "256");
  EXPECT_EQ(ErrorOf("name: {a: 1}\nvcpus: 2\nmemory: 64M\n"),
            "t.yaml:1:7: name: expected a text value, got a map");
  EXPECT_THAT(ErrorOf(std::string(kSmall) + "vcpupin: {vcpu: 0}\n"),
              StartsWith("t.yaml:4:10: vcpupin: expected a list of {vcpu, "
                         "cpuset} entries, got a map"));
  EXPECT_THAT(ErrorOf("- 1\n- 2\n"),
              StartsWith("t.yaml:1:1: profile: expected a map of keys, got a "
                         "list"));
}

TEST(ProfileErrorTest, KeyWithoutValue) {
  EXPECT_EQ(ErrorOf("name: x\nvcpus:\nmemory: 64M\n"),
            "t.yaml:2:1: vcpus: has no value; write e.g. 'vcpus: 4'");
  EXPECT_EQ(ErrorOf(std::string(kSmall) + "vcpupin:\n"),
            "t.yaml:4:1: vcpupin: has no value; write e.g. 'vcpupin: [{vcpu: "
            "0, cpuset: \"0\"}]'");
}

TEST(ProfileErrorTest, VcpuPinnedTwice) {
  EXPECT_EQ(ErrorOf(std::string(kSmall) +
                    "vcpupin:\n  - {vcpu: \"0-1\", cpuset: \"0\"}\n"
                    "  - {vcpu: 1, cpuset: \"1\"}\n"),
            "t.yaml:6:12: vcpupin[1].vcpu: vCPU 1 is pinned twice (already by "
            "vcpupin[0] on line 5); pin each vCPU in one entry only");
}

TEST(ProfileErrorTest, DuplicateKey) {
  EXPECT_EQ(ErrorOf(std::string(kSmall) + "vcpus: 4\n"),
            "t.yaml:4:1: vcpus: duplicate key (first given on line 2); keep "
            "only one");
}

TEST(ProfileErrorTest, BadMemory) {
  EXPECT_EQ(ErrorOf("name: x\nvcpus: 2\nmemory: 64MB\n"),
            "t.yaml:3:9: memory: '64MB': the unit MB is ambiguous (powers of "
            "1000 or 1024); write 64M for binary units (1M = 2^20 bytes)");
  EXPECT_THAT(ErrorOf("name: x\nvcpus: 2\nmemory: lots\n"),
              StartsWith("t.yaml:3:9: memory: 'lots' is not a memory size; "
                         "write bytes or a number with K, M, G or T"));
}

TEST(ProfileErrorTest, BadDuration) {
  EXPECT_EQ(ErrorOf(std::string(kSmall) + "duration: 10\n"),
            "t.yaml:4:11: duration: expected a duration with a unit, got "
            "'10'; e.g. 10s, 5m, 20h or 1h30m");
  EXPECT_THAT(ErrorOf(std::string(kSmall) + "duration: -5s\n"),
              HasSubstr("not a positive finite duration"));
  EXPECT_THAT(ErrorOf(std::string(kSmall) + "duration: inf\n"),
              HasSubstr("not a positive finite duration"));
}

TEST(ProfileErrorTest, BadName) {
  EXPECT_EQ(ErrorOf("name: a b\nvcpus: 2\nmemory: 64M\n"),
            "t.yaml:1:7: name: 'a b' is not a valid name; use 1 to 64 "
            "letters, digits, '-', '_' or '.'");
  EXPECT_THAT(ErrorOf("name: \"a/b\"\nvms:\n  - {name: a, vcpus: 1, "
                      "memory: 64M}\n"),
              StartsWith("t.yaml:1:7: name: 'a/b' is not a valid name"));
}

TEST(ProfileErrorTest, YamlSyntaxError) {
  EXPECT_THAT(ErrorOf("name: x\nvcpus: [2\nmemory: 64M\n"),
              ::testing::MatchesRegex("t\\.yaml:[0-9]+:[0-9]+: YAML syntax "
                                      "error: .*; fix the YAML at that "
                                      "spot"));
}

TEST(ProfileErrorTest, EmptyProfile) {
  EXPECT_EQ(ErrorOf(""),
            "t.yaml:1:1: profile: the profile is empty; start from "
            "configs/default.yaml");
  EXPECT_THAT(ErrorOf("# only a comment\n"), HasSubstr("the profile is empty"));
}

TEST(ProfileErrorTest, MissingFile) {
  absl::StatusOr<RunSpec> spec =
      LoadProfile("configs/no-such-profile.yaml", TwoCpuHost());
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(std::string(spec.status().message()),
            "configs/no-such-profile.yaml: cannot read the profile: No such "
            "file or directory; check the path (shipped profiles are in "
            "configs/)");
}

TEST(ProfileErrorTest, DirectoryInsteadOfFile) {
  absl::StatusOr<RunSpec> spec = LoadProfile("configs", TwoCpuHost());
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(std::string(spec.status().message()),
            "configs: is a directory; give a profile file such as "
            "configs/default.yaml");
}

TEST(ProfileErrorTest, VmKeysAtTopLevelOfAMultiVmProfile) {
  EXPECT_EQ(ErrorOf("name: x\nvcpus: 2\nvms:\n  - {name: a, vcpus: 1, "
                    "memory: 64M}\n"),
            "t.yaml:2:1: vcpus: a profile with 'vms:' describes each VM "
            "inside its vms entry; move this key into the vms entries");
}

TEST(ProfileErrorTest, MultiVmPathsAndDuplicateNames) {
  EXPECT_EQ(ErrorOf("name: x\nvms:\n"
                    "  - {name: a, vcpus: 1, memory: 64M}\n"
                    "  - {name: b, vcpus: 1, memory: 64M, emulatorpin: 7}\n"),
            "t.yaml:4:51: vms[1].emulatorpin: CPU 7 is not on this host (host "
            "has CPUs 0-1); pin to CPUs 0-1 or run with --fold-cpus to map a "
            "profile written for a larger host onto this one");
  EXPECT_EQ(ErrorOf("name: x\nvms:\n"
                    "  - {name: a, vcpus: 1, memory: 64M}\n"
                    "  - {name: a, vcpus: 1, memory: 64M}\n"),
            "t.yaml:4:12: vms[1].name: VM name 'a' is already used on line 3; "
            "give each VM its own name");
  EXPECT_EQ(ErrorOf("name: x\nvms:\n"
                    "  - {name: a, vcpus: 1, memory: 64M, duration: 5s}\n"),
            "t.yaml:3:38: vms[0].duration: this key applies to the whole run, "
            "not to one VM; move it to the top level of the profile");
  EXPECT_THAT(ErrorOf("name: x\nvms: []\n"),
              StartsWith("t.yaml:2:6: vms: expected a non-empty list of VMs"));
}

TEST(ProfileTest, ValidateWithoutHost) {
  ProfileOptions opts;
  opts.check_host_cpus = false;
  absl::StatusOr<RunSpec> spec = LoadProfile("configs/seed-guest-a.yaml", opts);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->vms[0].vcpu_affinity[0], Range(0, 3));
  EXPECT_TRUE(spec->host_cpus.empty());
}

// Mutated profiles never crash the loader, and every error names the file.
TEST(ProfileRobustnessTest, MutatedProfilesGiveASpecOrAnError) {
  const std::string base = ReadFile("configs/default.yaml");
  ASSERT_FALSE(base.empty());
  const std::string alphabet = "0123456789-^,:{}[]\"' \nabz#&*!|>";
  std::mt19937 rng(4242);
  int ok = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = base;
    for (int m = 1 + rng() % 3; m > 0; --m) {
      size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          text.erase(at, 1);
          break;
        default:
          text.insert(at, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    absl::StatusOr<RunSpec> spec =
        LoadProfileFromString(text, "m.yaml", TwoCpuHost());
    if (spec.ok()) {
      ++ok;
      for (const VmSpec& vm : spec->vms) {
        ASSERT_EQ(vm.vcpu_affinity.size(), static_cast<size_t>(vm.vcpus));
        for (const auto& a : vm.vcpu_affinity) ASSERT_FALSE(a.empty());
      }
      continue;
    }
    ASSERT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument)
        << text << "\n"
        << spec.status();
    ASSERT_THAT(std::string(spec.status().message()),
                ::testing::MatchesRegex("m\\.yaml:[1-9][0-9]*:[1-9][0-9]*: "
                                        ".*"))
        << text;
  }
  // Both outcomes were exercised.
  EXPECT_GT(ok, 0);
  EXPECT_LT(ok, 3000);
  std::printf("mutated profiles: %d loaded, %d rejected\n", ok, 3000 - ok);
}

// ---- guest: section ----

TEST(GuestSectionTest, DefaultsWhenAbsent) {
  auto spec = LoadProfileFromString(kSmall, "t.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->guest.workload, GuestWorkload::kIdle);
  EXPECT_EQ(spec->guest.csd_timeout, absl::ZeroDuration());  // calibrate
  EXPECT_EQ(spec->guest.weights, std::vector<int>(7, -1));
}

TEST(GuestSectionTest, RingIsAutoUnlessGiven) {
  auto dflt = LoadProfileFromString(std::string(kSmall) + "guest:\n  workload: torture\n",
                                    "t.yaml", TwoCpuHost());
  ASSERT_TRUE(dflt.ok()) << dflt.status();
  EXPECT_EQ(dflt->guest.ring, -1);
  auto aut = LoadProfileFromString(
      std::string(kSmall) + "guest:\n  workload: torture\n  ring: auto\n", "t.yaml", TwoCpuHost());
  ASSERT_TRUE(aut.ok()) << aut.status();
  EXPECT_EQ(aut->guest.ring, -1);
  auto three = LoadProfileFromString(
      std::string(kSmall) + "guest:\n  workload: torture\n  ring: 3\n", "t.yaml", TwoCpuHost());
  ASSERT_TRUE(three.ok()) << three.status();
  EXPECT_EQ(three->guest.ring, 3);
}

TEST(GuestSectionTest, ReadsEveryField) {
  auto spec = LoadProfileFromString(
      std::string(kSmall) +
          "guest:\n"
          "  workload: torture\n"
          "  ops_per_vcpu: 5000\n"
          "  nthreads: 1\n"
          "  ring: 0\n"
          "  weights: {single: 4, many_wait: 1, resched: 0}\n"
          "  stress: {cpu: 2, io: 1, vm: 1, vm_bytes: 1M, io_dir: /var/tmp}\n"
          "  csd_timeout: 200ms\n"
          "  soft_lockup: 2s\n"
          "  csd_resend: true\n"
          "  stat_interval: 5s\n"
          "  seed: 42\n"
          "  fault: {vcpu: 1, drop_ipi_fraction: 0.25, handler_delay: 5ms}\n",
      "t.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  const GuestSpec& g = spec->guest;
  EXPECT_EQ(g.workload, GuestWorkload::kTorture);
  EXPECT_EQ(g.ops_per_vcpu, 5000u);
  EXPECT_EQ(g.nthreads, 1);
  EXPECT_EQ(g.ring, 0);
  EXPECT_EQ(g.weights, (std::vector<int>{0, 4, -1, -1, 1, -1, -1}));
  EXPECT_EQ(g.stress_cpu, 2);
  EXPECT_EQ(g.stress_io, 1);
  EXPECT_EQ(g.stress_vm, 1);
  EXPECT_EQ(g.stress_vm_bytes, 1u << 20);
  EXPECT_EQ(g.io_scratch_dir, "/var/tmp");
  EXPECT_EQ(g.csd_timeout, absl::Milliseconds(200));
  EXPECT_EQ(g.soft_lockup_threshold, absl::Seconds(2));
  EXPECT_TRUE(g.csd_resend);
  EXPECT_EQ(g.stat_interval, absl::Seconds(5));
  EXPECT_EQ(g.seed, 42u);
  EXPECT_EQ(g.fault_vcpu, 1);
  EXPECT_DOUBLE_EQ(g.drop_ipi_fraction, 0.25);
  EXPECT_EQ(g.handler_delay, absl::Milliseconds(5));
}

TEST(GuestSectionTest, BadValuesNameTheFieldAndTheFix) {
  std::string base = std::string(kSmall) + "guest:\n";
  EXPECT_THAT(ErrorOf(base + "  workload: stress\n"),
              HasSubstr("guest.workload: 'stress' is not a workload; use idle, spin or torture"));
  EXPECT_THAT(ErrorOf(base + "  weigths: {single: 1}\n"), HasSubstr("did you mean 'weights'"));
  EXPECT_THAT(ErrorOf(base + "  weights: {singel: 1}\n"), HasSubstr("did you mean 'single'"));
  EXPECT_THAT(ErrorOf(base + "  csd_timeout: 5\n"),
              HasSubstr("guest.csd_timeout: expected a duration with a unit"));
  EXPECT_THAT(ErrorOf(base + "  fault: {drop_ipi_fraction: 1.5}\n"),
              HasSubstr("guest.fault.drop_ipi_fraction: expected a fraction from 0 to 1"));
  EXPECT_THAT(ErrorOf(base + "  fault: {vcpu: 2, drop_ipi_fraction: 0.5}\n"),
              HasSubstr("guest.fault.vcpu: VM small has only 2 vCPUs"));
  EXPECT_THAT(ErrorOf(base + "  ring: 1\n"), HasSubstr("guest.ring: use auto"));
  EXPECT_THAT(ErrorOf(base + "  ring: user\n"), HasSubstr("guest.ring"));
  EXPECT_THAT(ErrorOf(base + "  csd_resend: maybe\n"),
              HasSubstr("guest.csd_resend: expected true or false"));
  EXPECT_THAT(ErrorOf(base + "  workload: torture\n  stress: {vm: 2, vm_bytes: 64M}\n"),
              HasSubstr("raise its memory"));
  EXPECT_THAT(ErrorOf(base + "  stress: {vm_bytes: 1000}\n"),
              HasSubstr("guest.stress.vm_bytes: 1000 bytes is not a whole number of 4 KiB pages"));
}

TEST(GuestSectionTest, PerVmSectionReplacesTheRunWideOne) {
  ProfileOptions opts = TwoCpuHost();
  absl::StatusOr<RunSpec> spec = LoadProfileFromString(
      "name: r\n"
      "guest: {workload: spin}\n"
      "vms:\n"
      "  - {name: a, vcpus: 2, memory: 64M, guest: {workload: torture, stress: {cpu: 3}}}\n"
      "  - {name: b, vcpus: 2, memory: 64M}\n",
      "t.yaml", opts);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->GuestFor("a").workload, GuestWorkload::kTorture);
  EXPECT_EQ(spec->GuestFor("a").stress_cpu, 3);
  EXPECT_EQ(spec->GuestFor("b").workload, GuestWorkload::kSpin);
  EXPECT_THAT(ErrorOf("name: r\n"
                      "vms:\n"
                      "  - {name: a, vcpus: 2, memory: 64M, guest: {workload: nope}}\n"),
              HasSubstr("vms[0].guest.workload"));
  EXPECT_THAT(ErrorOf("name: r\n"
                      "vms:\n"
                      "  - {name: a, vcpus: 2, memory: 64M, guest: {nthreads: 5}}\n"),
              HasSubstr("vms[0].guest.nthreads"));
}

TEST(SoakSectionsTest, SeedSoakLoadsScaledAndFolded) {
  ProfileOptions opts = TwoCpuHost(/*fold=*/true);
  opts.scale = 0.25;
  absl::StatusOr<RunSpec> spec = LoadProfile("configs/seed-soak.yaml", opts);
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->vms.size(), 2u);
  EXPECT_EQ(spec->vms[0].vcpus, 56);
  EXPECT_EQ(spec->vms[1].vcpus, 4);
  EXPECT_TRUE(spec->thp);
  EXPECT_TRUE(spec->ksm);
  const GuestSpec& a = spec->GuestFor("guest-a");
  EXPECT_EQ(a.stress_cpu, 10);
  EXPECT_EQ(a.stress_io, 5);
  EXPECT_EQ(a.stress_vm, 5);
  EXPECT_EQ(a.stress_vm_bytes, 128ull << 20);
  const GuestSpec& b = spec->GuestFor("guest-b");
  EXPECT_EQ(b.stress_cpu, 1);
  EXPECT_EQ(b.stress_vm_bytes, 128ull << 20);
  const HostStressSpec& h = spec->host_stress;
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.cpu, 1);
  EXPECT_EQ(h.io, 1);
  EXPECT_EQ(h.vm, 1);  // 2 * 0.25 rounds to 1: a stressor never vanishes
  EXPECT_EQ(h.vm_bytes, 64ull << 20);
  EXPECT_EQ(h.cpus, (std::vector<int>{0, 1}));
  EXPECT_EQ(spec->vms[0].memory_bytes, 224ull << 30);  // not scaled
}

TEST(SoakSectionsTest, SeedSoakAtScaleOneSaysHowToFit) {
  absl::StatusOr<RunSpec> spec =
      LoadProfile("configs/seed-soak.yaml", TwoCpuHost(/*fold=*/true));
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("vms[0].guest.stress: VM guest-a needs"));
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("--scale"));
}

TEST(SoakSectionsTest, BadHostStressAndScale) {
  EXPECT_THAT(ErrorOf("name: r\nvcpus: 1\nmemory: 64M\nhost_stress: {cpu: 1, vmbytes: 1M}\n"),
              HasSubstr("host_stress.vmbytes: unknown key"));
  EXPECT_THAT(ErrorOf("name: r\nvcpus: 1\nmemory: 64M\nhost_stress: {cpu: 0}\n"),
              HasSubstr("host_stress: no stressor"));
  EXPECT_THAT(ErrorOf("name: r\nvcpus: 1\nmemory: 64M\nhost_stress: {cpu: 1, cpuset: \"7\"}\n"),
              HasSubstr("host_stress.cpuset"));
  EXPECT_THAT(ErrorOf("name: r\nvcpus: 1\nmemory: 64M\nguest_memory: {thp: maybe}\n"),
              HasSubstr("guest_memory.thp: expected true or false"));
  ProfileOptions opts = TwoCpuHost();
  opts.scale = 0;
  absl::StatusOr<RunSpec> spec =
      LoadProfileFromString("name: r\nvcpus: 1\nmemory: 64M\n", "t.yaml", opts);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("--scale 0 is out of range"));
}


}  // namespace
}  // namespace kvmbed

// ---- the reproduce: section ----
namespace kvmbed {
namespace {

TEST(ReproduceSectionTest, ShippedPvSpinlockProfile) {
  absl::StatusOr<ScenarioProfile> spec =
      LoadScenarioProfile("configs/reproduce-pvspinlock-kick.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  const ReproduceSpec& r = spec->reproduce;
  EXPECT_TRUE(r.present);
  EXPECT_EQ(r.scenario, "pvspinlock-kick");
  EXPECT_EQ(r.threshold, absl::Milliseconds(300));
  EXPECT_EQ(r.pvspinlock.irq_vcpu, 1);
  EXPECT_EQ(r.pvspinlock.task_vcpu, 2);
  EXPECT_EQ(r.pvspinlock.hold, absl::Microseconds(500));
  EXPECT_DOUBLE_EQ(r.pvspinlock.irq_fraction, 0.5);
  EXPECT_EQ(spec->vms[0].vcpus, 3);
}

TEST(ReproduceSectionTest, ShippedOfflineProfile) {
  absl::StatusOr<ScenarioProfile> spec =
      LoadScenarioProfile("configs/reproduce-offline-csd-flush.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  const ReproduceSpec& r = spec->reproduce;
  EXPECT_EQ(r.scenario, "offline-csd-flush");
  EXPECT_EQ(r.offline.target, 1);
  EXPECT_EQ(r.offline.offline, absl::Milliseconds(1));
  EXPECT_EQ(r.offline.tick, absl::Microseconds(200));
  EXPECT_EQ(r.offline.dying_window, absl::Microseconds(100));
}

TEST(ReproduceSectionTest, AbsentMeansNotPresent) {
  absl::StatusOr<ScenarioProfile> spec = LoadScenarioProfileFromString(kSmall, "t.yaml", TwoCpuHost());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->reproduce.present);
}

TEST(ReproduceSectionTest, ErrorsNameTheFieldAndTheFix) {
  std::string base = std::string(kSmall);
  EXPECT_THAT(ErrorOf(base + "reproduce: {buggy_budget: 1s}\n"),
              HasSubstr("reproduce.scenario"));
  EXPECT_THAT(ErrorOf(base + "reproduce: {scenario: x, fixed_budgte: 1s}\n"),
              HasSubstr("did you mean 'fixed_budget'"));
  EXPECT_THAT(ErrorOf(base + "reproduce: {scenario: x, threshold: 5}\n"),
              HasSubstr("reproduce.threshold"));
  EXPECT_THAT(ErrorOf("name: s\nvcpus: 3\nmemory: 64M\nreproduce: {scenario: pvspinlock-kick, "
                      "pvspinlock: {irq_vcpu: 2, task_vcpu: 1}}\n"),
              HasSubstr("irq_vcpu < task_vcpu"));
  EXPECT_THAT(ErrorOf(base + "reproduce: {scenario: pvspinlock-kick, pvspinlock: {hold: 1ms}}\n"),
              HasSubstr("VM s"));
  EXPECT_THAT(ErrorOf(base + "reproduce: {scenario: x, pvspinlock: {irq_fraction: 2}}\n"),
              HasSubstr("reproduce.pvspinlock.irq_fraction"));
  EXPECT_THAT(ErrorOf(base + "reproduce: {scenario: x, offline: {target: 2}}\n"),
              HasSubstr("reproduce.offline.target"));
}


// ---- the input contract: bounded input, one document, one vCPU limit ----

TEST(ProfileContractTest, SecondYamlDocumentIsRefused) {
  std::string e = ErrorOf(std::string(kSmall) + "---\nname: other\nvcpus: 4\nmemory: 64M\n");
  EXPECT_THAT(e, StartsWith("t.yaml:"));
  EXPECT_THAT(e, HasSubstr("a second YAML document"));
}

TEST(ProfileContractTest, VcpuLimitIsTheGuestAbis) {
  EXPECT_EQ(kMaxVcpus, abi::kMaxVcpus);
  EXPECT_TRUE(LoadProfileFromString("name: x\nvcpus: 256\nmemory: 64M\n", "t.yaml",
                                    TwoCpuHost())
                  .ok());
  EXPECT_THAT(ErrorOf("name: x\nvcpus: 257\nmemory: 64M\n"),
              HasSubstr("vcpus: 257 is out of range; use a number from 1 to 256"));
  EXPECT_THAT(ErrorOf("name: x\nvcpus: 1024\nmemory: 64M\n"), HasSubstr("out of range"));
}

TEST(ProfileContractTest, ErrorsQuoteABoundedExcerpt) {
  std::string huge(900 * 1024, 'x');
  for (const std::string& text :
       {"name: x\nvcpus: 2\nmemory: " + huge + "\n", "name: x\nvcpus: " + huge + "\nmemory: 64M\n",
        "name: " + huge + "\nvcpus: 2\nmemory: 64M\n", std::string(1000, 'k') + ": 1\nname: x\nvcpus: 2\nmemory: 64M\n",
        "name: x\nvcpus: 2\nmemory: 64M\nduration: " + huge + "\n"}) {
    std::string e = ErrorOf(text);
    EXPECT_LT(e.size(), 600u) << e.substr(0, 300);
    EXPECT_THAT(e, HasSubstr("bytes in all"));
  }
}

TEST(ProfileContractTest, NewlinesInValuesAreEscapedInErrors) {
  std::string e = ErrorOf("name: x\nvcpus: 2\nmemory: \"64M\\nduration: 999h\"\n");
  EXPECT_THAT(e, HasSubstr("64M\\nduration"));
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(ProfileContractTest, ProfileSizeIsCapped) {
  std::string path = std::string(testing::TempDir()) + "/big.yaml";
  {
    std::ofstream out(path, std::ios::binary);
    out << kSmall << "# " << std::string(kMaxProfileBytes, 'x') << "\n";
  }
  absl::StatusOr<RunSpec> spec = LoadProfile(path, TwoCpuHost());
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              AllOf(HasSubstr(path), HasSubstr("larger than 1 MiB")));
  EXPECT_FALSE(LoadProfileFromString(std::string(kMaxProfileBytes + 1, '#'), "t.yaml",
                                     TwoCpuHost())
                   .ok());
}

TEST(ProfileContractTest, DevZeroStopsAtTheCap) {
  absl::StatusOr<RunSpec> spec = LoadProfile("/dev/zero", TwoCpuHost());
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              AllOf(HasSubstr("/dev/zero"), HasSubstr("larger than 1 MiB")));
}

TEST(ProfileContractTest, MemoryFarBeyondHostRamIsRefusedWithTheHostsFigure) {
  ProfileOptions opts = TwoCpuHost();
  opts.host_ram_bytes = uint64_t{4} << 30;
  EXPECT_TRUE(LoadProfileFromString("name: x\nvcpus: 2\nmemory: 256G\n", "t.yaml", opts).ok());
  std::string e = ErrorOf("name: x\nvcpus: 2\nmemory: 257G\n", opts);
  EXPECT_THAT(e, HasSubstr("t.yaml:3:9: memory: 257G is far beyond this host's RAM (4G)"));
  // Translating a profile needs no host: no memory check there.
  ProfileOptions no_host;
  no_host.check_host_cpus = false;
  no_host.host_ram_bytes = uint64_t{4} << 30;
  EXPECT_TRUE(LoadProfileFromString("name: x\nvcpus: 2\nmemory: 1T\n", "t.yaml", no_host).ok());
}


TEST(ProfileContractTest, StrayCommaAfterTheDocumentEndsWithAnError) {
  // yaml-cpp's LoadAll never returns on this; the loader must.
  EXPECT_THAT(ErrorOf(std::string(kSmall) + ",# stray\n"), StartsWith("t.yaml:4:1: "));
  EXPECT_THAT(ErrorOf("# c\n,# stray\n" + std::string(kSmall)), StartsWith("t.yaml:"));
}

TEST(ProfileContractTest, OneParseReadsLikeALoadUnderEachOptionSet) {
  const std::string text = "name: r\nvcpus: 4\nmemory: 64M\nvcpupin:\n"
                           "  - {vcpu: \"0-3\", cpuset: \"2-3\"}\n";
  absl::StatusOr<YAML::Node> root = ParseProfileYaml(text, "t.yaml");
  ASSERT_TRUE(root.ok()) << root.status();
  ProfileOptions fold = TwoCpuHost();
  fold.fold_cpus = true;
  ProfileOptions no_host;
  no_host.check_host_cpus = false;
  for (const ProfileOptions& opts : {TwoCpuHost(), fold, no_host}) {
    absl::StatusOr<RunSpec> loaded = LoadProfileFromString(text, "t.yaml", opts);
    absl::StatusOr<ScenarioProfile> read = ReadScenarioProfile(*root, "t.yaml", opts);
    ASSERT_EQ(loaded.ok(), read.ok());
    if (!loaded.ok()) {
      EXPECT_EQ(loaded.status(), read.status());
      continue;
    }
    EXPECT_EQ(FormatRunSpec(*loaded), FormatRunSpec(*read));
  }
  // CPUs 2-3 are not on a two-CPU host unless folded.
  EXPECT_FALSE(ReadScenarioProfile(*root, "t.yaml", TwoCpuHost()).ok());
  EXPECT_TRUE(ReadScenarioProfile(*root, "t.yaml", fold).ok());
  EXPECT_THAT(std::string(ParseProfileYaml("a: [1\n", "t.yaml").status().message()),
              StartsWith("t.yaml:2:1: YAML syntax error"));
  EXPECT_THAT(std::string(ParseProfileYaml(text + "---\nname: s\n", "t.yaml").status().message()),
              StartsWith("t.yaml:6:1: profile: a second YAML document"));
}

TEST(ProfileContractTest, LinuxGuestFieldErrorsArePositioned) {
  const std::string head = std::string(kSmall) + "guest:\n  kernel: default\n";
  EXPECT_THAT(ErrorOf(head + "  csd_threshold: soon\n"),
              StartsWith("t.yaml:6:18: guest.csd_threshold: expected a duration with a unit, "
                         "got 'soon'; write e.g. 5s or 500ms"));
  EXPECT_THAT(ErrorOf(head + "  sample_hz: 5000\n"),
              StartsWith("t.yaml:6:14: guest.sample_hz: expected a rate in Hz above 0, at "
                         "most 1000, got '5000'"));
  EXPECT_THAT(ErrorOf(head + "  commands: ls\n"),
              StartsWith("t.yaml:6:13: guest.commands: expected a list of shell lines"));
  EXPECT_THAT(ErrorOf(head + "  commands: [ls, {a: 1}]\n"),
              StartsWith("t.yaml:6:18: guest.commands[1]: expected a text value, got a map"));
  EXPECT_THAT(ErrorOf(head + "  withhold: {after: 2s}\n"),
              StartsWith("t.yaml:6:13: guest.withhold.vcpu: missing required field"));
  EXPECT_THAT(ErrorOf(head + "  withhold: {vcpu: 1, fro: 40s}\n"),
              StartsWith("t.yaml:6:23: guest.withhold.fro: unknown key; did you mean 'for'?"));
  EXPECT_THAT(ErrorOf(head + "  withhold: {vcpu: one}\n"),
              StartsWith("t.yaml:6:20: guest.withhold.vcpu: expected a whole number"));
  EXPECT_THAT(ErrorOf(head + "  kernel: [a]\n"), HasSubstr("guest.kernel: duplicate key"));
  // In a VM's own guest section the field names the VM entry.
  EXPECT_THAT(ErrorOf("name: r\nvms:\n  - name: a\n    vcpus: 2\n    memory: 64M\n"
                      "    guest: {kernel: default, timeout: -1s}\n"),
              StartsWith("t.yaml:6:39: vms[0].guest.timeout: expected a duration"));

  absl::StatusOr<RunSpec> ok = LoadProfileFromString(
      head + "  commands: [\"echo hi\"]\n  withhold: {vcpu: 1, after: 0s, for: 3s}\n"
             "  sample_hz: 50\n",
      "t.yaml", TwoCpuHost());
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_TRUE(ok->guest.linux.present);
  EXPECT_EQ(ok->guest.linux.commands, std::vector<std::string>{"echo hi"});
  EXPECT_EQ(ok->guest.linux.withhold_vcpu, 1);
  EXPECT_EQ(ok->guest.linux.withhold_after, absl::ZeroDuration());
  EXPECT_EQ(ok->guest.linux.withhold_for, absl::Seconds(3));
  EXPECT_EQ(ok->guest.linux.sample_hz, 50);
}

TEST(ProfileContractTest, AKeyFarLongerThanAnyKnownOneGetsNoSuggestion) {
  EXPECT_THAT(ErrorOf(std::string(kSmall) + "vcpuss: 1\n"), HasSubstr("did you mean 'vcpus'?"));
  const std::string e = ErrorOf(std::string(kSmall) + std::string(300, 'v') + ": 1\n");
  EXPECT_THAT(e, HasSubstr("unknown key; known keys here:"));
  EXPECT_THAT(e, Not(HasSubstr("did you mean")));
}

}  // namespace
}  // namespace kvmbed
