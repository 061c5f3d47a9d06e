#include "clients/acme/session.hpp"

#include "clients/acme/jws.hpp"
#include "clients/acme/self_check.hpp"
#include "pki/certificate.hpp"
#include "pki/encoding.hpp"

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <algorithm>

namespace certherd::acme {
namespace {

constexpr std::string_view kPemChain = "application/pem-certificate-chain";

std::string failure_of(const action_result& r) {
  if (r.ec) return r.detail.empty() ? r.ec.message() : r.detail;
  return fmt::format("HTTP {}", r.response.status);
}

// What went wrong, with the first failure too when the request was sent again (the last one
// may only say that the deadline passed while retrying).
error transport_error(const action_result& r, std::string_view url, const std::string& first = {},
                      int retries = 0) {
  std::string what = failure_of(r);
  if (retries > 0 && !first.empty() && first != what) {
    what = fmt::format("{} (sent {} times; the first time: {})", what, retries + 1, first);
  }
  return {errc::transport, fmt::format("{}: {}", url, what), {}};
}

std::optional<std::chrono::seconds> retry_after_of(const action_result& r) {
  if (auto v = r.response.header_value("Retry-After")) return parse_retry_after(*v, r.now);
  return std::nullopt;
}

error problem_error(const action_result& r, std::string_view url) {
  problem p = parse_problem(r.response.body).value_or(problem{});
  if (p.type.empty()) {
    p.type = "about:blank";
    p.detail = fmt::format("HTTP {} without a problem document", r.response.status);
  }
  if (!p.status) p.status = r.response.status;
  p.retry_after = retry_after_of(r);
  return {errc::server_problem, std::string(url), std::move(p)};
}

std::string json_object(std::initializer_list<std::pair<std::string_view, std::string_view>> kv,
                        std::optional<int> number_key_value = std::nullopt,
                        std::string_view number_key = {}) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  for (auto [k, v] : kv) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  }
  if (number_key_value) {
    w.Key(number_key.data(), static_cast<rapidjson::SizeType>(number_key.size()));
    w.Int(*number_key_value);
  }
  w.EndObject();
  return buf.GetString();
}

std::string location_of(const http::response& r) {
  return std::string(r.header_value("Location").value_or(""));
}

}  // namespace

session::session(std::string directory_url, pki::private_key account_key, session_options options)
    : directory_url_(std::move(directory_url)),
      account_key_(std::move(account_key)),
      options_(std::move(options)) {}

std::optional<std::chrono::milliseconds> session::retry_wait(const action_result& r,
                                                             int attempt) const {
  if (attempt >= options_.max_transport_retries || r.lasting) return std::nullopt;
  bool no_answer = static_cast<bool>(r.ec);
  unsigned status = r.response.status;
  if (!no_answer && status != 502 && status != 503 && status != 504) return std::nullopt;
  std::chrono::milliseconds wait = options_.transport_retry_first * (1 << std::min(attempt, 10));
  if (!no_answer) {
    if (auto ra = retry_after_of(r)) {
      if (*ra > kMaxInFlowRetryAfter) return std::nullopt;  // the reconcile's backoff waits
      wait = std::max(wait, std::chrono::milliseconds(*ra));
    }
  }
  return wait;
}

void session::remember_nonce(const http::response& r) {
  if (auto n = r.header_value("Replay-Nonce")) nonces_.add(std::string(*n));
}

flow<session::unsigned_answer> session::send_unsigned(http::method verb, std::string url,
                                                      std::string endpoint) {
  unsigned_answer out;
  for (;; ++out.retries) {
    perform send{send_request{{verb, url, {}, {}, false}, endpoint}};
    out.result = co_await send;
    auto wait = retry_wait(out.result, out.retries);
    if (!wait) co_return out;
    if (out.first.empty()) out.first = failure_of(out.result);
    perform nap{sleep_for{*wait}};
    co_await nap;
  }
}

