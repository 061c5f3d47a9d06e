#include "pki/error.hpp"

#include <openssl/err.h>

#include <stdexcept>

namespace certherd::pki {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "certherd.pki"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::invalid_pem:
        return "invalid PEM";
      case errc::invalid_der:
        return "invalid DER";
      case errc::unsupported_key:
        return "unsupported key";
      case errc::crypto_failure:
        return "cryptographic operation failed";
      case errc::invalid_name:
        return "invalid name";
      case errc::verification_failed:
        return "certificate verification failed";
      case errc::key_mismatch:
        return "key does not match certificate";
    }
    return "unknown pki error";
  }
};

}  // namespace

const std::error_category& pki_category() noexcept {
  static const category instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), pki_category()};
}

std::string error::message() const {
  std::string out = make_error_code(code).message();
  if (!detail.empty()) out += ": " + detail;
  return out;
}

void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw std::system_error(make_error_code(e.code), e.detail);
}

std::string openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

error openssl_failure(errc code, std::string_view what) {
  std::string detail(what);
  if (auto queued = openssl_errors(); !queued.empty()) detail += " (" + queued + ")";
  return {code, std::move(detail)};
}

}  // namespace certherd::pki
