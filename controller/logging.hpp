// Log set-up: one line per event on standard error, key=value by default or JSON, level chosen
// by flag or LOG_LEVEL. Events are written through clients/log (structured fields, escaped
// where they land). Secrets never reach a log line: callers log names, URLs and reasons only.
#pragma once

#include "clients/log/log.hpp"

#include <exception>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certherd::controller {

/// \brief Configures the default logger. Returns an error line for an unknown level or format.
std::string setup_logging(const std::string& level, const std::string& format);

/// \brief `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD, and cut to
/// at most `max_bytes` on a character boundary: what reaches a log line, a metric label or
/// /status must be valid UTF-8 (Prometheus rejects a scrape otherwise).
std::string valid_utf8(std::string_view text, std::size_t max_bytes = std::string_view::npos);

using log::log_escaped;  // clients/log: the completion handler of every co_spawn

}  // namespace certherd::controller
