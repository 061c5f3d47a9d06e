// The ACME client as a library against the real Pebble: revocation, account key rollover, and
// several orders in flight at once in one io_context over one shared HTTP client.
#include "clients/acme/driver.hpp"
#include "clients/acme/session.hpp"
#include "pki/certificate.hpp"
#include "support.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace certherd::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class PebbleLibrary : public ::testing::Test {
 protected:
  PebbleLibrary()
      : client_(ioc_.get_executor(), options()),
        presenter_(harness("CERTHERD_TEST_WEBROOT")),
        driver_(client_, &presenter_, std::chrono::steady_clock::now() + 120s) {}

  static http::client_options options() {
    http::client_options o;
    o.ca_bundle = harness("CERTHERD_TEST_CA_BUNDLE");
    return o;
  }

  template <class T>
  T run(acme::flow<T> f) {
    std::optional<T> out;
    asio::co_spawn(ioc_, driver_.async_run(std::move(f)), [&](std::exception_ptr e, T v) {
      if (e) std::rethrow_exception(e);
      out.emplace(std::move(v));
      ioc_.stop();
    });
    ioc_.restart();
    ioc_.run();
    return std::move(*out);
  }

  acme::order_request order_for(const std::string& name, pki::private_key& key) {
    return {{name}, *pki::make_csr_der(key, {name}), "", ""};
  }

  asio::io_context ioc_;
  http::client client_;
  acme::webroot_presenter presenter_;
  acme::driver driver_;
};

TEST_F(PebbleLibrary, RevokeThenRevokeAgain) {
  acme::session s(harness("CERTHERD_TEST_DIRECTORY"),
                  *pki::private_key::generate(pki::key_type::ec256));
  ASSERT_TRUE(run(s.register_account({})));
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  auto issued = run(s.issue(order_for(unique_name("revoke"), key)));
  ASSERT_TRUE(issued) << issued.error();
  auto leaf = pki::parse_pem_chain(issued->chain_pem)->front();
  auto revoked = run(s.revoke(leaf.der(), 1));  // keyCompromise
  ASSERT_TRUE(revoked) << revoked.error();
  auto again = run(s.revoke(leaf.der(), 1));
  ASSERT_FALSE(again);
  ASSERT_TRUE(again.error().server);
  EXPECT_TRUE(again.error().server->is("alreadyRevoked")) << again.error();
}

TEST_F(PebbleLibrary, AccountKeyRollover) {
  auto old_key = *pki::private_key::generate(pki::key_type::ec256);
  auto new_key = *pki::private_key::generate(pki::key_type::ec384);
  acme::session s(harness("CERTHERD_TEST_DIRECTORY"), old_key);
  acme::account_options contact;
  contact.contact.push_back("mailto:ops@example.com");
  auto acct = run(s.register_account(contact));
  ASSERT_TRUE(acct) << acct.error();
  auto changed = run(s.change_key(new_key));
  ASSERT_TRUE(changed) << changed.error();

  // The new key now finds the same account; the old one finds none.
  acme::session by_new(harness("CERTHERD_TEST_DIRECTORY"), new_key);
  auto found = run(by_new.find_account());
  ASSERT_TRUE(found) << found.error();
  EXPECT_EQ(found->url, acct->url);
  acme::session by_old(harness("CERTHERD_TEST_DIRECTORY"), old_key);
  auto gone = run(by_old.find_account());
  ASSERT_FALSE(gone);
  ASSERT_TRUE(gone.error().server);
  EXPECT_TRUE(gone.error().server->is("accountDoesNotExist")) << gone.error();

  // And the rolled-over session keeps working.
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  auto issued = run(s.issue(order_for(unique_name("rolled"), key)));
  EXPECT_TRUE(issued) << issued.error();
}

TEST_F(PebbleLibrary, ConcurrentOrdersShareOneClient) {
  constexpr int kOrders = 6;
  std::vector<std::unique_ptr<acme::session>> sessions;
  std::vector<pki::private_key> keys;
  std::vector<std::optional<acme::result<acme::issued_certificate>>> results(kOrders);
  auto account_key = *pki::private_key::generate(pki::key_type::ec256);
  for (int i = 0; i < kOrders; ++i) {
    sessions.push_back(
        std::make_unique<acme::session>(harness("CERTHERD_TEST_DIRECTORY"), account_key));
    keys.push_back(*pki::private_key::generate(pki::key_type::ec256));
  }
  for (int i = 0; i < kOrders; ++i) {
    asio::co_spawn(
        ioc_,
        [](acme::driver& d, acme::session& s, acme::order_request req,
           std::optional<acme::result<acme::issued_certificate>>& out) -> asio::awaitable<void> {
          acme::account_options none;  // named: no braced temporaries in co_await (GCC 12)
          auto acct = co_await d.async_run(s.register_account(none));
          if (!acct) {
            out.emplace(acct.error());
            co_return;
          }
          out.emplace(co_await d.async_run(s.issue(std::move(req))));
        }(driver_, *sessions[i], order_for(unique_name("conc"), keys[i]), results[i]),
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
  }
  ioc_.run();
  for (int i = 0; i < kOrders; ++i) {
    ASSERT_TRUE(results[i]) << i;
    EXPECT_TRUE(*results[i]) << results[i]->error();
  }
}

}  // namespace
}  // namespace certherd::testing