flow<result<directory>> session::load_directory() {
  if (directory_) co_return *directory_;
  auto sent = co_await send_unsigned(http::method::get, directory_url_, "directory");
  const auto& r = sent.result;
  if (r.ec) co_return transport_error(r, directory_url_, sent.first, sent.retries);
  if (r.response.status != 200) co_return problem_error(r, directory_url_);
  auto d = parse_directory(r.response.body);
  if (!d) {
    auto e = d.error();
    e.detail = fmt::format("{} is not an ACME directory ({})", directory_url_, e.detail);
    co_return e;
  }
  directory_ = *d;
  co_return *d;
}

flow<result<renewal_info_response>> session::renewal_info(std::string cert_id) {
  auto d = co_await load_directory();
  if (!d) co_return d.error();
  renewal_info_response out;
  if (d->renewal_info.empty()) co_return out;
  out.offered = true;
  std::string url = d->renewal_info;
  if (!url.ends_with('/')) url += '/';
  url += cert_id;
  auto sent = co_await send_unsigned(http::method::get, url, "renewalInfo");
  const auto& r = sent.result;
  if (r.ec) {
    out.detail = transport_error(r, url, sent.first, sent.retries).detail;
    co_return out;
  }
  out.status = r.response.status;
  out.body = r.response.body;
  out.retry_after = retry_after_of(r);
  co_return out;
}

flow<result<std::string>> session::fetch_nonce() {
  auto d = co_await load_directory();
  if (!d) co_return d.error();
  auto sent = co_await send_unsigned(http::method::head, d->new_nonce, "newNonce");
  const auto& r = sent.result;
  if (r.ec) co_return transport_error(r, d->new_nonce, sent.first, sent.retries);
  if (r.response.status >= 400) co_return problem_error(r, d->new_nonce);
  auto nonce = r.response.header_value("Replay-Nonce");
  if (!nonce || nonce->empty()) {
    co_return error{errc::bad_response, d->new_nonce + ": no Replay-Nonce header", {}};
  }
  co_return std::string(*nonce);
}

std::string session::endpoint_of(const std::string& url, const std::optional<std::string>& payload,
                                 const std::string& accept, const std::string& named) const {
  if (!named.empty()) return named;  // the caller knows: challenge, finalize
  if (directory_) {
    if (url == directory_->new_account) return "newAccount";
    if (url == directory_->new_order) return "newOrder";
    if (url == directory_->revoke_cert) return "revokeCert";
    if (url == directory_->key_change) return "keyChange";
  }
  if (accept == kPemChain) return "certificate";
  if (!payload) return "postAsGet";  // orders and authorizations polled
  return "other";
}

flow<result<http::response>> session::post(std::string url, std::optional<std::string> payload,
                                           std::string accept, std::string endpoint) {
  return signed_post(std::move(url), std::move(payload), std::move(accept), false,
                     std::move(endpoint));
}

