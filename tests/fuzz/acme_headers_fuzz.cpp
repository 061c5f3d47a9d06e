// Fuzz target: the ACME response headers certherd reads — Retry-After (RFC 9110 §10.2.3:
// delay-seconds or an HTTP date) and Link (RFC 8288, for "up" and "alternate" chains). The input's
// first NUL splits a Retry-After value from Link header values (separated by '\n'). Properties:
// no crash or overflow; a Retry-After is never negative nor over a day (ACME-NOTES: Let's Encrypt
// never asks for more), whatever "now" is.
#include "check.hpp"
#include "clients/acme/polling.hpp"
#include "clients/acme/resources.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

using namespace certherd::acme;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto at = text.find('\0');
  std::string_view retry = text.substr(0, at);
  std::string_view links = at == std::string_view::npos ? std::string_view{} : text.substr(at + 1);

  for (auto now : {std::chrono::system_clock::time_point{},
                   std::chrono::system_clock::time_point{std::chrono::seconds(1796185209)}}) {
    if (auto wait = parse_retry_after(retry, now)) {
      FUZZ_CHECK(wait->count() >= 0);
      FUZZ_CHECK(*wait <= kMaxRetryAfter);
    }
  }
  std::vector<std::string_view> headers;
  while (!links.empty()) {
    auto nl = links.find('\n');
    headers.push_back(links.substr(0, nl));
    links = nl == std::string_view::npos ? std::string_view{} : links.substr(nl + 1);
  }
  for (const auto& target : link_targets(headers, "alternate"))
    FUZZ_CHECK(target.find('>') == std::string::npos);
  (void)link_targets(headers, "up");
  return 0;
}
