#include "clients/rancher/api.hpp"

#include "clients/http/url.hpp"
#include "pki/encoding.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <set>

namespace certherd::rancher {
namespace {

namespace asio = boost::asio;

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

std::string certificate_json(const certificate_body& b, bool create) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto field = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  if (create) {
    w.Key("type");
    w.String("certificate");
  }
  field("name", b.name);
  field("cert", b.cert);
  w.Key("certChain");
  if (b.cert_chain.empty()) {
    w.Null();
  } else {
    w.String(b.cert_chain.c_str(), static_cast<rapidjson::SizeType>(b.cert_chain.size()));
  }
  field("key", b.key);
  field("description", b.description);
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

error unexpected(unsigned status, std::string_view body, std::string_view what) {
  error e = decode_error(status, body);
  if (e.code.empty()) e.message = fmt::format("unexpected answer to {}", what);
  return e;
}

}  // namespace

std::string api_base(std::string_view url) {
  if (!url.starts_with("http://") && !url.starts_with("https://")) return {};
  std::string u(url);
  while (!u.empty() && u.back() == '/')
    u.pop_back();
  if (u.ends_with("/schemas")) u.erase(u.size() - 8);
  while (!u.empty() && u.back() == '/')
    u.pop_back();
  if (u.ends_with("/v1")) {
    u.erase(u.size() - 3);
  } else if (u.ends_with("/v2-beta")) {
    u.erase(u.size() - 8);
  }
  return u + "/v2-beta";
}

std::string subscribe_url(std::string_view base, std::string_view project_id) {
  std::string ws = base.starts_with("https://") ? "wss://" + std::string(base.substr(8))
                                                : "ws://" + std::string(base.substr(7));
  return fmt::format("{}/projects/{}/subscribe?eventNames=resource.change", ws, project_id);
}

std::string on_origin(std::string_view base, std::string_view link) {
  // Links are absolute and may name another host (a proxy's view) or plain http: only the path
  // and query are taken, and sent to CATTLE_URL's own origin with the credentials.
  if (link.empty()) return {};
  auto parsed = boost::urls::parse_uri_reference(link);
  if (!parsed) return {};
  auto origin = boost::urls::parse_uri(base);
  if (!origin) return {};
  boost::urls::url u = *origin;
  u.set_encoded_path(parsed->encoded_path());
  if (parsed->has_query()) {
    u.set_encoded_query(parsed->encoded_query());
  } else {
    u.remove_query();
  }
  return std::string(u.buffer());
}

api::api(http::client& client, api_options options)
    : client_(client), options_(std::move(options)), base_(api_base(options_.url)) {}

std::string api::authorization() const {
  return "Basic " + pki::base64_encode(options_.access_key + ":" + options_.secret_key);
}

std::string api::collection(std::string_view name) const {
  return fmt::format("{}/projects/{}/{}", base_, project_, name);
}

asio::awaitable<result<api::reply>> api::async_call(http::method verb, std::string url,
                                                    std::string body) {
  http::request req;
  req.verb = verb;
  req.url = std::move(url);
  req.headers.push_back({"Authorization", authorization()});
  req.headers.push_back({"Accept", "application/json"});
  if (!body.empty()) {
    req.headers.push_back({"Content-Type", "application/json"});
    req.body = std::move(body);
  }
  ++requests_;
  auto deadline = std::chrono::steady_clock::now() + options_.call_timeout;
  auto rsp = co_await client_.async_request(std::move(req), deadline);
  if (!rsp) co_return error{0, "transport", rsp.error().detail, {}};
  co_return reply{rsp->status, std::move(rsp->body)};
}

asio::awaitable<result<api::reply>> api::async_get(std::string url) {
  // A named empty body: GCC 12 miscompiles braced temporaries inside co_await operands.
  std::string no_body;
  co_return co_await async_idempotent(http::method::get, std::move(url), std::move(no_body));
}

asio::awaitable<result<api::reply>> api::async_idempotent(http::method verb, std::string url,
                                                          std::string body) {
  error last;
  for (int attempt = 1; attempt <= std::max(1, options_.attempts); ++attempt) {
    if (attempt > 1) co_await sleep_for(options_.retry_delay * (attempt - 1));
    auto r = co_await async_call(verb, url, body);
    if (r && r->status / 100 == 2) co_return r;
    last = r ? decode_error(r->status, r->body) : r.error();
    if (!last.retryable()) break;
  }
  co_return last;
}

asio::awaitable<result<std::string>> api::async_connect() {
  if (base_.empty()) {
    co_return error{0, "config", "CATTLE_URL must be an http:// or https:// URL", {}};
  }
  auto r = co_await async_get(base_ + "/projects");
  if (!r) co_return r.error();
  auto id = decode_project_id(r->body);
  if (!id) co_return id.error();
  project_ = *id;
  co_return project_;
}

template <class T>
asio::awaitable<result<page<T>>> api::async_list_all(std::string url,
                                                     result<page<T>> (*decode)(std::string_view)) {
  page<T> all;
  std::set<std::string> seen;
  while (!url.empty()) {
    // A page seen twice would loop forever: an error, never a silently short list (the mirror
    // would take everything missing from it as removed).
    if (!seen.insert(url).second || seen.size() > 100000) {
      co_return error{0, "decode", "pagination.next repeats a page; the list is incomplete", {}};
    }
    auto r = co_await async_get(url);
    if (!r) co_return r.error();
    auto one = decode(r->body);
    if (!one) co_return one.error();
    for (auto& item : one->data)
      all.data.push_back(std::move(item));
    for (auto& p : one->problems)
      all.problems.push_back(std::move(p));
    url = on_origin(base_, one->next);
  }
  co_return all;
}

asio::awaitable<result<page<certificate>>> api::async_list_certificates() {
  co_return co_await async_list_all<certificate>(
      collection("certificates") + "?removed_null=1&limit=1000", decode_certificates);
}

asio::awaitable<result<std::optional<certificate>>> api::async_find_certificate(std::string name) {
  auto r = co_await async_list_all<certificate>(
      collection("certificates") + "?removed_null=1&name=" + http::percent_encode(name),
      decode_certificates);
  if (!r) co_return r.error();
  for (auto& c : r->data) {
    if (c.name == name && !c.removed) co_return std::optional<certificate>(std::move(c));
  }
  co_return std::optional<certificate>();
}

asio::awaitable<result<certificate>> api::async_get_certificate(std::string id) {
  auto r = co_await async_get(collection("certificates") + "/" + id);
  if (!r) co_return r.error();
  co_return decode_certificate(r->body);
}

asio::awaitable<result<certificate>> api::async_create_certificate(certificate_body body) {
  std::string payload = certificate_json(body, true);
  error last;
  for (int attempt = 1; attempt <= std::max(1, options_.attempts); ++attempt) {
    if (attempt > 1) {
      co_await sleep_for(options_.retry_delay * (attempt - 1));
      // The previous create may have been applied with its answer lost: look before retrying.
      auto found = co_await async_find_certificate(body.name);
      if (found && *found) co_return co_await async_wait_settled(std::move(**found));
    }
    auto r = co_await async_call(http::method::post, collection("certificates"), payload);
    if (r && r->status / 100 == 2) {
      auto c = decode_certificate(r->body);
      if (!c) co_return c.error();
      co_return co_await async_wait_settled(std::move(*c));
    }
    last = r ? unexpected(r->status, r->body, "certificate create") : r.error();
    if (!last.retryable()) break;
  }
  co_return last;
}

asio::awaitable<result<certificate>> api::async_update_certificate(std::string id,
                                                                   certificate_body body) {
  std::string url = collection("certificates") + "/" + id;
  std::string payload = certificate_json(body, false);
  error last;
  for (int attempt = 1; attempt <= std::max(1, options_.attempts); ++attempt) {
    if (attempt > 1) co_await sleep_for(options_.retry_delay * (attempt - 1));
    auto r = co_await async_call(http::method::put, url, payload);
    if (r && r->status / 100 == 2) {
      auto c = decode_certificate(r->body);
      if (!c) co_return c.error();
      co_return co_await async_wait_settled(std::move(*c));
    }
    last = r ? unexpected(r->status, r->body, "certificate update") : r.error();
    if (r && r->status == 409) {
      // Busy (still transitioning from an earlier change): let it settle, then try again.
      auto current = co_await async_get_certificate(id);
      if (current) (void)co_await async_wait_settled(std::move(*current));
    }
    if (!last.retryable()) break;
  }
  co_return last;
}

asio::awaitable<result<certificate>> api::async_wait_settled(certificate c) {
  auto until = std::chrono::steady_clock::now() + options_.settle_timeout;
  while (!c.settled()) {
    if (std::chrono::steady_clock::now() >= until) {
      co_return error{0,
                      "transport",
                      fmt::format("certificate {} still {} after {} s", c.id, c.state,
                                  options_.settle_timeout.count() / 1000),
                      {}};
    }
    co_await sleep_for(options_.settle_poll);
    auto next = co_await async_get_certificate(c.id);
    if (!next) co_return next.error();
    c = std::move(*next);
  }
  if (c.transitioning == "error") {
    co_return error{
        0,
        "transitioning",
        fmt::format("Rancher failed to apply certificate {}: {}", c.id, c.transitioning_message),
        {}};
  }
  co_return c;
}

asio::awaitable<result<page<service>>> api::async_list_services() {
  co_return co_await async_list_all<service>(collection("services") + "?removed_null=1&limit=1000",
                                             decode_services);
}

asio::awaitable<result<page<service>>> api::async_list_load_balancers() {
  co_return co_await async_list_all<service>(
      collection("loadbalancerservices") + "?removed_null=1&limit=1000", decode_services);
}

asio::awaitable<result<service>> api::async_update_load_balancer(service lb) {
  // Built from CATTLE_URL, not from links.self: behind a proxy the links may name another host.
  std::string url = collection("loadbalancerservices") + "/" + lb.id + "/?action=update";
  std::string empty_object = "{}";
  auto r = co_await async_idempotent(http::method::post, url, std::move(empty_object));
  if (!r) co_return r.error();
  co_return decode_service(r->body);
}

}  // namespace certherd::rancher
