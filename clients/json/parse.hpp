// Parsing JSON that someone else wrote (the CA, Rancher, its event websocket, files other
// processes can reach) without letting its shape reach the stack: RapidJSON's iterative parser,
// and a cap on nesting checked before parsing, so a body of a million '[' is a clear error and
// whatever walks the document afterwards recurses at most kMaxDepth levels.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace certherd::json {

/// Deeper than any document an ACME server sends (under 6 levels).
inline constexpr std::size_t kMaxDepth = 64;
/// Rancher's resources embed what users wrote (a service's rancher-compose `metadata`), so one
/// deep service must not make a whole page unreadable; nothing walks those parts recursively.
inline constexpr std::size_t kMaxRancherDepth = 1024;

/// \brief The first offset at which `text` opens more than `max_depth` nested arrays or objects
/// (brackets inside strings do not count), or nullopt.
std::optional<std::size_t> too_deep_at(std::string_view text, std::size_t max_depth = kMaxDepth);

/// \brief Parses `text` into `doc`, iteratively and at most `max_depth` levels deep. Returns why
/// it is not JSON ("nested deeper than 64 levels at offset 64", "Invalid value. at offset 3"),
/// or nullopt. `stop_when_done` accepts trailing bytes after the first value.
std::optional<std::string> parse(rapidjson::Document& doc, std::string_view text,
                                 bool stop_when_done = false, std::size_t max_depth = kMaxDepth);

}  // namespace certherd::json
