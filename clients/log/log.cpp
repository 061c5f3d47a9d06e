#include "clients/log/log.hpp"
#include "pki/utc_time.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace certherd::log {
namespace {

std::atomic<format> current{format::text};

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= 0x20 || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

void append_text_value(std::string& out, std::string_view raw) {
  std::string v = valid_utf8(raw);
  if (!needs_quotes(v)) {
    out += v;
    return;
  }
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_json_string(std::string& out, std::string_view raw) {
  std::string v = valid_utf8(raw);
  out += '"';
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

// Keys are certherd's own, but a key that is not a plain identifier, or that would repeat a
// member the line already has, is renamed rather than written as is.
std::string safe_key(std::string_view k) {
  std::string out;
  for (char c : k) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    out += ok ? c : '_';
  }
  if (out.empty() || out == "time" || out == "level" || out == "event" || out == "msg") {
    out = "field_" + out;
  }
  return out;
}

}  // namespace

field::field(std::string_view k, std::chrono::sys_seconds t) : key(k), value(pki::to_rfc3339(t)) {}

void set_format(format f) {
  current.store(f);
}

std::string valid_utf8(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    bool ok = n > 0 && i + n <= text.size();
    for (std::size_t k = 1; ok && k < n; ++k)
      ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    if (ok && n == 2) ok = c >= 0xC2;  // no overlong forms
    if (ok && n == 3) {
      auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);  // overlong, surrogates
    }
    if (ok && n == 4) {
      auto c1 = static_cast<unsigned char>(text[i + 1]);
      ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    std::string_view piece = ok ? text.substr(i, n) : std::string_view("\xEF\xBF\xBD");
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += ok ? n : 1;
  }
  return out;
}

std::string render_text(std::string_view name, std::initializer_list<field> fields) {
  std::string out = "event=";
  append_text_value(out, name);
  for (const auto& f : fields) {
    out += ' ';
    out += safe_key(f.key);
    out += '=';
    append_text_value(out, f.value);
  }
  return out;
}

std::string render_json(std::string_view name, std::initializer_list<field> fields) {
  std::string out = "\"event\":";
  append_json_string(out, name);
  for (const auto& f : fields) {
    out += ',';
    append_json_string(out, safe_key(f.key));
    out += ':';
    if (f.quoted_number) {
      out += f.value;  // digits and a sign only: written by std::to_string
    } else {
      append_json_string(out, f.value);
    }
  }
  return out;
}

void event(spdlog::level::level_enum level, std::string_view name,
           std::initializer_list<field> fields) {
  auto logger = spdlog::default_logger_raw();
  if (!logger || !logger->should_log(level)) return;
  std::string line =
      current.load() == format::json ? render_json(name, fields) : render_text(name, fields);
  logger->log(level, "{}", line);
}

void log_escaped(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    critical("task_failed", {{"error", x.what()}});
  } catch (...) {
    critical("task_failed", {{"error", "an exception that is not a std::exception"}});
  }
}

}  // namespace certherd::log
