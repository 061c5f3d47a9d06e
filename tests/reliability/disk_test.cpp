// Full and read-only disks (issue 9, part 3): STATE_DIR and OUTPUT_DIR each on a small tmpfs of
// their own (needs root: scripts/test runs as root), filled to the last byte or remounted
// read-only while certherd must issue. The store's refusal is reported with its reason, each
// certificate is ordered exactly once (orders counted in the private Pebble's log), the issued
// certificate is kept and served from memory, and it lands in the store and in OUTPUT_DIR,
// whole, once the disk takes writes again; a restart then orders nothing.
#include "fault_proxy.hpp"
#include "pebble_process.hpp"
#include "reliability.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

namespace certherd::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A tmpfs of `size` mounted at `at` for the test's lifetime.
class small_disk {
 public:
  small_disk(fs::path at, const char* size) : at_(std::move(at)) {
    fs::create_directories(at_);
    std::string opts = fmt::format("size={},mode=0700", size);
    if (::mount("tmpfs", at_.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      throw std::runtime_error(
          fmt::format("mount tmpfs on {}: {} (the reliability tests run as "
                      "root, as scripts/test does)",
                      at_.string(), std::strerror(errno)));
    }
  }
  ~small_disk() { ::umount2(at_.c_str(), MNT_DETACH); }
  // Writes a filler until the disk refuses: every later write fails with ENOSPC.
  void fill() {
    int fd = ::open((at_ / ".filler").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    std::string block(4096, 'x');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    std::string byte(1, 'x');
    while (::write(fd, byte.data(), 1) > 0) {
    }
    ::close(fd);
  }
  void make_room() { fs::remove(at_ / ".filler"); }
  void read_only(bool on) {
    ASSERT_EQ(::mount("tmpfs", at_.c_str(), "tmpfs", MS_REMOUNT | (on ? MS_RDONLY : 0), nullptr), 0)
        << std::strerror(errno);
  }
  const fs::path& path() const { return at_; }

 private:
  fs::path at_;
};

enum class fault { full, read_only };

class Disk : public ::testing::TestWithParam<fault> {};

TEST_P(Disk, RefusedWritesLoseNothingAndOrderOnce) {
  temp_dir tmp;
  pebble_process pebble({tmp / "pebble"});
  fault_proxy gate(pebble.port(), 1);  // no faults: it holds the first order back, see below
  small_disk state(tmp / "state", "2m");
  small_disk out(tmp / "out", "2m");
  auto names = hosts(GetParam() == fault::full ? "full" : "rodisk", 4);
  auto env_for = [&](std::vector<std::string> which) {
    auto env = run_env(tmp.path(), which, gate.directory_url(), state.path(), out.path());
    return env;
  };
  // With room: the account and the first certificate.
  {
    background_certherd first({"run"}, env_for({names[0]}), tmp / "first.log");
    std::string why;
    ASSERT_TRUE(eventually([&] { return output_holds(out.path(), names[0], why); }, 60s))
        << why << first.log();
    first.signal(SIGTERM);
    ASSERT_EQ(first.wait(60s), 0);
  }
  ASSERT_EQ(pebble.orders(), 1);
  auto held_before = output_fingerprint(out.path(), names[0]);

  // certherd refuses to start on a STATE_DIR it cannot write (exit 1, its documented check), so
  // the disks fail after its start and before its first order: the CA is held back meanwhile.
  gate.hold(true);
  background_certherd run({"run"}, env_for(names), tmp / "run.log");
  ASSERT_TRUE(eventually([&] { return run.count("event=start") == 1; }, 30s)) << run.log();
  if (GetParam() == fault::full) {
    state.fill();
    out.fill();
  } else {
    state.read_only(true);
    out.read_only(true);
  }
  gate.hold(false);
  const char* reason =
      GetParam() == fault::full ? "No space left on device" : "Read-only file system";
  ASSERT_TRUE(eventually([&] { return run.count("event=store_write_failed") >= 3; }, 60s))
      << run.log();
  EXPECT_NE(run.log().find(reason), std::string::npos)
      << "the error names the cause: " << run.log();
  EXPECT_GE(run.count("event=push_failed"), 3) << run.log();
  // Well past every retry the controller might make on its own: still one order each.
  std::this_thread::sleep_for(10s);
  EXPECT_EQ(pebble.orders(), 4) << "a refused write led to a new order:\n" << run.log();
  EXPECT_EQ(output_fingerprint(out.path(), names[0]), held_before) << "the held one was touched";

  if (GetParam() == fault::full) {
    state.make_room();
    out.make_room();
  } else {
    state.read_only(false);
    out.read_only(false);
  }
  // The kept records are saved again after a minute, the pushes retried: everything lands.
  std::string why;
  bool landed = eventually(
      [&] {
        for (const auto& h : names) {
          if (!output_holds(out.path(), h, why)) return false;
          if (!fs::exists(state.path() / "certificates" / (h + ".json"))) {
            why = h + ": no record in the store yet";
            return false;
          }
        }
        return true;
      },
      200s);
  EXPECT_TRUE(landed) << why << "\n" << run.log();
  EXPECT_GE(run.count("event=store_write_recovered"), 3) << run.log();
  run.signal(SIGTERM);
  EXPECT_EQ(run.wait(60s), 0);
  EXPECT_EQ(pebble.orders(), 4);

  // The records were saved: a restart orders nothing.
  background_certherd again({"run"}, env_for(names), tmp / "again.log");
  ASSERT_TRUE(eventually([&] { return again.count("event=decision") >= 4; }, 60s)) << again.log();
  std::this_thread::sleep_for(2s);
  again.signal(SIGTERM);
  EXPECT_EQ(again.wait(60s), 0);
  EXPECT_EQ(pebble.orders(), 4) << again.log();
  EXPECT_EQ(again.count("event=issued"), 0) << again.log();
}

INSTANTIATE_TEST_SUITE_P(Faults, Disk, ::testing::Values(fault::full, fault::read_only),
                         [](const auto& info) {
                           return info.param == fault::full ? std::string("Full")
                                                            : std::string("ReadOnly");
                         });

}  // namespace
}  // namespace certherd::testing
