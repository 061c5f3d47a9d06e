// The certificate store: per certificate name, the chain, its private key and the state the
// reconciler keeps across restarts (failures, next retry). `fs_store` is the default: one JSON
// record per name under <state_dir>/certificates/, 0600 because it holds the key, written
// atomically. A record that does not parse is reported and never overwritten. The folder and the
// records are opened without following symbolic links: a link found there is reported, not read.
#pragma once

#include "clients/outcome/outcome.hpp"
#include "pki/key.hpp"
#include "stores/atomic_file.hpp"
#include "stores/renewal_info.hpp"
#include "stores/safe_dir.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace certherd::stores {

using sys_seconds = std::chrono::sys_seconds;

struct stored_certificate {
  std::string name;
  std::vector<std::string> hosts;  ///< the hosts it was ordered for, sorted
  std::string directory;           ///< the ACME directory that issued it
  pki::key_type key_type = pki::key_type::ec256;
  /// The ACME profile it was ordered with ("": the CA's default); nullopt in a record written
  /// before profiles were recorded.
  std::optional<std::string> profile;
  std::string chain_pem;  ///< leaf first; empty while none was ever issued
  std::string key_pem;    ///< secret: never logged
  int failures = 0;
  sys_seconds next_retry{};
  std::string last_error;
  std::string last_error_kind;  ///< failure_kind's name ("rate_limited"), or ""
  /// Set by `certherd revoke` or `renew --force`: the held certificate must be replaced even
  /// though it looks good ("revoked: keyCompromise"). Cleared by the next issuance.
  std::string reissue;
  /// Fingerprints (SHA-256 and SHA-1 of the leaf, hex) of the certificates certherd issued under
  /// this name, oldest first, at most `kIssuedKept`: a target holding one of them holds
  /// certherd's own certificate, whatever CA signed it, and may be replaced.
  std::vector<std::string> issued;
  /// The CA's renewal information about the held certificate.
  renewal_info ari;
  // Informational copies of what the chain says, for people reading the file.
  sys_seconds not_after{};
  std::string fingerprint;
};

inline constexpr std::size_t kIssuedKept = 32;

/// \brief Adds the fingerprints of a leaf certherd issued to `record.issued` (oldest dropped).
void remember_issued(stored_certificate& record, const std::string& sha256,
                     const std::string& sha1);

class certificate_store {
 public:
  virtual ~certificate_store() = default;
  // Failures are of kind store_io and name the file and what is wrong with it.
  /// \brief The record of `name`; nullopt when there is none; a failure when it is unreadable.
  virtual outcome<std::optional<stored_certificate>> load(const std::string& name) = 0;
  /// \brief Replaces the record atomically; refuses to replace a record it cannot read.
  virtual outcome<> save(const stored_certificate& record) = 0;
  /// \brief Every name with a record, sorted.
  virtual outcome<std::vector<std::string>> names() = 0;
  /// \brief A value that changes whenever the record of `name` changes (nullopt: no record), so
  /// a reader can keep what it derived from a record until the record changes.
  virtual std::optional<file_stamp> version(const std::string& name) = 0;
};

class fs_store final : public certificate_store {
 public:
  /// \brief A store under `state_dir`/certificates (created 0700 by `open`).
  explicit fs_store(std::filesystem::path state_dir);
  /// \brief Creates the folder; fails with the reason when the state directory is unusable.
  outcome<> open();

  outcome<std::optional<stored_certificate>> load(const std::string& name) override;
  outcome<> save(const stored_certificate& record) override;
  outcome<std::vector<std::string>> names() override;
  std::optional<file_stamp> version(const std::string& name) override;

  std::filesystem::path path_of(const std::string& name) const;

 private:
  /// The records' folder, opened once (never through a symbolic link); null with `detail` when
  /// it cannot be opened.
  const dir_handle* folder(std::string& detail);

  std::filesystem::path state_dir_;
  std::filesystem::path dir_;
  std::optional<dir_handle> folder_;
  std::chrono::steady_clock::time_point last_sweep_{};
};

/// \brief The JSON form of a record (it contains the private key).
std::string to_json(const stored_certificate& record);
/// \brief Parses a record; the error says what is missing or wrong.
outcome<stored_certificate> from_json(std::string_view text);

}  // namespace certherd::stores
