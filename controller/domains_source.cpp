#include "controller/domains_source.hpp"

#include "pki/names.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <unordered_set>

namespace certherd::controller {

parsed_domains parse_domains(std::string_view text, std::string_view what) {
  parsed_domains out;
  const bool blank = pki::trim(text).empty();
  std::size_t index = 0;
  std::unordered_set<std::string> seen;  // a DOMAINS_FILE may list 100,000 hosts
  for (auto raw : pki::split_list(text)) {
    ++index;
    std::string host = pki::normalize_host(raw);
    if (host.empty()) {
      if (!blank) {
        out.problems.push_back(fmt::format("{} item {} is empty; skipped", what, index));
        if (out.rejected.size() < kRejectedReported)
          out.rejected.push_back({std::string(what), "", fmt::format("item {} is empty", index)});
      }
      continue;
    }
    if (auto ok = pki::check_host(host); !ok) {
      out.problems.push_back(
          fmt::format("{} item {}: {}; skipped", what, index, ok.error().detail));
      if (out.rejected.size() < kRejectedReported)
        out.rejected.push_back(
            {std::string(what), std::string(pki::trim(raw).substr(0, 256)), ok.error().detail});
      continue;
    }
    std::string_view trimmed = pki::trim(raw);
    if (trimmed != host) {
      out.problems.push_back(
          fmt::format("{} item {} '{}' is used as '{}'", what, index, trimmed, host));
    }
    if (!seen.insert(host).second) {
      out.problems.push_back(
          fmt::format("{} item {}: {} is listed twice; once is enough", what, index, host));
      if (out.rejected.size() < kRejectedReported)
        out.rejected.push_back({std::string(what), host, "listed twice; once is enough"});
      continue;
    }
    out.hosts.push_back(std::move(host));
  }
  return out;
}

}  // namespace certherd::controller
