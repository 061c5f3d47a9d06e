// certherd's command line: subcommands on CLI11. Exit codes: 0 success, 1 the operation failed,
// 2 wrong usage or bad input.
#include "controller/exit_code.hpp"
#include "controller/issue_command.hpp"
#include "controller/logging.hpp"
#include "controller/manual.hpp"
#include "controller/ops_commands.hpp"
#include "controller/run_command.hpp"
#include "controller/settings.hpp"
#include "controller/store_migrate.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#ifndef CERTHERD_VERSION
#define CERTHERD_VERSION "0.0.0"
#endif

namespace {

using namespace certherd::controller;
using setting_values = std::map<std::string, std::string>;

/// A row of the command table: where CLI11 parses the subcommand, and what runs once it is.
struct subcommand {
  CLI::App* cli;
  std::function<int()> run;
  setting_values* settings = nullptr;  ///< takes run's settings as flags (--domains …)
  bool refuses_secret_flags = false;   ///< --eab-hmac is refused, its value never printed
  CLI::App* flags_on = nullptr;        ///< the nested command the flags belong to; null: cli
};

subcommand issue_command(CLI::App& app) {
  auto o = std::make_shared<issue_options>();
  auto* cmd = app.add_subcommand("issue", "Obtain one certificate for the given names and exit");
  cmd->add_option("--directory", o->directory, "ACME directory URL")
      ->required()
      ->envname("ACME_DIRECTORY");
  cmd->add_option("--ca-bundle", o->ca_bundle,
                  "PEM roots to trust for the ACME server (default: the system store)")
      ->envname("ACME_CA_BUNDLE");
  cmd->add_option(
      "--webroot", o->webroot,
      "write challenges under DIR/.well-known/acme-challenge/ (served by a web server)");
  cmd->add_option("--challenge-listen", o->challenge_listen,
                  "answer challenges with the built-in responder on ADDR (host:port)");
  cmd->add_option("--self-check", o->self_check,
                  "fetch each challenge as the CA will before asking it to validate "
                  "(true/false)")
      ->envname("SELF_CHECK")
      ->capture_default_str();
  cmd->add_option("--self-check-address", o->self_check_address,
                  "host:port the self-check connects to instead of the name's addresses and "
                  "port 80")
      ->envname("SELF_CHECK_ADDRESS");
  cmd->add_option("-d,--domain", o->names, "a name for the certificate (repeatable)")->required();
  cmd->add_option("--key-type", o->key_type, "ec256 (default), ec384, rsa2048, rsa3072, rsa4096")
      ->envname("KEY_TYPE");
  cmd->add_option("--email", o->email, "account contact address")->envname("ACME_EMAIL");
  cmd->add_option("--eab-kid", o->eab_kid, "External Account Binding key id")
      ->envname("ACME_EAB_KID");
  // The HMAC key is a secret: from ACME_EAB_HMAC or a file, never a flag (flags show in `ps`).
  cmd->add_option("--eab-hmac-file", o->eab_hmac_file,
                  "file holding the External Account Binding HMAC key (or set ACME_EAB_HMAC)")
      ->envname("ACME_EAB_HMAC_FILE");
  cmd->add_option("--preferred-chain", o->preferred_chain,
                  "issuer CN of the topmost certificate of the chain to prefer")
      ->envname("ACME_PREFERRED_CHAIN");
  cmd->add_option("--profile", o->profile, "ACME profile name")->envname("ACME_PROFILE");
  cmd->add_option("--timeout", o->timeout_seconds, "bound on the whole command, in seconds")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "directory for cert.pem, chain.pem, fullchain.pem, privkey.pem")
      ->required();
  cmd->add_option("--state-dir", o->state_dir, "where account keys are kept")
      ->envname("STATE_DIR")
      ->capture_default_str();
  return {cmd, [o] { return run_issue(*o); }, nullptr, true};
}

subcommand run_like_command(CLI::App& app, const char* name, const char* help,
                            int (*body)(const setting_values&)) {
  auto values = std::make_shared<setting_values>();
  return {app.add_subcommand(name, help), [values, body] { return body(*values); }, values.get(),
          true};
}

subcommand status_command(CLI::App& app) {
  auto o = std::make_shared<status_options>();
  auto* cmd = app.add_subcommand(
      "status",
      "Show the certificates by state and those that need attention: asks the running "
      "instance (LISTEN), else the store");
  cmd->add_option("--listen", o->listen, "address of the running instance")->envname("LISTEN");
  o->state_dir = "/var/lib/certherd";
  cmd->add_option("--state-dir", o->state_dir, "the store to read without one")
      ->envname("STATE_DIR")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON (every certificate, or those the filters choose)");
  cmd->add_flag("--all", o->all, "list every certificate, not only those that need attention");
  cmd->add_option("--state", o->state, "only certificates in this state")
      ->check(CLI::IsMember(status_states()));
  cmd->add_option("--query", o->query, "only names, hosts or sources with this text (any case)");
  return {cmd, [o] { return print_status(*o); }};
}

subcommand renew_command(CLI::App& app) {
  struct args {
    setting_values settings;
    std::string name;
    bool force = false;
  };
  auto a = std::make_shared<args>();
  auto* cmd = app.add_subcommand(
      "renew", "Reconcile one certificate now, with run's settings (--force: replace it anyway)");
  cmd->add_option("name", a->name, "the certificate's name")->required();
  cmd->add_flag("--force", a->force, "replace the certificate even if it is not due");
  return {cmd, [a] { return renew_certificate(a->settings, a->name, a->force); }, &a->settings,
          true};
}

