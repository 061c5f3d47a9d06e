#include "pki/names.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace certherd::pki {
namespace {

bool is_ldh(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

bool looks_like_ip(std::string_view host) {
  if (host.find(':') != std::string_view::npos) return true;  // IPv6 literal
  return !host.empty() && std::all_of(host.begin(), host.end(),
                                      [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

error bad(std::string_view host, std::string reason) {
  return {errc::invalid_name, fmt::format("'{}': {}", host, reason)};
}

}  // namespace

std::string_view trim(std::string_view raw) noexcept {
  while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.front())))
    raw.remove_prefix(1);
  while (!raw.empty() && std::isspace(static_cast<unsigned char>(raw.back())))
    raw.remove_suffix(1);
  return raw;
}

std::vector<std::string_view> split_list(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    auto comma = text.find(',', start);
    if (comma == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
}

std::string normalize_host(std::string_view raw) {
  raw = trim(raw);
  if (!raw.empty() && raw.back() == '.') raw.remove_suffix(1);
  std::string out(raw);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

result<void> check_host(std::string_view host) {
  if (host.empty()) return bad(host, "empty name");
  if (host.size() > 253) return bad(host, fmt::format("{} characters, at most 253", host.size()));
  if (host.find('*') != std::string_view::npos) {
    return bad(host, "wildcard names need DNS-01; certherd proves names over HTTP-01 only");
  }
  if (looks_like_ip(host)) return bad(host, "IP addresses are not supported as names");
  for (unsigned char c : host) {
    if (c >= 0x80) return bad(host, "non-ASCII name; write it in punycode (xn--...)");
  }
  std::size_t labels = 0;
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    std::string_view label = host.substr(start, end - start);
    ++labels;
    if (label.empty()) return bad(host, "empty label");
    if (label.size() > 63) {
      return bad(host,
                 fmt::format("label '{}' has {} characters, at most 63", label, label.size()));
    }
    if (!std::all_of(label.begin(), label.end(), is_ldh)) {
      return bad(host, fmt::format("label '{}' may hold only a-z, 0-9 and '-'", label));
    }
    if (label.front() == '-' || label.back() == '-') {
      return bad(host, fmt::format("label '{}' starts or ends with '-'", label));
    }
    start = end + 1;
  }
  if (labels < 2) return bad(host, "a single-label name cannot get a public certificate");
  return {};
}

}  // namespace certherd::pki
