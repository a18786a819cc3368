// Small helpers for absl::Status plumbing, shared by every kvmbed library.
#ifndef KVMBED_BASE_STATUS_MACROS_H_
#define KVMBED_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KVMBED_CONCAT_INNER_(a, b) a##b
#define KVMBED_CONCAT_(a, b) KVMBED_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` yields a non-OK status.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status kvmbed_status_ = (expr);            \
    if (!kvmbed_status_.ok()) return kvmbed_status_;   \
  } while (0)

#define KVMBED_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return tmp.status();                 \
  lhs = std::move(tmp).value()

// `ASSIGN_OR_RETURN(T x, F())` declares x from an absl::StatusOr<T> or
// returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  KVMBED_ASSIGN_OR_RETURN_IMPL_(KVMBED_CONCAT_(kvmbed_statusor_, __LINE__), lhs, expr)

#endif  // KVMBED_BASE_STATUS_MACROS_H_
