#include "pki/registered_domain.hpp"

#include <libpsl.h>

#include <string>

namespace certherd::pki {

std::optional<std::string> registered_domain(std::string_view host) {
  // The newest of the list compiled into libpsl and the one Debian's publicsuffix installs;
  // loaded once, read-only after that (libpsl's lookups are thread-safe).
  static const psl_ctx_t* const list = [] {
    const psl_ctx_t* latest = psl_latest(nullptr);
    return latest ? latest : psl_builtin();
  }();
  // As ACME names are compared: ASCII lower case (A-labels), one trailing dot dropped.
  if (host.ends_with('.')) host.remove_suffix(1);
  if (!list || host.empty() || host.size() > 253) return std::nullopt;
  std::string name;
  for (char c : host) {
    if (c == '\0') return std::nullopt;
    name.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  if (name.front() == '.' || name.find("..") != std::string::npos) return std::nullopt;
  const char* found = psl_registrable_domain(list, name.c_str());
  if (!found) return std::nullopt;
  return std::string(found);
}

}  // namespace certherd::pki
