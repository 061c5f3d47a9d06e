// certherd's command line: subcommands on CLI11. Exit codes: 0 success, 1 the operation failed,
// 2 wrong usage or bad input.
#include "controller/exit_code.hpp"
#include "controller/issue_command.hpp"
#include "controller/logging.hpp"
#include "controller/ops_commands.hpp"
#include "controller/run_command.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

#ifndef CERTHERD_VERSION
#define CERTHERD_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace certherd::controller;
  CLI::App app{"certherd — keeps every TLS certificate of a Rancher environment valid"};
  app.require_subcommand(1);
  app.fallthrough();  // --log-level and --log-format also after the subcommand
  std::string log_level = "info";
  std::string log_format = "text";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->envname("LOG_LEVEL");
  app.add_option("--log-format", log_format, "text (key=value) or json")->envname("LOG_FORMAT");

  issue_options issue;
  auto* cmd = app.add_subcommand("issue", "Obtain one certificate for the given names and exit");
  cmd->add_option("--directory", issue.directory, "ACME directory URL")
      ->required()
      ->envname("ACME_DIRECTORY");
  cmd->add_option("--ca-bundle", issue.ca_bundle,
                  "PEM roots to trust for the ACME server (default: the system store)")
      ->envname("ACME_CA_BUNDLE");
  cmd->add_option(
      "--webroot", issue.webroot,
      "write challenges under DIR/.well-known/acme-challenge/ (served by a web server)");
  cmd->add_option("--challenge-listen", issue.challenge_listen,
                  "answer challenges with the built-in responder on ADDR (host:port)");
  cmd->add_option("-d,--domain", issue.names, "a name for the certificate (repeatable)")
      ->required();
  cmd->add_option("--key-type", issue.key_type, "ec256 (default), ec384, rsa2048, rsa3072, rsa4096")
      ->envname("KEY_TYPE");
  cmd->add_option("--email", issue.email, "account contact address")->envname("ACME_EMAIL");
  cmd->add_option("--eab-kid", issue.eab_kid, "External Account Binding key id")
      ->envname("ACME_EAB_KID");
  // The HMAC key is a secret: from ACME_EAB_HMAC or a file, never a flag (flags show in `ps`).
  cmd->add_option("--eab-hmac-file", issue.eab_hmac_file,
                  "file holding the External Account Binding HMAC key (or set ACME_EAB_HMAC)")
      ->envname("ACME_EAB_HMAC_FILE");
  cmd->add_option("--preferred-chain", issue.preferred_chain,
                  "issuer CN of the topmost certificate of the chain to prefer");
  cmd->add_option("--profile", issue.profile, "ACME profile name")->envname("ACME_PROFILE");
  cmd->add_option("--timeout", issue.timeout_seconds, "bound on the whole command, in seconds")
      ->capture_default_str();
  cmd->add_option("--out", issue.out,
                  "directory for cert.pem, chain.pem, fullchain.pem, privkey.pem")
      ->required();
  cmd->add_option("--state-dir", issue.state_dir, "where account keys are kept")
      ->envname("STATE_DIR")
      ->capture_default_str();

  std::map<std::string, std::string> run_flags, plan_flags, renew_flags, revoke_flags;
  auto* run_cmd = app.add_subcommand("run", "Keep every desired certificate valid (the main job)");
  auto* plan_cmd =
      app.add_subcommand("plan", "Print what run would do for each certificate, and why");

  status_options status;
  auto* status_cmd = app.add_subcommand(
      "status", "Show every certificate: asks the running instance (LISTEN), else the store");
  status_cmd->add_option("--listen", status.listen, "address of the running instance")
      ->envname("LISTEN");
  status.state_dir = "/var/lib/certherd";
  status_cmd->add_option("--state-dir", status.state_dir, "the store to read without one")
      ->envname("STATE_DIR")
      ->capture_default_str();
  status_cmd->add_flag("--json", status.json, "print JSON");

  std::string renew_name;
  bool force = false;
  auto* renew_cmd = app.add_subcommand(
      "renew", "Reconcile one certificate now, with run's settings (--force: replace it anyway)");
  renew_cmd->add_option("name", renew_name, "the certificate's name")->required();
  renew_cmd->add_flag("--force", force, "replace the certificate even if it is not due");

  std::string revoke_name, reason;
  bool no_reissue = false;
  auto* revoke_cmd = app.add_subcommand(
      "revoke", "Revoke one certificate at its CA, then replace it (unless --no-reissue)");
  revoke_cmd->add_option("name", revoke_name, "the certificate's name")->required();
  revoke_cmd->add_option("--reason", reason,
                         "unspecified, keyCompromise, affiliationChanged, superseded, "
                         "or cessationOfOperation");
  revoke_cmd->add_flag("--no-reissue", no_reissue, "do not replace it now");

  for (auto* sub : {run_cmd, plan_cmd, renew_cmd, revoke_cmd}) {
    auto& target = sub == run_cmd     ? run_flags
                   : sub == plan_cmd  ? plan_flags
                   : sub == renew_cmd ? renew_flags
                                      : revoke_flags;
    for (const auto& [flag, variable] : setting_flags()) {
      sub->add_option_function<std::string>(
          flag, [&target, variable = variable](const std::string& v) { target[variable] = v; },
          "same as " + variable);
    }
  }

  // A secret given as a flag shows in every process listing: refused, and its value never
  // printed (CLI11 would echo an unknown option's value).
  bool eab_hmac_flag = false;
  for (auto* sub : {cmd, run_cmd, plan_cmd, renew_cmd, revoke_cmd}) {
    sub->add_option_function<std::string>(
           "--eab-hmac", [&eab_hmac_flag](const std::string&) { eab_hmac_flag = true; },
           "refused: use ACME_EAB_HMAC or --eab-hmac-file")
        ->group("");
  }

  app.add_subcommand("version", "Print the version")->callback([] {
    std::cout << "certherd " << CERTHERD_VERSION << "\n";
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "certherd: " << e.what() << "\n";
    // Name a mistyped command instead of only saying one is missing.
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--log-level" || arg == "--log-format") {
        ++i;
        continue;
      }
      if (arg.starts_with("-")) continue;
      auto subs = app.get_subcommands([&](CLI::App* sub) { return sub->get_name() == arg; });
      if (subs.empty()) {
        std::cerr << "certherd: unknown command '" << arg << "'\n";
      }
      break;
    }
    std::cerr << "Run 'certherd --help' for usage.\n";
    return exit_usage;
  }
  if (eab_hmac_flag) {
    std::cerr << "certherd: --eab-hmac is not accepted: a key on the command line shows in every "
                 "process listing; set ACME_EAB_HMAC or give --eab-hmac-file FILE (the value "
                 "given is not printed)\n";
    return exit_usage;
  }
  if (auto err = setup_logging(log_level, log_format); !err.empty()) {
    std::cerr << "certherd: " << err << "\n";
    return exit_usage;
  }
  auto dispatch = [&]() -> int {
    if (cmd->parsed()) return run_issue(issue);
    if (run_cmd->parsed()) return run_controller(run_flags);
    if (plan_cmd->parsed()) return print_plan(plan_flags);
    if (status_cmd->parsed()) return print_status(status);
    if (renew_cmd->parsed()) return renew_certificate(renew_flags, renew_name, force);
    if (revoke_cmd->parsed())
      return revoke_certificate(revoke_flags, revoke_name, reason, !no_reissue);
    return exit_ok;
  };
  try {
    return dispatch();
  } catch (const std::exception& e) {
    std::cerr << "certherd: " << e.what() << "\n";
    return exit_failed;
  } catch (...) {
    std::cerr << "certherd: unexpected failure\n";
    return exit_failed;
  }
}
