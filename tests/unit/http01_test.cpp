// The webroot HTTP-01 presenter: its files (content, mode, withdrawal) and unsafe tokens. The
// built-in responder, which listens on a socket, is in tests/integration/http01_responder_test.
#include "clients/acme/http01.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace certherd::acme {
namespace {

namespace fs = std::filesystem;

TEST(Http01, TokensAreBase64UrlOnly) {
  EXPECT_TRUE(is_safe_token("abcXYZ019-_"));
  EXPECT_FALSE(is_safe_token(""));
  EXPECT_FALSE(is_safe_token("../etc/passwd"));
  EXPECT_FALSE(is_safe_token("a/b"));
  EXPECT_FALSE(is_safe_token("a.b"));
  EXPECT_FALSE(is_safe_token(std::string(300, 'a')));
}

TEST(Http01, WebrootPublishesAndWithdraws) {
  char tmpl[] = "/tmp/certherd-webroot-XXXXXX";
  fs::path root = ::mkdtemp(tmpl);
  ::umask(077);  // a strict umask must not hide the file from the web server
  webroot_presenter p(root);
  std::string detail;
  ASSERT_FALSE(p.present({"a.example", "tok_1", "tok_1.thumb"}, detail)) << detail;
  auto file = root / ".well-known" / "acme-challenge" / "tok_1";
  std::ifstream in(file);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "tok_1.thumb");
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  p.remove({"a.example", "tok_1"});
  EXPECT_FALSE(fs::exists(file));
  EXPECT_TRUE(fs::is_empty(root / ".well-known" / "acme-challenge")) << "no temporaries left";

  EXPECT_TRUE(p.present({"a.example", "../../evil", "x"}, detail));
  EXPECT_FALSE(fs::exists(root / "evil"));
  ::umask(022);
  fs::remove_all(root);
}

TEST(Http01, WebrootReportsUnwritableDirectory) {
  webroot_presenter p("/proc/certherd-no-such-dir");
  std::string detail;
  EXPECT_TRUE(p.present({"a.example", "tok", "k"}, detail));
  EXPECT_NE(detail.find("/proc/certherd-no-such-dir"), std::string::npos) << detail;
}

}  // namespace
}  // namespace certherd::acme
