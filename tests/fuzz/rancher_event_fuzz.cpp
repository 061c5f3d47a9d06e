// Fuzz target: frames of Rancher's subscribe websocket (design/rancher-api.md §A6: ping,
// resource.change with full snapshots, logout, qualified names) over bytes a Rancher server (or
// anything between) can send. Properties: no crash; a snapshot is only ever attached to a
// resource.change, and it has an id.
#include "check.hpp"
#include "clients/rancher/resources.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace certherd::rancher;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  auto e = decode_event(frame);
  if (!e) return 0;
  if (e->certificate_snapshot || e->service_snapshot) {
    FUZZ_CHECK(e->what == event::kind::resource_change);
  }
  if (e->certificate_snapshot) FUZZ_CHECK(!e->certificate_snapshot->id.empty());
  if (e->service_snapshot) FUZZ_CHECK(!e->service_snapshot->id.empty());
  (void)to_string(e->what);
  return 0;
}
