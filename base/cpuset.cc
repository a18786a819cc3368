#include "base/cpuset.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvmbed {
namespace {

// One syntactic element of a cpuset: N, N-M or ^N.
struct Element {
  bool exclude = false;
  int first = 0;
  int last = 0;
  int column = 1;  // 1-based column of the element's first character
};

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Describe(char c) {
  if (c == '\0') return "the end of the text";
  if (c == '\'') return "\"'\"";
  unsigned char u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7f) {
    return absl::StrFormat("byte 0x%02x", u);
  }
  return absl::StrCat("'", std::string(1, c), "'");
}

// A small cursor over the text with libvirt's blank skipping.
class Scanner {
 public:
  explicit Scanner(absl::string_view text) : text_(text) {}
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  char PeekAt(size_t ahead) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  void Advance() { ++pos_; }
  void SkipBlanks() {
    while (!AtEnd() && IsBlank(text_[pos_])) ++pos_;
  }
  int Column() const { return static_cast<int>(pos_) + 1; }

  // Reads a decimal CPU number at the cursor (a digit must be there).
  bool ReadNumber(int* out, CpusetError* error) {
    int column = Column();
    long long value = 0;
    bool too_big = false;
    size_t start = pos_;
    while (!AtEnd() && IsDigit(text_[pos_])) {
      value = value * 10 + (text_[pos_] - '0');
      if (value > kMaxCpuNumber) too_big = true;
      if (value > 1000000000LL) value = 1000000000LL;  // keep it bounded
      ++pos_;
    }
    if (too_big) {
      error->column = column;
      error->message = absl::StrFormat(
          "CPU number %s is too large; CPU numbers go from 0 to %d",
          text_.substr(start, pos_ - start), kMaxCpuNumber);
      return false;
    }
    *out = static_cast<int>(value);
    return true;
  }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
};

constexpr char kGrammarHint[] =
    "a cpuset is a comma-separated list of N, N-M and ^N, e.g. \"0-3\" or "
    "\"1-4,^3,6\"";

bool Fail(CpusetError* error, int column, std::string message) {
  error->column = column;
  error->message = std::move(message);
  return false;
}

// Syntax pass: splits the text into elements.
bool Tokenize(absl::string_view text, std::vector<Element>* elements,
              CpusetError* error) {
  Scanner s(text);
  s.SkipBlanks();
  if (s.AtEnd()) {
    return Fail(error, 1,
                absl::StrCat("the cpuset is empty; name at least one CPU (",
                             kGrammarHint, ")"));
  }
  while (true) {
    s.SkipBlanks();
    Element e;
    e.column = s.Column();
    if (s.Peek() == ',' || s.AtEnd()) {
      return Fail(error, s.Column(),
                  "empty element (two ',' in a row, or a leading or trailing "
                  "','); remove the extra ','");
    }
    if (s.Peek() == '^') {
      e.exclude = true;
      s.Advance();
      if (!IsDigit(s.Peek())) {
        return Fail(error, s.Column(),
                    absl::StrCat("'^' must be followed directly by a CPU "
                                 "number, found ",
                                 Describe(s.Peek()), "; write ^N"));
      }
    }
    if (s.Peek() == '-' && IsDigit(s.PeekAt(1))) {
      return Fail(error, s.Column(),
                  "negative CPU number; CPU numbers start at 0");
    }
    if (!IsDigit(s.Peek())) {
      return Fail(error, s.Column(),
                  absl::StrCat("expected a CPU number, found ",
                               Describe(s.Peek()), "; ", kGrammarHint));
    }
    if (!s.ReadNumber(&e.first, error)) return false;
    e.last = e.first;
    s.SkipBlanks();
    if (s.Peek() == '-') {
      if (e.exclude) {
        return Fail(error, e.column,
                    absl::StrFormat("^%d- is not valid: an exclusion names a "
                                    "single CPU; write one ^N per CPU to "
                                    "exclude",
                                    e.first));
      }
      s.Advance();
      s.SkipBlanks();
      if (!IsDigit(s.Peek())) {
        return Fail(error, s.Column(),
                    absl::StrFormat("the range %d- has no end (found %s); "
                                    "write N-M with M >= N",
                                    e.first, Describe(s.Peek())));
      }
      if (!s.ReadNumber(&e.last, error)) return false;
      if (e.last < e.first) {
        return Fail(error, e.column,
                    absl::StrFormat("reversed range %d-%d; write the lower "
                                    "CPU first: %d-%d",
                                    e.first, e.last, e.last, e.first));
      }
      s.SkipBlanks();
    }
    elements->push_back(e);
    if (s.AtEnd()) return true;
    if (s.Peek() != ',') {
      return Fail(error, s.Column(),
                  absl::StrCat("unexpected ", Describe(s.Peek()),
                               " after an element; separate elements "
                               "with ',' (",
                               kGrammarHint, ")"));
    }
    s.Advance();
  }
}

}  // namespace

