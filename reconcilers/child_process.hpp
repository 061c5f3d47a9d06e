// Running a command for a target (OUTPUT_RELOAD_COMMAND), and reaping every child. The command
// runs under /bin/sh in a process group of its own, with nothing of certherd's but stdin, stdout
// and stderr (no listening or live socket is inherited, whatever flags they were opened with),
// a clean signal mask, and an environment without certherd's secrets; on timeout the whole group
// is killed, not only the shell. In a container certherd is PID 1, so orphans of such commands
// become its children: reap_children() collects every exited child, keeping the status of the
// ones certherd waits for.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>

namespace certherd::reconcilers {

/// \brief Runs `command` with /bin/sh, waiting at most `timeout`; a command still running then
/// is killed with its whole process group. Returns an empty string on exit status 0, else what
/// went wrong.
boost::asio::awaitable<std::string> async_run_shell(boost::asio::any_io_executor executor,
                                                    std::string command,
                                                    std::chrono::seconds timeout);

/// \brief Reaps every child that has exited (orphans included); async_run_shell's own children keep
/// their status for it. Call on SIGCHLD.
void reap_children();

}  // namespace certherd::reconcilers
