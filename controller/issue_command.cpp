#include "controller/issue_command.hpp"

#include "clients/log/log.hpp"
#include "controller/exit_code.hpp"

#include "clients/acme/driver.hpp"
#include "clients/acme/http01_responder.hpp"
#include "clients/acme/session.hpp"
#include "controller/config.hpp"
#include "pki/certificate.hpp"
#include "pki/names.hpp"
#include "pki/utc_time.hpp"
#include "stores/account_keys.hpp"
#include "stores/atomic_file.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdlib>

#include <algorithm>
#include <iostream>

namespace certherd::controller {
namespace {

namespace asio = boost::asio;

int usage_error(const std::string& message) {
  std::cerr << "certherd issue: " << message << "\n";
  return exit_usage;
}

int failure(const std::string& message) {
  std::cerr << "certherd issue: " << message << "\n";
  return exit_failed;
}

struct outcome {
  bool finished = false;
  acme::result<acme::issued_certificate> issued = acme::error{acme::errc::transport, "not run", {}};
  std::string account_url;
  std::string crash;
};

asio::awaitable<void> obtain(acme::driver& driver, acme::session& session,
                             acme::account_options account, acme::order_request order,
                             outcome& out) {
  auto acct = co_await driver.async_run(session.register_account(std::move(account)));
  if (!acct) {
    out.issued = acct.error();
  } else {
    out.account_url = acct->url;
    log::info("account_ready", {{"account", acct->url}});
    out.issued = co_await driver.async_run(session.issue(std::move(order)));
  }
  out.finished = true;
}

}  // namespace

int run_issue(const issue_options& o) {
  // Names: normalized, checked, de-duplicated in the order given.
  std::vector<std::string> names;
  for (const auto& raw : o.names) {
    std::string name = pki::normalize_host(raw);
    if (auto ok = pki::check_host(name); !ok) return usage_error(ok.error().detail);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  if (names.empty()) return usage_error("no name given (-d NAME)");
  auto key_type = pki::parse_key_type(o.key_type);
  if (!key_type) {
    return usage_error(
        fmt::format("--key-type '{}' is not one of ec256, ec384, rsa2048, rsa3072, "
                    "rsa4096",
                    o.key_type));
  }
  if (o.webroot.empty() == o.challenge_listen.empty()) {
    return usage_error("give exactly one of --webroot DIR and --challenge-listen ADDR");
  }
  if (o.timeout_seconds <= 0) return usage_error("--timeout must be a positive number of seconds");
  std::string eab_hmac = o.eab_hmac;
  try {
    if (eab_hmac.empty()) {
      if (const char* v = std::getenv("ACME_EAB_HMAC"); v && *v) eab_hmac = v;
    }
    if (!o.eab_hmac_file.empty()) {
      if (!eab_hmac.empty()) {
        return usage_error("ACME_EAB_HMAC and --eab-hmac-file exclude each other: give one");
      }
      eab_hmac = read_secret_file("--eab-hmac-file", o.eab_hmac_file);
    }
    checked_url("--directory", o.directory);
  } catch (const config_error& e) {
    return usage_error(e.what());
  }
  if (o.eab_kid.empty() != eab_hmac.empty()) {
    return usage_error(
        "External Account Binding needs both --eab-kid and the HMAC key (ACME_EAB_HMAC or "
        "--eab-hmac-file)");
  }

  std::string detail;
  if (stores::make_directories(o.out, 0755, detail)) return failure(detail);
  auto account = stores::load_or_create_account(o.state_dir, o.directory, pki::key_type::ec256);
  if (!account) return failure(account.error());

  auto cert_key = pki::private_key::generate(*key_type);
  if (!cert_key) return failure(cert_key.error().message());
  auto csr = pki::make_csr_der(*cert_key, names);
  if (!csr) return failure(csr.error().message());

  asio::io_context ioc;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_seconds);
  http::client_options http_options;
  http_options.ca_bundle = o.ca_bundle;
  std::unique_ptr<http::client> client;
  std::unique_ptr<acme::challenge_presenter> presenter;
  try {
    client = std::make_unique<http::client>(ioc.get_executor(), http_options);
    if (!o.webroot.empty()) {
      presenter = std::make_unique<acme::webroot_presenter>(o.webroot);
    } else {
      presenter = std::make_unique<acme::http01_responder>(ioc.get_executor(), o.challenge_listen);
    }
  } catch (const std::exception& e) {
    return failure(e.what());
  }

  acme::session session(o.directory, account->key);
  if (!account->account_url.empty()) session.set_account_url(account->account_url);
  acme::driver driver(*client, presenter.get(), deadline);
  acme::account_options account_options;
  if (!o.email.empty()) account_options.contact.push_back("mailto:" + o.email);
  account_options.eab_kid = o.eab_kid;
  account_options.eab_hmac = eab_hmac;
  acme::order_request order{names, *csr, o.profile, o.preferred_chain};

  outcome result;
  asio::co_spawn(ioc, obtain(driver, session, account_options, order, result),
                 [&](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& x) {
                       result.crash = x.what();
                     }
                   }
                   ioc.stop();
                 });
  // Backstop: every step already has the deadline; this only guards against a bug in one.
  asio::steady_timer backstop(ioc, deadline + std::chrono::seconds(2));
  backstop.async_wait([&](boost::system::error_code ec) {
    if (!ec) ioc.stop();
  });
  ioc.run();

  if (!result.crash.empty()) return failure("internal error: " + result.crash);
  if (!result.finished) {
    return failure(fmt::format("gave up after the {} s timeout", o.timeout_seconds));
  }
  if (!result.account_url.empty() && result.account_url != account->account_url) {
    if (auto saved = stores::save_account_url(*account, o.directory, result.account_url); !saved) {
      log::warn("account_not_recorded", {{"error", saved.error()}});
    }
  }
  if (!result.issued) return failure(result.issued.error().message());

  auto chain = pki::parse_pem_chain(result.issued->chain_pem);
  if (!chain) return failure("the CA returned an unreadable chain: " + chain.error().message());
  const pki::certificate& leaf = chain->front();
  if (auto ok = pki::check_issued(leaf, *cert_key, names); !ok) return failure(ok.error().detail);
  std::span<const pki::certificate> intermediates(chain->data() + 1, chain->size() - 1);
  std::filesystem::path out(o.out);
  std::vector<stores::file_content> files{
      {out / "privkey.pem", cert_key->to_pem(), 0600},
      {out / "cert.pem", leaf.pem(), 0644},
      {out / "chain.pem", pki::to_pem(intermediates), 0644},
      {out / "fullchain.pem", pki::to_pem(*chain), 0644},
  };
  if (stores::write_files(files, detail)) return failure(detail);
  log::info("certificate_issued", {{"names", fmt::format("{}", fmt::join(names, ","))},
                                   {"not_after", leaf.not_after()},
                                   {"serial", leaf.serial_hex()},
                                   {"order", result.issued->order_url}});
  std::cout << fmt::format("{}: certificate for {} valid until {}\n", out.string(),
                           fmt::join(names, ", "), pki::to_rfc3339(leaf.not_after()));
  return exit_ok;
}

}  // namespace certherd::controller
