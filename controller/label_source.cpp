#include "controller/label_source.hpp"

#include "controller/domains_source.hpp"
#include "pki/names.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace certherd::controller {
namespace {

// Rancher ids are a type prefix and a database number: "1s3" is older than "1s12".
bool older(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

std::string who(const rancher::service& s) {
  return fmt::format("{} ({})", s.name, s.id);
}

}  // namespace

bool domain_allowed(std::string_view host, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  for (const auto& d : allowed) {
    if (host == d) return true;
    if (host.size() > d.size() && host.ends_with(d) && host[host.size() - d.size() - 1] == '.')
      return true;
  }
  return false;
}

std::vector<std::string> parse_allowed_domains(std::string_view text) {
  std::vector<std::string> out;
  for (auto item : pki::split_list(text)) {
    item = pki::trim(item);
    if (item.starts_with("*.")) item.remove_prefix(2);
    if (item.starts_with(".")) item.remove_prefix(1);
    std::string d = pki::normalize_host(item);
    if (!d.empty() && std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
  }
  return out;
}

label_result certificates_from_labels(const std::map<std::string, rancher::service>& services,
                                      const label_options& options) {
  label_result out;
  std::vector<const rancher::service*> ordered;
  for (const auto& [id, s] : services) {
    if (!s.removed && s.labels.count(options.label)) ordered.push_back(&s);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const auto* a, const auto* b) { return older(a->id, b->id); });

  std::map<std::string, std::string> owner;  // host → certificate name (per-service mode)
  std::set<std::string> names_taken;
  for (const auto* s : ordered) {
    std::string what = fmt::format("label {} on service {}", options.label, who(*s));
    auto parsed = parse_domains(s->labels.at(options.label), what);
    for (auto& p : parsed.problems)
      out.problems.push_back(std::move(p));
    for (auto& r : parsed.rejected) {
      if (out.rejected.size() < kRejectedReported) out.rejected.push_back(std::move(r));
    }
    std::vector<std::string> hosts;
    for (auto& h : parsed.hosts) {
      if (!domain_allowed(h, options.allowed_domains)) {
        out.problems.push_back(fmt::format("{}: {} is outside ALLOWED_DOMAINS; skipped", what, h));
        if (out.rejected.size() < kRejectedReported)
          out.rejected.push_back({what, h, "outside ALLOWED_DOMAINS"});
        continue;
      }
      hosts.push_back(std::move(h));
    }
    if (!options.per_service) {
      for (const auto& h : hosts) {
        auto& c = out.certificates[h];
        c.name = h;
        c.hosts = {h};
        c.services.push_back(who(*s));
      }
      continue;
    }
    // One certificate per service: a host already held by an older service stays there.
    // The name is a file name in the store and a certificate name in Rancher: letters, digits
    // and '-' only; a name seen before (services of two stacks) gets the service id appended.
    std::string name;
    for (char ch : s->name) {
      auto c = static_cast<unsigned char>(ch);
      name += std::isalnum(c) ? static_cast<char>(std::tolower(c)) : '-';
    }
    if (name.empty() || name.size() > 100) name = s->id;
    if (names_taken.count(name)) name = fmt::format("{}-{}", name, s->id);
    if (names_taken.count(name)) {
      // Another service's name already is this one with its suffix ("web-1s9"): two services
      // must never share a certificate, so the newer one gets none until renamed.
      out.problems.push_back(fmt::format(
          "{}: its certificate name {} is taken by another service; no certificate until one "
          "of them is renamed",
          what, name));
      if (out.rejected.size() < kRejectedReported)
        out.rejected.push_back(
            {what, s->labels.at(options.label).substr(0, 256),
             fmt::format("its certificate name {} is taken by another service", name)});
      continue;
    }
    std::vector<std::string> mine;
    for (const auto& h : hosts) {
      auto [it, fresh] = owner.emplace(h, name);
      if (fresh) {
        mine.push_back(h);
      } else {
        out.problems.push_back(fmt::format(
            "{}: {} is already claimed by certificate {}; it stays there", what, h, it->second));
        if (out.rejected.size() < kRejectedReported)
          out.rejected.push_back(
              {what, h, fmt::format("already claimed by certificate {}", it->second)});
      }
    }
    if (mine.empty()) continue;
    std::sort(mine.begin(), mine.end());
    names_taken.insert(name);
    out.certificates[name] = labelled_certificate{name, std::move(mine), {who(*s)}};
  }
  return out;
}

}  // namespace certherd::controller
