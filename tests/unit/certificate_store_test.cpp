// The file store: records round-trip, keys stay 0600, and a record it cannot read is reported
// and never replaced.
#include "stores/certificate_store.hpp"

#include "stores/atomic_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

namespace certherd::stores {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class FsStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/certherd-store-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static stored_certificate record(const std::string& name) {
    stored_certificate r;
    r.name = name;
    r.hosts = {name, "www." + name};
    r.directory = "https://ca.example/dir";
    r.key_type = pki::key_type::ec384;
    r.chain_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    r.key_pem = "-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n";
    r.failures = 2;
    r.next_retry = sys_seconds{1'900'000'000s};
    r.last_error = "authorization failed: \"quoted\"";
    r.not_after = sys_seconds{1'900'100'000s};
    r.fingerprint = "ab12";
    r.profile = "tlsserver";
    remember_issued(r, "old-sha256", "old-sha1");
    remember_issued(r, "old-sha256", "old-sha1");  // once only
    return r;
  }
  fs::path dir_;
};

TEST_F(FsStore, RoundTripsAndKeepsTheKeyPrivate) {
  fs_store store(dir_);
  ASSERT_TRUE(store.open());
  ASSERT_TRUE(store.save(record("a.example")));
  auto back = store.load("a.example");
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(*back);
  const auto& r = **back;
  EXPECT_EQ(r.hosts, (std::vector<std::string>{"a.example", "www.a.example"}));
  EXPECT_EQ(r.key_type, pki::key_type::ec384);
  EXPECT_EQ(r.key_pem, record("a.example").key_pem);
  EXPECT_EQ(r.failures, 2);
  EXPECT_EQ(r.next_retry, sys_seconds{1'900'000'000s});
  EXPECT_EQ(r.last_error, "authorization failed: \"quoted\"");
  EXPECT_EQ(r.issued, (std::vector<std::string>{"old-sha256", "old-sha1"}));
  EXPECT_EQ(r.profile, "tlsserver");
  struct stat st {};
  ASSERT_EQ(::stat(store.path_of("a.example").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto missing = store.load("b.example");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  // A record from before profiles were recorded has none: not "the CA's default".
  auto older = record("b.example");
  older.profile.reset();
  ASSERT_TRUE(store.save(older));
  auto older_back = store.load("b.example");
  ASSERT_TRUE(older_back && *older_back);
  EXPECT_EQ((*older_back)->profile, std::nullopt);
  EXPECT_EQ(*store.names(), (std::vector<std::string>{"a.example", "b.example"}));
}

TEST(IssuedHistory, KeepsTheNewestOnly) {
  stored_certificate r;
  for (int i = 0; i < 40; ++i)
    remember_issued(r, "sha256-" + std::to_string(i), "sha1-" + std::to_string(i));
  ASSERT_EQ(r.issued.size(), kIssuedKept);
  EXPECT_EQ(r.issued.back(), "sha1-39");
  EXPECT_EQ(r.issued.front(), "sha256-24");
}

TEST_F(FsStore, PlantedLinksAreNeverFollowed) {
  fs_store store(dir_);
  ASSERT_TRUE(store.open());
  // A record file that is a link to something else: reported, not read, not replaced.
  fs::path outside = dir_ / "outside.json";
  std::ofstream(outside) << to_json(record("a.example"));
  fs::create_symlink(outside, store.path_of("a.example"));
  auto loaded = store.load("a.example");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message.find("symbolic link"), std::string::npos)
      << loaded.error().message;
  EXPECT_EQ(loaded.error().kind, failure_kind::store_io);
  EXPECT_FALSE(store.save(record("a.example")));
  EXPECT_TRUE(fs::is_symlink(store.path_of("a.example")));
  EXPECT_EQ(*store.names(), std::vector<std::string>{}) << "a link is no record";

  // The records' folder itself planted as a link: the store refuses to open it.
  fs::path other = dir_ / "other";
  fs::create_directories(other / "state");
  fs::create_directories(other / "elsewhere");
  fs::create_directory_symlink(other / "elsewhere", other / "state" / "certificates");
  fs_store planted(other / "state");
  auto opened = planted.open();
  ASSERT_FALSE(opened);
  EXPECT_NE(opened.error().message.find("symbolic link"), std::string::npos)
      << opened.error().message;
  EXPECT_FALSE(planted.save(record("b.example")));
  EXPECT_TRUE(fs::is_empty(other / "elsewhere"));
}

TEST_F(FsStore, CorruptRecordIsReportedAndNeverOverwritten) {
  fs_store store(dir_);
  ASSERT_TRUE(store.open());
  { std::ofstream(store.path_of("a.example")) << "{ half a record"; }
  auto r = store.load("a.example");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("a.example.json"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("left as it is"), std::string::npos) << r.error().message;
  EXPECT_FALSE(store.save(record("a.example")));
  std::ifstream in(store.path_of("a.example"));
  std::string content((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(content, "{ half a record");
}

TEST_F(FsStore, RecordUnderTheWrongNameOrFormat) {
  fs_store store(dir_);
  ASSERT_TRUE(store.open());
  ASSERT_TRUE(store.save(record("a.example")));
  fs::copy_file(store.path_of("a.example"), store.path_of("c.example"));
  auto r = store.load("c.example");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("holds the record of 'a.example'"), std::string::npos)
      << r.error().message;
  EXPECT_FALSE(from_json(R"({"format":99,"name":"x"})"));
  EXPECT_FALSE(from_json(R"({"format":1,"name":"x","hosts":["x"],"key_type":"ec256","chain":"c"})"))
      << "a chain without its key is refused";
  EXPECT_FALSE(store.load("../escape"));
}

TEST_F(FsStore, UnusableStateDirectory) {
  fs_store store("/proc/certherd-cannot-exist");
  auto r = store.open();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/proc/certherd-cannot-exist"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace certherd::stores
