#include "controller/setup.hpp"

#include "clients/log/log.hpp"

#include "clients/acme/http01_responder.hpp"

#include "controller/command.hpp"
#include "controller/domains_source.hpp"
#include "reconcilers/failure.hpp"
#include "reconcilers/files_target.hpp"
#include "reconcilers/haproxy_target.hpp"
#include "reconcilers/rancher_target.hpp"
#include "stores/atomic_file.hpp"
#include "stores/etcd_accounts.hpp"
#include "stores/etcd_budgets.hpp"
#include "stores/etcd_challenges.hpp"
#include "stores/etcd_store.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <iostream>

namespace certherd::controller {

namespace asio = boost::asio;
using reconcilers::cert_spec;

// The desired set: DOMAINS, plus what the labels ask for. A host named by both gets one
// certificate that lists both as its sources.
std::map<std::string, cert_spec> desired_specs(const setup& s, const label_result* labels) {
  std::map<std::string, cert_spec> out;
  for (const auto& host : s.domain_hosts) {
    out[host] = cert_spec{host,           {host},         s.directory, s.expected,
                          s.cfg.key_type, s.target_names, {"DOMAINS"}, s.cfg.profile};
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
      log::warn("label_problem",
                {{"problem", fmt::format("certificate {} is named by DOMAINS and by a label with "
                                         "other hosts; DOMAINS wins",
                                         name)}});
      continue;
    }
    std::vector<std::string> sources;
    for (const auto& svc : c.services)
      sources.push_back("service " + svc);
    out[name] = cert_spec{name,           c.hosts,        s.directory,        s.expected,
                          s.cfg.key_type, s.target_names, std::move(sources), s.cfg.profile};
  }
  return out;
}

outcome<> open_store(setup& s) {
  if (s.cfg.store == config::store_kind::file) {
    auto files = std::make_unique<stores::fs_store>(s.cfg.state_dir);
    if (auto opened = files->open(); !opened) {
      return opened.error().within("STATE_DIR=" + s.cfg.state_dir);
    }
    s.store = std::move(files);
    return {};
  }
  // STATE_DIR still holds what is this replica's own: the chain-facts memo.
  std::string detail;
  if (auto ec = stores::make_directories(s.cfg.state_dir, 0700, detail)) {
    return fail(failure_kind::store_io, "STATE_DIR=" + s.cfg.state_dir + ": " + detail);
  }
  // Read before anything else: a wrong key stops start-up before anything is written.
  auto ring = stores::key_ring::load(s.cfg.store_key_file);
  if (!ring) return ring.error();
  stores::etcd_store_options o;
  o.client.endpoints = s.cfg.etcd_endpoints;
  o.client.call_timeout = s.cfg.etcd_timeout;
  o.http.ca_bundle = s.cfg.etcd_ca_file;
  o.http.client_certificate = s.cfg.etcd_cert_file;
  o.http.client_key = s.cfg.etcd_key_file;
  o.http.step_timeout = s.cfg.etcd_timeout;
  o.http.operation_timeout = s.cfg.etcd_timeout;
  o.http.body_limit = 256 * 1024 * 1024;  // a page of 500 records with their chains
  o.prefix = s.cfg.etcd_prefix;
  std::unique_ptr<stores::etcd_store> store;
  try {
    store = std::make_unique<stores::etcd_store>(std::move(o), std::move(*ring));
  } catch (const std::exception& e) {
    return fail(failure_kind::configuration,
                std::string("ETCD_CA_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE: ") + e.what());
  }
  if (auto opened = store->open(); !opened) {
    return opened.error().within(fmt::format("etcd store ({}, ETCD_PREFIX={})",
                                             fmt::join(s.cfg.etcd_endpoints, ","),
                                             s.cfg.etcd_prefix));
  }
  s.accounts = std::make_unique<stores::etcd_account_store>(*store);
  s.store = std::move(store);
  return {};
}

