#include "clients/json/parse.hpp"

#include <fmt/format.h>
#include <rapidjson/error/en.h>

namespace certherd::json {

std::optional<std::size_t> too_deep_at(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return i;
        break;
      case ']':
      case '}':
        // Unbalanced closers are the parser's to report; never wrap below zero.
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

std::optional<std::string> parse(rapidjson::Document& doc, std::string_view text,
                                 bool stop_when_done, std::size_t max_depth) {
  if (auto at = too_deep_at(text, max_depth)) {
    doc.SetNull();
    return fmt::format("nested deeper than {} levels at offset {}", max_depth, *at);
  }
  if (stop_when_done) {
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseStopWhenDoneFlag>(text.data(),
                                                                                  text.size());
  } else {
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
  }
  if (doc.HasParseError()) {
    return fmt::format("{} at offset {}", rapidjson::GetParseError_En(doc.GetParseError()),
                       doc.GetErrorOffset());
  }
  return std::nullopt;
}

}  // namespace certherd::json
