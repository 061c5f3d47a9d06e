#include "reconcilers/acme_issuer.hpp"

#include "clients/log/log.hpp"

#include "pki/utc_time.hpp"
#include "stores/account_keys.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace certherd::reconcilers {

namespace asio = boost::asio;

acme_issuer::acme_issuer(http::client& client, acme::challenge_presenter& presenter,
                         acme_issuer_options options)
    : client_(client), presenter_(presenter), options_(std::move(options)) {}

std::chrono::steady_clock::time_point acme_issuer::step_deadline() const {
  auto bound = std::chrono::steady_clock::now() + options_.order_timeout;
  return options_.deadline ? std::min(bound, *options_.deadline) : bound;
}

namespace {

// How long a fetched directory is used before it is fetched again: a CA that adds renewalInfo or
// moves an endpoint is seen within this.
constexpr auto kDirectoryKept = std::chrono::hours(1);
constexpr auto kPollTimeout = std::chrono::seconds(30);
constexpr auto kUnreachableKept = std::chrono::minutes(1);
// How long a CA's refusal of the account stops every order to it: an account deactivated or
// revoked does not come back by itself, and a CA that forgot it twice in a row is not one to
// keep registering with.
constexpr auto kAccountRefusedWait = std::chrono::hours(24);

// A registration the CA refused, in so many words (a deactivated or revoked key, a contact or
// an External Account Binding it will not take, terms to agree to): not sent again with every
// order. A 5xx, an answer without a problem document or of an unknown type is no refusal.
bool refused_by_ca(const failure& f) {
  static constexpr std::string_view account_problems[] = {
      "externalAccountRequired", "invalidContact", "unsupportedContact", "userActionRequired"};
  return f.kind == failure_kind::unauthorized || f.kind == failure_kind::account_unknown ||
         std::find(std::begin(account_problems), std::end(account_problems), f.problem_type) !=
             std::end(account_problems);
}

}  // namespace

acme::session acme_issuer::session_for(const std::string& directory,
                                       const pki::private_key& key) const {
  acme::session s(directory, key, options_.session);
  if (auto it = directories_.find(directory);
      it != directories_.end() &&
      std::chrono::steady_clock::now() - it->second.fetched < kDirectoryKept) {
    s.set_directory(it->second.value);
  }
  return s;
}

void acme_issuer::remember_directory(const std::string& directory, const acme::session& s) {
  const auto& d = s.loaded_directory();
  if (!d) return;
  auto now = std::chrono::steady_clock::now();
  auto it = directories_.find(directory);
  if (it == directories_.end()) {
    directories_.emplace(directory, known_directory{*d, now});
  } else if (now - it->second.fetched >= kDirectoryKept) {
    it->second = {*d, now};
  }
}

asio::awaitable<acme_issuer::account_state*> acme_issuer::account_for(
    const std::string& directory) {
  auto& st = accounts_[directory];
  if (st.refused) {
    if (std::chrono::steady_clock::now() < st.refused_until) co_return &st;
    // A day later: one registration again, with the key as it is on disk now (the operator may
    // have moved the old one aside meanwhile).
    st.refused.reset();
    st.url.clear();
    st.error.reset();
    st.key.reset();
    st.record.reset();
  }
  bool waited = false;
  while (st.registering) {  // another order registers right now: its outcome is ours
    waited = true;
    auto wait = st.registered;
    co_await wait->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (!st.url.empty()) co_return &st;
  if (waited && st.error) co_return &st;  // that registration failed: so do we, once
  if (!st.key) {
    auto record =
        options_.accounts
            ? options_.accounts->load_or_create(directory, pki::key_type::ec256)
            : stores::load_or_create_account(options_.state_dir, directory, pki::key_type::ec256);
    if (!record) {
      st.error = record.error().within("account key");
      co_return &st;
    }
    st.key = record->key;
    st.url = record->account_url;
    st.record = std::move(*record);
    if (!st.url.empty()) co_return &st;
  }
  // A registration is a new account to the CA (Let's Encrypt: 10 per IP per 3 h): within
  // budget, or not at all.
  if (options_.budgets) {
    auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    std::vector<charge> c{{"new_accounts", directory}};
    if (auto w = options_.budgets->wait_for(c, now)) {
      st.error = fail(failure_kind::rate_limited,
                      "no ACME account: " + describe(*w, options_.budgets->limits()));
      st.error->retry_after = w->until - now;
      co_return &st;
    }
    options_.budgets->spend(c, now);
  }
  // newAccount is idempotent for a key, but one at a time: the others wait above.
  st.registering = true;
  st.registered = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                       asio::steady_timer::time_point::max());
  struct release {
    account_state& st;
    ~release() {
      st.registering = false;
      st.registered->cancel();
    }
  } done{st};
  auto session = session_for(directory, *st.key);
  acme::driver driver(client_, &presenter_, step_deadline());
  auto acct = co_await driver.async_run(session.register_account(options_.account));
  remember_directory(directory, session);
  if (!acct) {
    auto why = failure_from(acct.error());
    why.message = "no ACME account: " + why.message;
    st.error = refused_by_ca(why) ? refuse_account(directory, st, why) : why;
    co_return &st;
  }
  st.url = acct->url;
  st.error.reset();
  log::info("account_ready", {{"directory", directory}, {"account", st.url}});
  // Recorded beside the key it belongs to, as loaded above: never under a key made meanwhile.
  auto saved = options_.accounts ? options_.accounts->save_url(*st.record, directory, st.url)
                                 : stores::save_account_url(*st.record, directory, st.url);
  if (!saved) {
    log::warn("account_not_recorded", {{"error", saved.error().message}});
  }
  co_return &st;
}

