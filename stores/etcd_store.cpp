#include "stores/etcd_store.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
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
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> guard{ioc.get_executor()};
  std::unique_ptr<http::client> http;
  std::unique_ptr<etcd::client> client;
  asio::cancellation_signal stop_watch;
  std::thread thread;
  std::chrono::milliseconds wait;
  std::atomic<std::size_t> requests{0};
};

etcd_store::etcd_store(etcd_store_options options, key_ring ring)
    : options_(std::move(options)), ring_(std::move(ring)), worker_(std::make_unique<worker>()) {
  // The HTTP client's own deadlines stay above the etcd call's: the call decides.
  worker_->http = std::make_unique<http::client>(worker_->ioc.get_executor(), options_.http);
  worker_->client = std::make_unique<etcd::client>(*worker_->http, options_.client);
  worker_->wait = options_.client.call_timeout + std::chrono::seconds(1);
  worker_->thread = std::thread([w = worker_.get()] { w->ioc.run(); });
}

etcd_store::~etcd_store() {
  asio::post(worker_->ioc,
             [w = worker_.get()] { w->stop_watch.emit(asio::cancellation_type::all); });
  worker_->guard.reset();
  worker_->ioc.stop();
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
        co_await f(*w->client);
        w->requests = w->client->requests();
        done->set_value();
      },
      asio::detached);
  return ended.wait_for(worker_->wait) == std::future_status::ready;
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
    auto key = ring_.open(parsed->key_pem, std::string(kCertificates) + name);
    if (!key) {
      e.error = fmt::format("{}: {}", where, key.error().message);
      return e;
    }
    parsed->key_pem = std::move(*key);
  }
  e.record = std::move(*parsed);
  return e;
}

outcome<> etcd_store::check_key() {
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
  if (!(*put)->succeeded) return check_key();  // another replica wrote it first: check theirs
  return {};
}

outcome<std::int64_t> etcd_store::read_all() {
  std::string first = options_.prefix + std::string(kCertificates);
  std::string end = etcd::prefix_end(first);
  std::map<std::string, entry> fresh;
  std::int64_t at = 0;
  std::string from = first;
  for (;;) {
    etcd::range_request r;
    r.key = from;
    r.range_end = end;
    r.limit = kPage;
    r.revision = at;  // every page read at the first page's revision: one consistent view
    auto page =
        call<etcd::result<etcd::range_response>>([r](etcd::client& c) { return c.async_range(r); });
    if (!page) return io_failure("etcd: no answer before the deadline");
    if (!*page) return io_failure((*page).error().message);
    if (at == 0) at = (*page)->header.revision;
    for (const auto& kv : (*page)->kvs) {
      std::string name = kv.key.substr(first.size());
      fresh[name] = decode(name, kv.value, kv.mod_revision);
    }
    if (!(*page)->more || (*page)->kvs.empty()) break;
    from = (*page)->kvs.back().key + std::string(1, '\0');
  }
  std::lock_guard lock(mutex_);
  mirror_ = std::move(fresh);
  revision_ = std::max(revision_, at);
  return at;
}

