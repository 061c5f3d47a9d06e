// Certificates certherd would have issued, written straight into a state folder and an output
// folder (as its store and its files target keep them), signed by a throw-away root and
// intermediate: a fleet of hundreds or thousands without ordering one. For the fleet tests and
// the scale benchmarks (bench/seed_store).
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace certherd::testing {

struct seed_item {
  std::string host;
  std::chrono::seconds left{90 * 24 * 3600};      ///< until notAfter, from now
  std::chrono::seconds lifetime{90 * 24 * 3600};  ///< notAfter - notBefore
};

/// \brief Writes each item's record (as if issued from `directory`) and its files; the root
/// goes to `root_out` (ACME_ROOTS). Throws std::runtime_error naming what failed.
void seed_certificates(const std::filesystem::path& state, const std::filesystem::path& out,
                       const std::vector<seed_item>& items, const std::string& directory,
                       const std::filesystem::path& root_out);

}  // namespace certherd::testing