failure acme_issuer::refuse_account(const std::string& directory, account_state& st, failure why) {
  st.refused_until = std::chrono::steady_clock::now() + kAccountRefusedWait;
  auto until = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now() +
                                                                  kAccountRefusedWait);
  std::string folder = options_.accounts
                           ? options_.accounts->where(directory)
                           : stores::account_folder(options_.state_dir, directory).string();
  why.message = fmt::format(
      "{}; certherd orders nothing from {} until {} or a restart (an account the CA deactivated "
      "or revoked does not come back: move {} aside to register a new one)",
      why.message, directory, pki::to_rfc3339(until), folder);
  log::error("account_refused",
             {{"directory", directory},
              {"account", !st.url.empty() || !st.record ? st.url : st.record->account_url},
              {"until", until},
              {"error", why.message}});
  st.refused = why;
  return why;
}

asio::awaitable<outcome<issued_certificate>> acme_issuer::async_issue(cert_spec spec,
                                                                      order_context context) {
  auto no_account = [](const account_state& st) {
    if (st.refused) return *st.refused;
    return st.error ? *st.error : fail(failure_kind::internal, "no ACME account and no reason");
  };
  auto* account = co_await account_for(spec.directory);
  if (account->refused || account->url.empty()) co_return no_account(*account);
  auto key = pki::private_key::generate(spec.key_type);
  if (!key) co_return fail(failure_kind::internal, key.error().message());
  auto csr = pki::make_csr_der(*key, spec.hosts);
  if (!csr) co_return fail(failure_kind::internal, csr.error().message());
  auto deadline = step_deadline();
  std::string used;             // the account URL the last attempt signed with
  bool named_replaced = false;  // the last attempt named the certificate it replaces
  bool refused_order = false;   // the last attempt's newOrder was refused with a 4xx
  bool refused_signer = false;  // ... with unauthorized: the account that signed it
  auto attempt = [&]() -> asio::awaitable<acme::result<acme::issued_certificate>> {
    used = account->url;
    auto session = session_for(spec.directory, *account->key);
    session.set_account_url(account->url);
    acme::driver driver(client_, &presenter_, deadline, options_.checker);
    acme::order_request order{spec.hosts, *csr, spec.profile, options_.preferred_chain,
                              context.replaces};
    auto r = co_await driver.async_run(session.issue(std::move(order)));
    named_replaced = !context.replaces.empty() && session.loaded_directory() &&
                     !session.loaded_directory()->renewal_info.empty();
    // newOrder itself was refused (the problem names the URL it came from), with a 4xx that is
    // about the order rather than the account, the nonce or a limit. An `unauthorized` there
    // may be about either: the certificate `replaces` names (another account's), or the account
    // (deactivated, revoked): newOrder is the first request an order signs.
    bool at_new_order = !r && r.error().code == acme::errc::server_problem && r.error().server &&
                        session.loaded_directory() &&
                        r.error().detail == session.loaded_directory()->new_order &&
                        r.error().server->status >= 400 && r.error().server->status < 500;
    refused_signer = at_new_order && r.error().server->is("unauthorized");
    refused_order = at_new_order && !r.error().server->is("rateLimited") &&
                    !r.error().server->is("accountDoesNotExist") &&
                    !r.error().server->is("badNonce");
    remember_directory(spec.directory, session);
    co_return r;
  };
  auto is = [](const acme::result<acme::issued_certificate>& r, std::string_view type) {
    return !r && r.error().server && r.error().server->is(type);
  };
  // The CA no longer knows the account (a reset CA, a restarted test CA).
  auto forgotten = [&](const acme::result<acme::issued_certificate>& r) {
    return is(r, "accountDoesNotExist");
  };
  auto issued = co_await attempt();
  if (!context.replaces.empty() && refused_order) {
    // alreadyReplaced (an earlier try whose answer was lost, another client), or a CA that
    // will not take this `replaces` at all (another account issued it, a reset CA, a CertID it
    // cannot parse): the order again as an ordinary one, without the exemption. Never after a
    // later step failed: that would be a second validation.
    log::warn("replaces_refused", {{"cert", spec.name},
                                   {"replaces", context.replaces},
                                   {"error", issued.error().server->type}});
    context.replaces.clear();
    issued = co_await attempt();
  }
  bool unknown = forgotten(issued);
  if (refused_signer && is(issued, "unauthorized")) {
    // About the account (deactivated, revoked) or about this order (a name the account may not
    // have)? The CA is asked about the account itself, without registering anything: a tenant's
    // label must not be able to stop every certificate's orders.
    auto standing = co_await async_account_standing(spec.directory, *account);
    if (standing && standing->kind == failure_kind::account_unknown) {
      unknown = true;
    } else if (standing) {
      co_return refuse_account(spec.directory, *account, *standing);
    }
  }
  if (unknown) {
    // Register the same key again and order once more at once, rather than failing into the
    // backoff: a CA that forgot the account takes it again.
    log::warn(
        "account_unknown_to_ca",
        {{"directory", spec.directory}, {"account", used}, {"error", issued.error().message()}});
    // Another order may have registered again meanwhile: then its account is ours too.
    if (account->url == used) account->url.clear();
    account = co_await account_for(spec.directory);
    if (account->refused || account->url.empty()) co_return no_account(*account);
    issued = co_await attempt();
    // Forgotten again, just registered: ordering stops until the operator has looked.
    if (forgotten(issued) && !account->refused) {
      co_return refuse_account(spec.directory, *account, failure_from(issued.error()));
    }
  }
  if (!issued) {
    if (forgotten(issued) && account->refused) co_return *account->refused;
    co_return failure_from(issued.error());
  }
  auto chain = pki::parse_pem_chain(issued->chain_pem);
  if (!chain) {
    co_return fail(failure_kind::ca_misbehaved,
                   "the CA returned an unreadable chain: " + chain.error().message());
  }
  if (auto ok = pki::check_issued(chain->front(), *key, spec.hosts); !ok) {
    co_return fail(failure_kind::ca_misbehaved, ok.error().detail);
  }
  co_return issued_certificate{std::move(*chain), std::move(*key), issued->order_url,
                               named_replaced};
}

