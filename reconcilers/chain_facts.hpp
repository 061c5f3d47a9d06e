// What a stored chain says — its hosts, validity, fingerprints and who issued it — and a memo of
// it that outlives a restart. Only the chain's bytes and the trust anchors decide these facts, so
// the memo is keyed by the SHA-256 of the chain's PEM and by the anchors' digest: a chain that
// changed, or other anchors, is read again. Reading a chain costs OpenSSL 3 ~0.1 ms and checking
// its leaf's signature as much again; with the memo a start-up over 10,000 held certificates
// hashes 10,000 chains instead. The memo's file lives in STATE_DIR beside the keys; losing it or
// finding it unreadable costs time, never a decision.
#pragma once

#include "pki/classification.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace certherd::reconcilers {

struct chain_facts {
  std::string chain_sha256;        ///< SHA-256 of the chain's PEM, hex: which chain these are of
  std::vector<std::string> hosts;  ///< SANs of the leaf, sorted
  pki::issuer_class issuer = pki::issuer_class::foreign;
  std::chrono::sys_seconds not_before{};
  std::chrono::sys_seconds not_after{};
  std::string fingerprint;       ///< SHA-256 of the leaf, hex
  std::string fingerprint_sha1;  ///< SHA-1 of the leaf, hex
  friend bool operator==(const chain_facts&, const chain_facts&) = default;
};

/// \brief Parses and classifies a chain (leaf first); nullopt when it does not parse.
std::optional<chain_facts> read_chain_facts(std::string_view chain_pem,
                                            const pki::trust_anchors& anchors);

/// \brief The memo as read at start: each certificate's remembered facts are handed out once
/// (whoever asks keeps them — the observation cache does) and then forgotten, so a fleet's facts
/// are held once in memory. What is written back is what the caller holds now (`writer`).
class chain_facts_memo {
 public:
  /// \brief A memo kept in `file`, valid for the anchors whose digest is `anchors_digest`.
  chain_facts_memo(std::filesystem::path file, std::string anchors_digest);

  struct load_report {
    std::size_t entries = 0;  ///< taken in
    std::size_t skipped = 0;  ///< lines that did not read, or were for other anchors
    std::string error;        ///< why the file could not be read at all ("" when it could)
  };
  /// \brief Takes in the file's entries; a missing file is an empty memo, and so is any file
  /// when the anchors have no digest. The file is opened without following a link.
  load_report load();

  /// \brief The facts of `chain_pem`, held under certificate `name`: the remembered ones when
  /// the chain and the anchors are those remembered, else read (and the memo is then dirty).
  std::optional<chain_facts> facts_of(const std::string& name, std::string_view chain_pem,
                                      const pki::trust_anchors& anchors);

  /// \brief Whether a chain was read since the last write, so writing would change the file.
  bool dirty() const { return dirty_; }
  std::size_t reads() const { return reads_; }  ///< chains read, not remembered, since start
  std::size_t hits() const { return hits_; }    ///< chains remembered since start

  /// \brief Collects the lines of a new file; `write` replaces the old one with them.
  class writer {
   public:
    /// \brief Adds a certificate's facts; ones the file cannot hold (a name or host with white
    /// space or a comma) are left out, to be read again next time.
    void add(const std::string& name, const chain_facts& facts);

   private:
    friend class chain_facts_memo;
    std::string text_;
  };
  writer start_writing() const;
  /// \brief Writes the file atomically (0600). Clears dirty() and forgets what is left of the
  /// loaded entries (certificates not asked for in this run) on success.
  std::error_code write(writer w, std::string& detail);

 private:
  struct entry {
    chain_facts facts;
  };
  std::filesystem::path file_;
  std::string anchors_digest_;
  std::map<std::string, entry> by_name_;
  bool dirty_ = false;
  std::size_t reads_ = 0, hits_ = 0;
};

}  // namespace certherd::reconcilers
