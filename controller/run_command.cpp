#include "controller/run_command.hpp"

#include "clients/log/log.hpp"

#include "clients/acme/driver.hpp"
#include "clients/acme/http01_responder.hpp"
#include "clients/http/server.hpp"
#include "controller/command.hpp"
#include "controller/config.hpp"
#include "controller/domains_source.hpp"
#include "controller/rancher_source.hpp"
#include "controller/runtime.hpp"
#include "controller/settings.hpp"
#include "controller/setup.hpp"
#include "controller/status_board.hpp"
#include "pki/encoding.hpp"
#include "pki/names.hpp"
#include "pki/utc_time.hpp"
#include "reconcilers/child_process.hpp"
#include "reconcilers/files_target.hpp"
#include "reconcilers/haproxy_target.hpp"
#include "reconcilers/rancher_target.hpp"
#include "stores/etcd_budgets.hpp"
#include "stores/etcd_election.hpp"
#include "stores/etcd_store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <utility>

namespace certherd::controller {

namespace asio = boost::asio;
using reconcilers::cert_spec;

const std::vector<std::pair<std::string, std::string>>& setting_flags() {
  // From the one table of settings (controller/settings.hpp); secrets have no flag.
  static const std::vector<std::pair<std::string, std::string>> flags = [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& s : settings()) {
      // LOG_LEVEL and LOG_FORMAT are the program's own options, before or after the command.
      if (s.flag.empty() || s.variable == "LOG_LEVEL" || s.variable == "LOG_FORMAT") continue;
      out.emplace_back(std::string(s.flag), std::string(s.variable));
    }
    return out;
  }();
  return flags;
}

namespace {
// Constant time in the token's length: the comparison tells nothing of where it differs.
bool same_secret(std::string_view given, std::string_view token) {
  unsigned char diff = given.size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < token.size(); ++i) {
    unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(token[i]));
  }
  return diff == 0;
}

bool starts_with_scheme(std::string_view authorization, std::string_view scheme) {
  if (authorization.size() <= scheme.size() || authorization[scheme.size()] != ' ') return false;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return false;
  }
  return true;
}
}  // namespace

bool status_token_accepted(std::string_view authorization, std::string_view token) {
  if (token.empty()) return true;  // no STATUS_TOKEN: open
  if (starts_with_scheme(authorization, "bearer")) {
    return same_secret(authorization.substr(7), token);
  }
  // A browser asks for Basic credentials: any user name, the token as the password.
  if (starts_with_scheme(authorization, "basic")) {
    auto decoded = pki::base64_decode(pki::trim(authorization.substr(6)));
    if (!decoded) return false;
    auto colon = decoded->find(':');
    if (colon == std::string::npos) return false;
    return same_secret(std::string_view(*decoded).substr(colon + 1), token);
  }
  return false;
}

namespace {

// Who this replica is, for the election key and people: host name and process id.
std::string replica_identity() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  return fmt::format("{}:{}", host, ::getpid());
}

// STORE=etcd: what a replica does as a follower (serve the local targets from the store) or as
// the leader (order, write, answer to Rancher), switched on the event loop.
struct leadership_switch {
  asio::io_context& ioc;
  stores::etcd_store& store;
  reconcilers::executor_deps& deps;
  runtime& rt;
  reconcilers::issuer& issuer;
  std::vector<reconcilers::target*> all, local;
  asio::steady_timer timer{ioc};
  bool leading = false;
  bool stopping = false;
  std::uint64_t term = 0;  ///< moved by every change: a lead() of an older term does nothing
  stores::etcd_election* election = nullptr;
  reconcilers::order_budgets* budgets = nullptr;  ///< null with RATE_LIMITS=off

  leadership_switch(asio::io_context& i, stores::etcd_store& st, reconcilers::executor_deps& d,
                    runtime& r, reconcilers::issuer& is, std::vector<reconcilers::target*> a,
                    std::vector<reconcilers::target*> l)
      : ioc(i), store(st), deps(d), rt(r), issuer(is), all(std::move(a)), local(std::move(l)) {}