flow<result<http::response>> session::signed_post(std::string url,
                                                  std::optional<std::string> payload,
                                                  std::string accept, bool embed_jwk,
                                                  std::string endpoint) {
  if (!embed_jwk && account_url_.empty()) {
    co_return error{errc::account_not_valid, "no account registered before " + url, {}};
  }
  int transport_attempt = 0;
  std::string first;
  for (int attempt = 0;; ++attempt) {
    std::optional<std::string> nonce = nonces_.take();
    if (!nonce) {
      auto fetched = co_await fetch_nonce();
      if (!fetched) co_return fetched.error();
      nonce = std::move(*fetched);
    }
    signer who{&account_key_, embed_jwk ? std::string() : account_url_};
    auto body = sign_jws(who, url, *nonce, payload.value_or(""));
    if (!body) co_return body.error();
    http::request req{http::method::post,
                      url,
                      {{"Content-Type", "application/jose+json"}},
                      std::move(*body),
                      false};
    if (!accept.empty()) req.headers.push_back({"Accept", accept});
    req.replay_safe = true;  // a replayed JWS is refused for its used nonce (RFC 8555 §6.5)
    perform send{send_request{std::move(req), endpoint_of(url, payload, accept, endpoint)}};
    auto r = co_await send;
    if (!r.ec) {
      last_now_ = r.now;
      remember_nonce(r.response);
    }
    if (auto wait = retry_wait(r, transport_attempt)) {
      if (first.empty()) first = failure_of(r);
      ++transport_attempt;
      --attempt;  // not a badNonce re-signing
      perform nap{sleep_for{*wait}};
      co_await nap;
      continue;
    }
    if (r.ec) co_return transport_error(r, url, first, transport_attempt);
    if (r.response.status < 400) co_return std::move(r.response);
    auto e = problem_error(r, url);
    if (e.server->is("badNonce")) {
      // RFC 8555 §6.5: the answer carries a fresh nonce; re-sign with it, a bounded number of
      // times. After twenty in a row, with a growing pause: a CA (or a balancer in front of nodes
      // that do not share nonces) refusing every nonce is not sent a burst.
      if (attempt < options_.max_bad_nonce_retries) {
        const int rejected = attempt + 1;
        if (rejected >= kBadNoncesWithoutPause) {
          perform nap{sleep_for{
              std::min(std::chrono::milliseconds(50) * (rejected - kBadNoncesWithoutPause + 1),
                       std::chrono::milliseconds(1000))}};
          co_await nap;
        }
        continue;
      }
      e.code = errc::bad_nonce_exhausted;
      e.detail = fmt::format("{} after {} re-signings", url, attempt);
    }
    co_return e;
  }
}

flow<result<account>> session::new_account(std::string payload) {
  auto d = co_await load_directory();
  if (!d) co_return d.error();
  auto r = co_await signed_post(d->new_account, std::move(payload), {}, true);
  if (!r) co_return r.error();
  auto a = parse_account(r->body);
  if (!a) co_return a.error();
  a->url = location_of(*r);
  if (a->url.empty()) co_return error{errc::bad_response, "newAccount: no Location header", {}};
  if (a->status != account_status::valid) {
    co_return error{
        errc::account_not_valid, fmt::format("account {} is {}", a->url, to_string(a->status)), {}};
  }
  account_url_ = a->url;
  co_return *a;
}

flow<result<account>> session::register_account(account_options options) {
  auto d = co_await load_directory();
  if (!d) co_return d.error();
  std::string eab;
  if (!options.eab_kid.empty() || !options.eab_hmac.empty()) {
    if (options.eab_kid.empty() || options.eab_hmac.empty()) {
      co_return error{
          errc::crypto_failure, "External Account Binding needs both a key id and an HMAC key", {}};
    }
    auto binding =
        external_account_binding(account_key_, options.eab_kid, options.eab_hmac, d->new_account);
    if (!binding) co_return binding.error();
    eab = std::move(*binding);
  } else if (d->external_account_required) {
    co_return error{errc::account_not_valid,
                    "the CA requires External Account Binding (set ACME_EAB_KID and ACME_EAB_HMAC)",
                    {}};
  }
  co_return co_await new_account(new_account_payload(options.contact, false, eab));
}

flow<result<account>> session::find_account() {
  co_return co_await new_account(new_account_payload({}, true, {}));
}

flow<result<authorization>> session::fetch_authorization(std::string url) {
  auto r = co_await post(url, std::nullopt);
  if (!r) co_return r.error();
  auto a = parse_authorization(r->body);
  if (!a) co_return a.error();
  a->url = url;
  co_return *a;
}

