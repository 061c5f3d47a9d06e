// Seeds a state directory and an output directory with N certificates that need nothing done:
// a throw-away root and its intermediate (as Let's Encrypt's ISRG Root X1 and R11) sign N leaf
// certificates valid for 90 days, each stored as certherd's store would (leaf and intermediate)
// and written to the files target as certherd would. Prints the DOMAINS list to use; the root
// goes to CA_OUT_PEM (ACME_ROOTS).
// For bench/scale/run, which measures certherd run over them.
#include "pki/certificate.hpp"
#include "stores/atomic_file.hpp"
#include "stores/certificate_store.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

using namespace certherd;

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: seed_store STATE_DIR OUTPUT_DIR N DIRECTORY_URL CA_OUT_PEM\n";
    return 2;
  }
  std::filesystem::path state = argv[1], out = argv[2];
  int n = std::atoi(argv[3]);
  std::string directory = argv[4];
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto ca_key = *pki::private_key::generate(pki::key_type::ec256);
  auto root =
      *pki::make_ca_certificate(ca_key, "certherd scale bench root", now, std::chrono::days(365));
  auto inter_key = *pki::private_key::generate(pki::key_type::ec256);
  auto ca = *pki::sign_intermediate(root, ca_key, inter_key, "certherd scale bench R1", now,
                                    std::chrono::days(365));
  stores::fs_store store(state);
  if (auto ok = store.open(); !ok) {
    std::cerr << ok.error().message << "\n";
    return 1;
  }
  { std::ofstream(argv[5]) << root.pem(); }
  auto key = *pki::private_key::generate(pki::key_type::ec256);  // shared: only certificates differ
  std::string key_pem = key.to_pem();
  std::string domains;
  for (int i = 0; i < n; ++i) {
    std::string host = fmt::format("h{:05}.b.io", i);
    auto leaf = *pki::sign_certificate(ca, inter_key, key, {host}, now, std::chrono::days(90));
    std::vector<pki::certificate> chain{leaf, ca};
    stores::stored_certificate r;
    r.name = host;
    r.hosts = {host};
    r.directory = directory;
    r.chain_pem = pki::to_pem(chain);
    r.key_pem = key_pem;
    r.not_after = leaf.not_after();
    r.fingerprint = leaf.fingerprint_sha256();
    if (auto saved = store.save(r); !saved) {
      std::cerr << saved.error().message << "\n";
      return 1;
    }
    std::string detail;
    auto dir = out / host;
    stores::make_directories(dir, 0755, detail);
    std::string full = r.chain_pem, leaf_pem = leaf.pem();
    std::vector<stores::file_content> files{{dir / "privkey.pem", key_pem, 0600},
                                            {dir / "cert.pem", leaf_pem, 0644},
                                            {dir / "chain.pem", ca.pem(), 0644},
                                            {dir / "combined.pem", full + key_pem, 0600},
                                            {dir / "fullchain.pem", full, 0644}};
    if (stores::write_files(files, detail)) {
      std::cerr << detail << "\n";
      return 1;
    }
    domains += (i ? "," : "") + host;
  }
  std::cout << domains;
  return 0;
}
