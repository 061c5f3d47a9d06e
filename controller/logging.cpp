#include "controller/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace certherd::controller {

std::string setup_logging(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return "log level '" + level + "' is not one of trace, debug, info, warn, error, off";
  }
  auto logger = spdlog::stderr_logger_st("certherd");
  if (format == "json") {
    logger->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","msg":"%v"})",
                        spdlog::pattern_time_type::utc);
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
