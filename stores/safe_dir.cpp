#include "stores/safe_dir.hpp"

#include "stores/temporaries.hpp"

#include "stores/file_names.hpp"

#include <fmt/format.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <utility>

namespace certherd::stores {
namespace {

std::error_code last_error() {
  return {errno, std::generic_category()};
}

std::string z(std::string_view s) {
  return std::string(s);
}

entry_kind kind_of(mode_t mode) {
  if (S_ISLNK(mode)) return entry_kind::link;
  if (S_ISDIR(mode)) return entry_kind::directory;
  if (S_ISREG(mode)) return entry_kind::file;
  return entry_kind::other;
}

std::string temp_for(std::string_view name) {
  return temporary_name(name);
}

}  // namespace

bool is_plain_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

dir_handle::~dir_handle() {
  if (fd_ >= 0) ::close(fd_);
}

dir_handle::dir_handle(dir_handle&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

dir_handle& dir_handle::operator=(dir_handle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

std::optional<dir_handle> dir_handle::open(const std::filesystem::path& path, mode_t mode,
                                           std::string& detail, bool create) {
  detail.clear();
  if (create && make_directories(path, mode, detail)) return std::nullopt;
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    auto ec = last_error();
    if (!create && ec == std::errc::no_such_file_or_directory) return std::nullopt;
    detail = fmt::format("cannot open {}: {}", path.string(), ec.message());
    return std::nullopt;
  }
  return dir_handle(fd, path);
}

std::optional<dir_handle> dir_handle::sub(std::string_view name, bool create, mode_t mode,
                                          std::string& detail) const {
  detail.clear();
  auto where = path_ / name;
  if (!is_plain_name(name)) {
    detail = fmt::format("'{}' cannot name a folder", name);
    return std::nullopt;
  }
  if (create && ::mkdirat(fd_, z(name).c_str(), mode) != 0 && errno != EEXIST) {
    detail = fmt::format("cannot create directory {}: {}", where.string(), last_error().message());
    return std::nullopt;
  }
  int fd = ::openat(fd_, z(name).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    auto ec = last_error();
    if (ec == std::errc::no_such_file_or_directory && !create) return std::nullopt;
    auto k = kind(name);
    detail =
        k == entry_kind::link
            ? fmt::format("{} is a symbolic link certherd did not make; left alone", where.string())
        : k == entry_kind::none ? fmt::format("cannot open {}: {}", where.string(), ec.message())
                                : fmt::format("{} is not a folder; left alone", where.string());
    return std::nullopt;
  }
  return dir_handle(fd, where);
}

entry_kind dir_handle::kind(std::string_view name) const {
  struct stat st {};
  if (::fstatat(fd_, z(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return entry_kind::none;
  return kind_of(st.st_mode);
}

std::optional<std::string> dir_handle::link_target(std::string_view name) const {
  char buf[4096];
  ssize_t n = ::readlinkat(fd_, z(name).c_str(), buf, sizeof buf);
  if (n < 0 || static_cast<std::size_t>(n) >= sizeof buf) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

std::optional<file_stamp> dir_handle::stamp(std::string_view name) const {
  struct stat st {};
  if (::fstatat(fd_, z(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
  return file_stamp{
      static_cast<unsigned long long>(st.st_ino), static_cast<long long>(st.st_size),
      static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec};
}

std::optional<std::string> dir_handle::read(std::string_view name, std::error_code& ec,
                                            std::size_t limit) const {
  // O_NONBLOCK: a FIFO planted under the name must not hang the reader.
  int fd = ::openat(fd_, z(name).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    ec = last_error();
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ec = std::make_error_code(std::errc::invalid_argument);
    ::close(fd);
    return std::nullopt;
  }
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ec = last_error();
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > limit) {
      ec = std::make_error_code(std::errc::file_too_large);
      ::close(fd);
      return std::nullopt;
    }
  }
  ::close(fd);
  ec.clear();
  return out;
}

std::error_code dir_handle::sync() const {
  return ::fsync(fd_) == 0 ? std::error_code() : last_error();
}

std::error_code dir_handle::write(std::span<const named_content> files, std::string& detail) const {
  std::vector<std::string> temps;
  auto drop_temps = [&](std::size_t from) {
    for (std::size_t j = from; j < temps.size(); ++j)
      ::unlinkat(fd_, temps[j].c_str(), 0);
  };
  for (const auto& f : files) {
    if (!is_plain_name(f.name)) {
      drop_temps(0);
      detail = fmt::format("'{}' cannot name a file", f.name);
      return std::make_error_code(std::errc::invalid_argument);
    }
    std::string temp = temp_for(f.name);
    int fd =
        ::openat(fd_, temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, f.mode);
    std::error_code ec;
    if (fd < 0) {
      ec = last_error();
    } else {
      temps.push_back(temp);
      if (::fchmod(fd, f.mode) != 0) ec = last_error();
      std::size_t done = 0;
      while (!ec && done < f.content.size()) {
        ssize_t n = ::write(fd, f.content.data() + done, f.content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
          ec = n < 0 ? last_error() : std::make_error_code(std::errc::io_error);
        else
          done += static_cast<std::size_t>(n);
      }
      if (!ec && ::fsync(fd) != 0) ec = last_error();
      if (::close(fd) != 0 && !ec) ec = last_error();
    }
    if (ec) {
      drop_temps(0);
      detail = fmt::format("cannot write {}: {}", (path_ / f.name).string(), ec.message());
      return ec;
    }
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (::renameat(fd_, temps[i].c_str(), fd_, files[i].name.c_str()) != 0) {
      auto ec = last_error();
      drop_temps(i);
      detail =
          fmt::format("cannot put {} in place: {}", (path_ / files[i].name).string(), ec.message());
      return ec;
    }
  }
  if (auto ec = sync()) {
    detail = fmt::format("cannot sync directory {}: {}", path_.string(), ec.message());
    return ec;
  }
  return {};
}

std::error_code dir_handle::replace_link(std::string_view name, std::string_view target,
                                         std::string& detail) const {
  auto k = kind(name);
  if (k != entry_kind::none && k != entry_kind::link) {
    detail = fmt::format("{} is not a symbolic link; not replaced", (path_ / name).string());
    return std::make_error_code(std::errc::file_exists);
  }
  std::string temp = temp_for(z(name) + ".link");
  if (::symlinkat(z(target).c_str(), fd_, temp.c_str()) != 0) {
    auto ec = last_error();
    detail = fmt::format("cannot create link {}: {}", (path_ / temp).string(), ec.message());
    return ec;
  }
  if (::renameat(fd_, temp.c_str(), fd_, z(name).c_str()) != 0) {
    auto ec = last_error();
    ::unlinkat(fd_, temp.c_str(), 0);
    detail = fmt::format("cannot put link {} in place: {}", (path_ / name).string(), ec.message());
    return ec;
  }
  if (auto ec = sync()) {
    detail = fmt::format("cannot sync directory {}: {}", path_.string(), ec.message());
    return ec;
  }
  return {};
}

std::error_code dir_handle::move(std::string_view name, const dir_handle& to,
                                 std::string_view to_name, std::string& detail) const {
  if (::renameat(fd_, z(name).c_str(), to.fd_, z(to_name).c_str()) != 0) {
    auto ec = last_error();
    detail = fmt::format("cannot move {} to {}: {}", (path_ / name).string(),
                         (to.path_ / to_name).string(), ec.message());
    return ec;
  }
  sync();
  to.sync();
  return {};
}

std::vector<std::string> dir_handle::list(std::error_code& ec) const {
  std::vector<std::string> out;
  int fd = ::dup(fd_);
  DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
  if (!d) {
    ec = last_error();
    if (fd >= 0) ::close(fd);
    return out;
  }
  ::rewinddir(d);
  while (auto* e = ::readdir(d)) {
    std::string_view n(e->d_name);
    if (n != "." && n != "..") out.emplace_back(n);
  }
  ::closedir(d);
  ec.clear();
  return out;
}

std::error_code dir_handle::remove_flat_folder(std::string_view name, std::string& detail) const {
  auto folder = sub(name, false, 0, detail);
  if (!folder) {
    if (detail.empty()) return {};  // already gone
    return std::make_error_code(std::errc::operation_not_permitted);
  }
  std::error_code ec;
  auto entries = folder->list(ec);
  if (ec) {
    detail = fmt::format("cannot list {}: {}", folder->path_.string(), ec.message());
    return ec;
  }
  for (const auto& e : entries) {
    if (folder->kind(e) == entry_kind::directory) {
      detail = fmt::format("{} holds a folder certherd did not make; left alone",
                           folder->path_.string());
      return std::make_error_code(std::errc::directory_not_empty);
    }
  }
  for (const auto& e : entries)
    ::unlinkat(folder->fd_, e.c_str(), 0);
  if (::unlinkat(fd_, z(name).c_str(), AT_REMOVEDIR) != 0) {
    ec = last_error();
    detail = fmt::format("cannot remove {}: {}", folder->path_.string(), ec.message());
    return ec;
  }
  return {};
}

}  // namespace certherd::stores
