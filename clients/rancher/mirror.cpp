#include "clients/rancher/mirror.hpp"

namespace certherd::rancher {
namespace {

// What a reconcile looks at: a state change alone (activating → active) wakes nobody.
bool same_certificate(const certificate& a, const certificate& b) {
  return a.name == b.name && a.fingerprint_sha1 == b.fingerprint_sha1 && a.cert == b.cert &&
         a.cert_chain == b.cert_chain;
}

bool same_service(const service& a, const service& b) {
  return a.name == b.name && a.labels == b.labels && a.certificate_ids == b.certificate_ids &&
         a.default_certificate_id == b.default_certificate_id && a.state == b.state &&
         a.type == b.type;
}

// Ids are a type prefix and a database number ("1c3" < "1c12"): shorter is older.
bool older(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

void merge(mirror_change& into, mirror_change from) {
  into.certificate_names.merge(from.certificate_names);
  into.services = into.services || from.services;
}

}  // namespace

void mirror::begin_resync() {
  resyncing_ = true;
  held_.clear();
}

mirror_change mirror::finish_resync(std::vector<certificate> certificates,
                                    std::vector<service> services) {
  mirror_change change;
  std::map<std::string, certificate> next_certs;
  std::map<std::string, std::string> next_names;
  for (auto& c : certificates) {
    if (c.removed) continue;
    // Names are unique among live certificates; should two appear, the older id keeps the name.
    auto [it, fresh] = next_names.emplace(c.name, c.id);
    if (!fresh && older(c.id, it->second)) it->second = c.id;
    next_certs[c.id] = std::move(c);
  }
  for (const auto& [name, id] : next_names) {
    auto old = certificate_named(name);
    if (!old || !same_certificate(*old, next_certs[id])) change.certificate_names.insert(name);
  }
  for (const auto& [name, id] : by_name_) {
    if (!next_names.count(name)) change.certificate_names.insert(name);
  }
  std::map<std::string, service> next_services;
  for (auto& s : services) {
    if (!s.removed) next_services[s.id] = std::move(s);
  }
  if (next_services.size() != services_.size()) {
    change.services = true;
  } else {
    for (const auto& [id, s] : next_services) {
      auto it = services_.find(id);
      if (it == services_.end() || !same_service(it->second, s)) {
        change.services = true;
        break;
      }
    }
  }
  certificates_ = std::move(next_certs);
  by_name_ = std::move(next_names);
  services_ = std::move(next_services);
  resyncing_ = false;
  synced_ = true;
  for (const auto& e : held_)
    merge(change, apply_now(e));
  held_.clear();
  return change;
}

mirror_change mirror::abandon_resync() {
  resyncing_ = false;
  mirror_change change;
  for (const auto& e : held_)
    merge(change, apply_now(e));
  held_.clear();
  return change;
}

mirror_change mirror::apply(const event& e) {
  if (resyncing_) {
    held_.push_back(e);
    return {};
  }
  return apply_now(e);
}

mirror_change mirror::apply_now(const event& e) {
  if (e.certificate_snapshot) return upsert(*e.certificate_snapshot);
  if (e.service_snapshot) return upsert(*e.service_snapshot);
  return {};
}

mirror_change mirror::put(const certificate& c) {
  // During a resync the list may have been read before this write: replay it on top.
  if (resyncing_) {
    event e;
    e.what = event::kind::resource_change;
    e.certificate_snapshot = c;
    held_.push_back(std::move(e));
  }
  return upsert(c);
}

mirror_change mirror::upsert(const certificate& c) {
  mirror_change change;
  auto it = certificates_.find(c.id);
  if (c.removed) {
    if (it == certificates_.end()) return change;
    change.certificate_names.insert(it->second.name);
    if (auto n = by_name_.find(it->second.name); n != by_name_.end() && n->second == c.id)
      by_name_.erase(n);
    certificates_.erase(it);
    return change;
  }
  if (it != certificates_.end()) {
    if (same_certificate(it->second, c)) {
      it->second = c;  // keep the latest state
      return change;
    }
    if (it->second.name != c.name) {  // renamed: the old name lost its certificate
      change.certificate_names.insert(it->second.name);
      if (auto n = by_name_.find(it->second.name); n != by_name_.end() && n->second == c.id)
        by_name_.erase(n);
    }
  }
  change.certificate_names.insert(c.name);
  certificates_[c.id] = c;
  by_name_.emplace(c.name, c.id);  // an existing live holder of the name keeps it
  return change;
}

mirror_change mirror::upsert(const service& s) {
  mirror_change change;
  auto it = services_.find(s.id);
  if (s.removed) {
    if (it != services_.end()) {
      services_.erase(it);
      change.services = true;
    }
    return change;
  }
  if (it != services_.end() && same_service(it->second, s)) return change;
  services_[s.id] = s;
  change.services = true;
  return change;
}

const certificate* mirror::certificate_named(const std::string& name) const {
  auto n = by_name_.find(name);
  if (n == by_name_.end()) return nullptr;
  auto it = certificates_.find(n->second);
  return it == certificates_.end() ? nullptr : &it->second;
}

}  // namespace certherd::rancher
