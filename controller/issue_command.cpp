#include "controller/issue_command.hpp"

#include "clients/log/log.hpp"

#include "clients/acme/http01_responder.hpp"
#include "controller/command.hpp"
#include "controller/config.hpp"
#include "controller/setup.hpp"
#include "pki/certificate.hpp"
#include "pki/names.hpp"
#include "pki/utc_time.hpp"
#include "reconcilers/acme_issuer.hpp"
#include "stores/atomic_file.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <cstdlib>

#include <algorithm>
#include <iostream>
#include <system_error>

namespace certherd::controller {
namespace {

namespace asio = boost::asio;

int usage_error(const std::string& message) {
  return report(fail(failure_kind::configuration, message), "issue");
}

int failed(const failure& f) {
  return report(f, "issue");
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
  auto self_check = parse_bool(o.self_check);
  if (!self_check) {
    return usage_error(
        fmt::format("--self-check '{}' is not one of true, false, 1, 0, yes, no", o.self_check));
  }
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
    if (!o.profile.empty()) checked_profile("--profile", o.profile);
    if (!o.self_check_address.empty()) {
      checked_address("--self-check-address", o.self_check_address);
    }
  } catch (const config_error& e) {
    return usage_error(e.what());
  }
  if (o.eab_kid.empty() != eab_hmac.empty()) {
    return usage_error(
        "External Account Binding needs both --eab-kid and the HMAC key (ACME_EAB_HMAC or "
        "--eab-hmac-file)");
  }

  std::string detail;
  if (stores::make_directories(o.out, 0755, detail)) {
    return failed(fail(failure_kind::store_io, detail));
  }

  asio::io_context ioc;
  http::client_options http_options;
  http_options.ca_bundle = o.ca_bundle;
  std::unique_ptr<http::client> client;
  std::unique_ptr<acme::challenge_presenter> presenter;
  std::unique_ptr<acme::challenge_checker> checker;
  try {
    client = std::make_unique<http::client>(ioc.get_executor(), http_options);
  } catch (const std::exception& e) {  // --ca-bundle: bad input
    return usage_error(e.what());
  }
  try {
    if (!o.webroot.empty()) {
      presenter = std::make_unique<acme::webroot_presenter>(o.webroot);
    } else {
      presenter = std::make_unique<acme::http01_responder>(ioc.get_executor(), o.challenge_listen);
    }
    checker = make_self_checker(ioc.get_executor(), *self_check, o.self_check_address, o.webroot,
                                o.challenge_listen);
  } catch (const std::system_error& e) {
    // A listen address that is not one is wrong usage; one that cannot be bound (in use, not
    // permitted) is a challenge that cannot be served.
    if (e.code() == std::errc::invalid_argument) return usage_error(e.what());
    return failed(fail(failure_kind::challenge_setup, e.what()));
  } catch (const std::exception& e) {
    return failed(fail(failure_kind::challenge_setup, e.what()));
  }

  // The reconciler's issuer: the account (registered once, its key and URL kept in the state
  // directory), a fresh key, the order, and the check that the chain is for that key and names.
  reconcilers::acme_issuer_options options;
  options.state_dir = o.state_dir;
  if (!o.email.empty()) options.account.contact.push_back("mailto:" + o.email);
  options.account.eab_kid = o.eab_kid;
  options.account.eab_hmac = eab_hmac;
  options.preferred_chain = o.preferred_chain;
  options.order_timeout = std::chrono::seconds(o.timeout_seconds);
  options.checker = checker.get();
  // One deadline for the whole command, account registration included: every step of the
  // issuer times out by it, with its own reason; the backstop below only catches a step that
  // would not.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.timeout_seconds);
  options.deadline = deadline;
  reconcilers::acme_issuer issuer(*client, *presenter, options);
  reconcilers::cert_spec spec;
  spec.name = names.front();
  spec.hosts = names;
  spec.directory = o.directory;
  spec.key_type = *key_type;
  spec.profile = o.profile;

  auto issued = run_to_end(ioc, issuer.async_issue(spec, {}), deadline + std::chrono::seconds(2));
  if (!issued) {
    return failed(
        fail(failure_kind::transport,
             fmt::format("timed out: gave up after {} s (--timeout)", o.timeout_seconds)));
  }
  if (!*issued) return failed(issued->error());

  const auto& chain = (*issued)->chain;
  const auto& key = (*issued)->key;
  const pki::certificate& leaf = chain.front();
  std::span<const pki::certificate> intermediates(chain.data() + 1, chain.size() - 1);
  std::filesystem::path out(o.out);
  std::vector<stores::file_content> files{
      {out / "privkey.pem", key.to_pem(), 0600},
      {out / "cert.pem", leaf.pem(), 0644},
      {out / "chain.pem", pki::to_pem(intermediates), 0644},
      {out / "fullchain.pem", pki::to_pem(chain), 0644},
  };
  if (stores::write_files(files, detail)) return failed(fail(failure_kind::store_io, detail));
  log::info("certificate_issued", {{"names", fmt::format("{}", fmt::join(names, ","))},
                                   {"not_after", leaf.not_after()},
                                   {"serial", leaf.serial_hex()},
                                   {"order", (*issued)->order_url}});
  std::cout << fmt::format("{}: certificate for {} valid until {}\n", out.string(),
                           fmt::join(names, ", "), pki::to_rfc3339(leaf.not_after()));
  return exit_ok;
}

}  // namespace certherd::controller
