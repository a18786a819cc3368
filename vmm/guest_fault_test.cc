// The --inject-fault names: vmm::ParseGuestFault over kGuestFaultNames. No
// /dev/kvm needed.
#include <string>

#include "gtest/gtest.h"
#include "guest/abi.h"
#include "vmm/machine.h"

namespace kvmbed {
namespace vmm {
namespace {

TEST(GuestFaultTest, EmptyIsNoneAndEveryNameParsesBack) {
  absl::StatusOr<abi::Fault> none = ParseGuestFault("");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, abi::kFaultNone);
  for (const EnumName<abi::Fault>& e : kGuestFaultNames) {
    absl::StatusOr<abi::Fault> f = ParseGuestFault(e.name);
    ASSERT_TRUE(f.ok()) << e.name << ": " << f.status();
    EXPECT_EQ(*f, e.value) << e.name;
    EXPECT_NE(*f, abi::kFaultNone) << e.name;
  }
  absl::StatusOr<abi::Fault> bad_port = ParseGuestFault("bad-port");
  ASSERT_TRUE(bad_port.ok());
  EXPECT_EQ(*bad_port, abi::kFaultBadPort);
}

TEST(GuestFaultTest, UnknownNameListsTheChoices) {
  for (const char* bad : {"bogus", "Triple", "user-gp", " ud"}) {
    absl::StatusOr<abi::Fault> f = ParseGuestFault(bad);
    ASSERT_FALSE(f.ok()) << bad;
    EXPECT_EQ(std::string(f.status().message()),
              std::string("unknown guest fault '") + bad +
                  "'; use one of triple, ud, gp, page, divide, bad-port, mmio");
  }
}

}  // namespace
}  // namespace vmm
}  // namespace kvmbed
