#include "stores/sealing.hpp"

#include "pki/encoding.hpp"
#include "pki/names.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <memory>

namespace certherd::stores {
namespace {

constexpr std::size_t kKeySize = 32;
constexpr std::size_t kNonceSize = 12;
constexpr std::size_t kTagSize = 16;

struct cipher_ctx_deleter {
  void operator()(EVP_CIPHER_CTX* c) const noexcept { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_deleter>;

std::string id_of(const unsigned char* key) {
  std::string material = "certherd store key id\n";
  material.append(reinterpret_cast<const char*>(key), kKeySize);
  std::string digest = pki::sha256(material);
  OPENSSL_cleanse(material.data(), material.size());
  return pki::hex_encode(std::string_view(digest).substr(0, 8));
}

failure configuration(std::string message) {
  return fail(failure_kind::configuration, std::move(message));
}

// Reads at most 33 bytes of `path`: a key file is 32 raw bytes, and anything longer is named as
// such without being read whole.
outcome<std::string> read_key_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return configuration(
        fmt::format("STORE_KEY_FILE: cannot open '{}': {}", path, std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return configuration(fmt::format("STORE_KEY_FILE: '{}' is not a regular file", path));
  }
  std::string bytes(kKeySize + 1, '\0');
  std::size_t got = 0;
  while (got < bytes.size()) {
    auto n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      OPENSSL_cleanse(bytes.data(), bytes.size());
      return configuration(
          fmt::format("STORE_KEY_FILE: cannot read '{}': {}", path, std::strerror(err)));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got != kKeySize) {
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return configuration(fmt::format(
        "STORE_KEY_FILE: '{}' holds {} bytes; a key is exactly 32 raw bytes (make one with: "
        "head -c 32 /dev/urandom > FILE)",
        path, got > kKeySize ? std::string("more than 32") : std::to_string(got)));
  }
  bytes.resize(kKeySize);
  return bytes;
}

}  // namespace

bool is_sealed(std::string_view value) noexcept {
  return value.substr(0, kSealedPrefix.size()) == kSealedPrefix;
}

key_ring::key_ring(key_ring&&) noexcept = default;

key_ring& key_ring::operator=(key_ring&& other) noexcept {
  if (this != &other) {
    for (auto& k : keys_)
      OPENSSL_cleanse(k.bytes.data(), k.bytes.size());
    keys_ = std::move(other.keys_);
  }
  return *this;
}

key_ring::~key_ring() {
  for (auto& k : keys_)
    OPENSSL_cleanse(k.bytes.data(), k.bytes.size());
}

outcome<key_ring> key_ring::of(const std::vector<std::string>& keys) {
  key_ring ring;
  if (keys.empty()) return configuration("STORE_KEY_FILE: no key");
  ring.keys_.reserve(keys.size());  // no reallocation leaves a copy of a key behind
  for (const auto& bytes : keys) {
    if (bytes.size() != kKeySize) {
      return configuration(
          fmt::format("STORE_KEY_FILE: a key of {} bytes; a key is 32 bytes", bytes.size()));
    }
    auto& k = ring.keys_.emplace_back();
    std::memcpy(k.bytes.data(), bytes.data(), kKeySize);
    k.id = id_of(k.bytes.data());
    for (std::size_t i = 0; i + 1 < ring.keys_.size(); ++i) {
      if (ring.keys_[i].id == k.id) {
        return configuration(fmt::format("STORE_KEY_FILE: the key {} is named twice", k.id));
      }
    }
  }
  return ring;
}

outcome<key_ring> key_ring::load(std::string_view files) {
  std::vector<std::string> keys;
  std::vector<std::string> paths;
  for (auto item : pki::split_list(files)) {
    item = pki::trim(item);
    if (!item.empty()) paths.emplace_back(item);
  }
  if (paths.empty()) {
    return configuration(
        "STORE_KEY_FILE is empty; the etcd store needs a key file of 32 raw bytes (make one "
        "with: head -c 32 /dev/urandom > FILE)");
  }
  auto wipe = [&keys] {
    for (auto& k : keys)
      OPENSSL_cleanse(k.data(), k.size());
  };
  for (const auto& path : paths) {
    auto bytes = read_key_file(path);
    if (!bytes) {
      wipe();
      return bytes.error();
    }
    keys.push_back(std::move(*bytes));
  }
  auto ring = of(keys);
  wipe();
  if (!ring) {
    // Name the files: which two hold the same key.
    return ring.error();
  }
  return ring;
}

outcome<std::string> key_ring::seal(std::string_view plaintext, std::string_view name) const {
  const key& k = keys_.front();
  std::string out(kNonceSize + plaintext.size() + kTagSize, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(nonce, static_cast<int>(kNonceSize)) != 1) {
    return fail(failure_kind::internal, "sealing: no random bytes for a nonce");
  }
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* ct = nonce + kNonceSize;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, k.bytes.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(name.data()),
                        static_cast<int>(name.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ct, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagSize),
                          ct + plaintext.size()) != 1) {
    return fail(failure_kind::internal, "sealing: AES-256-GCM failed");
  }
  return std::string(kSealedPrefix) + k.id + "." + pki::base64url_encode(out);
}

outcome<std::string> key_ring::open(std::string_view sealed, std::string_view name) const {
  if (!is_sealed(sealed)) {
    return fail(failure_kind::store_io,
                fmt::format("'{}' is not sealed (it was written without STORE_KEY_FILE's key, "
                            "or by something else than certherd)",
                            name));
  }
  std::string_view rest = sealed.substr(kSealedPrefix.size());
  auto dot = rest.find('.');
  if (dot != 16) {
    return fail(failure_kind::store_io, fmt::format("'{}': a sealed value without a key id", name));
  }
  std::string_view id = rest.substr(0, dot);
  const key* k = nullptr;
  for (const auto& candidate : keys_) {
    if (candidate.id == id) k = &candidate;
  }
  if (!k) {
    return fail(failure_kind::store_io,
                fmt::format("'{}' was sealed by the key {}, which STORE_KEY_FILE does not hold "
                            "(it holds {})",
                            name, id, current_id()));
  }
  auto raw = pki::base64url_decode(rest.substr(dot + 1));
  if (!raw || raw->size() < kNonceSize + kTagSize) {
    return fail(failure_kind::store_io, fmt::format("'{}': the sealed value is cut short", name));
  }
  std::size_t size = raw->size() - kNonceSize - kTagSize;
  const auto* nonce = reinterpret_cast<const unsigned char*>(raw->data());
  const auto* ct = nonce + kNonceSize;
  std::string out(size, '\0');
  auto* pt = reinterpret_cast<unsigned char*>(out.data());
  std::array<unsigned char, kTagSize> tag{};
  std::memcpy(tag.data(), ct + size, kTagSize);
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  int final_len = 0;
  bool ok =
      ctx &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, k->bytes.data(), nonce) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(name.data()),
                        static_cast<int>(name.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), pt, &len, ct, static_cast<int>(size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagSize),
                          tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), pt + len, &final_len) == 1;
  if (!ok) {
    OPENSSL_cleanse(out.data(), out.size());
    return fail(failure_kind::store_io,
                fmt::format("'{}' does not authenticate with the key {}: altered, or moved "
                            "from another name",
                            name, id));
  }
  return out;
}

bool key_ring::sealed_by_unknown_key(std::string_view sealed) const noexcept {
  if (!is_sealed(sealed)) return false;
  std::string_view rest = sealed.substr(kSealedPrefix.size());
  std::string_view id = rest.substr(0, rest.find('.'));
  for (const auto& k : keys_) {
    if (k.id == id) return false;
  }
  return true;
}

bool key_ring::sealed_by_current(std::string_view sealed) const noexcept {
  if (!is_sealed(sealed)) return false;
  std::string_view rest = sealed.substr(kSealedPrefix.size());
  return rest.substr(0, rest.find('.')) == keys_.front().id;
}

std::string key_ring::current_id() const {
  return keys_.front().id;
}

}  // namespace certherd::stores
