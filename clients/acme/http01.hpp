// HTTP-01 presenters (RFC 8555 §8.3): where a key authorization is published for the CA to fetch
// at http://<name>/.well-known/acme-challenge/<token>. The webroot presenter writes files into a
// directory that a web server (nginx, the original project's sidekick) serves; the in-process
// responder (http01_responder.hpp) answers the requests itself.
#pragma once

#include "clients/acme/flow.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace certherd::acme {

class challenge_presenter {
 public:
  virtual ~challenge_presenter() = default;
  /// \brief Publishes the key authorization; on failure returns the error and sets `detail`.
  virtual std::error_code present(const present_challenge& c, std::string& detail) = 0;
  /// \brief Withdraws it; failures are ignored (a stale token is harmless).
  virtual void remove(const remove_challenge& c) = 0;
};

/// \brief True for a token ACME may send: base64url characters only (no '/', no '..'), so a token
/// can never name a path outside the challenge directory.
bool is_safe_token(std::string_view token) noexcept;

class webroot_presenter final : public challenge_presenter {
 public:
  explicit webroot_presenter(std::filesystem::path webroot) : webroot_(std::move(webroot)) {}
  std::error_code present(const present_challenge& c, std::string& detail) override;
  void remove(const remove_challenge& c) override;
  std::filesystem::path directory() const;

 private:
  std::filesystem::path webroot_;
};

}  // namespace certherd::acme
