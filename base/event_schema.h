// The event log's schema: every event type kvmbed writes (`kvmbed run
// --events`, `kvmbed soak`, `kvmbed reproduce --events`), with its fields,
// their JSON kinds and whether every writer sets them. The one definition
// behind docs/events.md (event_schema_test fails when the doc's tables and
// this table disagree), the synthetic log the report is tested with, and
// EventLog::Emit(), which checks every line it writes against it.
//
// Rules every line follows besides its type's fields: `t` (number, seconds
// since the log opened) and `type` (string). Readers ignore fields they do
// not know; CheckEvent(kStrict) is for kvmbed's own writers and refuses them.
#ifndef KVMBED_BASE_EVENT_SCHEMA_H_
#define KVMBED_BASE_EVENT_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "base/enum_names.h"
#include "nlohmann/json.hpp"

namespace kvmbed {

enum class FieldKind { kNumber, kString, kBool, kArray, kObject, kAny };
inline constexpr auto kFieldKindNames = MakeEnumNames<FieldKind>(
    {{FieldKind::kNumber, "number"}, {FieldKind::kString, "string"}, {FieldKind::kBool, "bool"},
     {FieldKind::kArray, "array"}, {FieldKind::kObject, "object"}, {FieldKind::kAny, "any"}});
const char* FieldKindName(FieldKind k);

struct EventField {
  std::string name;
  FieldKind kind = FieldKind::kAny;
  bool required = true;  // every writer sets it
};

struct EventType {
  std::string type;
  std::vector<EventField> fields;
  // True for an event whose fields are another document's (the `reproduce`
  // result): only `t` and `type` are checked.
  bool open = false;
};

// Every event type, in the order docs/events.md lists them.
const std::vector<EventType>& EventSchema();
// Null when `type` is not in the schema.
const EventType* FindEventType(absl::string_view type);

enum class Strictness {
  kReader,  // known types: required fields present, known fields of their kind
  kStrict,  // also: the type is known and no field is undeclared
};
// Checks one event line (an object with `t`, `type` and the fields). The
// error names the type and the field, e.g. "status: field max_wait_ns is
// missing".
absl::Status CheckEvent(const nlohmann::json& event, Strictness strictness);

// The field lists of every event type, as docs/events.md's tables give
// them: "`name`" for a required field, "`name`?" for an optional one, in
// schema order, joined by ", ".
std::string FieldList(const EventType& type);

}  // namespace kvmbed

#endif  // KVMBED_BASE_EVENT_SCHEMA_H_
