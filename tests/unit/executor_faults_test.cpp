// The executor when the store fails under it (issue 9, defect 4): a certificate that was issued
// is never thrown away and never ordered again because the disk was full or read-only; the
// record waits in memory, the targets are served from it, and it is saved once the disk takes it.
// A scripted issuer (a self-signed certificate per order, counted) and a store that refuses
// writes on demand stand in for the CA and the disk.
#include "reconcilers/certificate_executor.hpp"
#include "stores/file_names.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>

namespace certherd::reconcilers {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class counting_issuer final : public issuer {
 public:
  int orders = 0;
  bool fail = false;
  sys_seconds now{};
  asio::awaitable<outcome<issued_certificate>> async_issue(cert_spec spec, order_context) override {
    ++orders;
    if (fail) {
      co_return failure{failure_kind::validation,
                        "urn:ietf:params:acme:error:connection: the host did not answer",
                        "connection",
                        {}};
    }
    auto key = *pki::private_key::generate(pki::key_type::ec256);
    std::vector<pki::certificate> chain{*pki::make_self_signed(key, spec.hosts, now, 24h * 90)};
    co_return issued_certificate{std::move(chain), std::move(key)};
  }
};

// The file store, refusing every write while `full` (as ENOSPC would).
class flaky_store final : public stores::certificate_store {
 public:
  explicit flaky_store(std::filesystem::path dir) : inner_(std::move(dir)) {
    EXPECT_TRUE(inner_.open());
  }
  bool full = false;
  int refused = 0;
  outcome<std::optional<stores::stored_certificate>> load(const std::string& n) override {
    return inner_.load(n);
  }
  outcome<> save(const stores::stored_certificate& r) override {
    if (full) {
      ++refused;
      return fail(failure_kind::store_io,
                  "cannot write " + r.name + ".json: No space left on device");
    }
    return inner_.save(r);
  }
  outcome<std::vector<std::string>> names() override { return inner_.names(); }
  std::optional<stores::file_stamp> version(const std::string& n) override {
    return inner_.version(n);
  }

 private:
  stores::fs_store inner_;
};

class serving_target final : public target {
 public:
  std::string served;
  int pushes = 0;
  std::string_view name() const override { return "files"; }
  asio::awaitable<outcome<target_copy>> async_observe(std::string) override {
    target_copy t;
    t.target = "files";
    t.exclusive = true;
    t.present = !served.empty();
    t.fingerprint = served;
    co_return t;
  }
  asio::awaitable<outcome<>> async_push(std::string, std::vector<pki::certificate> chain,
                                        pki::private_key, std::vector<std::string>) override {
    ++pushes;
    served = chain.front().fingerprint_sha256();
    co_return outcome<>{};
  }
};

struct fixture {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("certherd-executor-faults-" + std::to_string(::getpid()));
  flaky_store store{(std::filesystem::remove_all(dir), dir)};
  pki::trust_anchors anchors;
  counting_issuer ca;
  serving_target t;
  observation_cache cache;
  sys_seconds now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  cert_spec spec{"a.example.com",
                 {"a.example.com"},
                 "https://ca.example/dir",
                 std::nullopt,
                 pki::key_type::ec256,
                 {"files"},
                 {}};

  ~fixture() { std::filesystem::remove_all(dir); }

