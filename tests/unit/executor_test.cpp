// The executor with a scripted target: a target that cannot be read is never written blind (it
// may hold another CA's certificate), while a readable one that lacks the certificate gets it.
#include "reconcilers/certificate_executor.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>

namespace certherd::reconcilers {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class scripted_target final : public target {
 public:
  bool readable = true;
  int pushes = 0;
  std::string_view name() const override { return "scripted"; }
  asio::awaitable<outcome<target_copy>> async_observe(std::string) override {
    if (!readable) co_return unreachable("connection refused");
    target_copy held;
    held.target = "scripted";
    held.present = !served.empty();
    held.fingerprint = served;
    co_return held;
  }
  asio::awaitable<outcome<>> async_push(std::string, std::vector<pki::certificate> chain,
                                        pki::private_key, std::vector<std::string>) override {
    ++pushes;
    served = chain.front().fingerprint_sha256();
    co_return outcome<>{};
  }
  std::string served;  // what a push left there
};

struct fixture {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("certherd-executor-" + std::to_string(::getpid()));
  stores::fs_store store{dir};
  pki::trust_anchors anchors;
  scripted_target t;
  sys_seconds now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  cert_spec spec{"a.example.com",
                 {"a.example.com"},
                 "https://ca.example/dir",
                 std::nullopt,
                 pki::key_type::ec256,
                 {"scripted"},
                 {}};

  fixture() {
    std::filesystem::remove_all(dir);
    EXPECT_TRUE(store.open());
    auto key = *pki::private_key::generate(pki::key_type::ec256);
    auto cert = *pki::make_self_signed(key, spec.hosts, now, 24h * 90);
    stores::stored_certificate r;
    r.name = spec.name;
    r.hosts = spec.hosts;
    r.directory = spec.directory;
    r.chain_pem = cert.pem();
    r.key_pem = key.to_pem();
    r.not_after = cert.not_after();
    r.fingerprint = cert.fingerprint_sha256();
    EXPECT_TRUE(store.save(r));
  }
  ~fixture() { std::filesystem::remove_all(dir); }

  reconcile_report run() {
    executor_deps deps{store, anchors, nullptr, {&t}, {}, [this] { return now; }};
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

TEST(Executor, ReadableTargetWithoutTheCertificateGetsIt) {
  fixture f;
  auto r = f.run();
  EXPECT_EQ(f.t.pushes, 1);
  EXPECT_FALSE(r.failed);
}

TEST(Executor, UnreadableTargetIsNeverWrittenBlind) {
  fixture f;
  f.t.readable = false;
  auto r = f.run();
  EXPECT_EQ(f.t.pushes, 0);
  EXPECT_TRUE(r.failed);
  ASSERT_TRUE(r.requeue_at);
  EXPECT_LE(*r.requeue_at, f.now + 1min) << "looked at again soon";
  bool said = false;
  for (const auto& o : r.outcomes)
    said = said || o.find("could not be read") != std::string::npos;
  EXPECT_TRUE(said);
}

}  // namespace
}  // namespace certherd::reconcilers
