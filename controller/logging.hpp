// Log set-up: one line per event on standard error, key=value by default or JSON, level chosen
// by flag or LOG_LEVEL. Secrets never reach a log line: callers log names, URLs and reasons only.
#pragma once

#include <exception>
#include <string>

namespace certherd::controller {

/// \brief Configures the default logger. Returns an error line for an unknown level or format.
std::string setup_logging(const std::string& level, const std::string& format);

/// \brief The completion handler of every co_spawn: an escaped exception is logged, never lost.
void log_escaped(std::exception_ptr e);

}  // namespace certherd::controller
