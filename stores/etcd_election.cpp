#include "stores/etcd_election.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace certherd::stores {
namespace {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;
constexpr auto kMargin = std::chrono::seconds(1);

}  // namespace

struct etcd_election::state {
  election_options options;
  std::string key;
  std::function<void(std::optional<write_fence>)> changed;

  mutable std::mutex mutex;  // guards the figures below
  std::string holder;
  std::string last_error;
  std::size_t elections = 0;
  std::size_t losses = 0;

  std::atomic<bool> elected{false};
  std::atomic<steady::rep> valid_until{0};
  std::atomic<bool> stopping{false};
  std::atomic<std::int64_t> lease{0};

  // The store's thread only.
  std::optional<asio::steady_timer> wake;
  bool key_changed = false;
  std::int64_t created_at = 0;  ///< the election key's creation revision while leading

  void note(const std::string& error) {
    std::lock_guard lock(mutex);
    last_error = error;
  }
  void set_holder(std::string h) {
    std::lock_guard lock(mutex);
    holder = std::move(h);
  }
  // Sleeps until `until`, or until the watch or a stop wakes it.
  asio::awaitable<void> sleep_until(steady::time_point until) {
    if (key_changed || stopping) co_return;  // the news came while it was not asleep
    wake->expires_at(until);
    co_await wake->async_wait(asio::as_tuple(asio::use_awaitable));
  }
};

namespace {

// Leads while the lease lives: a keep-alive every third of the TTL; lost when one has not
// succeeded for the TTL less the margin, when etcd says the lease is gone, or when the election
// key is deleted or made again by someone else.
asio::awaitable<void> hold(std::shared_ptr<etcd_election::state> st, etcd::client& c,
                           steady::time_point last_ok) {
  const auto ttl = st->options.ttl;
  auto next = last_ok + ttl / 3;
  for (;;) {
    co_await st->sleep_until(next);
    if (st->stopping || st->key_changed) co_return;
    auto lost_at = last_ok + ttl - kMargin;
    if (steady::now() >= lost_at) co_return;
    auto sent = steady::now();
    auto alive = co_await c.async_lease_keepalive(st->lease, lost_at);
    if (alive && alive->ttl > 0) {
      last_ok = sent;
      st->valid_until = (sent + ttl - kMargin).time_since_epoch().count();
      next = sent + ttl / 3;
      continue;
    }
    if (alive) {
      st->note("the lease expired at etcd");
      co_return;
    }
    st->note(alive.error().message);
    next = std::min(steady::now() + std::chrono::milliseconds(500), last_ok + ttl - kMargin);
  }
}

asio::awaitable<void> campaign(std::shared_ptr<etcd_election::state> st, etcd::client& c) {
  st->wake.emplace(co_await asio::this_coro::executor);
  const auto ttl = st->options.ttl;
  while (!st->stopping) {
    // Someone leads: wait for the key to go (the watch), or look again later.
    st->key_changed = false;
    auto current = co_await c.async_range(etcd::get(st->key));
    if (!current) {
      st->note(current.error().message);
      co_await st->sleep_until(steady::now() + std::chrono::seconds(1));
      continue;
    }
    if (!current->kvs.empty()) {
      st->set_holder(current->kvs.front().value);
      co_await st->sleep_until(steady::now() + st->options.recheck);
      continue;
    }
    auto started = steady::now();
    auto grant = co_await c.async_lease_grant(ttl);
    if (!grant) {
      st->note(grant.error().message);
      co_await st->sleep_until(steady::now() + std::chrono::seconds(1));
      continue;
    }
    st->lease = grant->id;
    etcd::txn_request t;
    t.conditions.push_back(etcd::absent(st->key));
    t.success.emplace_back(etcd::put_request{st->key, st->options.identity, grant->id, false});
    t.failure.emplace_back(etcd::get(st->key));
    auto won = co_await c.async_txn(t);
    if (!won || !won->succeeded) {
      // Lost the race (or no answer): the unused lease expires by itself.
      if (!won) st->note(won.error().message);
      co_await st->sleep_until(steady::now() + std::chrono::milliseconds(200));
      continue;
    }
    st->created_at = won->header.revision;
    st->key_changed = false;
    st->valid_until = (started + ttl - kMargin).time_since_epoch().count();
    st->elected = true;
    {
      std::lock_guard lock(st->mutex);
      ++st->elections;
      st->holder = st->options.identity;
    }
    st->changed(write_fence{st->key, st->created_at});
    co_await hold(st, c, started);
    st->elected = false;
    st->changed(std::nullopt);
    if (!st->stopping) {
      std::lock_guard lock(st->mutex);
      ++st->losses;
    }
    // The key goes with the lease: whoever is next need not wait for the TTL.
    auto lease = st->lease.exchange(0);
    if (lease) co_await c.async_lease_revoke(lease, steady::now() + std::chrono::seconds(2));
  }
}

}  // namespace

etcd_election::etcd_election(etcd_store& store, election_options options,
                             std::function<void(std::optional<write_fence>)> changed)
    : store_(store), key_(store.prefix() + "leader"), state_(std::make_shared<state>()) {
  state_->options = std::move(options);
  state_->key = key_;
  state_->changed = std::move(changed);
  std::weak_ptr<state> weak = state_;
  store_.on_key("leader", [weak](const etcd::watch_event& ev) {
    auto st = weak.lock();
    if (!st || !st->wake || ev.kv.key != st->key) return;  // the key itself, not "leaderboard"
    // A lagging watch may still bring the previous term's end: older than this term, no news.
    if (st->elected && ev.kv.mod_revision < st->created_at) return;
    bool ours = ev.type == etcd::watch_event::kind::put && st->elected &&
                ev.kv.create_revision == st->created_at;
    if (ev.type == etcd::watch_event::kind::put && !ours) st->set_holder(ev.kv.value);
    if (!ours) {
      st->key_changed = true;
      st->wake->cancel();
    }
  });
}

etcd_election::~etcd_election() {
  state_->stopping = true;
}

void etcd_election::start() {
  auto st = state_;
  store_.spawn([st](etcd::client& c) { return campaign(st, c); });
}

void etcd_election::resign() {
  state_->stopping = true;
  auto st = state_;
  // Wakes the campaign (it stops), and revokes the lease here rather than after the TTL.
  store_.call<bool>([st](etcd::client& c) -> asio::awaitable<bool> {
    if (st->wake) st->wake->cancel();
    auto lease = st->lease.exchange(0);
    if (lease) co_await c.async_lease_revoke(lease);
    co_return true;
  });
}

void etcd_election::step_down() {
  auto st = state_;
  // The lease revoked, the key goes with it; the keep-alive then finds the lease gone, and the
  // campaign starts again.
  store_.call<bool>([st](etcd::client& c) -> asio::awaitable<bool> {
    auto lease = st->lease.load();
    if (lease) co_await c.async_lease_revoke(lease);
    if (st->wake) st->wake->cancel();
    co_return true;
  });
}

bool etcd_election::leader() const {
  return state_->elected && steady::now().time_since_epoch().count() < state_->valid_until.load();
}

etcd_election::figures etcd_election::stats() const {
  figures f;
  f.leader = leader();
  std::lock_guard lock(state_->mutex);
  f.holder = state_->holder;
  f.elections = state_->elections;
  f.losses = state_->losses;
  f.last_error = state_->last_error;
  return f;
}

}  // namespace certherd::stores
