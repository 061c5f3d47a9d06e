#include "stores/temporaries.hpp"

#include "stores/file_names.hpp"
#include "stores/safe_dir.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <random>

namespace certherd::stores {
namespace {

const std::string& process_tag() {
  static const std::string tag = [] {
    std::random_device rd;
    return fmt::format("{:08x}", rd());
  }();
  return tag;
}

// Reads "<digits>." at the front of `text`, advancing it.
bool take_number(std::string_view& text, long& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || p == text.data() || p == text.data() + text.size() || *p != '.') {
    return false;
  }
  text.remove_prefix(static_cast<std::size_t>(p - text.data()) + 1);
  return true;
}

}  // namespace

std::string temporary_name(std::string_view name) {
  static std::atomic<unsigned long> counter{0};
  return file_name_for(
      fmt::format("{}{}.{}.{}.{}", kTemporaryPrefix, ::getpid(), process_tag(), counter++, name));
}

bool process_alive(long pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// ".<name>.<pid>.<n>.tmp", as certherd named temporaries before the prefix.
bool is_legacy_temporary(std::string_view name) {
  if (!name.starts_with('.') || !name.ends_with(".tmp")) return false;
  std::string_view inner = name.substr(1, name.size() - 5);
  for (int field = 0; field < 2; ++field) {
    auto dot = inner.rfind('.');
    if (dot == std::string_view::npos || dot + 1 == inner.size()) return false;
    for (char c : inner.substr(dot + 1)) {
      if (c < '0' || c > '9') return false;
    }
    inner = inner.substr(0, dot);
  }
  return !inner.empty();
}

bool is_stale_temporary(std::string_view file_name, std::chrono::seconds age,
                        bool (*alive)(long pid)) {
  if (!file_name.starts_with(kTemporaryPrefix)) {
    return age >= kAbandonedAge && is_legacy_temporary(file_name);
  }
  // ".certherd-tmp.<pid>.<tag>.<n>.<name>": anything else is not one of ours.
  std::string_view rest = file_name.substr(kTemporaryPrefix.size());
  long pid = 0;
  if (!take_number(rest, pid)) return false;
  auto dot = rest.find('.');
  if (dot == 0 || dot == std::string_view::npos) return false;
  std::string_view tag = rest.substr(0, dot);
  rest.remove_prefix(dot + 1);
  long n = 0;
  if (!take_number(rest, n) || rest.empty()) return false;
  if (age >= kAbandonedAge) return true;
  if (age < kOrphanAge) return false;
  if (pid == static_cast<long>(::getpid())) return tag != process_tag();
  return !alive(pid);
}

std::size_t sweep_temporaries(const dir_handle& dir) {
  std::error_code ec;
  std::size_t removed = 0;
  const auto now = std::chrono::system_clock::now();
  for (const auto& name : dir.list(ec)) {
    if (!name.starts_with('.')) continue;
    struct stat st {};
    if (::fstatat(dir.fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) continue;
    auto changed = std::chrono::system_clock::time_point{std::chrono::seconds(st.st_mtim.tv_sec)};
    auto age = std::chrono::duration_cast<std::chrono::seconds>(now - changed);
    if (!is_stale_temporary(name, age, process_alive)) continue;
    if (::unlinkat(dir.fd(), name.c_str(), 0) == 0) ++removed;
  }
  return removed;
}

}  // namespace certherd::stores
