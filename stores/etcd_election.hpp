// One leader among the replicas that share an etcd store, by an etcd lease (the recipe of etcd's
// own concurrency package, on the JSON gateway): a replica that finds the election key absent
// creates it on a lease of its own (LEADER_TTL) in one transaction and leads for as long as it
// keeps the lease alive; every other replica waits for the key to go (the store's watch says
// so), looking again only now and then. The leader's writes are fenced on the key's creation
// revision (stores/etcd_store.hpp), so a leader that was paused past its lease cannot write.
//
// A leader stops leading by its own clock: when no keep-alive has succeeded for the lease's TTL
// less a second, whatever etcd would say (it cannot be asked when it is away). A replica that
// stops on purpose revokes its lease, and another takes over at once.
#pragma once

#include "stores/etcd_store.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace certherd::stores {

struct election_options {
  std::string identity;          ///< who this replica is, for people (host name, process id)
  std::chrono::seconds ttl{15};  ///< LEADER_TTL
  /// A follower looks at the key this often even without news from the watch.
  std::chrono::seconds recheck{60};
};

class etcd_election {
 public:
  /// \param changed called on the store's thread when this replica starts leading (with the
  /// fence its writes need) or stops (nullopt). It must not wait for the store.
  etcd_election(etcd_store& store, election_options options,
                std::function<void(std::optional<write_fence>)> changed);
  ~etcd_election();
  etcd_election(const etcd_election&) = delete;
  etcd_election& operator=(const etcd_election&) = delete;

  /// \brief Starts campaigning (after the store is open).
  void start();
  /// \brief Stops leading and campaigning; revokes the lease so that another replica takes over
  /// now rather than after the TTL. Waits at most the store's call deadline.
  void resign();

  /// \brief Stops leading now and campaigns again (a leader that cannot act on its term).
  void step_down();
  /// \brief Leads now: elected, and the lease confirmed alive within its TTL.
  bool leader() const;
  struct figures {
    bool leader = false;
    std::string holder;         ///< the identity the election key names ("" when unknown)
    std::size_t elections = 0;  ///< times this replica became leader
    std::size_t losses = 0;     ///< times it stopped leading other than by resigning
    std::string last_error;
  };
  figures stats() const;
  const std::string& key() const noexcept { return key_; }

  struct state;  ///< shared with the campaign, which outlives this object on the store's thread

 private:
  etcd_store& store_;
  std::string key_;
  std::shared_ptr<state> state_;
};

}  // namespace certherd::stores