bool acme_issuer::renewal_info_unreachable(const std::string& directory) const {
  auto it = unreachable_.find(directory);
  return it != unreachable_.end() &&
         std::chrono::steady_clock::now() - it->second < kUnreachableKept;
}

asio::awaitable<renewal_info_answer> acme_issuer::async_renewal_info(std::string directory,
                                                                     std::string cert_id) {
  renewal_info_answer out;
  if (auto it = unreachable_.find(directory);
      it != unreachable_.end() &&
      std::chrono::steady_clock::now() - it->second < kUnreachableKept) {
    out.reached = false;
    co_return out;
  }
  if (!unsigned_key_) {
    auto k = pki::private_key::generate(pki::key_type::ec256);
    if (!k) {
      out.offered = true;
      out.detail = "no key for a session: " + k.error().message();
      co_return out;
    }
    unsigned_key_ = std::move(*k);
  }
  // One try more at most for a lost answer: a poll is asked again later anyway.
  auto poll_options = options_.session;
  poll_options.max_transport_retries = std::min(poll_options.max_transport_retries, 1);
  acme::session session(directory, *unsigned_key_, poll_options);
  if (auto it = directories_.find(directory);
      it != directories_.end() &&
      std::chrono::steady_clock::now() - it->second.fetched < kDirectoryKept) {
    session.set_directory(it->second.value);
  }
  // A poll is one GET (and the directory at most once an hour): it has no business taking
  // an order's time.
  acme::driver driver(client_, nullptr,
                      std::min(step_deadline(), std::chrono::steady_clock::now() + kPollTimeout));
  auto got = co_await driver.async_run(session.renewal_info(cert_id));
  remember_directory(directory, session);
  if (!got) {  // the directory itself: nothing learnt about this certificate
    unreachable_[directory] = std::chrono::steady_clock::now();
    out.reached = false;
    out.detail = got.error().detail;
    co_return out;
  }
  unreachable_.erase(directory);
  out.offered = got->offered;
  if (!out.offered) co_return out;
  out.retry_after = got->retry_after;
  if (got->status == 0 || got->status >= 500) {
    out.answer = acme::ari_answer::temporary;
    out.detail = got->status == 0 ? got->detail : fmt::format("HTTP {}", got->status);
    co_return out;
  }
  if (got->status != 200) {
    out.answer = acme::ari_answer::long_term;
    out.detail = fmt::format("HTTP {}", got->status);
    co_return out;
  }
  std::string why;
  out.window = acme::parse_renewal_info(got->body, why);
  out.answer = out.window ? acme::ari_answer::window : acme::ari_answer::long_term;
  out.detail = why;
  co_return out;
}

