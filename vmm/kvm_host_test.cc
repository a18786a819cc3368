// DetectKvmHost on fake /dev, /sys/module and /proc/cpuinfo trees: the
// flavour each combination means, and "none" without a usable /dev/kvm.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "vmm/kvm.h"

namespace kvmbed {
namespace vmm {
namespace {

class FakeHost {
 public:
  FakeHost() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string templ = std::string(tmp ? tmp : "/tmp") + "/kvmhost.XXXXXX";
    root_ = mkdtemp(templ.data());
    for (const char* d : {"/dev", "/sys", "/sys/module", "/proc"}) {
      mkdir((root_ + d).c_str(), 0755);
    }
  }
  void Flags(const std::string& flags) {
    std::ofstream(root_ + "/proc/cpuinfo")
        << "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: " << flags
        << "\n\nprocessor\t: 1\nflags\t\t: fpu\n";
  }
  void Module(const std::string& m) { mkdir((root_ + "/sys/module/" + m).c_str(), 0755); }
  // A regular file stands in for the device: DetectKvmHost needs it to exist
  // and be readable and writable.
  void DevKvm() { std::ofstream(root_ + "/dev/kvm") << ""; }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

TEST(KvmHost, NoDeviceIsNoneWhateverTheModules) {
  FakeHost h;
  h.Flags("fpu svm lm");
  h.Module("kvm_amd");
  KvmHost k = DetectKvmHost(h.root());
  EXPECT_EQ(k.flavour, "none");
  EXPECT_FALSE(k.nested);
  EXPECT_EQ(k.Describe(), "none");
}

TEST(KvmHost, KvmAmdIsSvm) {
  FakeHost h;
  h.Flags("fpu svm lm");
  h.Module("kvm");
  h.Module("kvm_amd");
  h.DevKvm();
  EXPECT_EQ(DetectKvmHost(h.root()).Describe(), "svm");
}

TEST(KvmHost, KvmIntelUnderAHypervisorIsNestedVmx) {
  FakeHost h;
  h.Flags("fpu vmx hypervisor lm");
  h.Module("kvm_intel");
  h.DevKvm();
  KvmHost k = DetectKvmHost(h.root());
  EXPECT_EQ(k.flavour, "vmx");
  EXPECT_TRUE(k.nested);
  EXPECT_EQ(k.Describe(), "vmx, nested");
}

TEST(KvmHost, KvmWithoutVmxOrSvmIsPvm) {
  FakeHost h;
  h.Flags("fpu hypervisor lm avx2");
  h.Module("kvm");
  h.DevKvm();
  EXPECT_EQ(DetectKvmHost(h.root()).Describe(), "pvm, nested");
}

TEST(KvmHost, NamedPvmModuleWinsOverCpuFlags) {
  FakeHost h;
  h.Flags("fpu svm lm");
  h.Module("kvm_pvm");
  h.DevKvm();
  EXPECT_EQ(DetectKvmHost(h.root()).flavour, "pvm");
}

TEST(KvmHost, UnknownModuleWithSvmFlagIsOther) {
  FakeHost h;
  h.Flags("fpu svm lm");
  h.DevKvm();
  EXPECT_EQ(DetectKvmHost(h.root()).flavour, "other");
}

TEST(KvmHost, OnlyTheFlagsLineCountsNotAWordElsewhere) {
  FakeHost h;
  // "hypervisor" in another field must not make the host nested.
  std::ofstream(h.root() + "/proc/cpuinfo")
      << "model name\t: hypervisor-ready svm\nflags\t\t: fpu lm\n";
  EXPECT_FALSE(DetectKvmHost(h.root()).nested);
}

TEST(KvmHost, OpenErrorSaysWhatToDo) {
  FakeHost h;
  auto kvm = Kvm::Open(h.root() + "/dev/kvm");
  ASSERT_FALSE(kvm.ok());
  std::string m(kvm.status().message());
  EXPECT_NE(m.find("No such file or directory"), std::string::npos) << m;
  EXPECT_NE(m.find("kvm_amd"), std::string::npos) << m;
  EXPECT_NE(m.find("nested"), std::string::npos) << m;
  EXPECT_NE(m.find("tools/nested_kvm.sh"), std::string::npos) << m;
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
