// Replay-Nonce values collected from every ACME response (RFC 8555 §7.2), used once each, newest
// first. A bounded pool: nonces expire on the server, so hoarding many gains nothing.
#pragma once

#include <deque>
#include <optional>
#include <string>

namespace certherd::acme {

class nonce_pool {
 public:
  explicit nonce_pool(std::size_t capacity = 16) : capacity_(capacity) {}

  void add(std::string nonce) {
    if (nonce.empty()) return;
    nonces_.push_back(std::move(nonce));
    if (nonces_.size() > capacity_) nonces_.pop_front();
  }

  /// \brief The freshest nonce, removed from the pool; nullopt when a newNonce request is needed.
  std::optional<std::string> take() {
    if (nonces_.empty()) return std::nullopt;
    std::string n = std::move(nonces_.back());
    nonces_.pop_back();
    return n;
  }

  std::size_t size() const noexcept { return nonces_.size(); }

 private:
  std::size_t capacity_;
  std::deque<std::string> nonces_;
};

}  // namespace certherd::acme