subcommand revoke_command(CLI::App& app) {
  struct args {
    setting_values settings;
    std::string name, reason;
    bool no_reissue = false;
  };
  auto a = std::make_shared<args>();
  auto* cmd = app.add_subcommand(
      "revoke", "Revoke one certificate at its CA, then replace it (unless --no-reissue)");
  cmd->add_option("name", a->name, "the certificate's name")->required();
  cmd->add_option("--reason", a->reason,
                  "unspecified, keyCompromise, affiliationChanged, superseded, "
                  "or cessationOfOperation");
  cmd->add_flag("--no-reissue", a->no_reissue, "do not replace it now");
  return {cmd, [a] { return revoke_certificate(a->settings, a->name, a->reason, !a->no_reissue); },
          &a->settings, true};
}

subcommand store_command(CLI::App& app) {
  struct args {
    setting_values settings;
    std::string to;
  };
  auto a = std::make_shared<args>();
  auto* store = app.add_subcommand("store", "Work on the store: migrate");
  store->require_subcommand(1);
  auto* migrate = store->add_subcommand(
      "migrate",
      "Copy the certificates and account keys from STATE_DIR into etcd (--to etcd) or back "
      "(--to file), so that nothing is ordered again; the source is left as it was");
  migrate->add_option("--to", a->to, "etcd or file")->required();
  return {store, [a] { return migrate_store(a->settings, a->to); }, &a->settings, true, migrate};
}

subcommand version_command(CLI::App& app) {
  return {app.add_subcommand("version", "Print the version"), [] {
            std::cout << "certherd " << CERTHERD_VERSION << "\n";
            return static_cast<int>(exit_ok);
          }};
}

// Names a mistyped command instead of only saying one is missing.
void name_unknown_command(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--log-level" || arg == "--log-format") {
      ++i;
      continue;
    }
    if (arg.starts_with("-")) continue;
    auto subs = app.get_subcommands([&](CLI::App* sub) { return sub->get_name() == arg; });
    if (subs.empty()) std::cerr << "certherd: unknown command '" << arg << "'\n";
    break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"certherd — keeps every TLS certificate of a Rancher environment valid"};
  app.require_subcommand(1);
  app.fallthrough();  // --log-level and --log-format also after the subcommand
  std::string log_level = "info";
  std::string log_format = "text";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->envname("LOG_LEVEL");
  app.add_option("--log-format", log_format, "text (key=value) or json")->envname("LOG_FORMAT");

  // The subcommands, in the order `certherd --help` lists them.
  const std::vector<subcommand> commands{
      issue_command(app),
      run_like_command(app, "run", "Keep every desired certificate valid (the main job)",
                       run_controller),
      run_like_command(app, "plan", "Print what run would do for each certificate, and why",
                       print_plan),
      status_command(app),
      renew_command(app),
      revoke_command(app),
      store_command(app),
      version_command(app),
  };

  // A secret given as a flag shows in every process listing: refused, and its value never
  // printed (CLI11 would echo an unknown option's value).
  bool secret_flag = false;
  for (const auto& c : commands) {
    CLI::App* where = c.flags_on ? c.flags_on : c.cli;
    if (c.settings) {
      for (const auto& [flag, variable] : setting_flags()) {
        std::string help = variable;
        for (const auto& s : settings()) {
          if (s.variable == variable) {
            help = fmt::format("{}: {}{}", variable, s.meaning,
                               s.fallback.empty() ? "" : fmt::format(" Default: {}.", s.fallback));
          }
        }
        where->add_option_function<std::string>(
            flag,
            [values = c.settings, variable = variable](const std::string& v) {
              (*values)[variable] = v;
            },
            help);
      }
    }
    if (c.refuses_secret_flags) {
      where
          ->add_option_function<std::string>(
              "--eab-hmac", [&secret_flag](const std::string&) { secret_flag = true; },
              "refused: use ACME_EAB_HMAC or --eab-hmac-file")
          ->group("");
    }
  }

  // The manual page, from the commands above and the table of settings (not in --help).
  auto* manual = app.add_subcommand("manual", "Print the manual page (roff)")->group("");
  bool environment = false;
  manual->add_flag("--environment-file", environment,
                   "print the packaged /etc/default/certherd instead");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "certherd: " << e.what() << "\n";
    name_unknown_command(app, argc, argv);
    std::cerr << "Run 'certherd --help' for usage.\n";
    return exit_usage;
  }
  if (secret_flag) {
    std::cerr << "certherd: --eab-hmac is not accepted: a key on the command line shows in every "
                 "process listing; set ACME_EAB_HMAC or give --eab-hmac-file FILE (the value "
                 "given is not printed)\n";
    return exit_usage;
  }
  if (auto err = setup_logging(log_level, log_format); !err.empty()) {
    std::cerr << "certherd: " << err << "\n";
    return exit_usage;
  }
  if (manual->parsed()) {
    std::cout << (environment ? environment_file(CERTHERD_VERSION)
                              : manual_page(app, CERTHERD_VERSION));
    return exit_ok;
  }
  try {
    for (const auto& c : commands) {
      if (c.cli->parsed()) return c.run();
    }
    return exit_ok;
  } catch (const std::exception& e) {
    std::cerr << "certherd: " << e.what() << "\n";
    return exit_failed;
  } catch (...) {
    std::cerr << "certherd: unexpected failure\n";
    return exit_failed;
  }
}
