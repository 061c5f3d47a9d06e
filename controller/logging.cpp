#include "controller/logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cctype>

namespace certherd::controller {
namespace {

void json_string(std::string_view v, spdlog::memory_buf_t& out) {
  out.push_back('"');
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (c < 0x20) {
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

}  // namespace

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
    std::string_view piece = ok ? text.substr(i, n) : std::string_view("\xEF\xBF\xBD");
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += ok ? n : 1;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> split_fields(std::string_view msg) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  while (i < msg.size()) {
    while (i < msg.size() && msg[i] == ' ')
      ++i;
    if (i >= msg.size()) break;
    std::size_t eq = msg.find('=', i);
    std::size_t space = msg.find(' ', i);
    if (eq == std::string_view::npos || (space != std::string_view::npos && space < eq)) {
      return {};  // not key=value: the caller keeps the message whole
    }
    std::string key(msg.substr(i, eq - i));
    i = eq + 1;
    std::string value;
    if (i < msg.size() && msg[i] == '"') {
      // A quoted value ends at a quote followed by the end, or by a space and the next key=;
      // quotes inside it (a CA's words) stay.
      auto next_key = [&](std::size_t from) {
        std::size_t k = from;
        while (k < msg.size() &&
               (std::isalnum(static_cast<unsigned char>(msg[k])) || msg[k] == '_' || msg[k] == '.'))
          ++k;
        return k > from && k < msg.size() && msg[k] == '=';
      };
      std::size_t j = i + 1;
      std::size_t end = std::string_view::npos;
      while (j < msg.size()) {
        if (msg[j] == '"' && (j + 1 == msg.size() || (msg[j + 1] == ' ' && next_key(j + 2)))) {
          end = j;
          break;
        }
        ++j;
      }
      if (end == std::string_view::npos) return {};
      value = std::string(msg.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      std::size_t end = msg.find(' ', i);
      if (end == std::string_view::npos) end = msg.size();
      value = std::string(msg.substr(i, end - i));
      i = end;
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

/// The message of a log line as JSON members: its key=value fields each become a member, so
/// a log shipper indexes event, cert and reason without parsing; other text goes in "msg".
class json_fields final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& m, const std::tm&,
              spdlog::memory_buf_t& out) override {
    std::string clean = valid_utf8(std::string_view(m.payload.data(), m.payload.size()));
    std::string_view msg(clean);
    auto fields = split_fields(msg);
    if (fields.empty()) {
      out.append(std::string_view("\"msg\":"));
      json_string(msg, out);
      return;
    }
    bool first = true;
    for (const auto& [k, v] : fields) {
      if (!first) out.push_back(',');
      first = false;
      json_string(k, out);
      out.push_back(':');
      json_string(v, out);
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<json_fields>();
  }
};

std::string setup_logging(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return "log level '" + level + "' is not one of trace, debug, info, warn, error, off";
  }
  auto logger = spdlog::stderr_logger_st("certherd");
  if (format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<json_fields>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%*})");
    logger->set_formatter(std::move(formatter));
  } else if (format == "text" || format.empty()) {
    logger->set_pattern("time=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  } else {
    return "log format '" + format + "' is not one of text, json";
  }
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  return {};
}

void log_escaped(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::critical("event=task_failed error=\"{}\"", x.what());
  }
}

}  // namespace certherd::controller