flow<result<bool>> session::await_authorization(std::string url) {
  poll_schedule schedule(options_.poll);
  while (true) {
    auto r = co_await post(url, std::nullopt);
    if (!r) co_return r.error();
    auto a = parse_authorization(r->body);
    if (!a) co_return a.error();
    switch (a->status) {
      case authorization_status::valid:
        co_return true;
      case authorization_status::pending:
        break;
      default: {
        const challenge* ch = a->find("http-01");
        error e{errc::authorization_failed,
                fmt::format("{} is {}", a->id.value, to_string(a->status)),
                {}};
        if (ch && ch->error) e.server = ch->error;
        co_return e;
      }
    }
    std::optional<std::chrono::seconds> retry_after;
    if (auto ra = r->header_value("Retry-After")) retry_after = parse_retry_after(*ra, last_now_);
    auto wait = schedule.next(retry_after);
    if (!wait) {
      co_return error{errc::poll_exhausted,
                      fmt::format("authorization of {} still pending after {} ms", a->id.value,
                                  schedule.waited().count()),
                      {}};
    }
    perform nap{sleep_for{*wait}};
    co_await nap;
  }
}

flow<result<bool>> session::authorize(std::vector<authorization> authzs,
                                      std::vector<present_challenge>& presented) {
  std::vector<std::pair<std::string, std::string>> to_trigger;  // authz URL, challenge URL
  std::vector<present_challenge> to_check;                      // the same challenges
  for (const auto& a : authzs) {
    if (a.status == authorization_status::valid) continue;  // reused from an earlier order
    if (a.status != authorization_status::pending) {
      co_return error{
          errc::authorization_failed, fmt::format("{} is {}", a.id.value, to_string(a.status)), {}};
    }
    const challenge* ch = a.find("http-01");
    if (!ch) {
      co_return error{errc::unsupported_challenge,
                      fmt::format("the CA offers no http-01 challenge for {}", a.id.value),
                      {}};
    }
    present_challenge p{a.id.value, ch->token, key_authorization(ch->token, account_key_)};
    perform publish{p};
    auto r = co_await publish;
    if (r.ec) {
      co_return error{
          errc::challenge_setup_failed,
          fmt::format("{}: {}", a.id.value, r.detail.empty() ? r.ec.message() : r.detail),
          {}};
    }
    presented.push_back(p);
    if (ch->status == challenge_status::pending) {
      to_trigger.emplace_back(a.url, ch->url);
      to_check.push_back(std::move(p));
    }
  }
  // The CA is told to look only where certherd saw the key authorization itself: a route that
  // is wrong costs a look of certherd's, not a failed validation at the CA. Then the order's
  // pending authorizations are deactivated (RFC 8555 §7.5.2), so none waits at the CA.
  for (const auto& p : to_check) {
    auto failed = co_await self_check(p);
    if (!failed) continue;
    if (failed->code == errc::self_check_failed) {
      for (const auto& [authz_url, challenge_url] : to_trigger) {
        auto dropped = co_await post(authz_url, std::string(R"({"status":"deactivated"})"));
        (void)dropped;  // best effort: an authorization left pending expires at the CA
      }
    }
    co_return std::move(*failed);
  }
  // Every challenge is published before the CA is told to look, so validations run in parallel.
  for (const auto& [authz_url, challenge_url] : to_trigger) {
    auto r = co_await post(challenge_url, std::string("{}"), {}, "challenge");
    if (!r && r.error().server) {
      // Sent again after its answer was lost, the challenge is already processing, and the CA
      // refuses to start it twice: the authorization says how far it got.
      auto now = co_await fetch_authorization(authz_url);
      const challenge* ch = now ? now->find("http-01") : nullptr;
      bool started = now && (now->status == authorization_status::valid ||
                             (ch && ch->status != challenge_status::pending));
      if (started) continue;
    }
    if (!r) co_return r.error();
  }
  for (const auto& a : authzs) {
    if (a.status == authorization_status::valid) continue;
    auto r = co_await await_authorization(a.url);
    if (!r) co_return r.error();
  }
  co_return true;
}

