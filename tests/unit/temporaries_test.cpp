// Temporaries a killed certherd left behind are recognised by their writer and swept; live ones
// (ours, another running process's) and anything not certherd's are left alone.
#include "stores/temporaries.hpp"
#include "stores/file_names.hpp"
#include "stores/safe_dir.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace certherd::stores {
namespace {

namespace fs = std::filesystem;

bool none_alive(long) {
  return false;
}
bool all_alive(long) {
  return true;
}

TEST(Temporaries, NamesSayWhoWroteThem) {
  auto a = temporary_name("a.example.com.json");
  auto b = temporary_name("a.example.com.json");
  EXPECT_NE(a, b);
  EXPECT_TRUE(a.starts_with(kTemporaryPrefix)) << a;
  EXPECT_NE(a.find(std::to_string(::getpid())), std::string::npos) << a;
  EXPECT_FALSE(is_stale_temporary(a, std::chrono::seconds(61), none_alive))
      << "ours, this process: live";
  // A 253-character name is hashed, and the prefix still says who wrote it.
  auto long_name = temporary_name(std::string(253, 'a'));
  EXPECT_LE(long_name.size(), kPlainFileNameMax);
  EXPECT_TRUE(long_name.starts_with(kTemporaryPrefix)) << long_name;
}

TEST(Temporaries, StaleMeansTheWriterIsGoneAndAMinutePassed) {
  using std::chrono::seconds;
  std::string me = std::to_string(::getpid());
  const std::string earlier = ".certherd-tmp." + me + ".0badc0de.3.a.json";
  const std::string dead = ".certherd-tmp.999999.12345678.0.a.json";
  // An earlier incarnation with our PID (a container's PID 1 after a restart), a dead PID.
  EXPECT_TRUE(is_stale_temporary(earlier, seconds(61), all_alive));
  EXPECT_TRUE(is_stale_temporary(dead, seconds(61), none_alive));
  // Younger than a minute: the writer may be in another PID namespace, where our PIDs mean
  // nothing; a write takes milliseconds, so a minute is certain.
  EXPECT_FALSE(is_stale_temporary(earlier, seconds(5), all_alive));
  EXPECT_FALSE(is_stale_temporary(dead, seconds(5), none_alive));
  EXPECT_FALSE(is_stale_temporary(dead, seconds(61), all_alive))
      << "another running certherd (renew) may be writing it";
  EXPECT_TRUE(is_stale_temporary(dead, seconds(601), all_alive)) << "ten minutes: abandoned";
  // What older certherds named their temporaries: swept once ten minutes old.
  EXPECT_TRUE(is_stale_temporary(".a.example.com.json.812.4.tmp", seconds(601), all_alive));
  EXPECT_FALSE(is_stale_temporary(".a.example.com.json.812.4.tmp", seconds(61), none_alive));
  for (const char* other :
       {"a.json", ".certherd-tmp.", ".certherd-tmp.x.y.z", ".a.json.x.2.tmp", ".12.3.tmp",
        ".certherd-tmp.12", "certherd-tmp.1.2.3.a", ".profile", ".a.tmp"}) {
    EXPECT_FALSE(is_stale_temporary(other, seconds(100000), none_alive)) << other;
  }
}

TEST(Temporaries, SweepRemovesOnlyStaleFilesAndNeverFollowsLinks) {
  auto root = fs::temp_directory_path() / ("certherd-sweep-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "dir");
  auto touch = [&](const std::string& name) { std::ofstream(root / name) << "x"; };
  std::string me = std::to_string(::getpid());
  std::string stale = ".certherd-tmp." + me + ".0badc0de.1.a.json";
  std::string live = temporary_name("a.json");
  touch(stale);
  touch(live);
  touch("a.json");
  touch("dir/victim");
  std::string young = ".certherd-tmp." + me + ".0badc0de.9.y.json";
  touch(young);
  // A planted link with a stale temporary's name: the link goes, its target stays.
  std::string planted = ".certherd-tmp." + me + ".0badc0de.2.b.json";
  fs::create_symlink(root / "dir" / "victim", root / planted);
  // A folder with that shape is not a file certherd wrote: left alone.
  fs::create_directories(root / (".certherd-tmp." + me + ".0badc0de.3.c"));
  // Everything is two minutes old but `young`, and `live` (ours): only the orphans go.
  auto two_minutes_ago = fs::file_time_type::clock::now() - std::chrono::minutes(2);
  for (const auto& name : {stale, live, std::string("a.json")})
    fs::last_write_time(root / name, two_minutes_ago);
  struct timespec times[2] = {{::time(nullptr) - 120, 0}, {::time(nullptr) - 120, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (root / planted).c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  std::string detail;
  auto dir = dir_handle::open(root, 0700, detail, false);
  ASSERT_TRUE(dir) << detail;
  EXPECT_EQ(sweep_temporaries(*dir), 2u);
  EXPECT_FALSE(fs::exists(root / stale));
  EXPECT_FALSE(fs::is_symlink(root / planted));
  EXPECT_TRUE(fs::exists(root / "dir" / "victim"));
  EXPECT_TRUE(fs::exists(root / live));
  EXPECT_TRUE(fs::exists(root / young));
  EXPECT_TRUE(fs::exists(root / "a.json"));
  EXPECT_TRUE(fs::is_directory(root / (".certherd-tmp." + me + ".0badc0de.3.c")));
  fs::remove_all(root);
}

}  // namespace
}  // namespace certherd::stores
