// certherd's picture of one Rancher environment: its certificates and services, as last listed
// and then kept current by resource.change events (each a full snapshot, §A6). Rancher keeps no
// replay log, so after every (re)connect the whole environment is listed again; events that
// arrive while that list is read are held back and applied on top of it, so the newer state
// always wins. No I/O: the Rancher source feeds it, the Rancher target reads it.
#pragma once

#include "clients/rancher/resources.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace certherd::rancher {

/// \brief What an update of the mirror changed.
struct mirror_change {
  std::set<std::string> certificate_names;  ///< certificates added, changed or removed
  bool services = false;                    ///< any service added, changed or removed
};

class mirror {
 public:
  /// \brief A full list begins: events from now on are held until it ends.
  void begin_resync();
  /// \brief The full list: replaces everything, then applies the events held meanwhile.
  mirror_change finish_resync(std::vector<certificate> certificates, std::vector<service> services);
  /// \brief The list failed: the held events are applied, the mirror stays unsynced.
  mirror_change abandon_resync();
  /// \brief The event stream broke: what is held may be stale until the next full list.
  void mark_unsynced() noexcept { synced_ = false; }
  bool synced() const noexcept { return synced_; }

  /// \brief Applies an event (held back while a resync is in progress).
  mirror_change apply(const event& e);
  /// \brief Records a certificate as certherd just wrote it (the answer to a create/update).
  mirror_change put(const certificate& c);

  const certificate* certificate_named(const std::string& name) const;
  const std::map<std::string, service>& services() const noexcept { return services_; }
  std::size_t certificate_count() const noexcept { return certificates_.size(); }

 private:
  mirror_change apply_now(const event& e);
  mirror_change upsert(const certificate& c);
  mirror_change upsert(const service& s);

  std::map<std::string, certificate> certificates_;  // by id, removed ones dropped
  std::map<std::string, std::string> by_name_;       // name → id
  std::map<std::string, service> services_;          // by id, removed ones dropped
  std::vector<event> held_;
  bool resyncing_ = false;
  bool synced_ = false;
};

}  // namespace certherd::rancher