  reconcile_report run() {
    ca.now = now;
    executor_deps deps{store, anchors, &ca, {&t}, {}, [this] { return now; }, &cache};
    asio::io_context ioc;
    reconcile_report out;
    asio::co_spawn(
        ioc, [&]() -> asio::awaitable<void> { out = co_await reconcile(spec, deps, true); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    ioc.run();
    return out;
  }
};

bool said(const reconcile_report& r, const std::string& fragment) {
  for (const auto& o : r.outcomes)
    if (o.find(fragment) != std::string::npos) return true;
  return false;
}

TEST(ExecutorStoreFaults, IssuedCertificateIsKeptServedAndSavedLaterNeverOrderedAgain) {
  fixture f;
  f.store.full = true;
  auto first = f.run();
  EXPECT_EQ(f.ca.orders, 1);
  EXPECT_TRUE(first.failed);
  EXPECT_TRUE(said(first, "No space left on device")) << first.decision.reason;
  EXPECT_EQ(f.t.pushes, 1) << "served from the record kept in memory";
  ASSERT_TRUE(first.requeue_at);
  EXPECT_LE(*first.requeue_at, f.now + 1min) << "the save is tried again soon";
  ASSERT_EQ(f.cache.unsaved_records.count("a.example.com"), 1u);
  std::string issued = f.t.served;

  // Resyncs while the disk is still full: nothing is ordered, the save is retried with a
  // growing pause, and each failed save is counted.
  for (int i = 0; i < 6; ++i) {
    f.now += 10min;
    auto again = f.run();
    EXPECT_TRUE(again.failed);
    EXPECT_TRUE(again.decision.actions.empty()) << again.decision.reason;
  }
  EXPECT_EQ(f.ca.orders, 1) << "a full disk never costs another order";
  EXPECT_EQ(f.t.served, issued);
  EXPECT_GE(f.cache.unsaved_records.at("a.example.com").failures, 5);
  EXPECT_FALSE(*f.store.load("a.example.com")) << "nothing half-written";

  // Space is back: the kept record lands, as it was issued.
  f.store.full = false;
  f.now += 10min;
  auto healed = f.run();
  EXPECT_FALSE(healed.failed) << healed.decision.reason;
  EXPECT_TRUE(said(healed, "kept in memory is saved"));
  EXPECT_EQ(f.cache.unsaved_records.count("a.example.com"), 0u);
  auto saved = f.store.load("a.example.com");
  ASSERT_TRUE(saved && *saved);
  auto chain = pki::parse_pem_chain((*saved)->chain_pem);
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->front().fingerprint_sha256(), issued);
  EXPECT_EQ(f.ca.orders, 1);
}

TEST(ExecutorStoreFaults, FailureCountIsKeptWhenItCannotBeSaved) {
  fixture f;
  f.ca.fail = true;
  f.store.full = true;
  auto first = f.run();
  EXPECT_EQ(f.ca.orders, 1);
  ASSERT_TRUE(first.requeue_at);
  // Within the CA backoff (1 min after one failure), no new order, though nothing was saved.
  f.now += 30s;
  f.run();
  EXPECT_EQ(f.ca.orders, 1) << "the failure count was not lost with the save";
  // After it, one more order; the count goes on from the kept record.
  f.now += 2min;
  f.run();
  EXPECT_EQ(f.ca.orders, 2);
  EXPECT_EQ(f.cache.unsaved_records.at("a.example.com").record.failures, 2);
}

// Issue 10: after a failed order the store holds the failure, and so must what /status and the
// metrics read (the observation cache), at once — not only after the next reconcile.
TEST(ExecutorStoreFaults, WhatStatusReadsHoldsTheFailureAtOnce) {
  fixture f;
  f.ca.fail = true;
  f.run();
  auto saved = f.store.load("a.example.com");
  ASSERT_TRUE(saved && *saved);
  EXPECT_EQ((*saved)->failures, 1);
  ASSERT_EQ(f.cache.entries.count("a.example.com"), 1u);
  const auto& shown = f.cache.entries.at("a.example.com").local;
  EXPECT_EQ(shown.failures, 1);
  EXPECT_NE(shown.last_error.find("did not answer"), std::string::npos) << shown.last_error;
  EXPECT_EQ(shown.last_error_kind, failure_kind::validation) << "the kind is kept with it";
  EXPECT_EQ((*saved)->last_error_kind, "validation");
  // A later success clears it there too.
  f.ca.fail = false;
  f.now += 2min;
  f.run();
  EXPECT_EQ(f.cache.entries.at("a.example.com").local.failures, 0);
  EXPECT_TRUE(f.cache.entries.at("a.example.com").local.present);
}

TEST(ExecutorStoreFaults, LongestHostNameIsStoredAndServed) {
  fixture f;
  // 253 characters: four labels of 62 and the rest; every one a valid host name.
  std::string host = std::string(62, 'a') + "." + std::string(62, 'b') + "." +
                     std::string(62, 'c') + "." + std::string(60, 'd') + ".com";
  ASSERT_EQ(host.size(), 253u);
  f.spec.name = host;
  f.spec.hosts = {host};
  auto r = f.run();
  EXPECT_FALSE(r.failed) << (r.outcomes.empty() ? r.decision.reason : r.outcomes.back());
  EXPECT_EQ(f.t.pushes, 1);
  auto back = f.store.load(host);
  ASSERT_TRUE(back) << back.error();
  ASSERT_TRUE(*back);
  EXPECT_EQ(*f.store.names(), std::vector<std::string>{host});
  // Looked at again: the record is read back, nothing ordered.
  f.now += 1h;
  auto again = f.run();
  EXPECT_FALSE(again.failed) << again.decision.reason;
  EXPECT_EQ(f.ca.orders, 1);
}

TEST(FileNames, ShortNamesStayLongNamesAreHashedAndDistinct) {
  EXPECT_EQ(stores::file_name_for("a.example.com", ".json"), "a.example.com.json");
  std::string a(253, 'a'), b = a;
  b.back() = 'b';
  auto fa = stores::file_name_for(a, ".json"), fb = stores::file_name_for(b, ".json");
  EXPECT_NE(fa, fb);
  EXPECT_LE(fa.size(), stores::kPlainFileNameMax);
  EXPECT_TRUE(fa.ends_with(".json"));
  EXPECT_TRUE(stores::is_hashed_file_name(fa));
  EXPECT_FALSE(stores::is_hashed_file_name("a.example.com.json"));
}

}  // namespace
}  // namespace certherd::reconcilers
