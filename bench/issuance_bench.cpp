// Issuance throughput of certherd's ACME client: N single-name certificates from one account,
// C orders in flight at once in one io_context over one shared HTTP client, the way the
// controller issues. Prints certificates per second and CPU milliseconds per certificate.
#include "clients/acme/driver.hpp"
#include "clients/acme/session.hpp"
#include "pki/certificate.hpp"

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <sys/resource.h>

#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;
using namespace certherd;

namespace {

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct shared_state {
  int next = 0;
  int count = 0;
  int ok = 0;
  std::vector<std::string> failures;
  std::string prefix;
};

asio::awaitable<void> worker(acme::driver& driver, acme::session& session, shared_state& st) {
  while (st.next < st.count) {
    int i = st.next++;
    std::string name = fmt::format("{}-{}.bench.example", st.prefix, i);
    auto key = *pki::private_key::generate(pki::key_type::ec256);
    acme::order_request req{{name}, *pki::make_csr_der(key, {name}), "", ""};
    auto issued = co_await driver.async_run(session.issue(std::move(req)));
    if (issued) {
      ++st.ok;
    } else {
      st.failures.push_back(issued.error().message());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: issuance_bench DIRECTORY CA_BUNDLE WEBROOT COUNT CONCURRENCY [PREFIX]\n";
    return 2;
  }
  std::string directory = argv[1];
  http::client_options options;
  options.ca_bundle = argv[2];
  shared_state st;
  st.count = std::atoi(argv[4]);
  int concurrency = std::atoi(argv[5]);
  st.prefix = argc > 6 ? argv[6] : fmt::format("c{}", ::getpid());

  asio::io_context ioc;
  http::client client(ioc.get_executor(), options);
  acme::webroot_presenter presenter(argv[3]);
  acme::driver driver(client, &presenter, std::chrono::steady_clock::now() + std::chrono::hours(1));
  auto account_key = *pki::private_key::generate(pki::key_type::ec256);

  // One account, registered once; every worker signs with it (a session each: own nonce pool).
  std::vector<std::unique_ptr<acme::session>> sessions;
  for (int i = 0; i < concurrency; ++i) {
    sessions.push_back(std::make_unique<acme::session>(directory, account_key));
  }
  std::string account_error;
  asio::co_spawn(
      ioc,
      [](acme::driver& d, acme::session& s, std::string& err) -> asio::awaitable<void> {
        acme::account_options none;
        auto acct = co_await d.async_run(s.register_account(none));
        if (!acct) err = acct.error().message();
      }(driver, *sessions[0], account_error),
      asio::detached);
  ioc.run();
  if (!account_error.empty()) {
    std::cerr << "account: " << account_error << "\n";
    return 1;
  }
  for (auto& s : sessions)
    s->set_account_url(sessions[0]->account_url());

  double cpu0 = cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  for (auto& s : sessions)
    asio::co_spawn(ioc, worker(driver, *s, st), asio::detached);
  ioc.restart();
  ioc.run();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = cpu_seconds() - cpu0;
  for (const auto& f : st.failures)
    std::cerr << "failed: " << f << "\n";
  std::cout << fmt::format(
      "certherd issued={} failed={} concurrency={} seconds={:.2f} certs_per_second={:.2f} "
      "cpu_ms_per_cert={:.1f}\n",
      st.ok, st.failures.size(), concurrency, wall, st.ok / wall, 1000 * cpu / std::max(st.ok, 1));
  return st.failures.empty() ? 0 : 1;
}