  void follow() {
    ++term;
    timer.cancel();
    bool was = leading;
    leading = false;
    deps.issuer = nullptr;
    deps.targets = local;
    // What this replica kept to save later was its own as leader: never saved over the next
    // leader's (the store would refuse it anyway).
    if (deps.cache) deps.cache->unsaved_records.clear();
    // The fence is the election's to set, on the store's thread, at once (this may run later).
    if (was && !stopping) {
      log::warn("leader_lost",
                {{"effect", "this replica orders nothing and serves what the store holds"}});
    }
  }

  // Leads once its copy of the store has everything up to the election (the previous leader may
  // have just renewed): the election key's creation is in the same watch, after all of that.
  // A copy that does not catch up in time is no ground to order on: the term is given up.
  asio::awaitable<void> lead(stores::write_fence fence) {
    const std::uint64_t mine = ++term;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (store.revision() < fence.create_revision) {
      if (std::chrono::steady_clock::now() >= until) {
        log::warn("leader_stepped_down",
                  {{"reason",
                    "this replica's copy of the store did not reach its election's "
                    "revision in 10 s"},
                   {"revision", fence.create_revision},
                   {"store_revision", store.revision()}});
        if (election) election->step_down();
        co_return;
      }
      timer.expires_after(std::chrono::milliseconds(50));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec || term != mine || stopping) co_return;  // lost again meanwhile
    }
    if (term != mine || stopping) co_return;
    // What the previous leaders spent, read again whole: the watch brings every change, but
    // one made before this replica started watching would otherwise be missing.
    if (budgets) {
      if (auto loaded = budgets->load(now_seconds()); !loaded) {
        log::warn("leader_stepped_down",
                  {{"reason", "the shared rate-limit budgets could not be read"},
                   {"error", loaded.error().message}});
        if (election) election->step_down();
        co_return;
      }
      if (term != mine || stopping) co_return;
    }
    leading = true;
    deps.issuer = &issuer;
    deps.targets = all;
    log::info("leader_elected",
              {{"revision", fence.create_revision}, {"store_revision", store.revision()}});
    for (const auto& [name, spec] : rt.desired_set())
      rt.enqueue(name);
  }
};

// Gives up leadership on every way out of run_controller, after the runtime has drained: the
// next replica takes over at once rather than after the lease's TTL.
struct resign_on_exit {
  stores::etcd_election* election = nullptr;
  ~resign_on_exit() {
    if (election) election->resign();
  }
};

std::string chain_facts_file(const config& cfg) {
  return (std::filesystem::path(cfg.state_dir) / "chain-facts").string();
}

reconcilers::chain_facts_memo load_chain_facts(const setup& s) {
  reconcilers::chain_facts_memo memo(chain_facts_file(s.cfg), s.anchors.digest);
  auto loaded = memo.load();
  if (!loaded.error.empty()) {
    log::warn("chain_facts_unreadable", {{"file", chain_facts_file(s.cfg)},
                                         {"error", loaded.error},
                                         {"effect", "every held chain is read again"}});
  } else if (loaded.entries > 0 || loaded.skipped > 0) {
    log::info("chain_facts_loaded", {{"entries", loaded.entries}, {"skipped", loaded.skipped}});
  }
  return memo;
}

void save_chain_facts(reconcilers::chain_facts_memo& memo,
                      const reconcilers::observation_cache& cache) {
  if (!memo.dirty()) return;
  auto w = memo.start_writing();
  reconcilers::add_chain_facts(cache, w);
  std::string detail;
  if (memo.write(std::move(w), detail)) {
    log::warn("chain_facts_not_saved",
              {{"error", detail}, {"effect", "the next start reads held chains again"}});
  }
}

