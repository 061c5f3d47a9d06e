// A fault-injecting HTTPS proxy between certherd and the real Pebble, for the reliability tests.
// It terminates TLS with the harness's listener certificate (the one certherd already trusts
// through ACME_CA_BUNDLE), so it sees every request: it counts them by endpoint (a retry storm
// shows in the counts) and, per request and at random from a seed, delays the answer, stalls
// (holds the connection and never answers, so only certherd's deadline ends it), resets the
// connection before forwarding, forwards and then drops the answer (the CA acted, certherd never
// hears of it), or sends the answer cut short. The Host header passes unchanged, so Pebble's URLs
// (directory, Location, Link) name the proxy and every later request comes through it too (any
// mention of Pebble's own address is rewritten as well). A test stand-in in front of the real CA,
// not a CA.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace certherd::testing {

/// Percent of requests that get each fault (at most one each; the rest pass untouched).
struct fault_mix {
  int delay = 0;  ///< answered after up to delay_max
  std::chrono::milliseconds delay_max{1500};
  int stall = 0;        ///< never answered; the connection is held until the client closes it
  int reset = 0;        ///< the connection is closed before the request reaches the CA
  int lose_answer = 0;  ///< the CA gets the request, the client no answer
  int truncate = 0;     ///< half the answer, then the connection is closed
};

struct proxy_counts {
  long requests = 0;
  std::map<std::string, long> by_endpoint;  ///< first path segment: "order-plz", "my-order", …
  std::map<std::string, long> faults;       ///< "delay", "stall", "reset", "lose_answer", …
  std::map<unsigned, long> by_status;       ///< statuses of the answers Pebble gave
  long connections = 0;
};

class fault_proxy {
 public:
  /// \brief Listens on 127.0.0.1 (a free port) in front of Pebble on `upstream_port`.
  fault_proxy(unsigned short upstream_port, unsigned seed);
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  void set_faults(const fault_mix& mix);
  /// \brief While held, every request waits at the proxy (not counted as a fault) until released:
  /// lets a test change the world between certherd's start and its first order.
  void hold(bool on);
  std::string directory_url() const;  ///< https://localhost:<port>/dir
  unsigned short port() const;
  proxy_counts counts() const;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace certherd::testing
