// The ACME stand-in (tests/harness/ca-standin) as a child process in front of the harness's main
// Pebble: what Pebble 2.4.0 lacks (ARI windows, profiles, rateLimited) set per test over its
// control port; every order still goes to Pebble.
#pragma once

#include "support.hpp"

#include <sys/types.h>
#include <string>
#include <vector>

namespace certherd::testing {

class ca_standin {
 public:
  /// In front of `upstream` (a Pebble's directory URL; empty: the harness's main Pebble,
  /// CERTHERD_TEST_DIRECTORY), with the harness's TLS certificate for Pebble's listeners.
  explicit ca_standin(std::vector<std::string> profiles = {}, std::string upstream = {});
  ~ca_standin();
  ca_standin(const ca_standin&) = delete;
  ca_standin& operator=(const ca_standin&) = delete;

  /// https://localhost:<port>/dir
  std::string directory() const;
  /// The window served for `certid` ("*": any certificate without its own).
  void set_window(const std::string& certid, const std::string& start, const std::string& end,
                  int retry_after = 21600);
  /// The next `orders` new orders are answered rateLimited with this Retry-After.
  void refuse_orders(int orders, int retry_after);
  /// The next `orders` new orders carrying `replaces` are answered 409 alreadyReplaced.
  void refuse_replaces(int orders);
  /// The newOrder payloads seen (a JSON array) and the counters ({"orders": n, …}).
  std::string orders() const;
  /// The string `field` ("replaces", "profile") of every newOrder payload seen for `host`, in
  /// order; "" where the payload has none.
  std::vector<std::string> order_field(const std::string& host, const std::string& field) const;
  std::string stats() const;
  std::string log() const;

 private:
  loopback_reply call(const std::string& method, const std::string& target,
                      const std::string& body = {}) const;
  pid_t pid_ = -1;
  unsigned short port_ = 0, control_ = 0;
  std::string log_file_;
};

}  // namespace certherd::testing