asio::awaitable<std::optional<failure>> acme_issuer::async_account_standing(
    const std::string& directory, account_state& st) {
  auto session = session_for(directory, *st.key);
  acme::driver driver(client_, nullptr, step_deadline());
  auto found = co_await driver.async_run(session.find_account());
  remember_directory(directory, session);
  if (found) {
    if (found->url == st.url) co_return std::nullopt;  // valid: the refusal was the order's
    // Another account for this key than the one recorded: take it (the CA's word).
    st.url = found->url;
    co_return std::nullopt;
  }
  auto why = failure_from(found.error());
  why.message = "the CA refuses the account " + st.url + ": " + why.message;
  // Deactivated or revoked (unauthorized, or a status that is not valid), or unknown.
  if (why.kind == failure_kind::unauthorized || why.kind == failure_kind::account_unknown) {
    co_return why;
  }
  co_return std::nullopt;  // no answer: nothing learnt; this order's own failure stands
}

asio::awaitable<outcome<acme::directory>> acme_issuer::async_directory(std::string directory) {
  if (!unsigned_key_) {
    auto k = pki::private_key::generate(pki::key_type::ec256);
    if (!k) co_return fail(failure_kind::internal, "no key for a session: " + k.error().message());
    unsigned_key_ = std::move(*k);
  }
  auto s = session_for(directory, *unsigned_key_);
  acme::driver driver(client_, nullptr,
                      std::min(step_deadline(), std::chrono::steady_clock::now() + kPollTimeout));
  auto d = co_await driver.async_run(s.load_directory());
  remember_directory(directory, s);
  if (!d) co_return failure_from(d.error());
  co_return std::move(*d);
}

asio::awaitable<outcome<>> acme_issuer::async_revoke(std::string directory, pki::certificate leaf,
                                                     std::optional<int> reason) {
  auto* account = co_await account_for(directory);
  if (account->refused) co_return *account->refused;
  if (account->url.empty()) {
    co_return account->error ? *account->error : fail(failure_kind::internal, "no ACME account");
  }
  auto session = session_for(directory, *account->key);
  session.set_account_url(account->url);
  acme::driver driver(client_, &presenter_, step_deadline());
  auto done = co_await driver.async_run(session.revoke(leaf.der(), reason));
  // Already revoked (perhaps by this very request, sent again after its answer was lost): what
  // was asked for holds.
  if (!done && done.error().server && done.error().server->is("alreadyRevoked")) {
    co_return outcome<>{};
  }
  if (!done) co_return failure_from(done.error());
  co_return outcome<>{};
}

}  // namespace certherd::reconcilers
