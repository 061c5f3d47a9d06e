// Fuzz target: the Rancher 1.x REST decoders (design/rancher-api.md: certificates and services
// with their computed fields, collections with pagination, the project id, Cattle's error
// shape, Java dates) over bytes a Rancher server can send. The first byte picks the decoder.
// Properties: no crash; every decoded resource has an id; an error message stays capped.
#include "check.hpp"
#include "clients/rancher/resources.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace certherd::rancher;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      if (auto c = decode_certificate(body)) FUZZ_CHECK(!c->id.empty());
      break;
    case 1:
      if (auto p = decode_certificates(body)) {
        for (const auto& c : p->data)
          FUZZ_CHECK(!c.id.empty());
      }
      break;
    case 2:
      if (auto s = decode_service(body)) {
        FUZZ_CHECK(!s->id.empty());
        for (const auto& id : s->certificate_ids)
          FUZZ_CHECK(s->references(id));
      }
      break;
    case 3:
      if (auto p = decode_services(body)) {
        for (const auto& s : p->data)
          FUZZ_CHECK(!s.id.empty());
      }
      break;
    case 4:
      if (auto id = decode_project_id(body)) FUZZ_CHECK(!id->empty());
      break;
    case 5: {
      auto e = decode_error(500, body);
      FUZZ_CHECK(e.message.size() <= 300 + 3);  // capped, with "…"
      break;
    }
    case 6:
      (void)parse_java_date(body);
      break;
  }
  return 0;
}
