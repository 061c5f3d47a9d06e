#include "stores/etcd_challenges.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include <optional>

namespace certherd::stores {
namespace {

constexpr std::string_view kChallenges = "challenges/";

// The key authorization a stored value holds: sealed by a replica with the same key, bound to
// its token, and of the form token '.' thumbprint (RFC 8555 §8.1); nullopt for anything else —
// whoever can write to etcd without STORE_KEY_FILE's key cannot make the replicas answer for an
// account of theirs.
std::optional<std::string> key_authorization_of(const etcd_store& store, const std::string& token,
                                                const std::string& value) {
  if (value.size() > 4096) return std::nullopt;
  auto opened = store.unseal(value, std::string(kChallenges) + token);
  if (!opened || !opened->starts_with(token + ".") || opened->size() > token.size() + 100) {
    return std::nullopt;
  }
  return *opened;
}

}  // namespace

etcd_challenge_presenter::etcd_challenge_presenter(etcd_store& store,
                                                   acme::challenge_presenter& local,
                                                   boost::asio::any_io_executor executor)
    : store_(store), local_(local) {
  // Every replica: what the watch brings is published here too, on the event loop.
  // The handler runs on the store's thread, which may outlive this object: it holds no `this`;
  // what it posts runs on the event loop only while it runs, when the presenter is alive.
  auto* local_presenter = &local_;
  const etcd_store* shared = &store_;
  std::size_t skip = store_.prefix().size() + kChallenges.size();
  store_.on_key(std::string(kChallenges), [local_presenter, shared, skip,
                                           executor](const etcd::watch_event& ev) {
    if (ev.kv.key.size() <= skip) return;
    std::string token = ev.kv.key.substr(skip);
    if (!acme::is_safe_token(token)) return;  // never a path outside the challenge folder
    if (ev.type == etcd::watch_event::kind::remove) {
      boost::asio::post(executor, [local_presenter, token] {
        local_presenter->remove({"", token});
      });
      return;
    }
    auto value = key_authorization_of(*shared, token, ev.kv.value);
    if (!value) return;
    boost::asio::post(executor, [local_presenter, token, v = *value] {
      std::string detail;
      auto ec = local_presenter->present({"", token, v}, detail);
      spdlog::debug("event=challenge_shared token={} error=\"{}\"", token, ec ? detail : "");
    });
  });
  // What was published before the handler was there (another replica leads and has an order in
  // flight): read once, after the handler is in place, so nothing falls between the two.
  std::string under = store_.prefix() + std::string(kChallenges);
  auto now = store_.call<etcd::result<etcd::range_response>>(
      [under](etcd::client& c) { return c.async_range(etcd::under(under)); });
  if (now && *now) {
    for (const auto& kv : (*now)->kvs) {
      if (kv.key.size() <= skip) continue;
      std::string token = kv.key.substr(skip);
      if (!acme::is_safe_token(token)) continue;
      auto value = key_authorization_of(store_, token, kv.value);
      if (!value) continue;
      std::string detail;
      local_.present({"", token, *value}, detail);
    }
  }
}

std::error_code etcd_challenge_presenter::present(const acme::present_challenge& c,
                                                  std::string& detail) {
  if (auto ec = local_.present(c, detail)) return ec;
  std::string key = store_.prefix() + std::string(kChallenges) + c.token;
  auto sealed = store_.seal(c.key_authorization, std::string(kChallenges) + c.token);
  if (!sealed) {
    detail = sealed.error().message;
    return std::make_error_code(std::errc::io_error);
  }
  std::string value = std::move(*sealed);
  auto done = store_.call<etcd::result<etcd::put_response>>(
      [key, value](etcd::client& cl) -> boost::asio::awaitable<etcd::result<etcd::put_response>> {
        auto lease = co_await cl.async_lease_grant(kTokenLease);
        if (!lease) co_return lease.error();
        // Named, not a braced temporary: GCC 12 frees a braced argument of a co_await twice.
        etcd::put_request put{key, value, lease->id, false};
        co_return co_await cl.async_put(std::move(put));
      });
  if (!done || !*done) {
    detail = "the other replicas could not be told the challenge (etcd: " +
             (done ? done->error().message : std::string("no answer before the deadline")) + ")";
    return std::make_error_code(std::errc::io_error);
  }
  return {};
}

void etcd_challenge_presenter::remove(const acme::remove_challenge& c) {
  local_.remove(c);
  std::string key = store_.prefix() + std::string(kChallenges) + c.token;
  store_.call<etcd::result<etcd::delete_response>>([key](etcd::client& cl) {
    return cl.async_delete({key, "", false});
  });
}

}  // namespace certherd::stores
