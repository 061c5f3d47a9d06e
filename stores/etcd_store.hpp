// The certificate store on etcd (STORE=etcd), for several replicas sharing one set of
// certificates. Layout under ETCD_PREFIX (default "certherd/"):
//
//   <prefix>certificates/<name>   the record, as fs_store's JSON, its private key sealed
//   <prefix>keys/check            a value sealed with STORE_KEY_FILE's key: a replica with another
//                                 key finds out at start, before it writes anything
//
// Private keys leave the process only sealed (stores/sealing.hpp: AES-256-GCM, the key's name
// under the prefix as associated data). Every replica keeps a mirror of the records, filled by
// one read at start and kept current by a watch (resumed from the last revision after a lost
// connection, read again whole after a compaction), so loads, names and versions never wait for
// the network and go on answering while etcd is away. A save is a transaction, fenced when a
// fence is set: it applies only while the election key still has the creation revision this
// replica's leadership began with, so an ex-leader that was paused cannot overwrite what the new
// one wrote. The etcd client runs on a thread of its own; a save waits for its answer (at most
// the call deadline), as a file store's save waits for its fsync.
#pragma once

#include "clients/etcd/client.hpp"
#include "stores/certificate_store.hpp"
#include "stores/sealing.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace certherd::stores {

struct etcd_store_options {
  etcd::client_options client;
  http::client_options http;  ///< TLS: ETCD_CA_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE
  std::string prefix = "certherd/";
};

/// \brief ETCD_PREFIX checked: printable, no white space, ends with '/' (added when missing);
/// "" with `why` when it is not usable.
std::string checked_prefix(std::string_view prefix, std::string& why);

/// A write is allowed only while `key` exists with this creation revision (the leader's).
struct write_fence {
  std::string key;
  std::int64_t create_revision = 0;
  friend bool operator==(const write_fence&, const write_fence&) = default;
};

class etcd_store final : public certificate_store {
 public:
  etcd_store(etcd_store_options options, key_ring ring);
  ~etcd_store() override;
  etcd_store(const etcd_store&) = delete;
  etcd_store& operator=(const etcd_store&) = delete;

  /// \brief Connects, checks STORE_KEY_FILE against the store (a key that cannot open what is
  /// there is a configuration failure naming the key it needs, and nothing is written), reads
  /// every record and starts the watch.
  outcome<> open();

  outcome<std::optional<stored_certificate>> load(const std::string& name) override;
  outcome<> save(const stored_certificate& record) override;
  outcome<std::vector<std::string>> names() override;
  std::optional<file_stamp> version(const std::string& name) override;

  /// \brief Writes need `fence` from now on (nullopt: no write is allowed). Without a call,
  /// writes are not fenced (a single instance).
  void set_fence(std::optional<write_fence> fence);

  /// \brief Runs `call` with the store's etcd client on its thread and waits for it, at most
  /// the call deadline and a second; nullopt when it did not end by then.
  template <class T>
  std::optional<T> call(std::function<boost::asio::awaitable<T>(etcd::client&)> call) {
    auto out = std::make_shared<std::optional<T>>();
    bool ended = run_on_worker([call, out](etcd::client& c) -> boost::asio::awaitable<void> {
      out->emplace(co_await call(c));
    });
    if (!ended) return std::nullopt;
    return std::move(*out);
  }

  /// \brief Called on the store's thread whenever a record changed in etcd (its name). It must
  /// not wait for the store (no save, no call): post the work elsewhere.
  void on_change(std::function<void(const std::string&)> f);
  /// \brief Called on the store's thread with every change of the keys under `prefix()` +
  /// `subkey` that are not records (the election key, challenge tokens), in revision order.
  /// The same rule as on_change.
  void on_key(std::string subkey, std::function<void(const etcd::watch_event&)> f);
  /// \brief Starts `f` on the store's thread, for work that lives as long as the store (the
  /// election); it is destroyed, wherever it waits, with the store.
  void spawn(std::function<boost::asio::awaitable<void>(etcd::client&)> f);
  /// \brief The newest revision the mirror has seen: every change of the prefix up to it has
  /// been applied (one watch covers the whole prefix, in order).
  std::int64_t revision() const;

  const std::string& prefix() const noexcept { return options_.prefix; }
  /// \brief Seals / opens a secret stored under `name` (below the prefix) with STORE_KEY_FILE.
  outcome<std::string> seal(std::string_view secret, std::string_view name) const {
    return ring_.seal(secret, name);
  }
  outcome<std::string> unseal(std::string_view sealed, std::string_view name) const {
    return ring_.open(sealed, name);
  }
  const etcd::client_options& client_options() const noexcept { return options_.client; }
  std::string key_of(const std::string& name) const;
  /// \brief Figures for /status and metrics.
  struct figures {
    bool watching = false;  ///< the watch stream is open now
    /// Since when etcd has been out of reach (no member answered); nullopt: reachable.
    std::optional<std::chrono::system_clock::time_point> unreachable_since;
    std::size_t requests = 0;    ///< sent to etcd
    std::int64_t revision = 0;   ///< the newest revision the mirror has seen
    std::size_t unreadable = 0;  ///< records that do not decode or open
    std::string last_error;      ///< the last failure talking to etcd
  };
  figures stats() const;

 private:
  struct entry {
    std::optional<stored_certificate> record;  ///< nullopt: unreadable (see error)
    std::string error;
    bool wrong_key = false;  ///< sealed by a key STORE_KEY_FILE does not hold
    std::int64_t mod_revision = 0;
    std::size_t size = 0;
  };
  struct snapshot {
    std::map<std::string, entry> entries;
    std::int64_t revision = 0;
  };
  struct worker;

  /// Runs `f` on the store's thread; false when it did not end within the deadline (it then
  /// ends there on its own; what it captured must be shared).
  bool run_on_worker(std::function<boost::asio::awaitable<void>(etcd::client&)> f);
  entry decode(const std::string& name, const std::string& value, std::int64_t mod_revision) const;
  /// `attempts`: how often a check value another writer changed meanwhile is read again.
  outcome<> check_key(int attempts = 3);
  boost::asio::awaitable<outcome<snapshot>> read_all(etcd::client& c);
  std::vector<std::string> adopt(snapshot fresh);
  void apply(const etcd::watch_response& r);
  boost::asio::awaitable<void> watch_from(std::int64_t from);
  boost::asio::awaitable<void> replay_keys(etcd::client& c, std::int64_t revision);

  etcd_store_options options_;
  key_ring ring_;
  std::unique_ptr<worker> worker_;
  mutable std::mutex mutex_;
  std::map<std::string, entry> mirror_;
  std::int64_t applied_ = 0;  ///< every change up to this revision is in the mirror
  std::optional<std::optional<write_fence>> fence_;  ///< unset: unfenced
  std::function<void(const std::string&)> changed_;
  std::vector<std::pair<std::string, std::function<void(const etcd::watch_event&)>>> key_handlers_;
  std::string last_error_;
};

}  // namespace certherd::stores
