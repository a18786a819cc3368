#include "base/junit.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tinyxml2.h"

namespace kvmbed {
namespace {

std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.3f", absl::ToDoubleSeconds(d));
}

// Length of a valid UTF-8 sequence that XML allows at s[i], or 0.
size_t ValidUtf8(const std::string& s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;  // surrogates
  if (cp == 0xFFFE || cp == 0xFFFF) return 0;  // not XML characters
  return n;
}

void AddText(tinyxml2::XMLElement* parent, const char* tag, const std::string& text) {
  if (text.empty()) return;
  parent->InsertNewChildElement(tag)->SetText(SanitizeXmlText(text).c_str());
}

void SetAttr(tinyxml2::XMLElement* e, const char* name, const std::string& value) {
  e->SetAttribute(name, SanitizeXmlText(value).c_str());
}

}  // namespace

std::string SanitizeXmlText(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      absl::StrAppendFormat(&out, "\\x%02x", c);
      ++i;
      continue;
    }
    size_t n = ValidUtf8(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
      continue;
    }
    out.append(text, i, n);
    i += n;
  }
  return out;
}

JUnitSuite& JUnitReport::AddSuite(std::string name) {
  suites_.emplace_back();
  suites_.back().name = std::move(name);
  return suites_.back();
}

std::string JUnitReport::ToXml() const {
  using Result = JUnitCase::Result;
  tinyxml2::XMLDocument doc;
  doc.InsertEndChild(doc.NewDeclaration());  // <?xml version="1.0" encoding="UTF-8"?>
  tinyxml2::XMLElement* root = doc.NewElement("testsuites");
  doc.InsertEndChild(root);
  SetAttr(root, "name", name_);
  int tests = 0, failures = 0, errors = 0, skipped = 0;
  absl::Duration total = absl::ZeroDuration();
  for (const JUnitSuite& s : suites_) {
    tinyxml2::XMLElement* se = root->InsertNewChildElement("testsuite");
    int st = 0, sf = 0, serr = 0, ss = 0;
    for (const JUnitCase& c : s.cases) {
      ++st;
      sf += c.result == Result::kFailed;
      serr += c.result == Result::kError;
      ss += c.result == Result::kSkipped;
    }
    SetAttr(se, "name", s.name);
    se->SetAttribute("tests", st);
    se->SetAttribute("failures", sf);
    se->SetAttribute("errors", serr);
    se->SetAttribute("skipped", ss);
    SetAttr(se, "time", Seconds(s.time));
    if (s.timestamp != absl::InfinitePast()) {
      SetAttr(se, "timestamp",
              absl::FormatTime("%Y-%m-%dT%H:%M:%S", s.timestamp, absl::UTCTimeZone()));
    }
    if (!s.hostname.empty()) SetAttr(se, "hostname", s.hostname);
    if (!s.properties.empty()) {
      tinyxml2::XMLElement* props = se->InsertNewChildElement("properties");
      for (const auto& [k, v] : s.properties) {
        tinyxml2::XMLElement* p = props->InsertNewChildElement("property");
        SetAttr(p, "name", k);
        SetAttr(p, "value", v);
      }
    }
    for (const JUnitCase& c : s.cases) {
      tinyxml2::XMLElement* ce = se->InsertNewChildElement("testcase");
      SetAttr(ce, "name", c.name);
      SetAttr(ce, "classname", c.classname.empty() ? s.name : c.classname);
      SetAttr(ce, "time", Seconds(c.time));
      const char* tag = c.result == Result::kFailed   ? "failure"
                        : c.result == Result::kError  ? "error"
                        : c.result == Result::kSkipped ? "skipped"
                                                       : nullptr;
      if (tag) {
        tinyxml2::XMLElement* r = ce->InsertNewChildElement(tag);
        if (!c.message.empty()) SetAttr(r, "message", c.message);
        if (!c.type.empty() && c.result != Result::kSkipped) SetAttr(r, "type", c.type);
        if (!c.details.empty()) r->SetText(SanitizeXmlText(c.details).c_str());
      }
      AddText(ce, "system-out", c.system_out);
      AddText(ce, "system-err", c.system_err);
    }
    AddText(se, "system-out", s.system_out);
    tests += st;
    failures += sf;
    errors += serr;
    skipped += ss;
    total += s.time;
  }
  root->SetAttribute("tests", tests);
  root->SetAttribute("failures", failures);
  root->SetAttribute("errors", errors);
  root->SetAttribute("skipped", skipped);
  SetAttr(root, "time", Seconds(total));
  tinyxml2::XMLPrinter printer;
  doc.Print(&printer);
  return std::string(printer.CStr(), printer.CStrSize() > 0 ? printer.CStrSize() - 1 : 0);
}

absl::Status JUnitReport::WriteFile(const std::string& path) const {
  const std::string xml = ToXml();
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) return absl::ErrnoToStatus(errno, absl::StrCat("cannot write JUnit XML ", tmp));
  bool ok = std::fwrite(xml.data(), 1, xml.size(), f) == xml.size();
  int saved = errno;
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    return absl::ErrnoToStatus(saved ? saved : EIO, absl::StrCat("writing JUnit XML ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    saved = errno;
    std::remove(tmp.c_str());
    return absl::ErrnoToStatus(saved, absl::StrCat("cannot move JUnit XML into place at ", path));
  }
  return absl::OkStatus();
}

}  // namespace kvmbed