outcome<std::unique_ptr<setup>> prepare(const std::map<std::string, std::string>& flags,
                                        asio::io_context& ioc) {
  auto env = environment();
  for (const auto& [k, v] : flags)
    env[k] = v;
  auto owned = std::make_unique<setup>();
  setup& s = *owned;
  try {
    s.cfg = load_config(env);
  } catch (const config_error& e) {
    return fail(failure_kind::configuration, e.what());
  }
  auto domains = parse_domains(s.cfg.domains);
  for (const auto& p : domains.problems)
    log::warn("domains_item", {{"problem", p}});
  s.rejected_domains = std::move(domains.rejected);
  if (domains.hosts.empty() && (s.cfg.cattle_url.empty() || !s.cfg.dynamic_config))
    log::warn("no_domains", {{"reason", "DOMAINS names no usable host"}});

  if (auto opened = open_store(s); !opened) return opened.error();
  if (!s.cfg.limits.empty()) {
    // Read before anything is ordered: budgets that cannot be read stop start-up rather than
    // start from full (a restart must not reset them).
    std::unique_ptr<stores::budget_keeper> keeper;
    if (auto* shared = dynamic_cast<stores::etcd_store*>(s.store.get())) {
      keeper = std::make_unique<stores::etcd_budget_keeper>(*shared);
    } else {
      keeper = std::make_unique<stores::file_budget_keeper>(std::filesystem::path(s.cfg.state_dir) /
                                                            "budgets");
    }
    s.budgets = std::make_unique<reconcilers::order_budgets>(s.cfg.limits, std::move(keeper));
    if (auto loaded = s.budgets->load(now_seconds()); !loaded) {
      return loaded.error().within("rate-limit budgets");
    }
  }
  auto anchors = pki::load_trust_anchors(s.cfg.trust_store, s.cfg.ca_roots);
  if (!anchors) {
    return fail(failure_kind::configuration,
                "trust anchors (SYSTEM_TRUST_STORE, ACME_ROOTS): " + anchors.error().message());
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
    reconcilers::haproxy_target_options ho;
    ho.socket = s.cfg.haproxy_socket;
    ho.crt_list = s.cfg.haproxy_crt_list;
    ho.cert_dir = s.cfg.haproxy_cert_dir;
    ho.adopt_foreign = s.cfg.adopt_foreign;
    s.targets.push_back(
        std::make_unique<reconcilers::haproxy_target>(ioc.get_executor(), s.anchors, ho));
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
      return fail(failure_kind::configuration, std::string("CATTLE_CA_BUNDLE: ") + e.what());
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
  p.bootstrap_placeholders = cfg.placeholders;
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

std::unique_ptr<acme::challenge_checker> make_self_checker(asio::any_io_executor executor, bool on,
                                                           const std::string& address,
                                                           const std::string& webroot,
                                                           const std::string& challenge_listen) {
  if (!on) return nullptr;
  acme::self_check_options o;
  o.address = address;
  o.route_hint = webroot.empty()
                     ? fmt::format("certherd's responder (CHALLENGE_LISTEN={})", challenge_listen)
                     : fmt::format("the web server of the webroot (WEBROOT={})", webroot);
  return std::make_unique<acme::http01_self_checker>(std::move(executor), std::move(o));
}

outcome<acme_parts> make_acme(const setup& s, asio::io_context& ioc, bool listen_serves_challenges,
                              bool share_challenges) {
  acme_parts out;
  http::client_options http_options;
  http_options.ca_bundle = s.cfg.ca_bundle;
  try {
    out.client = std::make_unique<http::client>(ioc.get_executor(), http_options);
    if (!s.cfg.webroot.empty()) {
      out.presenter = std::make_unique<acme::webroot_presenter>(s.cfg.webroot);
    } else if (listen_serves_challenges && s.cfg.challenge_listen == s.cfg.listen) {
      // One port for both: the LISTEN server answers /.well-known/acme-challenge/ too.
      auto shared = std::make_unique<acme::http01_responder>(ioc.get_executor());
      out.shared_responder = shared.get();
      out.presenter = std::move(shared);
    } else {
      out.presenter =
          std::make_unique<acme::http01_responder>(ioc.get_executor(), s.cfg.challenge_listen);
    }
    out.checker = make_self_checker(ioc.get_executor(), s.cfg.self_check, s.cfg.self_check_address,
                                    s.cfg.webroot, s.cfg.challenge_listen);
  } catch (const std::exception& e) {
    return fail(failure_kind::configuration, e.what());
  }
  reconcilers::acme_issuer_options o;
  o.state_dir = s.cfg.state_dir;
  o.accounts = s.accounts.get();
  if (!s.cfg.email.empty()) o.account.contact.push_back("mailto:" + s.cfg.email);
  o.account.eab_kid = s.cfg.eab_kid;
  o.account.eab_hmac = s.cfg.eab_hmac;
  o.preferred_chain = s.cfg.preferred_chain;
  o.budgets = s.budgets.get();
  o.checker = out.checker.get();
  if (!o.checker) log::warn("self_check_off", {{"reason", "SELF_CHECK=false"}});
  acme::challenge_presenter* presenter = out.presenter.get();
  if (auto* shared = dynamic_cast<stores::etcd_store*>(s.store.get()); shared && share_challenges) {
    out.shared_presenter = std::make_unique<stores::etcd_challenge_presenter>(
        *shared, *out.presenter, ioc.get_executor());
    presenter = out.shared_presenter.get();
  }
  out.issuer = std::make_unique<reconcilers::acme_issuer>(*out.client, *presenter, o);
  return out;
}

outcome<> read_rancher_once(setup& s, asio::io_context& ioc) {
  if (!s.rancher_api) return {};
  // One look at Rancher, as `run` takes after connecting: its certificates and the labels.
  auto looked = run_to_end(ioc, [](setup& s) -> asio::awaitable<outcome<>> {
    auto& api = *s.rancher_api;
    auto project = co_await api.async_connect();
    if (!project) co_return reconcilers::failure_from(project.error());
    s.mirror.begin_resync();
    auto certificates = co_await api.async_list_certificates();
    if (!certificates) co_return reconcilers::failure_from(certificates.error());
    std::vector<rancher::service> services;
    if (s.cfg.dynamic_config) {
      auto listed = co_await api.async_list_services();
      if (!listed) co_return reconcilers::failure_from(listed.error());
      services = std::move(listed->data);
    }
    s.mirror.finish_resync(std::move(certificates->data), std::move(services));
    co_return outcome<>{};
  }(s));
  if (!*looked) return looked->error().within("Rancher at " + s.rancher_api->base());
  if (s.cfg.dynamic_config) {
    label_options lo{s.cfg.hosts_label, s.cfg.cert_per_service,
                     parse_allowed_domains(s.cfg.allowed_domains)};
    auto labels = certificates_from_labels(s.mirror.services(), lo);
    for (const auto& p : labels.problems)
      std::cout << "label: " << p << "\n";
    s.rejected_labels = labels.rejected;
    s.specs = desired_specs(s, &labels);
  }
  return {};
}

}  // namespace certherd::controller
