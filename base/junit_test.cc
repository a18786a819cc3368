#include "base/junit.h"

#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tinyxml2.h"

namespace kvmbed {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

JUnitReport SoakReport() {
  JUnitReport r("kvmbed soak");
  JUnitSuite& s = r.AddSuite("seed-soak");
  s.timestamp = absl::FromUnixSeconds(1700000000);
  s.time = absl::Seconds(72000.25);
  s.hostname = "box";
  s.properties = {{"kernel_model", "buggy"}, {"profile", "configs/seed-soak.yaml"}};
  s.cases.push_back({"vm guest-a", "kvmbed.soak", absl::Seconds(72000), JUnitCase::Result::kPassed,
                     "", "", "", "56 vCPUs online\n", ""});
  s.cases.push_back({"no lost IPI", "kvmbed.soak", absl::Milliseconds(1500),
                     JUnitCase::Result::kFailed, "2 lost IPIs <CPU#3 -> CPU#17> & \"more\"",
                     "lost_ipi",
                     "csd: Detected non-responsive CSD lock (#1) on CPU#3\n"
                     "<script>alert(1)</script> ]]> & done\n",
                     "", ""});
  s.cases.push_back({"no soft lockup", "kvmbed.soak", absl::ZeroDuration(),
                     JUnitCase::Result::kSkipped, "watchdog disabled by the profile", "", "",
                     "", ""});
  s.cases.push_back({"guest workload errors", "kvmbed.soak", absl::Seconds(1),
                     JUnitCase::Result::kError, "vm guest-b failed to boot", "setup", "", "",
                     "KVM_RUN: bad \x01 byte and \xff invalid utf-8"});
  return r;
}

TEST(JUnit, CountsTimesAndStructure) {
  std::string xml = SoakReport().ToXml();
  tinyxml2::XMLDocument doc;
  ASSERT_EQ(doc.Parse(xml.c_str(), xml.size()), tinyxml2::XML_SUCCESS) << xml;
  tinyxml2::XMLElement* root = doc.FirstChildElement("testsuites");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->IntAttribute("tests"), 4);
  EXPECT_EQ(root->IntAttribute("failures"), 1);
  EXPECT_EQ(root->IntAttribute("errors"), 1);
  EXPECT_EQ(root->IntAttribute("skipped"), 1);
  tinyxml2::XMLElement* suite = root->FirstChildElement("testsuite");
  ASSERT_NE(suite, nullptr);
  EXPECT_STREQ(suite->Attribute("name"), "seed-soak");
  EXPECT_STREQ(suite->Attribute("time"), "72000.250");
  EXPECT_STREQ(suite->Attribute("timestamp"), "2023-11-14T22:13:20");
  EXPECT_STREQ(suite->Attribute("hostname"), "box");
  tinyxml2::XMLElement* prop = suite->FirstChildElement("properties")->FirstChildElement("property");
  EXPECT_STREQ(prop->Attribute("name"), "kernel_model");
  EXPECT_STREQ(prop->Attribute("value"), "buggy");

  tinyxml2::XMLElement* c = suite->FirstChildElement("testcase");
  EXPECT_STREQ(c->Attribute("name"), "vm guest-a");
  EXPECT_STREQ(c->Attribute("classname"), "kvmbed.soak");
  EXPECT_STREQ(c->Attribute("time"), "72000.000");
  EXPECT_EQ(c->FirstChildElement("failure"), nullptr);
  EXPECT_STREQ(c->FirstChildElement("system-out")->GetText(), "56 vCPUs online\n");

  c = c->NextSiblingElement("testcase");
  tinyxml2::XMLElement* f = c->FirstChildElement("failure");
  ASSERT_NE(f, nullptr);
  EXPECT_STREQ(c->Attribute("time"), "1.500");
  EXPECT_STREQ(f->Attribute("type"), "lost_ipi");
  // Escaping round-trips exactly.
  EXPECT_STREQ(f->Attribute("message"), "2 lost IPIs <CPU#3 -> CPU#17> & \"more\"");
  EXPECT_STREQ(f->GetText(),
               "csd: Detected non-responsive CSD lock (#1) on CPU#3\n"
               "<script>alert(1)</script> ]]> & done\n");

  c = c->NextSiblingElement("testcase");
  tinyxml2::XMLElement* sk = c->FirstChildElement("skipped");
  ASSERT_NE(sk, nullptr);
  EXPECT_STREQ(sk->Attribute("message"), "watchdog disabled by the profile");

  c = c->NextSiblingElement("testcase");
  ASSERT_NE(c->FirstChildElement("error"), nullptr);
  EXPECT_STREQ(c->FirstChildElement("system-err")->GetText(),
               "KVM_RUN: bad \\x01 byte and \xEF\xBF\xBD invalid utf-8");
  EXPECT_EQ(c->NextSiblingElement("testcase"), nullptr);
}

TEST(JUnit, RawTextNeverReachesTheDocument) {
  std::string xml = SoakReport().ToXml();
  EXPECT_THAT(xml, Not(HasSubstr("<script>")));
  EXPECT_THAT(xml, HasSubstr("&lt;script&gt;"));
  EXPECT_THAT(xml, Not(HasSubstr("\x01")));
  EXPECT_THAT(xml, Not(HasSubstr("\xff")));
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", 0), 0u);
}

TEST(JUnit, SanitizeKeepsValidUtf8AndReplacesTheRest) {
  EXPECT_EQ(SanitizeXmlText("µs ok\ttab\r\n"), "µs ok\ttab\r\n");
  EXPECT_EQ(SanitizeXmlText(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(SanitizeXmlText("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(SanitizeXmlText("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(SanitizeXmlText("\xEF\xBF\xBF"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // U+FFFF
  EXPECT_EQ(SanitizeXmlText("cut \xE2\x82"), "cut \xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeXmlText("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

TEST(JUnit, EmptyReportIsValid) {
  JUnitReport r;
  std::string xml = r.ToXml();
  tinyxml2::XMLDocument doc;
  ASSERT_EQ(doc.Parse(xml.c_str()), tinyxml2::XML_SUCCESS);
  EXPECT_EQ(doc.FirstChildElement("testsuites")->IntAttribute("tests", -1), 0);
}

TEST(JUnit, WriteFileIsAtomicAndReportsErrors) {
  std::string path = std::string(getenv("TEST_TMPDIR")) + "/soak.xml";
  JUnitReport r = SoakReport();
  ASSERT_TRUE(r.WriteFile(path).ok());
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), r.ToXml());
  absl::Status bad = r.WriteFile("/nonexistent-dir/soak.xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.message()), HasSubstr("/nonexistent-dir/soak.xml"));
}

}  // namespace
}  // namespace kvmbed