flow<std::optional<error>> session::self_check(const present_challenge& p) {
  std::string why;
  for (int attempt = 0; attempt < std::max(options_.self_check_attempts, 1); ++attempt) {
    if (attempt > 0) {
      perform nap{sleep_for{options_.self_check_retry_first * (1 << std::min(attempt - 1, 10))}};
      co_await nap;
    }
    perform look{check_challenge{p.identifier, p.token, p.key_authorization}};
    auto r = co_await look;
    if (!r.ec) co_return std::nullopt;
    why = r.detail.empty() ? r.ec.message() : r.detail;
    // The order's deadline passed: nothing was learnt about the route.
    if (r.lasting)
      co_return error{errc::transport, "self-check of " + p.identifier + ": " + why, {}};
  }
  co_return error{errc::self_check_failed,
                  fmt::format("self-check: {}; the CA was not asked to validate", why),
                  {}};
}

flow<result<order>> session::await_order(order o, order_status leaving) {
  // The first look is immediate: the order we hold may be stale (it was read before its
  // authorizations turned valid), and a CA like Pebble moves on within milliseconds.
  poll_schedule schedule(options_.poll);
  std::optional<std::chrono::seconds> retry_after;
  for (bool first = true; o.status == leaving; first = false) {
    if (!first) {
      auto wait = schedule.next(retry_after);
      if (!wait) {
        co_return error{errc::poll_exhausted,
                        fmt::format("order {} still {} after {} ms", o.url, to_string(o.status),
                                    schedule.waited().count()),
                        {}};
      }
      perform nap{sleep_for{*wait}};
      co_await nap;
    }
    auto r = co_await post(o.url, std::nullopt);
    if (!r) co_return r.error();
    auto next = parse_order(r->body);
    if (!next) co_return next.error();
    retry_after.reset();
    if (auto ra = r->header_value("Retry-After")) retry_after = parse_retry_after(*ra, last_now_);
    next->url = o.url;
    o = std::move(*next);
  }
  co_return o;
}

flow<result<issued_certificate>> session::download(std::string url, std::string preferred_chain) {
  auto r = co_await post(url, std::nullopt, std::string(kPemChain));
  if (!r) co_return r.error();
  issued_certificate out;
  out.certificate_url = url;
  out.chain_pem = r->body;
  out.alternate_urls = link_targets(r->header_values("Link"), "alternate");
  auto top_issuer = [](const std::string& pem) -> std::optional<std::string> {
    auto chain = pki::parse_pem_chain(pem);
    if (!chain) return std::nullopt;
    return chain->back().issuer_common_name();
  };
  auto issuer = top_issuer(out.chain_pem);
  if (!issuer) {
    co_return error{errc::invalid_certificate, url + " did not return a PEM certificate chain", {}};
  }
  if (!preferred_chain.empty() && *issuer != preferred_chain) {
    for (const auto& alt : out.alternate_urls) {
      auto a = co_await post(alt, std::nullopt, std::string(kPemChain));
      if (!a) co_return a.error();
      if (top_issuer(a->body) == preferred_chain) {
        out.chain_pem = a->body;
        break;
      }
    }
  }
  co_return out;
}

