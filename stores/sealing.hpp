// Sealing secrets before they leave the process (the etcd store): AES-256-GCM with a fresh
// 96-bit nonce per seal and the record's key name as associated data, so a sealed value moved to
// another key does not open. Keys come from STORE_KEY_FILE: 32 raw bytes per file (as
// `head -c 32 /dev/urandom` makes them); several files, comma-separated, make a ring for rotation
// — the first seals, every one opens. A sealed value names the key that sealed it by a short id
// (a digest of the key, never the key), so a value sealed with a key no longer in the ring says
// which one it needs.
//
//   certherd-sealed-v1.<key id: 16 hex>.<base64url(nonce ‖ ciphertext ‖ tag)>
#pragma once

#include "clients/outcome/outcome.hpp"

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace certherd::stores {

inline constexpr std::string_view kSealedPrefix = "certherd-sealed-v1.";

/// \brief Whether `value` has the sealed form's prefix (says nothing of whether it opens).
bool is_sealed(std::string_view value) noexcept;

class key_ring {
 public:
  /// \brief Reads the comma-separated key files; a configuration failure names the file and what
  /// is wrong (missing, unreadable, not 32 bytes, the same key twice) and never its contents.
  static outcome<key_ring> load(std::string_view files);
  /// \brief A ring of the given 32-byte keys (the first seals); for tests and `load`.
  static outcome<key_ring> of(const std::vector<std::string>& keys);

  key_ring(const key_ring&) = delete;
  key_ring& operator=(const key_ring&) = delete;
  key_ring(key_ring&&) noexcept;
  key_ring& operator=(key_ring&&) noexcept;
  ~key_ring();

  /// \brief `plaintext` sealed with the first key, bound to `name`.
  outcome<std::string> seal(std::string_view plaintext, std::string_view name) const;
  /// \brief The plaintext of a sealed value stored under `name`. A store_io failure when it is
  /// not in the sealed form, was sealed by a key not in the ring (named by its id), or does not
  /// authenticate (altered, or moved from another name).
  outcome<std::string> open(std::string_view sealed, std::string_view name) const;
  /// \brief Whether `sealed` was sealed by the first key (else the next write re-seals it).
  bool sealed_by_current(std::string_view sealed) const noexcept;
  /// \brief Whether `sealed` names a key id the ring does not hold (the wrong STORE_KEY_FILE,
  /// as opposed to a value that was altered).
  bool sealed_by_unknown_key(std::string_view sealed) const noexcept;
  /// \brief The id of the key that seals ("3f2a…", 16 hex digits).
  std::string current_id() const;
  std::size_t size() const noexcept { return keys_.size(); }

 private:
  key_ring() = default;
  struct key {
    std::array<unsigned char, 32> bytes{};
    std::string id;
  };
  std::vector<key> keys_;
};

}  // namespace certherd::stores
