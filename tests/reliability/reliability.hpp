// What the reliability tests share: the environment of a `certherd run` against a private
// Pebble (or the fault proxy in front of one), and the checks that nothing was lost — every
// target holds, for every host, a whole certificate whose key matches.
#pragma once

#include "support.hpp"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace certherd::testing {

/// \brief `certherd run` with DOMAINS, the harness's webroot, STATE_DIR and OUTPUT_DIR under
/// `tmp` (override either with `state`/`out`), and the given directory.
env_list run_env(const std::filesystem::path& tmp, const std::vector<std::string>& hosts,
                 const std::string& directory, const std::filesystem::path& state = {},
                 const std::filesystem::path& out = {});

/// \brief Whether OUTPUT_DIR holds `host` whole: cert.pem, chain.pem, fullchain.pem, privkey.pem
/// and combined.pem parse, fullchain is cert + chain, the key matches the certificate and the
/// certificate names the host. `why` says what does not hold.
bool output_holds(const std::filesystem::path& out, const std::string& host, std::string& why);

/// \brief The SHA-256 of the leaf OUTPUT_DIR holds for `host`, or "".
std::string output_fingerprint(const std::filesystem::path& out, const std::string& host);

/// \brief certherd's temporary files under `dir` (".certherd-tmp.…", stores/temporaries.hpp).
std::vector<std::filesystem::path> leftover_temporaries(const std::filesystem::path& dir);

/// \brief n fresh host names under example.com.
std::vector<std::string> hosts(const std::string& prefix, int n);

}  // namespace certherd::testing
