// The files target's layout: <dir>/<name> is a link to a version folder written whole, switched in
// one rename; a folder left by an older certherd is moved aside, never lost; old versions pruned.
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

bool push(files_target& t, const std::string& name, const pushed& p) {
  asio::io_context ioc;
  bool ok = false;
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        std::vector<pki::certificate> chain{p.cert};
        std::vector<std::string> own;  // named: see clients/acme/flow.hpp
        auto r = co_await t.push(name, std::move(chain), p.key, std::move(own));
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

}  // namespace
}  // namespace certherd::reconcilers