asio::awaitable<void> save_chain_facts_every(asio::steady_timer& timer,
                                             reconcilers::chain_facts_memo& memo,
                                             const reconcilers::observation_cache& cache,
                                             std::chrono::seconds period) {
  while (true) {
    timer.expires_after(period);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    save_chain_facts(memo, cache);
  }
}

}  // namespace

int run_controller(const std::map<std::string, std::string>& flags) {
  asio::io_context ioc;
  asio::signal_set signals(ioc, SIGINT, SIGTERM);  // first: a stop during start-up is graceful too
  // In a container certherd is PID 1: orphans of reload commands become its children, and are
  // reaped here rather than left as zombies.
  asio::signal_set children(ioc, SIGCHLD);
  std::function<void()> reap = [&] {
    children.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      reconcilers::reap_children();
      reap();
    });
  };
  reap();
  auto prepared = prepare(flags, ioc);
  if (!prepared) return report(prepared.error());
  auto& s = *prepared;

  auto acme = make_acme(*s, ioc, !s->cfg.listen.empty(), true);
  if (!acme) return report(acme.error());
  reconcilers::acme_issuer& issuer = *acme->issuer;
  // ACME_PROFILE against what the CA offers, once, before anything is ordered with it. A CA that
  // cannot be reached now is asked by the first order, which refuses the same way.
  if (!s->cfg.profile.empty()) {
    auto d = run_to_end(ioc, issuer.async_directory(s->directory),
                        std::chrono::steady_clock::now() + std::chrono::seconds(40));
    // The fetch has its own 30-s deadline; past the backstop the io_context is not to be run
    // again (command.hpp), so start-up ends.
    if (!d) return report(fail(failure_kind::internal, "ACME_PROFILE check did not end"));
    if (*d) {
      if (auto why = acme::profile_problem(**d, s->cfg.profile)) {
        return report(fail(failure_kind::configuration, *why));
      }
    } else {
      log::warn("profile_not_checked", {{"profile", s->cfg.profile},
                                        {"error", d->error().message},
                                        {"effect", "each order checks it against the directory"}});
    }
  }

  reconcilers::executor_deps deps{*s->store,       s->anchors,        &issuer,
                                  raw(s->targets), policy_of(s->cfg), now_seconds};
  reconcilers::observation_cache cache;
  deps.cache = &cache;
  deps.budgets = s->budgets.get();
  reconcilers::chain_facts_memo facts = load_chain_facts(*s);
  deps.facts = &facts;
  runtime rt(ioc, signals, deps, {s->cfg.concurrency, s->cfg.loop_time, std::chrono::seconds(30)});
  rt.on_stop([&children] { children.cancel(); });
  // The memo is written a minute after what it holds changed (the start-up pass, a renewal),
  // and once more on the way out.
  asio::steady_timer facts_timer(ioc);
  asio::co_spawn(ioc, save_chain_facts_every(facts_timer, facts, cache, std::chrono::minutes(1)),
                 asio::detached);
  rt.on_stop([&facts_timer, &facts, &cache] {
    facts_timer.cancel();
    save_chain_facts(facts, cache);
  });
  log::info("start", {{"directory", s->cfg.effective_directory()},
                      {"certificates", s->specs.size()},
                      {"targets", s->targets.size()},
                      {"state_dir", s->cfg.state_dir}});
  status_board board(policy_of(s->cfg).renewal);
  rt.on_desired([&board, &cache](const std::map<std::string, cert_spec>& desired) {
    board.desired(desired, cache, now_seconds());
  });
  rt.on_reconciled([&board, &cache](const cert_spec& spec, const reconcilers::reconcile_report& r) {
    board.reconciled(spec, r, cache, now_seconds());
  });
  acme::driver::set_observer([&board](std::string_view endpoint, unsigned status, double secs) {
    board.acme_request(endpoint, status, secs);
  });
  board.rejected("DOMAINS", std::exchange(s->rejected_domains, {}));
  board.rejected("labels", std::exchange(s->rejected_labels, {}));
  // Moved: the runtime's copy is the desired set from now on (one copy of 100,000 specs).
  rt.set_desired(std::exchange(s->specs, {}));
  std::unique_ptr<rancher_source> source;
  if (s->rancher_api) {
    rancher_source_options ro;
    ro.dynamic = s->cfg.dynamic_config;
    ro.labels.label = s->cfg.hosts_label;
    ro.labels.per_service = s->cfg.cert_per_service;
    ro.labels.allowed_domains = parse_allowed_domains(s->cfg.allowed_domains);
    ro.subscription.ca_bundle = s->cfg.cattle_ca_bundle;
    ro.subscription.connect_timeout = s->cfg.rancher_timeout;
    rancher_source_handlers h;
    h.labels_changed = [&rt, &s, &board](const label_result& labels) {
      board.rejected("labels", labels.rejected);
      rt.set_desired(desired_specs(*s, &labels));
    };
    h.certificates_changed = [&rt](const std::set<std::string>& names) {
      for (const auto& n : names)
        rt.enqueue(n);
    };
    source = std::make_unique<rancher_source>(ioc.get_executor(), *s->rancher_api, s->mirror, ro,
                                              std::move(h));
    source->start();
    rt.on_stop([&source] { source->stop(); });
  }
  // STORE=etcd: every replica serves its local targets; the leader alone orders, writes the
  // store and answers to Rancher. Until elected, a replica follows.
  auto* shared_store = dynamic_cast<stores::etcd_store*>(s->store.get());
  std::unique_ptr<stores::etcd_election> election;
  const std::vector<reconcilers::target*> all_targets = deps.targets;
  std::vector<reconcilers::target*> local_targets;
  for (std::size_t i = 0; i < s->targets.size(); ++i) {
    if (s->target_names[i] != "rancher") local_targets.push_back(s->targets[i].get());
  }
  std::optional<leadership_switch> switcher;
  if (shared_store) {
    switcher.emplace(ioc, *shared_store, deps, rt, issuer, all_targets, local_targets);
    switcher->follow();
    shared_store->set_fence(std::nullopt);  // no write before an election is won
    // A record another replica wrote: reconciled here too (pushed to the local targets).
    shared_store->on_change([&ioc, &rt](const std::string& name) {
      asio::post(ioc, [&rt, name] { rt.enqueue(name); });
    });
    // What the leader spent of the rate-limit budgets: followed, so that the status page of
    // every replica shows it and the next leader starts from it.
    if (auto* budgets = s->budgets.get()) {
      switcher->budgets = budgets;
      shared_store->on_key(
          std::string(stores::etcd_budget_keeper::kName),
          [&ioc, budgets, shared_store,
           key = shared_store->prefix() +
                 std::string(stores::etcd_budget_keeper::kName)](const etcd::watch_event& ev) {
            if (ev.type == etcd::watch_event::kind::remove || ev.kv.key != key) return;
            // Only what opens with the key (stores/etcd_budgets.hpp).
            auto text = stores::etcd_budget_keeper(*shared_store).opened(ev.kv.value);
            if (!text) return;
            asio::post(ioc,
                       [budgets, text = std::move(*text)] { budgets->merge(text, now_seconds()); });
          });
    }
    stores::election_options eo;
    eo.identity = replica_identity();
    eo.ttl = s->cfg.leader_ttl;
    auto* sw = &*switcher;
    election = std::make_unique<stores::etcd_election>(
        *shared_store, eo, [&ioc, shared_store, sw](std::optional<stores::write_fence> fence) {
          // On the store's thread: writes start or stop at once; the runtime follows on its own.
          shared_store->set_fence(fence);
          asio::post(ioc, [&ioc, sw, fence] {
            if (fence) {
              asio::co_spawn(ioc, sw->lead(*fence), asio::detached);
            } else {
              sw->follow();
            }
          });
        });
    switcher->election = election.get();
    // Orders only while the lease is confirmed by this replica's own clock.
    deps.may_order = [e = election.get()] { return e->leader(); };
    election->start();
    // On the way out: no new order from now; the lease is given up once in-flight work ended.
    rt.on_stop([sw] {
      sw->stopping = true;
      sw->follow();
    });
  }
  resign_on_exit resign_later{election.get()};
  std::unique_ptr<http::server> server;
  // /status and the page are put together per request from pieces rendered when their
  // certificate changed (status_board). The whole /status (8 MB and 17 ms at 10,000) is put
  // together at most once a second whatever the request rate: with CHALLENGE_LISTEN equal to
  // LISTEN it faces the internet, on the event loop every certificate shares.
  std::size_t renders = 0;
  struct rendered {
    std::string body;
    std::chrono::steady_clock::time_point at{};
  } whole_status;
  auto live = [&]() {
    live_figures f;
    f.queue_depth = rt.queue_depth();
    f.in_flight = rt.in_flight();
    f.rancher_configured = source != nullptr;
    if (source) {
      f.rancher_state = std::string(source->state());
      f.rancher_events = source->events();
      f.rancher_resyncs = source->resyncs();
    }
    f.ready = board.all_seen(rt.desired_set()) && (!source || source->resyncs() > 0);
    f.status_renders = renders;
    if (s->budgets) f.budgets = budget_figures(*s->budgets, now_seconds());
    if (shared_store) {
      live_figures::etcd_figure e;
      auto st = shared_store->stats();
      e.watching = st.watching;
      if (st.unreachable_since) {
        e.unreachable_since =
            std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(
                                          st.unreachable_since->time_since_epoch())
                                          .count());
      }
      e.requests = st.requests;
      e.revision = st.revision;
      e.unreadable = st.unreadable;
      e.last_error = st.last_error;
      if (election) {
        auto el = election->stats();
        e.leader = el.leader;
        e.holder = el.holder;
        e.elections = el.elections;
        e.leader_losses = el.losses;
        if (e.last_error.empty()) e.last_error = el.last_error;
      }
      f.etcd = e;
    }
    return f;
  };
  if (!s->cfg.listen.empty()) {
    auto handler = [&](const http::server_request& request) -> http::server_reply {
      const auto& method = request.method;
      const auto& target = request.target;
      if (method != "GET" && method != "HEAD") return {405, "text/plain", "GET only\n"};
      std::string path = target.substr(0, target.find('?'));
      if ((path == "/status" || path == "/" || path.starts_with("/status/")) &&
          !status_token_accepted(request.authorization, s->cfg.status_token)) {
        http::server_reply r{
            401, "text/plain; charset=utf-8",
            "this page needs the STATUS_TOKEN: `Authorization: Bearer <token>`, or "
            "any user name and the token as the password\n"};
        r.www_authenticate = {"Bearer realm=\"certherd\"",
                              "Basic realm=\"certherd\", charset=\"UTF-8\""};
        return r;
      }
      if (acme->shared_responder && path.starts_with("/.well-known/acme-challenge/")) {
        auto body = acme->shared_responder->key_authorization(path);
        return body ? http::server_reply{200, "application/octet-stream", *body}
                    : http::server_reply{404, "text/plain; charset=utf-8", "not found\n"};
      }
      if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
      if (path == "/readyz") {
        auto f = live();
        if (!f.ready) {
          return {503, "text/plain; charset=utf-8", "not ready: the first pass is not done\n"};
        }
        // A replica that has not heard from etcd for a call's deadline serves stale
        // certificates at worst and cannot answer challenges other replicas publish: it keeps
        // serving its local targets, and asks its balancer to send traffic elsewhere.
        if (f.etcd && f.etcd->unreachable_since != 0) {
          auto away = now_seconds().time_since_epoch().count() - f.etcd->unreachable_since;
          if (away >= s->cfg.etcd_timeout.count()) {
            return {503, "text/plain; charset=utf-8",
                    fmt::format("not ready: etcd has not answered for {} s\n", away)};
          }
        }
        return {200, "text/plain; charset=utf-8", "ready\n"};
      }
      if (path == "/metrics") {
        return {200, "text/plain; version=0.0.4; charset=utf-8",
                board.to_prometheus(live(), now_seconds())};
      }
      if (path == "/status" || path == "/") {
        auto query_at = target.find('?');
        auto parsed = parse_status_query(query_at == std::string::npos
                                             ? std::string_view{}
                                             : std::string_view(target).substr(query_at + 1));
        if (auto* error = std::get_if<std::string>(&parsed)) {
          return {400, "text/plain; charset=utf-8", fmt::format("bad query: {}\n", *error)};
        }
        const auto& q = std::get<status_query>(parsed);
        if (path == "/status" && !q.filtered()) {
          auto at = std::chrono::steady_clock::now();
          if (whole_status.at == std::chrono::steady_clock::time_point{} ||
              at - whole_status.at >= std::chrono::seconds(1)) {
            ++renders;
            whole_status.body = board.to_json(live(), now_seconds());
            whole_status.at = at;
          }
          return {200, "application/json", whole_status.body};
        }
        ++renders;
        if (path == "/status")
          return {200, "application/json", board.to_json(live(), now_seconds(), &q)};
        return {200, "text/html; charset=utf-8", board.to_html(live(), now_seconds(), q)};
      }
      if (path.starts_with("/status/")) {
        auto one = board.certificate_json(std::string_view(path).substr(8), now_seconds());
        if (!one) return {404, "text/plain; charset=utf-8", "no certificate of that name\n"};
        return {200, "application/json", std::move(*one)};
      }
      return {404, "text/plain; charset=utf-8", "not found\n"};
    };
    try {
      server = std::make_unique<http::server>(ioc.get_executor(), s->cfg.listen, handler);
    } catch (const std::exception& e) {
      return report(fail(failure_kind::configuration, e.what()));
    }
    server->start();
    rt.on_stop([&server] { server->stop(); });
    log::info("listening", {{"address", s->cfg.listen}, {"port", server->port()}});
  }
  rt.start();
  ioc.run();
  acme::driver::set_observer(nullptr);
  return exit_ok;
}

