// The files target's layout: <dir>/<name> is a link to a version folder written whole, switched in
// one rename; a folder left by an older certherd is moved aside, never lost; old versions pruned.
// Other processes can write into OUTPUT_DIR: links planted there are reported and never followed
// (issue 9, defect 3), and the longest host names work.
#include "reconcilers/files_target.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <fstream>
#include <sstream>

namespace certherd::reconcilers {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct pushed {
  pki::certificate cert;
  pki::private_key key;
};

pushed make(const std::string& host) {
  auto key = *pki::private_key::generate(pki::key_type::ec256);
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  return {*pki::make_self_signed(key, {host}, now, 24h), key};
}

outcome<target_copy> observe(files_target& t, const std::string& name) {
  asio::io_context ioc;
  outcome<target_copy> out = fail(failure_kind::internal, "not run");
  asio::co_spawn(
      ioc, [&]() -> asio::awaitable<void> { out = co_await t.async_observe(name); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  return out;
}

bool push(files_target& t, const std::string& name, const pushed& p) {
  asio::io_context ioc;
  bool ok = false;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        std::vector<pki::certificate> chain{p.cert};
        std::vector<std::string> own;  // named: see clients/acme/flow.hpp
        auto r = co_await t.async_push(name, std::move(chain), p.key, std::move(own));
        ok = r.has_value();
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  return ok;
}

TEST(FilesTarget, VersionFoldersBehindOneLink) {
  fs::path dir = fs::temp_directory_path() / ("certherd-files-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  asio::io_context ioc;
  files_target t(ioc.get_executor(), dir);

  // A folder written by an older certherd: moved aside, its files kept.
  fs::create_directories(dir / "a.example.com");
  { std::ofstream(dir / "a.example.com" / "cert.pem") << "old"; }

  auto first = make("a.example.com");
  ASSERT_TRUE(push(t, "a.example.com", first));
  ASSERT_TRUE(fs::is_symlink(dir / "a.example.com"));
  EXPECT_EQ(slurp(dir / "a.example.com" / "cert.pem"), first.cert.pem());
  EXPECT_EQ(slurp(dir / "a.example.com" / "privkey.pem"), first.key.to_pem());
  bool legacy_kept = false;
  for (const auto& e : fs::directory_iterator(dir / ".certherd" / "a.example.com")) {
    if (e.path().filename().string().ends_with("-legacy"))
      legacy_kept = slurp(e.path() / "cert.pem") == "old";
  }
  EXPECT_TRUE(legacy_kept);

  // A renewal switches the link; cert and key always come from the same version.
  auto second = make("a.example.com");
  auto before = fs::read_symlink(dir / "a.example.com");
  ASSERT_TRUE(push(t, "a.example.com", second));
  EXPECT_NE(fs::read_symlink(dir / "a.example.com"), before);
  EXPECT_EQ(slurp(dir / "a.example.com" / "cert.pem"), second.cert.pem());
  EXPECT_EQ(slurp(dir / "a.example.com" / "privkey.pem"), second.key.to_pem());
  EXPECT_EQ(fs::status(dir / "a.example.com" / "privkey.pem").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  // Many renewals: the newest five versions stay, the link points at the last.
  pushed last = second;
  for (int i = 0; i < 6; ++i) {
    last = make("a.example.com");
    ASSERT_TRUE(push(t, "a.example.com", last));
  }
  int versions = 0;
  for (const auto& e : fs::directory_iterator(dir / ".certherd" / "a.example.com")) {
    (void)e;
    ++versions;
  }
  EXPECT_EQ(versions, 5);
  EXPECT_EQ(slurp(dir / "a.example.com" / "fullchain.pem"), last.cert.pem());
  fs::remove_all(dir);
}

class PlantedLinks : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("certherd-planted-" + std::to_string(::getpid()));
    fs::remove_all(base_);
    fs::create_directories(dir());
    fs::create_directories(victim());
    // What an attacker points links at: folders named like certherd's versions, and a file.
    for (int i = 0; i < 8; ++i)
      fs::create_directories(victim() / fmt_version(i));
    std::ofstream(victim() / "precious.pem") << "precious";
    std::ofstream(victim() / "fullchain.pem") << make("victim.example").cert.pem();
  }
  void TearDown() override { fs::remove_all(base_); }
  static std::string fmt_version(int i) {
    return std::string(19, '0') + std::to_string(i) + "-aaaaaaaaaaaa";
  }
  fs::path dir() const { return base_ / "out"; }
  fs::path victim() const { return base_ / "victim"; }
  int victim_entries() const {
    int n = 0;
    for (const auto& e : fs::directory_iterator(victim())) {
      (void)e;
      ++n;
    }
    return n;
  }
  fs::path base_;
};

TEST_F(PlantedLinks, MetaFolderLinkIsNotFollowed) {
  fs::create_directory_symlink(victim(), dir() / ".certherd");
  asio::io_context ioc;
  files_target t(ioc.get_executor(), dir());
  EXPECT_FALSE(push(t, "a.example.com", make("a.example.com")));
  EXPECT_EQ(victim_entries(), 10) << "nothing written or removed through the link";
  EXPECT_FALSE(fs::exists(victim() / "a.example.com"));
  EXPECT_TRUE(fs::is_symlink(dir() / ".certherd")) << "the planted link is left alone";
}

TEST_F(PlantedLinks, VersionsFolderLinkIsNeverPruned) {
  fs::create_directories(dir() / ".certherd");
  fs::create_directory_symlink(victim(), dir() / ".certherd" / "a.example.com");
  asio::io_context ioc;
  files_target t(ioc.get_executor(), dir());
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(push(t, "a.example.com", make("a.example.com")));
  EXPECT_EQ(victim_entries(), 10) << "prune never reaches where a planted link points";
}

TEST_F(PlantedLinks, LinkUnderTheCertificateNameIsReportedAndLeftAlone) {
  fs::create_directory_symlink(victim(), dir() / "a.example.com");
  asio::io_context ioc;
  files_target t(ioc.get_executor(), dir());
  auto seen = observe(t, "a.example.com");
  ASSERT_FALSE(seen) << "what the link leads to is not read as served";
  EXPECT_NE(seen.error().message.find("did not make"), std::string::npos) << seen.error().message;
  EXPECT_EQ(seen.error().kind, failure_kind::conflict) << "another party's link is a conflict";
  EXPECT_FALSE(push(t, "a.example.com", make("a.example.com")));
  EXPECT_EQ(fs::read_symlink(dir() / "a.example.com"), victim());
  EXPECT_EQ(slurp(victim() / "precious.pem"), "precious");
  // A plain file under the name is not replaced either.
  std::ofstream(dir() / "b.example.com") << "someone's";
  EXPECT_FALSE(push(t, "b.example.com", make("b.example.com")));
  EXPECT_EQ(slurp(dir() / "b.example.com"), "someone's");
}

TEST_F(PlantedLinks, LinkAmongVersionFoldersIsNotPrunedThrough) {
  asio::io_context ioc;
  files_target t(ioc.get_executor(), dir());
  ASSERT_TRUE(push(t, "a.example.com", make("a.example.com")));
  auto versions = dir() / ".certherd" / "a.example.com";
  // Named like the oldest version, so it would be the first one pruned.
  fs::create_directory_symlink(victim(), versions / fmt_version(0));
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(push(t, "a.example.com", make("a.example.com")));
  EXPECT_EQ(victim_entries(), 10);
  EXPECT_TRUE(fs::is_symlink(versions / fmt_version(0)));
  int real = 0;
  for (const auto& e : fs::directory_iterator(versions))
    real += !fs::is_symlink(e.symlink_status()) && fs::is_directory(e.symlink_status());
  EXPECT_EQ(real, 5);
}

TEST_F(PlantedLinks, LongestHostNameIsWrittenAndRead) {
  std::string host = std::string(62, 'a') + "." + std::string(62, 'b') + "." +
                     std::string(62, 'c') + "." + std::string(60, 'd') + ".com";
  ASSERT_EQ(host.size(), 253u);
  asio::io_context ioc;
  files_target t(ioc.get_executor(), dir());
  auto p = make("long.example");
  ASSERT_TRUE(push(t, host, p));
  auto seen = observe(t, host);
  ASSERT_TRUE(seen) << seen.error().message;
  EXPECT_TRUE(seen->present);
  EXPECT_EQ(seen->fingerprint, p.cert.fingerprint_sha256());
}

}  // namespace
}  // namespace certherd::reconcilers
