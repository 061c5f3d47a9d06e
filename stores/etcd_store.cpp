#include "stores/etcd_store.hpp"

#include "pki/encoding.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <future>
#include <thread>

namespace certherd::stores {
namespace {

namespace asio = boost::asio;

constexpr std::string_view kCertificates = "certificates/";
constexpr std::string_view kKeyCheck = "keys/check";
constexpr std::string_view kKeyCheckText = "certherd store key check";
constexpr std::int64_t kPage = 500;

failure io_failure(std::string message) {
  return fail(failure_kind::store_io, std::move(message));
}

bool safe_name(const std::string& name) {
  if (name.empty() || name.size() > 255 || name.front() == '.') return false;
  for (unsigned char c : name) {
    if (c < 0x21 || c == 0x7f || c == '/') return false;
  }
  return true;
}

}  // namespace

std::string checked_prefix(std::string_view prefix, std::string& why) {
  if (prefix.empty()) {
    why = "ETCD_PREFIX is empty";
    return {};
  }
  if (prefix.size() > 200) {
    why = "ETCD_PREFIX is longer than 200 characters";
    return {};
  }
  for (unsigned char c : prefix) {
    if (c < 0x21 || c >= 0x7f) {
      why = "ETCD_PREFIX may hold printable ASCII characters only, no spaces";
      return {};
    }
  }
  std::string out(prefix);
  if (out.back() != '/') out += '/';
  return out;
}

struct etcd_store::worker {
  // Declared first, destroyed last: the coroutines' cancellation slots live in these signals,
  // and a coroutine frame still held by the io_context is destroyed with it.
  asio::cancellation_signal stop_watch;
  std::vector<std::unique_ptr<asio::cancellation_signal>> stop_spawned;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> guard{ioc.get_executor()};
  std::unique_ptr<http::client> http;
  std::unique_ptr<etcd::client> client;
  std::promise<void> ran;
  std::thread thread;
  std::chrono::milliseconds wait;
};

etcd_store::etcd_store(etcd_store_options options, key_ring ring)
    : options_(std::move(options)), ring_(std::move(ring)), worker_(std::make_unique<worker>()) {
  worker_->http = std::make_unique<http::client>(worker_->ioc.get_executor(), options_.http);
  worker_->client = std::make_unique<etcd::client>(*worker_->http, options_.client);
  worker_->wait = options_.client.call_timeout + std::chrono::seconds(1);
  worker_->thread = std::thread([w = worker_.get()] {
    w->ioc.run();
    w->ran.set_value();
  });
}

etcd_store::~etcd_store() {
  // Everything on the store's thread is asked to end, and gets a moment to; what does not end
  // by then is stopped (its frame is destroyed with the io_context).
  auto ran = worker_->ran.get_future();
  asio::post(worker_->ioc, [w = worker_.get()] {
    w->stop_watch.emit(asio::cancellation_type::all);
    for (auto& s : w->stop_spawned)
      s->emit(asio::cancellation_type::all);
    w->http->close_idle();
  });
  worker_->guard.reset();
  if (ran.wait_for(std::chrono::seconds(3)) != std::future_status::ready) worker_->ioc.stop();
  worker_->thread.join();
}

std::string etcd_store::key_of(const std::string& name) const {
  return options_.prefix + std::string(kCertificates) + name;
}

bool etcd_store::run_on_worker(std::function<asio::awaitable<void>(etcd::client&)> f) {
  auto done = std::make_shared<std::promise<void>>();
  auto ended = done->get_future();
  asio::co_spawn(
      worker_->ioc,
      [f = std::move(f), done, w = worker_.get()]() -> asio::awaitable<void> {
        try {
          co_await f(*w->client);
        } catch (const std::exception& e) {
          // Said by the caller as no answer; the reason goes to the log.
          spdlog::error("event=etcd_call_failed error=\"{}\"", e.what());
        }
        done->set_value();
      },
      asio::detached);
  return ended.wait_for(worker_->wait) == std::future_status::ready;
}

// The associated data of a record's sealed key: its name and its chain, so that a sealed key
// moved to another record, or put beside another chain, does not open.
static std::string sealed_key_name(const std::string& name, std::string_view chain_pem) {
  return std::string(kCertificates) + name + "\n" + pki::hex_encode(pki::sha256(chain_pem));
}

etcd_store::entry etcd_store::decode(const std::string& name, const std::string& value,
                                     std::int64_t mod_revision) const {
  entry e;
  e.mod_revision = mod_revision;
  e.size = value.size();
  std::string where =
      fmt::format("etcd record {}{}", options_.prefix, std::string(kCertificates) + name);
  auto parsed = from_json(value);
  if (!parsed) {
    e.error = fmt::format("{}: {}", where, parsed.error().message);
    return e;
  }
  if (parsed->name != name) {
    e.error = fmt::format("{} holds the record of another name", where);
    return e;
  }
  if (!parsed->key_pem.empty()) {
    auto key = ring_.open(parsed->key_pem, sealed_key_name(name, parsed->chain_pem));
    if (!key) {
      e.error = fmt::format("{}: {}", where, key.error().message);
      e.wrong_key = ring_.sealed_by_unknown_key(parsed->key_pem);
      return e;
    }
    parsed->key_pem = std::move(*key);
  }
  e.record = std::move(*parsed);
  return e;
}

outcome<> etcd_store::check_key(int attempts) {
  std::string key = options_.prefix + std::string(kKeyCheck);
  auto got = call<etcd::result<etcd::range_response>>(
      [key](etcd::client& c) { return c.async_range(etcd::get(key)); });
  if (!got) return io_failure("etcd: no answer before the deadline");
  if (!*got) return io_failure(got->error().message);
  if (!(*got)->kvs.empty()) {
    const auto& kv = (*got)->kvs.front();
    auto opened = ring_.open(kv.value, kKeyCheck);
    if (!opened || *opened != kKeyCheckText) {
      return fail(
          failure_kind::configuration,
          fmt::format("STORE_KEY_FILE does not open what the store under ETCD_PREFIX={} "
                      "holds ({}); nothing was written",
                      options_.prefix,
                      opened ? std::string("another check value") : opened.error().message));
    }
    if (ring_.sealed_by_current(kv.value)) return {};
  }
  // Absent, or sealed by an older key of the ring: written (again) with the current key, only
  // if nobody changed it meanwhile.
  auto sealed = ring_.seal(kKeyCheckText, kKeyCheck);
  if (!sealed) return sealed.error();
  etcd::txn_request t;
  std::int64_t at = (*got)->kvs.empty() ? 0 : (*got)->kvs.front().mod_revision;
  t.conditions.push_back(etcd::modified_at(key, at));
  t.success.emplace_back(etcd::put_request{key, *sealed, 0, false});
  auto put =
      call<etcd::result<etcd::txn_response>>([t](etcd::client& c) { return c.async_txn(t); });
  if (!put) return io_failure("etcd: no answer before the deadline");
  if (!*put) return io_failure(put->error().message);
  // Another replica wrote it first: theirs is checked — a few times, not for as long as
  // something keeps rewriting it.
  if (!(*put)->succeeded) {
    if (attempts <= 1) {
      return io_failure(fmt::format("{}{} changed at every look; nothing was written",
                                    options_.prefix, kKeyCheck));
    }
    return check_key(attempts - 1);
  }
  return {};
}

asio::awaitable<outcome<etcd_store::snapshot>> etcd_store::read_all(etcd::client& c) {
  std::string first = options_.prefix + std::string(kCertificates);
  std::string end = etcd::prefix_end(first);
  snapshot out;
  std::string from = first;
  for (;;) {
    etcd::range_request r;
    r.key = from;
    r.range_end = end;
    r.limit = kPage;
    r.revision = out.revision;  // every page at the first page's revision: one consistent view
    auto page = co_await c.async_range(r);
    if (!page) co_return io_failure(page.error().message);
    if (out.revision == 0) out.revision = page->header.revision;
    for (const auto& kv : page->kvs) {
      if (!kv.key.starts_with(first)) continue;
      std::string name = kv.key.substr(first.size());
      if (!safe_name(name)) continue;  // no record of certherd's can have that name
      out.entries[name] = decode(name, kv.value, kv.mod_revision);
    }
    if (!page->more || page->kvs.empty()) break;
    from = page->kvs.back().key + std::string(1, '\0');
  }
  co_return out;
}

std::vector<std::string> etcd_store::adopt(snapshot fresh) {
  // What was saved here after the read is newer than the read: kept. What the read does not
  // have and nothing newer wrote was deleted.
  std::vector<std::string> changed;
  std::lock_guard lock(mutex_);
  for (auto it = mirror_.begin(); it != mirror_.end();) {
    if (!fresh.entries.count(it->first) && it->second.mod_revision <= fresh.revision) {
      changed.push_back(it->first);
      it = mirror_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [name, e] : fresh.entries) {
    auto it = mirror_.find(name);
    if (it != mirror_.end() && it->second.mod_revision >= e.mod_revision) continue;
    changed.push_back(name);
    mirror_[name] = std::move(e);
  }
  applied_ = std::max(applied_, fresh.revision);
  return changed;
}

void etcd_store::apply(const etcd::watch_response& r) {
  std::string first = options_.prefix + std::string(kCertificates);
  std::vector<std::string> changed;
  std::vector<std::pair<std::function<void(const etcd::watch_event&)>, const etcd::watch_event*>>
      keyed;
  std::function<void(const std::string&)> notify;
  {
    std::lock_guard lock(mutex_);
    notify = changed_;
    for (const auto& ev : r.events) {
      if (!ev.kv.key.starts_with(options_.prefix)) continue;
      if (!ev.kv.key.starts_with(first)) {
        std::string_view sub =
            std::string_view(ev.kv.key).substr(std::min(ev.kv.key.size(), options_.prefix.size()));
        for (const auto& [subkey, f] : key_handlers_) {
          if (sub.starts_with(subkey)) keyed.emplace_back(f, &ev);
        }
        continue;
      }
      std::string name = ev.kv.key.substr(first.size());
      if (!safe_name(name)) continue;
      auto it = mirror_.find(name);
      // What this replica wrote is in the mirror already, at its revision: older news is none.
      if (it != mirror_.end() && it->second.mod_revision >= ev.kv.mod_revision) continue;
      if (ev.type == etcd::watch_event::kind::remove) {
        if (it != mirror_.end()) mirror_.erase(it);
      } else {
        mirror_[name] = decode(name, ev.kv.value, ev.kv.mod_revision);
      }
      changed.push_back(std::move(name));
    }
  }
  // Handlers run before the applied revision moves: whoever waits for it finds them done.
  for (const auto& [f, ev] : keyed)
    f(*ev);
  if (notify) {
    for (const auto& name : changed)
      notify(name);
  }
  std::lock_guard lock(mutex_);
  // Only events, and a progress notification (everything up to its revision was sent), say
  // what has been applied; a created answer's header is the cluster's, ahead of the history
  // still to come.
  for (const auto& ev : r.events)
    applied_ = std::max(applied_, ev.kv.mod_revision);
  if (r.events.empty() && !r.created && !r.canceled)
    applied_ = std::max(applied_, r.header.revision);
}

void etcd_store::on_key(std::string subkey, std::function<void(const etcd::watch_event&)> f) {
  std::lock_guard lock(mutex_);
  key_handlers_.emplace_back(std::move(subkey), std::move(f));
}

void etcd_store::spawn(std::function<asio::awaitable<void>(etcd::client&)> f) {
  auto signal = std::make_unique<asio::cancellation_signal>();
  auto slot = signal->slot();
  worker_->stop_spawned.push_back(std::move(signal));
  asio::co_spawn(
      worker_->ioc,
      [f = std::move(f), w = worker_.get()]() -> asio::awaitable<void> { co_await f(*w->client); },
      asio::bind_cancellation_slot(slot, asio::detached));
}

std::int64_t etcd_store::revision() const {
  std::lock_guard lock(mutex_);
  return applied_;
}

// The watch of the whole prefix, from the revision after `from`, until the store is destroyed;
// after a compaction, everything is read again and watched from there.
asio::awaitable<void> etcd_store::watch_from(std::int64_t from) {
  auto& c = *worker_->client;
  for (;;) {
    etcd::watch_request req;
    req.key = options_.prefix;
    req.range_end = etcd::prefix_end(options_.prefix);
    req.start_revision = from + 1;
    etcd::watch_end end;
    try {
      end = co_await c.async_watch(req, [this](const etcd::watch_response& r) {
        apply(r);
        return http::stream_step::more;
      });
    } catch (const std::exception& e) {
      end.why = {etcd::errc::other, 0, std::string("etcd watch: ") + e.what(), false};
    }
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) co_return;
    {
      std::lock_guard lock(mutex_);
      last_error_ = end.why.message;
    }
    spdlog::warn("event=etcd_watch_ended error=\"{}\"", end.why.message);
    if (end.why.code == etcd::errc::compacted) {
      // History is gone: everything is read again (paged, at one revision) and merged.
      for (;;) {
        auto snap = co_await read_all(c);
        if (snap) {
          from = snap->revision;
          auto changed = adopt(std::move(*snap));
          std::function<void(const std::string&)> notify;
          {
            std::lock_guard lock(mutex_);
            notify = changed_;
          }
          if (notify) {
            for (const auto& n : changed)
              notify(n);
          }
          co_await replay_keys(c, from);
          break;
        }
        asio::steady_timer t(worker_->ioc, std::chrono::seconds(1));
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
      }
      continue;
    }
    // Refused (another error than a lost connection, which the client mends by itself): asked
    // again after a pause, from where it was.
    {
      std::lock_guard lock(mutex_);
      from = std::max(from, applied_);
    }
    asio::steady_timer t(worker_->ioc, std::chrono::seconds(5));
    auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
}

// After a compaction the events of the gap are gone for the key handlers too (the election key,
// challenge tokens, the budgets): each is handed what its keys hold at `revision`, as puts, and
// when the handler's exact key (the election key, the budgets) is absent then, its removal — so
// an election key deleted in the gap still wakes the followers. Keys below a prefix that were
// deleted in the gap are not told (a token published here stays until this replica restarts:
// it answers only for its own token). A handler takes a put it has seen already as no news.
asio::awaitable<void> etcd_store::replay_keys(etcd::client& c, std::int64_t revision) {
  std::vector<std::pair<std::string, std::function<void(const etcd::watch_event&)>>> handlers;
  {
    std::lock_guard lock(mutex_);
    handlers = key_handlers_;
  }
  for (const auto& [subkey, f] : handlers) {
    std::string key = options_.prefix + subkey;
    auto r = etcd::under(key);
    r.revision = revision;
    auto got = co_await c.async_range(r);
    if (!got) {
      spdlog::warn("event=etcd_replay_failed key=\"{}\" error=\"{}\"", subkey, got.error().message);
      continue;
    }
    bool exact = false;
    for (const auto& kv : got->kvs) {
      exact = exact || kv.key == key;
      f(etcd::watch_event{etcd::watch_event::kind::put, kv, std::nullopt});
    }
    if (!exact) {
      etcd::key_value gone;
      gone.key = key;
      gone.mod_revision = revision;
      f(etcd::watch_event{etcd::watch_event::kind::remove, gone, std::nullopt});
    }
  }
}

outcome<> etcd_store::open() {
  if (auto checked = check_key(); !checked) return checked;
  auto snap = call<outcome<snapshot>>([this](etcd::client& c) { return read_all(c); });
  if (!snap) return io_failure("etcd: no answer before the deadline reading the records");
  if (!*snap) return snap->error();
  std::int64_t from = (*snap)->revision;
  for (const auto& [name, e] : (*snap)->entries) {
    // A record sealed by a key this replica does not hold: the wrong STORE_KEY_FILE.
    if (!e.record && e.wrong_key) {
      return fail(failure_kind::configuration, e.error + "; nothing was written");
    }
  }
  adopt(std::move(**snap));
  asio::co_spawn(worker_->ioc, watch_from(from),
                 asio::bind_cancellation_slot(worker_->stop_watch.slot(), asio::detached));
  return {};
}

outcome<std::optional<stored_certificate>> etcd_store::load(const std::string& name) {
  if (!safe_name(name)) return io_failure(fmt::format("'{}' cannot name a record", name));
  std::lock_guard lock(mutex_);
  auto it = mirror_.find(name);
  if (it == mirror_.end()) return std::optional<stored_certificate>();
  if (!it->second.record) return io_failure(it->second.error);
  return std::optional<stored_certificate>(*it->second.record);
}

outcome<> etcd_store::save(const stored_certificate& record) {
  if (!safe_name(record.name)) {
    return io_failure(fmt::format("'{}' cannot name a record", record.name));
  }
  std::optional<write_fence> fence;
  std::int64_t held_at = 0;  // the revision of the record this save replaces (0: none)
  {
    std::lock_guard lock(mutex_);
    auto it = mirror_.find(record.name);
    if (it != mirror_.end() && !it->second.record) {
      return io_failure(it->second.error + "; left alone");  // never replace what we cannot read
    }
    if (it != mirror_.end()) held_at = it->second.mod_revision;
    if (fence_) {
      if (!*fence_) {
        return fail(failure_kind::conflict,
                    "not the leader: only the leader writes certificates to etcd");
      }
      fence = **fence_;
    }
  }
  stored_certificate sealed = record;
  if (!record.key_pem.empty()) {
    auto s = ring_.seal(record.key_pem, sealed_key_name(record.name, record.chain_pem));
    if (!s) return s.error();
    sealed.key_pem = std::move(*s);
  }
  std::string key = key_of(record.name);
  etcd::txn_request t;
  // Applied only over the record this replica holds (a newer one, from a previous leader or
  // a planted one not yet seen, is never overwritten) and, when fenced, while this replica
  // still leads.
  t.conditions.push_back(etcd::modified_at(key, held_at));
  if (fence) {
    etcd::compare c;
    c.key = fence->key;
    c.what = etcd::compare::target::create_revision;
    c.result = etcd::compare::op::equal;
    c.number = fence->create_revision;
    t.conditions.push_back(std::move(c));
    t.failure.emplace_back(etcd::get(fence->key));
  }
  std::string value = to_json(sealed);
  t.success.emplace_back(etcd::put_request{key, value, 0, false});
  auto deadline = std::chrono::steady_clock::now() + options_.client.call_timeout;
  auto done = call<etcd::result<etcd::txn_response>>(
      [t, deadline](etcd::client& c) { return c.async_txn(t, deadline); });
  if (!done) {
    return io_failure(
        fmt::format("saving {}: no answer from etcd before the deadline (it may "
                    "still be applied; the record is saved again)",
                    key));
  }
  if (!*done) {
    std::lock_guard lock(mutex_);
    last_error_ = done->error().message;
    return io_failure(fmt::format("saving {}: {}", key, done->error().message));
  }
  if (!(*done)->succeeded) {
    bool fenced_out = false;
    if (fence && !(*done)->responses.empty()) {
      const auto* leader = std::get_if<etcd::range_response>(&(*done)->responses.front());
      fenced_out = !leader || leader->kvs.empty() ||
                   leader->kvs.front().create_revision != fence->create_revision;
    }
    if (fenced_out) {
      return fail(
          failure_kind::conflict,
          fmt::format(
              "saving {}: the leadership this replica wrote under has ended (the election key {} "
              "changed); nothing was written",
              key, fence->key));
    }
    return fail(failure_kind::conflict,
                fmt::format("saving {}: the record changed in etcd since this replica read it "
                            "(revision {}); nothing was written, and the change is reconciled "
                            "once it is read",
                            key, held_at));
  }
  std::lock_guard lock(mutex_);
  auto& e = mirror_[record.name];
  std::int64_t at = (*done)->header.revision;
  if (e.mod_revision < at) {
    e.record = record;
    e.error.clear();
    e.wrong_key = false;
    e.mod_revision = at;
    e.size = value.size();
  }
  return {};
}

outcome<std::vector<std::string>> etcd_store::names() {
  std::vector<std::string> out;
  std::lock_guard lock(mutex_);
  out.reserve(mirror_.size());
  for (const auto& [name, e] : mirror_)
    out.push_back(name);
  return out;
}

std::optional<file_stamp> etcd_store::version(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = mirror_.find(name);
  if (it == mirror_.end()) return std::nullopt;
  return file_stamp{static_cast<unsigned long long>(it->second.mod_revision),
                    static_cast<long long>(it->second.size), 0};
}

void etcd_store::set_fence(std::optional<write_fence> fence) {
  std::lock_guard lock(mutex_);
  fence_ = std::move(fence);
}

void etcd_store::on_change(std::function<void(const std::string&)> f) {
  std::lock_guard lock(mutex_);
  changed_ = std::move(f);
}

etcd_store::figures etcd_store::stats() const {
  figures f;
  std::lock_guard lock(mutex_);
  f.watching = worker_->client->open_watches() > 0;
  f.requests = worker_->client->requests();
  f.unreachable_since = worker_->client->unreachable_since();
  f.revision = applied_;
  for (const auto& [name, e] : mirror_)
    f.unreadable += e.record ? 0 : 1;
  f.last_error = last_error_;
  return f;
}

}  // namespace certherd::stores
