// Fuzz target: the hosts label and ALLOWED_DOMAINS, written by tenants and operators. The input
// is split at its first three NUL bytes into ALLOWED_DOMAINS, a second service's name, its label
// and the first service's label; its first byte picks per-host or per-service mode. Properties:
// every certificate asked for has valid, normalized, allowed hosts, sorted and unique; its name
// is its host (per host) or made only of [a-z0-9-] (per service, a file name in the store and a
// name in Rancher); no host is in two certificates in per-service mode.
#include "check.hpp"
#include "controller/label_source.hpp"
#include "pki/names.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

using namespace certherd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  bool per_service = data[0] & 1;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto cut = [&rest]() {
    auto at = rest.find('\0');
    std::string_view part = rest.substr(0, at);
    rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 1);
    return std::string(part);
  };
  std::string allowed_text = cut();
  std::string second_name = cut();
  std::string second_label = cut();
  std::string first_label(rest);

  controller::label_options options;
  options.per_service = per_service;
  options.allowed_domains = controller::parse_allowed_domains(allowed_text);
  for (const auto& d : options.allowed_domains)
    FUZZ_CHECK(!d.empty());

  std::map<std::string, rancher::service> services;
  rancher::service a;
  a.id = "1s1";
  a.name = "web";
  a.labels[options.label] = first_label;
  rancher::service b;
  b.id = "1s2";
  b.name = second_name;  // "web-1s2" is the suffixed name a second "web" would take
  b.labels[options.label] = second_label;
  services[a.id] = a;
  services[b.id] = b;

  auto result = controller::certificates_from_labels(services, options);
  std::set<std::string> seen_hosts;
  for (const auto& [name, cert] : result.certificates) {
    FUZZ_CHECK(name == cert.name);
    FUZZ_CHECK(!name.empty());
    FUZZ_CHECK(!cert.hosts.empty());
    FUZZ_CHECK(std::is_sorted(cert.hosts.begin(), cert.hosts.end()));
    FUZZ_CHECK(std::adjacent_find(cert.hosts.begin(), cert.hosts.end()) == cert.hosts.end());
    for (const auto& h : cert.hosts) {
      FUZZ_CHECK(pki::check_host(h).has_value());
      FUZZ_CHECK(pki::normalize_host(h) == h);
      FUZZ_CHECK(controller::domain_allowed(h, options.allowed_domains));
      if (per_service) FUZZ_CHECK(seen_hosts.insert(h).second);
    }
    if (!per_service) {
      FUZZ_CHECK(cert.hosts.size() == 1 && cert.hosts[0] == name);
    } else {
      for (char c : name)
        FUZZ_CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
      FUZZ_CHECK(name.size() <= 110);
    }
  }
  return 0;
}
