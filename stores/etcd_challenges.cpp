#include "stores/etcd_challenges.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

namespace certherd::stores {
namespace {

constexpr std::string_view kChallenges = "challenges/";

}  // namespace

etcd_challenge_presenter::etcd_challenge_presenter(etcd_store& store,
                                                   acme::challenge_presenter& local,
                                                   boost::asio::any_io_executor executor)
    : store_(store), local_(local) {
  // Every replica: what the watch brings is published here too, on the event loop.
  // The handler runs on the store's thread, which may outlive this object: it holds no `this`;
  // what it posts runs on the event loop only while it runs, when the presenter is alive.
  auto* local_presenter = &local_;
  std::size_t skip = store_.prefix().size() + kChallenges.size();
  store_.on_key(
      std::string(kChallenges), [local_presenter, skip, executor](const etcd::watch_event& ev) {
        if (ev.kv.key.size() <= skip) return;
        std::string token = ev.kv.key.substr(skip);
        if (!acme::is_safe_token(token)) return;  // never a path outside the challenge folder
        if (ev.type == etcd::watch_event::kind::remove) {
          boost::asio::post(executor, [local_presenter, token] {
            local_presenter->remove({"", token});
          });
          return;
        }
        std::string value = ev.kv.value;
        if (value.size() > 1024) return;  // a key authorization is token '.' thumbprint
        boost::asio::post(executor, [local_presenter, token, value] {
          std::string detail;
          auto ec = local_presenter->present({"", token, value}, detail);
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
      if (kv.key.size() <= skip || kv.value.size() > 1024) continue;
      std::string token = kv.key.substr(skip);
      if (!acme::is_safe_token(token)) continue;
      std::string detail;
      local_.present({"", token, kv.value}, detail);
    }
  }
}

std::error_code etcd_challenge_presenter::present(const acme::present_challenge& c,
                                                  std::string& detail) {
  if (auto ec = local_.present(c, detail)) return ec;
  std::string key = store_.prefix() + std::string(kChallenges) + c.token;
  std::string value = c.key_authorization;
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
