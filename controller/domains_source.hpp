// The DOMAINS source: a comma-separated host list (the original project's variable) turned into
// one certificate spec per host. Items are trimmed and lower-cased, a trailing dot is dropped,
// empty items are skipped; anything that cannot get a certificate over HTTP-01 (wildcards, IP
// addresses, bad characters, over-long names or labels, non-ASCII not in punycode) is reported
// with its reason and skipped, so one typo does not stop the other certificates.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace certherd::controller {

/// \brief An input a source skipped, for the status page: a DOMAINS item, a label item (with
/// the service holding it).
struct rejected_input {
  std::string source;  ///< "DOMAINS", "label … on service web (1s5)"
  std::string item;    ///< as written
  std::string reason;
};

/// \brief The most rejected items a list reports (a tenant's label may hold a million).
inline constexpr std::size_t kRejectedReported = 1000;

struct parsed_domains {
  std::vector<std::string> hosts;        ///< valid, normalized, unique, in the given order
  std::vector<std::string> problems;     ///< one line per item that was changed or skipped
  std::vector<rejected_input> rejected;  ///< the skipped items, each with its reason
};

/// \brief Parses a comma-separated host list; problems name the list as `what`.
parsed_domains parse_domains(std::string_view text, std::string_view what = "DOMAINS");

}  // namespace certherd::controller
