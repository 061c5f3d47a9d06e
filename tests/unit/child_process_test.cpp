// The reload command (issue 9, defect 7): it inherits none of certherd's sockets, runs in a
// process group of its own that a timeout kills whole, never sees certherd's secrets, and every
// child — orphans included — is reaped.
#include "reconcilers/child_process.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace certherd::reconcilers {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string run(const std::string& command, std::chrono::seconds timeout = 10s) {
  asio::io_context ioc;
  std::string out = "not run";
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        out = co_await async_run_shell(ioc.get_executor(), command, timeout);
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct scratch {
  fs::path dir = fs::temp_directory_path() / ("certherd-child-" + std::to_string(::getpid()));
  scratch() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~scratch() { fs::remove_all(dir); }
};

// Alive and not a zombie.
bool running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

TEST(ReloadCommand, InheritsOnlyTheStandardStreams) {
  scratch s;
  // A socket opened the way Asio opens its own: without close-on-exec.
  int leaked = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(leaked, 3);
  // The shell's own descriptors, as links: a socket shows as "socket:[inode]".
  auto out = run("ls -l /proc/$$/fd > " + (s.dir / "fds").string());
  ::close(leaked);
  EXPECT_EQ(out, "");
  auto fds = slurp(s.dir / "fds");
  EXPECT_NE(fds.find(" 0 -> "), std::string::npos) << fds;
  EXPECT_EQ(fds.find("socket:"), std::string::npos) << "a socket reached the command:\n" << fds;
}

TEST(ReloadCommand, TimeoutKillsTheWholeGroup) {
  scratch s;
  auto pid_file = s.dir / "grandchild";
  auto out = run("sleep 60 & echo $! > " + pid_file.string() + "; wait", 1s);
  EXPECT_NE(out.find("killed"), std::string::npos) << out;
  pid_t grandchild = std::atoi(slurp(pid_file).c_str());
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE([&] {
    for (int i = 0; i < 100 && running(grandchild); ++i)
      std::this_thread::sleep_for(20ms);
    return !running(grandchild);
  }()) << "the shell's child survived the timeout";
}

TEST(ReloadCommand, SecretsStayHomeAndStatusIsReported) {
  scratch s;
  ::setenv("CATTLE_SECRET_KEY", "very-secret", 1);
  ::setenv("ACME_EAB_HMAC", "also-secret", 1);
  auto out = run("env > " + (s.dir / "env").string());
  ::unsetenv("CATTLE_SECRET_KEY");
  ::unsetenv("ACME_EAB_HMAC");
  EXPECT_EQ(out, "");
  auto env = slurp(s.dir / "env");
  EXPECT_EQ(env.find("very-secret"), std::string::npos);
  EXPECT_EQ(env.find("also-secret"), std::string::npos);
  EXPECT_NE(env.find("PATH="), std::string::npos);
  EXPECT_EQ(run("exit 3"), "'exit 3' exited with 3");
}

TEST(ReloadCommand, OrphansAreReaped) {
  // As PID 1 in a container would, this process adopts the orphans of its descendants.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  scratch s;
  auto pid_file = s.dir / "orphan";
  // setsid: a group of its own, so it outlives the command and is orphaned.
  EXPECT_EQ(run("setsid sleep 0.3 & echo $! > " + pid_file.string()), "");
  pid_t orphan = std::atoi(slurp(pid_file).c_str());
  ASSERT_GT(orphan, 0);
  // Once it has ended, reap_children() leaves no zombie behind (kill(pid, 0) succeeds on one).
  for (int i = 0; i < 100; ++i) {
    reap_children();
    if (::kill(orphan, 0) != 0) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_NE(::kill(orphan, 0), 0) << "a zombie is left behind";
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
}

}  // namespace
}  // namespace certherd::reconcilers
