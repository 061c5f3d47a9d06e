// Fuzz target: the ACME decoders (RFC 8555 §7.1 directory, account, order, authorization,
// problem documents) over bytes a CA can send. The first byte picks the decoder, the rest is the
// body. Properties: a decoder never crashes, and what it accepts is what certherd relies on
// (an order with a finalize URL, challenges with a URL, statuses from the RFC's list).
#include "check.hpp"
#include "clients/acme/resources.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace certherd::acme;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0:
      if (auto d = parse_directory(body)) {
        FUZZ_CHECK(!d->new_nonce.empty() && !d->new_account.empty() && !d->new_order.empty());
      }
      break;
    case 1:
      (void)parse_account(body);
      break;
    case 2:
      if (auto o = parse_order(body)) {
        FUZZ_CHECK(!o->finalize.empty());
      }
      break;
    case 3:
      if (auto a = parse_authorization(body)) {
        for (const auto& c : a->challenges)
          FUZZ_CHECK(!c.url.empty());
      }
      break;
    case 4:
      if (auto p = parse_problem(body)) FUZZ_CHECK(!p->type.empty());
      break;
  }
  return 0;
}
