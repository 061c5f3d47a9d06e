#include "controller/run_command.hpp"

#include "clients/acme/driver.hpp"
#include "clients/acme/http01_responder.hpp"
#include "controller/config.hpp"
#include "controller/domains_source.hpp"
#include "controller/http_server.hpp"
#include "controller/issue_command.hpp"
#include "controller/rancher_source.hpp"
#include "controller/runtime.hpp"
#include "controller/status_board.hpp"
#include "reconcilers/files_target.hpp"
#include "reconcilers/haproxy_target.hpp"
#include "reconcilers/rancher_target.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <csignal>

#include <iostream>

namespace certherd::controller {

namespace asio = boost::asio;
using reconcilers::cert_spec;

const std::vector<std::pair<std::string, std::string>>& setting_flags() {
  static const std::vector<std::pair<std::string, std::string>> flags{
      {"--domains", "DOMAINS"},
      {"--staging", "STAGING"},
      {"--directory", "ACME_DIRECTORY"},
      {"--email", "ACME_EMAIL"},
      {"--ca-bundle", "ACME_CA_BUNDLE"},
      {"--ca-roots", "ACME_ROOTS"},
      {"--profile", "ACME_PROFILE"},
      {"--eab-kid", "ACME_EAB_KID"},
      {"--eab-hmac", "ACME_EAB_HMAC"},
      {"--webroot", "WEBROOT"},
      {"--challenge-listen", "CHALLENGE_LISTEN"},
      {"--renew-before-days", "RENEW_BEFORE_DAYS"},
      {"--loop-time", "LOOP_TIME"},
      {"--key-type", "KEY_TYPE"},
      {"--state-dir", "STATE_DIR"},
      {"--output-dir", "OUTPUT_DIR"},
      {"--output-reload-command", "OUTPUT_RELOAD_COMMAND"},
      {"--haproxy-socket", "HAPROXY_SOCKET"},
      {"--haproxy-crt-list", "HAPROXY_CRT_LIST"},
      {"--haproxy-cert-dir", "HAPROXY_CERT_DIR"},
      {"--concurrency", "CONCURRENCY"},
      {"--system-trust-store", "SYSTEM_TRUST_STORE"},
      {"--adopt-foreign", "ADOPT_FOREIGN"},
      {"--listen", "LISTEN"},
      // Rancher. The keys are environment only: a flag would show in every process listing.
      {"--cattle-url", "CATTLE_URL"},
      {"--cattle-ca-bundle", "CATTLE_CA_BUNDLE"},
      {"--dynamic-config", "DYNAMIC_CONFIG"},
      {"--hosts-label", "HOSTS_LABEL"},
      {"--cert-per-service", "CERT_PER_SERVICE"},
      {"--allowed-domains", "ALLOWED_DOMAINS"},
      {"--rancher-timeout", "RANCHER_TIMEOUT"},
  };
  return flags;
}

namespace {

struct setup {
  config cfg;
  std::unique_ptr<stores::fs_store> store;
  pki::trust_anchors anchors;
  std::vector<std::string> domain_hosts;  // from DOMAINS
  std::string directory;
  std::optional<pki::issuer_class> expected;
  std::vector<std::string> target_names;
  std::map<std::string, cert_spec> specs;  // what DOMAINS asks for
  std::vector<std::unique_ptr<reconcilers::target>> targets;
  // Rancher, when CATTLE_URL is set.
  std::unique_ptr<http::client> rancher_http;
  std::unique_ptr<rancher::api> rancher_api;
  rancher::mirror mirror;
};

// The desired set: DOMAINS, plus what the labels ask for. A host named by both gets one
// certificate that lists both as its sources.
std::map<std::string, cert_spec> desired_specs(const setup& s, const label_result* labels) {
  std::map<std::string, cert_spec> out;
  for (const auto& host : s.domain_hosts) {
    out[host] = cert_spec{host,           {host},         s.directory, s.expected,
                          s.cfg.key_type, s.target_names, {"DOMAINS"}};
  }
  if (!labels) return out;
  for (const auto& [name, c] : labels->certificates) {
    auto it = out.find(name);
    if (it != out.end() && it->second.hosts == c.hosts) {
      for (const auto& svc : c.services)
        it->second.sources.push_back("service " + svc);
      continue;
    }
    if (it != out.end()) {
      spdlog::warn(
          "event=label_problem problem=\"certificate {} is named by DOMAINS and by a label with "
          "other hosts; DOMAINS wins\"",
          name);
      continue;
    }
    std::vector<std::string> sources;
    for (const auto& svc : c.services)
      sources.push_back("service " + svc);
    out[name] = cert_spec{name,           c.hosts,        s.directory,       s.expected,
                          s.cfg.key_type, s.target_names, std::move(sources)};
  }
  return out;
}

// Reads the configuration and the store; prints one line and returns null on a bad start. The
// setup lives on the heap and never moves: the executor keeps references into it.
std::unique_ptr<setup> prepare(const std::map<std::string, std::string>& flags, int& code,
                               asio::io_context& ioc) {
  auto env = environment();
  for (const auto& [k, v] : flags)
    env[k] = v;
  auto owned = std::make_unique<setup>();
  setup& s = *owned;
  try {
    s.cfg = load_config(env);
  } catch (const config_error& e) {
    std::cerr << "certherd: " << e.what() << "\n";
    code = exit_usage;
    return nullptr;
  }
  auto domains = parse_domains(s.cfg.domains);
  for (const auto& p : domains.problems)
    spdlog::warn("event=domains_item {}", p);
  if (domains.hosts.empty() && (s.cfg.cattle_url.empty() || !s.cfg.dynamic_config))
    spdlog::warn("event=no_domains reason=\"DOMAINS names no usable host\"");

  s.store = std::make_unique<stores::fs_store>(s.cfg.state_dir);
  if (auto opened = s.store->open(); !opened) {
    std::cerr << "certherd: STATE_DIR=" << s.cfg.state_dir << ": " << opened.error() << "\n";
    code = exit_failed;
    return nullptr;
  }
  auto anchors = pki::load_trust_anchors(s.cfg.trust_store, s.cfg.ca_roots);
  if (!anchors) {
    std::cerr << "certherd: trust anchors (SYSTEM_TRUST_STORE, ACME_ROOTS): "
              << anchors.error().message() << "\n";
    code = exit_usage;
    return nullptr;
  }
  s.anchors = std::move(*anchors);

  s.domain_hosts = domains.hosts;
  auto& target_names = s.target_names;
  if (!s.cfg.output_dir.empty()) {
    s.targets.push_back(std::make_unique<reconcilers::files_target>(
        ioc.get_executor(), s.cfg.output_dir, s.cfg.output_reload));
    target_names.push_back("files");
  }
  if (!s.cfg.haproxy_socket.empty()) {
    s.targets.push_back(std::make_unique<reconcilers::haproxy_target>(
        ioc.get_executor(), s.cfg.haproxy_socket, s.cfg.haproxy_crt_list, s.cfg.haproxy_cert_dir));
    target_names.push_back("haproxy");
  }
  if (!s.cfg.cattle_url.empty()) {
    http::client_options o;
    o.ca_bundle = s.cfg.cattle_ca_bundle;
    o.step_timeout = s.cfg.rancher_timeout;
    o.operation_timeout = s.cfg.rancher_timeout;
    o.body_limit = 64 * 1024 * 1024;  // a full list of thousands of certificates
    try {
      s.rancher_http = std::make_unique<http::client>(ioc.get_executor(), o);
    } catch (const std::exception& e) {
      std::cerr << "certherd: CATTLE_CA_BUNDLE: " << e.what() << "\n";
      code = exit_usage;
      return nullptr;
    }
    rancher::api_options ao;
    ao.url = s.cfg.cattle_url;
    ao.access_key = s.cfg.cattle_access_key;
    ao.secret_key = s.cfg.cattle_secret_key;
    ao.call_timeout = s.cfg.rancher_timeout;
    s.rancher_api = std::make_unique<rancher::api>(*s.rancher_http, ao);
    s.targets.push_back(std::make_unique<reconcilers::rancher_target>(
        *s.rancher_api, s.mirror, s.anchors, s.cfg.adopt_foreign));
    target_names.push_back("rancher");
  }
  s.directory = s.cfg.effective_directory();
  if (s.directory == kLetsEncryptProduction)
    s.expected = pki::issuer_class::production;
  else if (s.directory == kLetsEncryptStaging)
    s.expected = pki::issuer_class::staging;
  else if (!s.cfg.ca_roots.empty())
    s.expected = pki::issuer_class::custom;
  s.specs = desired_specs(s, nullptr);
  return owned;
}

reconcilers::reconcile_policy policy_of(const config& cfg) {
  reconcilers::reconcile_policy p;
  p.adopt_foreign = cfg.adopt_foreign;
  if (cfg.renew_before_days) p.renewal.renew_before = std::chrono::days(*cfg.renew_before_days);
  return p;
}

std::vector<reconcilers::target*> raw(const std::vector<std::unique_ptr<reconcilers::target>>& v) {
  std::vector<reconcilers::target*> out;
  for (const auto& t : v)
    out.push_back(t.get());
  return out;
}

std::chrono::sys_seconds now_seconds() {
  return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
}

}  // namespace

int run_controller(const std::map<std::string, std::string>& flags) {
  asio::io_context ioc;
  asio::signal_set signals(ioc, SIGINT, SIGTERM);  // first: a stop during start-up is graceful too
  int code = exit_ok;
  auto s = prepare(flags, code, ioc);
  if (!s) return code;

  http::client_options http_options;
  http_options.ca_bundle = s->cfg.ca_bundle;
  std::unique_ptr<http::client> client;
  std::unique_ptr<acme::challenge_presenter> presenter;
  try {
    client = std::make_unique<http::client>(ioc.get_executor(), http_options);
    if (!s->cfg.webroot.empty()) {
      presenter = std::make_unique<acme::webroot_presenter>(s->cfg.webroot);
    } else {
      presenter =
          std::make_unique<acme::http01_responder>(ioc.get_executor(), s->cfg.challenge_listen);
    }
  } catch (const std::exception& e) {
    std::cerr << "certherd: " << e.what() << "\n";
    return exit_usage;
  }
  reconcilers::acme_issuer_options issuer_options;
  issuer_options.state_dir = s->cfg.state_dir;
  if (!s->cfg.email.empty()) issuer_options.account.contact.push_back("mailto:" + s->cfg.email);
  issuer_options.account.eab_kid = s->cfg.eab_kid;
  issuer_options.account.eab_hmac = s->cfg.eab_hmac;
  issuer_options.profile = s->cfg.profile;
  reconcilers::acme_issuer issuer(*client, *presenter, issuer_options);

  reconcilers::executor_deps deps{*s->store,       s->anchors,        &issuer,
                                  raw(s->targets), policy_of(s->cfg), now_seconds};
  reconcilers::observation_cache cache;
  deps.cache = &cache;
  runtime rt(ioc, signals, deps, {s->cfg.concurrency, s->cfg.loop_time, std::chrono::seconds(30)});
  spdlog::info("event=start directory={} certificates={} targets={} state_dir={}",
               s->cfg.effective_directory(), s->specs.size(), s->targets.size(), s->cfg.state_dir);
  status_board board(policy_of(s->cfg).renewal);
  rt.on_reconciled([&board](const cert_spec& spec, const reconcilers::reconcile_report& r) {
    board.reconciled(spec, r, now_seconds());
  });
  acme::driver::set_observer([&board](std::string_view endpoint, unsigned status, double secs) {
    board.acme_request(endpoint, status, secs);
  });
  rt.set_desired(s->specs);
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
    h.labels_changed = [&rt, &s](const label_result& labels) {
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
  std::unique_ptr<http_server> server;
  if (!s->cfg.listen.empty()) {
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
      return f;
    };
    auto handler = [&](const std::string& method, const std::string& target) -> http_reply {
      if (method != "GET" && method != "HEAD") return {405, "text/plain", "GET only\n"};
      std::string path = target.substr(0, target.find('?'));
      if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
      if (path == "/readyz") {
        auto f = live();
        return f.ready ? http_reply{200, "text/plain; charset=utf-8", "ready\n"}
                       : http_reply{503, "text/plain; charset=utf-8",
                                    "not ready: the first pass is not done\n"};
      }
      if (path == "/metrics") {
        return {200, "text/plain; version=0.0.4; charset=utf-8",
                board.to_prometheus(rt.desired_set(), cache, live())};
      }
      if (path == "/status") {
        return {200, "application/json",
                board.to_json(rt.desired_set(), cache, live(), now_seconds())};
      }
      if (path == "/") {
        return {200, "text/html; charset=utf-8",
                board.to_html(rt.desired_set(), cache, live(), now_seconds())};
      }
      return {404, "text/plain; charset=utf-8", "not found\n"};
    };
    try {
      server = std::make_unique<http_server>(ioc.get_executor(), s->cfg.listen, handler);
    } catch (const std::exception& e) {
      std::cerr << "certherd: " << e.what() << "\n";
      return exit_usage;
    }
    server->start();
    rt.on_stop([&server] { server->stop(); });
    spdlog::info("event=listening address={} port={}", s->cfg.listen, server->port());
  }
  rt.start();
  ioc.run();
  acme::driver::set_observer(nullptr);
  return exit_ok;
}

int print_plan(const std::map<std::string, std::string>& flags) {
  asio::io_context ioc;
  int code = exit_ok;
  auto s = prepare(flags, code, ioc);
  if (!s) return code;
  reconcilers::executor_deps deps{*s->store,       s->anchors,        nullptr,
                                  raw(s->targets), policy_of(s->cfg), now_seconds};
  if (s->rancher_api) {
    // One look at Rancher, as `run` takes after connecting: its certificates and the labels.
    std::string problem;
    asio::co_spawn(
        ioc,
        [](setup& s, std::string& problem) -> asio::awaitable<void> {
          auto& api = *s.rancher_api;
          auto project = co_await api.async_connect();
          if (!project) {
            problem = project.error().to_string();
            co_return;
          }
          s.mirror.begin_resync();
          auto certificates = co_await api.async_list_certificates();
          if (!certificates) {
            problem = certificates.error().to_string();
            co_return;
          }
          std::vector<rancher::service> services;
          if (s.cfg.dynamic_config) {
            auto listed = co_await api.async_list_services();
            if (!listed) {
              problem = listed.error().to_string();
              co_return;
            }
            services = std::move(listed->data);
          }
          s.mirror.finish_resync(std::move(certificates->data), std::move(services));
        }(*s, problem),
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    ioc.run();
    ioc.restart();
    if (!problem.empty()) {
      std::cerr << "certherd: Rancher at " << s->rancher_api->base() << ": " << problem << "\n";
      return exit_failed;
    }
    if (s->cfg.dynamic_config) {
      label_options lo{s->cfg.hosts_label, s->cfg.cert_per_service,
                       parse_allowed_domains(s->cfg.allowed_domains)};
      auto labels = certificates_from_labels(s->mirror.services(), lo);
      for (const auto& p : labels.problems)
        std::cout << "label: " << p << "\n";
      s->specs = desired_specs(*s, &labels);
    }
  }
  std::cout << fmt::format("directory {}; {} certificate{}\n", s->cfg.effective_directory(),
                           s->specs.size(), s->specs.size() == 1 ? "" : "s");
  for (const auto& [name, spec] : s->specs) {
    asio::co_spawn(
        ioc,
        [](cert_spec spec, reconcilers::executor_deps& deps) -> asio::awaitable<void> {
          auto r = co_await reconcilers::reconcile(spec, deps, false);
          std::string actions;
          for (const auto& a : r.decision.actions) {
            if (!actions.empty()) actions += ", ";
            actions += std::string(reconcilers::to_string(a.kind)) +
                       (a.target.empty() ? "" : " " + a.target);
          }
          std::cout << fmt::format("{}: {}\n  why: {}\n  wanted by: {}\n", spec.name,
                                   actions.empty() ? "nothing to do" : actions, r.decision.reason,
                                   fmt::join(spec.sources, ", "));
          if (r.requeue_at) std::cout << fmt::format("  next look: {:%FT%TZ}\n", *r.requeue_at);
        }(spec, deps),
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    ioc.run();
    ioc.restart();
  }
  return exit_ok;
}

}  // namespace certherd::controller
