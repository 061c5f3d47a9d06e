// Fuzz target: the certificate store's records (STATE_DIR/certificates/<name>.json), which a
// disk fault, an older or newer certherd, or another process can leave in any shape. Properties:
// no crash; a record that parses writes back to JSON that parses to the same record (nothing a
// save would lose).
#include "check.hpp"
#include "stores/certificate_store.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace certherd::stores;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto record = from_json(text);
  if (!record) {
    FUZZ_CHECK(!record.error().message.empty());
    return 0;
  }
  auto again = from_json(to_json(*record));
  FUZZ_CHECK(again.has_value());
  FUZZ_CHECK(again->name == record->name && again->hosts == record->hosts &&
             again->directory == record->directory && again->chain_pem == record->chain_pem &&
             again->key_pem == record->key_pem && again->failures == record->failures &&
             again->next_retry == record->next_retry && again->reissue == record->reissue &&
             again->issued == record->issued && again->key_type == record->key_type &&
             again->profile == record->profile);
  return 0;
}