flow<result<issued_certificate>> session::issue(order_request request) {
  auto d = co_await load_directory();
  if (!d) co_return d.error();
  if (auto why = profile_problem(*d, request.profile)) {
    co_return error{errc::unsupported_profile, *why, {}};
  }
  std::vector<identifier> ids;
  for (const auto& n : request.names)
    ids.push_back({"dns", n});
  // A CA without ARI may not know the field: it is only sent to one that has.
  std::string_view replaces = d->renewal_info.empty() ? std::string_view() : request.replaces;
  auto created = co_await post(d->new_order, new_order_payload(ids, request.profile, replaces));
  if (!created) co_return created.error();
  auto o = parse_order(created->body);
  if (!o) co_return o.error();
  o->url = location_of(*created);
  if (o->url.empty()) co_return error{errc::bad_response, "newOrder: no Location header", {}};

  std::vector<authorization> authzs;
  for (const auto& url : o->authorizations) {
    auto a = co_await fetch_authorization(url);
    if (!a) co_return a.error();
    // Only what was asked for is proved, published or looked at: an identifier the CA made up
    // would send the self-check to wherever it names.
    bool asked = a->id.type == "dns" &&
                 std::any_of(request.names.begin(), request.names.end(),
                             [&](const std::string& n) { return http::iequals(n, a->id.value); });
    if (!asked) {
      co_return error{
          errc::bad_response,
          fmt::format("{}: an authorization for {} '{}', which the order did not ask for", url,
                      excerpt(a->id.type), excerpt(a->id.value)),
          {}};
    }
    authzs.push_back(std::move(*a));
  }
  std::vector<present_challenge> presented;
  auto authorized = co_await authorize(std::move(authzs), presented);
  for (const auto& p : presented) {
    perform withdraw{remove_challenge{p.identifier, p.token}};
    co_await withdraw;  // best effort; failure changes nothing
  }
  if (!authorized) co_return authorized.error();

  // The order turns ready once its last authorization is valid; it may lag a moment behind.
  auto ready = co_await await_order(std::move(*o), order_status::pending);
  if (!ready) co_return ready.error();
  if (ready->status == order_status::ready) {
    std::string payload = json_object({{"csr", pki::base64url_encode(request.csr_der)}});
    auto fin = co_await post(ready->finalize, std::move(payload), {}, "finalize");
    result<order> after = fin ? parse_order(fin->body) : result<order>(fin.error());
    if (!fin && fin.error().server && fin.error().server->is("orderNotReady")) {
      // A finalize sent again after its answer was lost finds the order finalized already: the
      // order itself says how far it got.
      auto now = co_await post(ready->url, std::nullopt);
      if (!now) co_return now.error();
      auto seen = parse_order(now->body);
      if (!seen) co_return seen.error();
      if (seen->status == order_status::invalid) {
        co_return error{errc::order_invalid, fmt::format("order {} is invalid", ready->url),
                        seen->error};
      }
      if (seen->status != order_status::processing && seen->status != order_status::valid) {
        co_return fin.error();
      }
      after = std::move(seen);
    }
    if (!after) co_return after.error();
    after->url = ready->url;
    ready = std::move(*after);
  }
  auto done = co_await await_order(std::move(*ready), order_status::processing);
  if (!done) co_return done.error();
  if (done->status != order_status::valid) {
    co_return error{errc::order_invalid,
                    fmt::format("order {} is {}", done->url, to_string(done->status)), done->error};
  }
  auto cert = co_await download(done->certificate, request.preferred_chain);
  if (!cert) co_return cert.error();
  cert->order_url = done->url;
  co_return std::move(*cert);
}

flow<result<bool>> session::revoke(std::string certificate_der, std::optional<int> reason) {
  auto d = co_await load_directory();
  if (!d) co_return d.error();
  auto payload =
      json_object({{"certificate", pki::base64url_encode(certificate_der)}}, reason, "reason");
  auto r = co_await post(d->revoke_cert, std::move(payload));
  if (!r) co_return r.error();
  co_return true;
}

flow<result<bool>> session::change_key(pki::private_key new_key) {
  auto d = co_await load_directory();
  if (!d) co_return d.error();
  if (d->key_change.empty()) {
    co_return error{errc::bad_response, "the directory offers no keyChange", {}};
  }
  // RFC 8555 §7.3.5: the inner JWS is signed by the new key, carries its JWK and no nonce.
  rapidjson::StringBuffer buf;
  {
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("account");
    w.String(account_url_.c_str(), static_cast<rapidjson::SizeType>(account_url_.size()));
    w.Key("oldKey");
    std::string old_jwk = jwk_json(account_key_);
    w.RawValue(old_jwk.data(), old_jwk.size(), rapidjson::kObjectType);
    w.EndObject();
  }
  auto inner = sign_jws(signer{&new_key, {}}, d->key_change, {}, buf.GetString());
  if (!inner) co_return inner.error();
  auto r = co_await post(d->key_change, std::move(*inner));
  if (!r) co_return r.error();
  account_key_ = std::move(new_key);
  co_return true;
}

}  // namespace certherd::acme
