// What /proc says of a benchmarked process: resident memory and CPU time.
#pragma once

#include <fmt/format.h>

#include <sys/types.h>
#include <fstream>
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

/// \brief CPU time the process has run, in ms (/proc/PID/schedstat, ns precision); -1 unreadable.
inline double cpu_ms(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/schedstat", pid));
  long long ns = -1;
  in >> ns;
  return ns < 0 ? -1.0 : static_cast<double>(ns) / 1e6;
}

}  // namespace certherd::bench
