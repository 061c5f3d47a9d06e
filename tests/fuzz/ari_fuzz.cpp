// Fuzz target: a renewalInfo answer (RFC 9773 §4.2) and the RFC 3339 times in it, as a CA (or
// anything between) can send them. Properties: no crash; a window accepted ends after it starts,
// every pick falls inside it, and its explanation URL is empty or a short printable http(s) URL;
// a time accepted prints back as one that reads to the same second.
#include "check.hpp"
#include "clients/acme/ari.hpp"
#include "pki/utc_time.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace certherd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string why;
  if (auto w = acme::parse_renewal_info(text, why)) {
    FUZZ_CHECK(w->end > w->start);
    for (std::uint64_t r : {0ULL, 1ULL, ~0ULL, static_cast<std::uint64_t>(size) * 2654435761ULL}) {
      auto t = acme::pick_in_window(*w, r);
      FUZZ_CHECK(t >= w->start && t < w->end);
    }
    FUZZ_CHECK(w->explanation_url.size() <= acme::kMaxExplanationUrl);
    FUZZ_CHECK(w->explanation_url.empty() || w->explanation_url.starts_with("http"));
  } else {
    FUZZ_CHECK(!why.empty());
  }
  if (auto t = pki::from_rfc3339(text)) {
    auto printed = pki::to_rfc3339(*t);
    if (printed != "out-of-range") FUZZ_CHECK(pki::from_rfc3339(printed) == t);
  }
  return 0;
}