void etcd_store::apply(const etcd::watch_response& r) {
  std::string first = options_.prefix + std::string(kCertificates);
  std::vector<std::string> changed;
  {
    std::lock_guard lock(mutex_);
    watching_ = true;
    revision_ = std::max(revision_, r.header.revision);
    for (const auto& ev : r.events) {
      if (!ev.kv.key.starts_with(first)) continue;
      std::string name = ev.kv.key.substr(first.size());
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
    for (const auto& ev : r.events)
      revision_ = std::max(revision_, ev.kv.mod_revision);
  }
  if (changed_) {
    for (const auto& name : changed)
      changed_(name);
  }
}

outcome<> etcd_store::open() {
  if (auto checked = check_key(); !checked) return checked;
  auto at = read_all();
  if (!at) return at.error();
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, e] : mirror_) {
      // A record sealed by a key this replica does not hold: the wrong STORE_KEY_FILE.
      if (!e.record && e.error.find("which STORE_KEY_FILE does not hold") != std::string::npos) {
        return fail(failure_kind::configuration, e.error + "; nothing was written");
      }
    }
  }
  // The watch, from the revision after the read, until the store is destroyed.
  auto self = this;
  asio::co_spawn(
      worker_->ioc,
      [self, w = worker_.get()]() -> asio::awaitable<void> {
        std::string first = self->options_.prefix + std::string(kCertificates);
        for (;;) {
          etcd::watch_request req;
          req.key = first;
          req.range_end = etcd::prefix_end(first);
          {
            std::lock_guard lock(self->mutex_);
            req.start_revision = self->revision_ + 1;
          }
          auto end = co_await w->client->async_watch(req, [self](const etcd::watch_response& r) {
            self->apply(r);
            return http::stream_step::more;
          });
          self->watching_ = false;
          w->requests = w->client->requests();
          if (end.why.code != etcd::errc::compacted) co_return;  // stopped
          // History is gone: read everything again, then watch from there.
          for (;;) {
            auto page = co_await w->client->async_range(etcd::under(first));
            if (page) {
              std::map<std::string, entry> fresh;
              for (const auto& kv : page->kvs) {
                std::string name = kv.key.substr(first.size());
                fresh[name] = self->decode(name, kv.value, kv.mod_revision);
              }
              std::vector<std::string> names;
              {
                std::lock_guard lock(self->mutex_);
                for (const auto& [n, e] : self->mirror_)
                  names.push_back(n);
                for (const auto& [n, e] : fresh)
                  names.push_back(n);
                self->mirror_ = std::move(fresh);
                self->revision_ = page->header.revision;
              }
              if (self->changed_) {
                for (const auto& n : names)
                  self->changed_(n);
              }
              break;
            }
            asio::steady_timer t(w->ioc, std::chrono::seconds(1));
            auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
            if (ec) co_return;
          }
        }
      },
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
  {
    std::lock_guard lock(mutex_);
    auto it = mirror_.find(record.name);
    if (it != mirror_.end() && !it->second.record) {
      return io_failure(it->second.error + "; left alone");  // never replace what we cannot read
    }
    if (fence_) {
      if (!*fence_) {
        return io_failure("not the leader: only the leader writes certificates to etcd");
      }
      fence = **fence_;
    }
  }
  stored_certificate sealed = record;
  if (!record.key_pem.empty()) {
    auto s = ring_.seal(record.key_pem, std::string(kCertificates) + record.name);
    if (!s) return s.error();
    sealed.key_pem = std::move(*s);
  }
  std::string key = key_of(record.name);
  etcd::txn_request t;
  if (fence) {
    etcd::compare c;
    c.key = fence->key;
    c.what = etcd::compare::target::create_revision;
    c.result = etcd::compare::op::equal;
    c.number = fence->create_revision;
    t.conditions.push_back(std::move(c));
  }
  std::string value = to_json(sealed);
  t.success.emplace_back(etcd::put_request{key, value, 0, false});
  auto done =
      call<etcd::result<etcd::txn_response>>([t](etcd::client& c) { return c.async_txn(t); });
  if (!done) return io_failure(fmt::format("etcd: no answer before the deadline saving {}", key));
  if (!*done) {
    std::lock_guard lock(mutex_);
    last_error_ = done->error().message;
    return io_failure(fmt::format("saving {}: {}", key, done->error().message));
  }
  if (!(*done)->succeeded) {
    return io_failure(fmt::format(
        "saving {}: the leadership this replica wrote under has ended (the election key {} "
        "changed); nothing was written",
        key, fence ? fence->key : std::string()));
  }
  std::lock_guard lock(mutex_);
  auto& e = mirror_[record.name];
  std::int64_t at = (*done)->header.revision;
  if (e.mod_revision < at) {
    e.record = record;
    e.error.clear();
    e.mod_revision = at;
    e.size = value.size();
  }
  revision_ = std::max(revision_, at);
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
  changed_ = std::move(f);
}

etcd_store::figures etcd_store::stats() const {
  figures f;
  std::lock_guard lock(mutex_);
  f.watching = watching_;
  f.requests = worker_->requests;
  f.revision = revision_;
  for (const auto& [name, e] : mirror_)
    f.unreadable += e.record ? 0 : 1;
  f.last_error = last_error_;
  return f;
}

}  // namespace certherd::stores