int print_plan(const std::map<std::string, std::string>& flags) {
  asio::io_context ioc;
  auto prepared = prepare(flags, ioc);
  if (!prepared) return report(prepared.error());
  auto& s = *prepared;
  reconcilers::executor_deps deps{*s->store,       s->anchors,        nullptr,
                                  raw(s->targets), policy_of(s->cfg), now_seconds};
  auto facts = load_chain_facts(*s);  // read, never written: `plan` changes nothing
  deps.facts = &facts;
  deps.budgets = s->budgets.get();  // consulted, never spent: nothing is ordered
  if (auto read = read_rancher_once(*s, ioc); !read) return report(read.error());
  std::cout << fmt::format("directory {}; {} certificate{}\n", s->cfg.effective_directory(),
                           s->specs.size(), s->specs.size() == 1 ? "" : "s");
  for (const auto& [name, spec] : s->specs) {
    auto planned = run_to_end(ioc, reconcilers::reconcile(spec, deps, false));
    const auto& r = *planned;
    std::string actions;
    for (const auto& a : r.decision.actions) {
      if (!actions.empty()) actions += ", ";
      actions +=
          std::string(reconcilers::to_string(a.kind)) + (a.target.empty() ? "" : " " + a.target);
    }
    std::cout << fmt::format("{}: {}\n  why: {}\n  wanted by: {}\n", spec.name,
                             actions.empty() ? "nothing to do" : actions, r.decision.reason,
                             fmt::join(spec.sources, ", "));
    if (r.requeue_at) std::cout << "  next look: " + pki::to_rfc3339(*r.requeue_at) + "\n";
  }
  return exit_ok;
}

}  // namespace certherd::controller
