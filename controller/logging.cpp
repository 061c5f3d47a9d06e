#include "controller/logging.hpp"

#include "clients/log/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

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
  return log::valid_utf8(text, max_bytes);
}

/// The message of a log line as JSON members. An event from clients/log arrives as members
/// already ("event":…,"cert":…), built from its fields; anything else (a library's own line) is
/// one "msg" member, escaped whole.
class json_fields final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& m, const std::tm&,
              spdlog::memory_buf_t& out) override {
    std::string_view msg(m.payload.data(), m.payload.size());
    if (msg.starts_with("\"event\":\"")) {
      out.append(msg);
      return;
    }
    out.append(std::string_view("\"msg\":"));
    json_string(valid_utf8(msg), out);
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
    log::set_format(log::format::json);
  } else if (format == "text" || format.empty()) {
    logger->set_pattern("time=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
    log::set_format(log::format::text);
  } else {
    return "log format '" + format + "' is not one of text, json";
  }
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace certherd::controller
