// `certherd issue`: one certificate for a set of names, from any RFC 8555 directory, proved over
// HTTP-01 through a webroot or the built-in responder, written as cert.pem, chain.pem,
// fullchain.pem and privkey.pem (0600). The whole command is bounded by --timeout.
#pragma once

#include <string>
#include <vector>

namespace certherd::controller {

struct issue_options {
  std::string directory;
  std::string ca_bundle;
  std::string webroot;
  std::string challenge_listen;
  std::string self_check = "true";  ///< --self-check / SELF_CHECK
  std::string self_check_address;   ///< --self-check-address / SELF_CHECK_ADDRESS
  std::vector<std::string> names;
  std::string key_type = "ec256";
  std::string email;
  std::string eab_kid;
  std::string eab_hmac;       ///< from ACME_EAB_HMAC (run_issue reads it), never a flag
  std::string eab_hmac_file;  ///< --eab-hmac-file / ACME_EAB_HMAC_FILE
  std::string preferred_chain;
  std::string profile;
  int timeout_seconds = 180;
  std::string out;
  std::string state_dir = "/var/lib/certherd";
};

/// \brief Runs the command; prints one line saying what went wrong on failure.
int run_issue(const issue_options& options);

}  // namespace certherd::controller
