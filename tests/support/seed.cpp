#include "seed.hpp"

#include "pki/certificate.hpp"
#include "stores/atomic_file.hpp"
#include "stores/certificate_store.hpp"

#include <fmt/format.h>

#include <fstream>
#include <stdexcept>

namespace certherd::testing {

void seed_certificates(const std::filesystem::path& state, const std::filesystem::path& out,
                       const std::vector<seed_item>& items, const std::string& directory,
                       const std::filesystem::path& root_out) {
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  auto ca_key = *pki::private_key::generate(pki::key_type::ec256);
  auto root = *pki::make_ca_certificate(ca_key, "certherd seeded root", now - std::chrono::days(1),
                                        std::chrono::days(400));
  auto inter_key = *pki::private_key::generate(pki::key_type::ec256);
  auto ca = *pki::sign_intermediate(root, ca_key, inter_key, "certherd seeded R1",
                                    now - std::chrono::days(1), std::chrono::days(400));
  stores::fs_store store(state);
  if (auto ok = store.open(); !ok) throw std::runtime_error(ok.error().message);
  std::ofstream(root_out) << root.pem();
  auto key = *pki::private_key::generate(pki::key_type::ec256);  // shared: only certificates differ
  std::string key_pem = key.to_pem();
  for (const auto& item : items) {
    auto leaf = *pki::sign_certificate(ca, inter_key, key, {item.host},
                                       now + item.left - item.lifetime, item.lifetime);
    std::vector<pki::certificate> chain{leaf, ca};
    stores::stored_certificate r;
    r.name = item.host;
    r.hosts = {item.host};
    r.directory = directory;
    r.chain_pem = pki::to_pem(chain);
    r.key_pem = key_pem;
    r.not_after = leaf.not_after();
    r.fingerprint = leaf.fingerprint_sha256();
    if (auto saved = store.save(r); !saved) throw std::runtime_error(saved.error().message);
    std::string detail;
    auto dir = out / item.host;
    stores::make_directories(dir, 0755, detail);
    std::string full = r.chain_pem, leaf_pem = leaf.pem();
    std::vector<stores::file_content> files{{dir / "privkey.pem", key_pem, 0600},
                                            {dir / "cert.pem", leaf_pem, 0644},
                                            {dir / "chain.pem", ca.pem(), 0644},
                                            {dir / "combined.pem", full + key_pem, 0600},
                                            {dir / "fullchain.pem", full, 0644}};
    if (stores::write_files(files, detail)) throw std::runtime_error(detail);
  }
}

}  // namespace certherd::testing
