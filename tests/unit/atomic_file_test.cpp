// Atomic writes: content and modes as asked, existing keys never replaced, a failed batch
// leaves the old files and no temporaries behind.
#include "stores/atomic_file.hpp"
#include "stores/account_keys.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

namespace certherd::stores {
namespace {

namespace fs = std::filesystem;

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/certherd-atomic-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string read(const fs::path& p) {
    std::error_code ec;
    return read_file(p, ec).value_or("<missing>");
  }
  std::size_t entries() { return std::distance(fs::directory_iterator(dir_), {}); }
  fs::path dir_;
};

TEST_F(AtomicFile, WritesWithMode) {
  std::string detail;
  ASSERT_FALSE(write_file({dir_ / "key.pem", "secret", 0600}, overwrite::allow, detail)) << detail;
  EXPECT_EQ(read(dir_ / "key.pem"), "secret");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicFile, RefuseKeepsTheExistingFile) {
  std::string detail;
  ASSERT_FALSE(write_file({dir_ / "k", "old", 0600}, overwrite::refuse, detail));
  auto ec = write_file({dir_ / "k", "new", 0600}, overwrite::refuse, detail);
  EXPECT_EQ(ec, std::errc::file_exists);
  EXPECT_NE(detail.find("left as it is"), std::string::npos);
  EXPECT_EQ(read(dir_ / "k"), "old");
  EXPECT_EQ(entries(), 1u) << "no temporary left behind";
}

TEST_F(AtomicFile, FailedBatchChangesNothing) {
  std::string detail;
  ASSERT_FALSE(write_file({dir_ / "a", "old-a", 0644}, overwrite::allow, detail));
  std::vector<file_content> batch{{dir_ / "a", "new-a", 0644},
                                  {dir_ / "missing-dir" / "b", "new-b", 0644}};
  EXPECT_TRUE(write_files(batch, detail));
  EXPECT_NE(detail.find("missing-dir"), std::string::npos) << detail;
  EXPECT_EQ(read(dir_ / "a"), "old-a");
  EXPECT_EQ(entries(), 1u);
}

TEST_F(AtomicFile, AccountKeyIsCreatedOnceAndReused) {
  auto first = load_or_create_account(dir_, "https://ca.example/dir", pki::key_type::ec256);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->created);
  auto second = load_or_create_account(dir_, "https://ca.example/dir", pki::key_type::ec256);
  ASSERT_TRUE(second);
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->key.public_der(), first->key.public_der());
  auto other = load_or_create_account(dir_, "https://other.example/dir", pki::key_type::ec256);
  ASSERT_TRUE(other);
  EXPECT_NE(other->key.public_der(), first->key.public_der());
  ASSERT_TRUE(save_account_url(*second, "https://ca.example/dir", "https://ca.example/acct/1"));
  EXPECT_EQ(
      load_or_create_account(dir_, "https://ca.example/dir", pki::key_type::ec256)->account_url,
      "https://ca.example/acct/1");
}

TEST_F(AtomicFile, CorruptAccountKeyIsReportedNotReplaced) {
  auto folder = account_folder(dir_, "https://ca.example/dir");
  std::string detail;
  ASSERT_FALSE(make_directories(folder, 0700, detail));
  ASSERT_FALSE(write_file({folder / "account-key.pem", "garbage", 0600}, overwrite::allow, detail));
  auto r = load_or_create_account(dir_, "https://ca.example/dir", pki::key_type::ec256);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("account-key.pem"), std::string::npos) << r.error().message;
  EXPECT_EQ(read(folder / "account-key.pem"), "garbage");
}

}  // namespace
}  // namespace certherd::stores
