#include "reliability.hpp"

#include "pki/certificate.hpp"
#include "pki/key.hpp"

#include <fmt/format.h>

namespace certherd::testing {

namespace fs = std::filesystem;

env_list run_env(const fs::path& tmp, const std::vector<std::string>& hosts,
                 const std::string& directory, const fs::path& state, const fs::path& out) {
  std::string domains;
  for (const auto& h : hosts)
    domains += (domains.empty() ? "" : ",") + h;
  return {{"DOMAINS", domains},
          {"ACME_DIRECTORY", directory},
          {"ACME_CA_BUNDLE", harness("CERTHERD_TEST_CA_BUNDLE")},
          {"WEBROOT", harness("CERTHERD_TEST_WEBROOT")},
          {"STATE_DIR", (state.empty() ? tmp / "state" : state).string()},
          {"OUTPUT_DIR", (out.empty() ? tmp / "out" : out).string()},
          {"LOG_LEVEL", "info"}};
}

bool output_holds(const fs::path& out, const std::string& host, std::string& why) {
  auto dir = out / host;
  std::string cert = slurp(dir / "cert.pem"), chain = slurp(dir / "chain.pem"),
              full = slurp(dir / "fullchain.pem"), key = slurp(dir / "privkey.pem"),
              combined = slurp(dir / "combined.pem");
  if (cert.empty() || full.empty() || key.empty()) {
    why = host + ": a file is missing or empty";
    return false;
  }
  auto leaf = pki::parse_pem_chain(cert);
  auto whole = pki::parse_pem_chain(full);
  auto k = pki::private_key::from_pem(key);
  if (!leaf || !whole || !k) {
    why = host + ": a file does not parse (half written?)";
    return false;
  }
  if (full != cert + chain) {
    why = host + ": fullchain.pem is not cert.pem + chain.pem";
    return false;
  }
  if (combined.find(key) == std::string::npos || combined.find(cert) == std::string::npos) {
    why = host + ": combined.pem is not the certificate with its key";
    return false;
  }
  if (auto ok = pki::check_issued(leaf->front(), *k, {host}); !ok) {
    why = host + ": " + ok.error().detail;
    return false;
  }
  return true;
}

std::string output_fingerprint(const fs::path& out, const std::string& host) {
  auto chain = pki::parse_pem_chain(slurp(out / host / "cert.pem"));
  return chain ? chain->front().fingerprint_sha256() : "";
}

std::vector<fs::path> leftover_temporaries(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
       end;
       it != end; it.increment(ec)) {
    if (ec) break;
    auto name = it->path().filename().string();
    if (name.starts_with(".certherd-tmp.")) found.push_back(it->path());
  }
  return found;
}

std::vector<std::string> hosts(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(unique_name(fmt::format("{}{}", prefix, i)));
  return out;
}

}  // namespace certherd::testing
