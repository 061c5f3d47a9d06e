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

bool is_stale_temporary(std::string_view file_name, bool (*alive)(long pid)) {
  if (!file_name.starts_with(kTemporaryPrefix)) return false;
  std::string_view rest = file_name.substr(kTemporaryPrefix.size());
  long pid = 0;
  if (!take_number(rest, pid)) return false;
  auto dot = rest.find('.');
  if (dot == std::string_view::npos) return false;
  std::string_view tag = rest.substr(0, dot);
  if (pid == static_cast<long>(::getpid())) return tag != process_tag();
  return !alive(pid);
}

std::size_t sweep_temporaries(const dir_handle& dir) {
  std::error_code ec;
  std::size_t removed = 0;
  for (const auto& name : dir.list(ec)) {
    if (!is_stale_temporary(name, process_alive)) continue;
    auto kind = dir.kind(name);
    if (kind != entry_kind::file && kind != entry_kind::link) continue;
    if (::unlinkat(dir.fd(), name.c_str(), 0) == 0) ++removed;
  }
  return removed;
}

}  // namespace certherd::stores
