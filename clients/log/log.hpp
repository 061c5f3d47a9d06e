// Structured log events: one line per event, an event name and typed fields — never a format
// string with values pasted in. Values come from tenants' labels, the CA and Rancher, so they
// are made valid UTF-8 and escaped where they land: in the text format a value with a space, a
// quote, '=', a backslash or a control character is quoted with \" \\ \n \r \t \xHH escapes, so
// a newline in a label can never start a forged line; in the JSON format each field is one
// member, built from the field itself rather than re-parsed from text. Every layer logs through
// here; controller/logging.cpp sets the format at start-up.
#pragma once

#include <exception>

#include <spdlog/common.h>

#include <chrono>
#include <concepts>
#include <initializer_list>
#include <string>
#include <string_view>

namespace certherd::log {

enum class format { text, json };

/// \brief One field of an event. Keys are written by certherd (lower case, '_'); values may be
/// anything.
struct field {
  std::string_view key;
  std::string value;
  bool quoted_number = false;  ///< JSON: a number is written bare

  field(std::string_view k, std::string_view v) : key(k), value(v) {}
  field(std::string_view k, const std::string& v) : key(k), value(v) {}
  field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  field(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  template <std::integral T>
  requires(!std::same_as<T, bool> && !std::same_as<T, char>) field(std::string_view k, T v)
      : key(k), value(std::to_string(v)), quoted_number(true) {}
  field(std::string_view k, std::chrono::sys_seconds t);
};

/// \brief Sets the format events are written in (text by default).
void set_format(format f);

/// \brief The event as its text line: `event=<name> key=value …`, values escaped.
std::string render_text(std::string_view name, std::initializer_list<field> fields);
/// \brief The event as JSON object members: `"event":"<name>","key":"value",…` (no braces).
std::string render_json(std::string_view name, std::initializer_list<field> fields);

/// \brief `text` as valid UTF-8 (bad bytes become U+FFFD), cut to `max_bytes` on a character
/// boundary.
std::string valid_utf8(std::string_view text, std::size_t max_bytes = std::string_view::npos);

/// \brief Writes the event at `level` through the default logger.
void event(spdlog::level::level_enum level, std::string_view name,
           std::initializer_list<field> fields = {});

inline void debug(std::string_view name, std::initializer_list<field> fields = {}) {
  event(spdlog::level::debug, name, fields);
}
inline void info(std::string_view name, std::initializer_list<field> fields = {}) {
  event(spdlog::level::info, name, fields);
}
inline void warn(std::string_view name, std::initializer_list<field> fields = {}) {
  event(spdlog::level::warn, name, fields);
}
inline void error(std::string_view name, std::initializer_list<field> fields = {}) {
  event(spdlog::level::err, name, fields);
}
inline void critical(std::string_view name, std::initializer_list<field> fields = {}) {
  event(spdlog::level::critical, name, fields);
}

/// \brief The completion handler of every co_spawn: an escaped exception is logged
/// (`event=task_failed`), never lost.
void log_escaped(std::exception_ptr e);

}  // namespace certherd::log