bool ParseCpuset(absl::string_view text, std::vector<int>* cpus,
                 CpusetError* error) {
  std::vector<Element> elements;
  if (!Tokenize(text, &elements, error)) return false;
  if (std::none_of(elements.begin(), elements.end(),
                   [](const Element& e) { return !e.exclude; })) {
    return Fail(error, elements.front().column,
                "the cpuset only excludes CPUs (^N) and so names none; list "
                "the CPUs to include first, e.g. \"0-7,^3\"");
  }
  std::set<int> set;
  for (const Element& e : elements) {
    if (!e.exclude) {
      for (int c = e.first; c <= e.last; ++c) set.insert(c);
      continue;
    }
    if (set.erase(e.first) == 0) {
      return Fail(
          error, e.column,
          absl::StrFormat("^%d excludes CPU %d, which no earlier element "
                          "includes; exclusions apply left to right, so put "
                          "^%d after the range that contains it, or drop it",
                          e.first, e.first, e.first));
    }
  }
  if (set.empty()) {
    return Fail(error, 1,
                "the cpuset is empty after its exclusions; keep at least one "
                "CPU");
  }
  cpus->assign(set.begin(), set.end());
  return true;
}

absl::StatusOr<std::vector<int>> ParseCpuset(absl::string_view text) {
  std::vector<int> cpus;
  CpusetError error;
  if (!ParseCpuset(text, &cpus, &error)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "cpuset \"%s\": column %d: %s", text, error.column, error.message));
  }
  return cpus;
}

std::string FormatCpuset(std::vector<int> cpus) {
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    if (j == i) {
      absl::StrAppend(&out, cpus[i]);
    } else {
      absl::StrAppend(&out, cpus[i], "-", cpus[j]);
    }
    i = j + 1;
  }
  return out;
}

namespace {

// A dynamically sized cpu_set_t for CPUs 0..kMaxCpuNumber.
class CpuMask {
 public:
  CpuMask() : set_(CPU_ALLOC(kMaxCpuNumber + 1)), size_(CPU_ALLOC_SIZE(kMaxCpuNumber + 1)) {
    if (set_ != nullptr) CPU_ZERO_S(size_, set_);
  }
  ~CpuMask() {
    if (set_ != nullptr) CPU_FREE(set_);
  }
  CpuMask(const CpuMask&) = delete;
  CpuMask& operator=(const CpuMask&) = delete;
  bool ok() const { return set_ != nullptr; }
  cpu_set_t* set() { return set_; }
  size_t size() const { return size_; }
  std::vector<int> List() const {
    std::vector<int> cpus;
    for (int c = 0; c <= kMaxCpuNumber; ++c) {
      if (CPU_ISSET_S(c, size_, set_)) cpus.push_back(c);
    }
    return cpus;
  }

 private:
  cpu_set_t* set_;
  size_t size_;
};

}  // namespace

absl::StatusOr<std::vector<int>> ProcessCpus() {
  CpuMask m;
  if (!m.ok()) return absl::ResourceExhaustedError("CPU_ALLOC");
  if (sched_getaffinity(0, m.size(), m.set()) != 0) {
    return absl::ErrnoToStatus(errno, "sched_getaffinity");
  }
  return m.List();
}

absl::Status PinThisThread(const std::vector<int>& cpus, absl::string_view what) {
  if (cpus.empty()) return absl::OkStatus();
  CpuMask m;
  if (!m.ok()) return absl::ResourceExhaustedError("CPU_ALLOC");
  for (int c : cpus) {
    if (c < 0 || c > kMaxCpuNumber) {
      return absl::InvalidArgumentError(
          absl::StrCat("pin ", what, ": host CPU ", c, " is out of range 0-", kMaxCpuNumber));
    }
    CPU_SET_S(c, m.size(), m.set());
  }
  int err = pthread_setaffinity_np(pthread_self(), m.size(), m.set());
  if (err != 0) {
    return absl::ErrnoToStatus(err,
                               absl::StrCat("pin ", what, " to host CPUs ", FormatCpuset(cpus)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<int>> ThisThreadCpus() {
  CpuMask m;
  if (!m.ok()) return absl::ResourceExhaustedError("CPU_ALLOC");
  int err = pthread_getaffinity_np(pthread_self(), m.size(), m.set());
  if (err != 0) return absl::ErrnoToStatus(err, "pthread_getaffinity_np");
  return m.List();
}

}  // namespace kvmbed
