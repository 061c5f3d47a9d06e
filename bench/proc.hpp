// What /proc says of a benchmarked process: resident memory and CPU time.
#pragma once

#include <fmt/format.h>

#include <sys/types.h>
#include <unistd.h>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

namespace certherd::bench {

/// \brief A memory field of /proc/PID/status ("VmRSS", "VmHWM") in MiB, "?" when unreadable.
inline std::string status_field(pid_t pid, const std::string& field) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(field + ":")) {
      std::istringstream rest(line.substr(field.size() + 1));
      long kb = 0;
      rest >> kb;
      return fmt::format("{:.1f} MiB", kb / 1024.0);
    }
  }
  return "?";
}

/// \brief CPU time of every thread of the process, user and system, in ms (/proc/PID/stat,
/// clock ticks: 10 ms here); -1 unreadable. (/proc/PID/schedstat would be the main thread's
/// alone, and certherd's etcd store works on a thread of its own.)
inline double cpu_ms(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return -1.0;
  std::istringstream fields(text.substr(close + 2));
  std::string skip;
  for (int i = 3; i < 14; ++i)  // state .. cmajflt: fields 3 to 13
    fields >> skip;
  long long utime = -1, stime = -1;
  fields >> utime >> stime;
  if (utime < 0 || stime < 0) return -1.0;
  return static_cast<double>(utime + stime) * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace certherd::bench
