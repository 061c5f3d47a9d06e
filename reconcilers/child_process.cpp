#include "reconcilers/child_process.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

extern char** environ;

namespace certherd::reconcilers {
namespace {

namespace asio = boost::asio;

// The children async_run_shell waits for, and their status once reaped. One io_context thread.
std::map<pid_t, std::optional<int>>& awaited() {
  static std::map<pid_t, std::optional<int>> children;
  return children;
}

bool secret(std::string_view kv) {
  return kv.starts_with("ACME_EAB_") || kv.starts_with("CATTLE_SECRET_KEY=") ||
         kv.starts_with("CATTLE_ACCESS_KEY=") || kv.starts_with("STATUS_TOKEN=");
}

}  // namespace

void reap_children() {
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;  // none exited (0), or no children at all (-1, ECHILD)
    auto it = awaited().find(pid);
    if (it != awaited().end()) it->second = status;
  }
}

asio::awaitable<std::string> async_run_shell(asio::any_io_executor executor, std::string command,
                                             std::chrono::seconds timeout) {
  std::string sh = "/bin/sh", flag = "-c";
  char* argv[] = {sh.data(), flag.data(), command.data(), nullptr};
  // The command gets our environment minus the secrets in it.
  std::vector<char*> env;
  for (char** e = environ; e && *e; ++e) {
    if (!secret(*e)) env.push_back(*e);
  }
  env.push_back(nullptr);

  posix_spawn_file_actions_t files;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&files);
  posix_spawnattr_init(&attr);
  // Only 0, 1 and 2: Asio opens its sockets without close-on-exec, and a reload command that
  // kept certherd's listening socket would hold its port after certherd ends.
  posix_spawn_file_actions_addclosefrom_np(&files, 3);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT})
    sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: a timeout kills all it started
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", &files, &attr, argv, env.data());
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) co_return fmt::format("cannot start '{}': {}", command, std::strerror(rc));
  awaited()[pid] = std::nullopt;

  // Poll for the exit so the io_context never blocks on the child.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer timer(executor);
  std::string outcome;
  while (true) {
    reap_children();
    if (auto status = awaited()[pid]) {
      if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) break;
      outcome = WIFEXITED(*status)
                    ? fmt::format("'{}' exited with {}", command, WEXITSTATUS(*status))
                    : fmt::format("'{}' ended by signal {}", command, WTERMSIG(*status));
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);  // the group: the shell and everything it started
      int status = 0;
      if (!awaited()[pid]) ::waitpid(pid, &status, 0);
      outcome =
          fmt::format("'{}' did not finish within {} s and was killed", command, timeout.count());
      break;
    }
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  awaited().erase(pid);
  // Whatever the command left running in its group does not outlive it.
  ::kill(-pid, SIGKILL);
  reap_children();
  co_return outcome;
}

}  // namespace certherd::reconcilers
