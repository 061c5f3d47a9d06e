#include "clients/acme/http01.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace certherd::acme {

bool is_safe_token(std::string_view token) noexcept {
  return !token.empty() && token.size() <= 256 &&
         std::all_of(token.begin(), token.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
         });
}

std::filesystem::path webroot_presenter::directory() const {
  return webroot_ / ".well-known" / "acme-challenge";
}

std::error_code webroot_presenter::present(const present_challenge& c, std::string& detail) {
  if (!is_safe_token(c.token)) {
    detail = "the CA sent a token with characters outside base64url";
    return std::make_error_code(std::errc::invalid_argument);
  }
  std::error_code ec;
  auto dir = directory();
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    detail = fmt::format("cannot create {}: {}", dir.string(), ec.message());
    return ec;
  }
  // The web server must never serve half a file: write a temporary name, then rename.
  auto final_path = dir / c.token;
  auto temp_path = dir / fmt::format(".{}.{}.tmp", c.token, ::getpid());
  int fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    ec = {errno, std::generic_category()};
    detail = fmt::format("cannot write {}: {}", temp_path.string(), ec.message());
    return ec;
  }
  ::fchmod(fd, 0644);  // readable by the web server whatever our umask
  const std::string& body = c.key_authorization;
  bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(temp_path.c_str(), final_path.c_str()) != 0) {
    ec = {errno ? errno : EIO, std::generic_category()};
    ::unlink(temp_path.c_str());
    detail = fmt::format("cannot write {}: {}", final_path.string(), ec.message());
    return ec;
  }
  return {};
}

void webroot_presenter::remove(const remove_challenge& c) {
  if (!is_safe_token(c.token)) return;
  std::error_code ignored;
  std::filesystem::remove(directory() / c.token, ignored);
}

}  // namespace certherd::acme
