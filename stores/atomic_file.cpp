#include "stores/atomic_file.hpp"

#include "stores/file_names.hpp"
#include "stores/temporaries.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>
#include <vector>

namespace certherd::stores {
namespace {

std::error_code last_error() {
  return {errno, std::generic_category()};
}

std::filesystem::path temp_name(const std::filesystem::path& path) {
  return path.parent_path() / temporary_name(path.filename().string());
}

std::error_code sync_directory(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return last_error();
  std::error_code ec;
  if (::fsync(fd) != 0) ec = last_error();
  ::close(fd);
  return ec;
}

// Writes and syncs a temporary file; returns its path.
std::error_code write_temp(const file_content& file, std::filesystem::path& temp,
                           std::string& detail) {
  temp = temp_name(file.path);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, file.mode);
  if (fd < 0) {
    auto ec = last_error();
    detail = fmt::format("cannot create {}: {}", temp.string(), ec.message());
    return ec;
  }
  std::error_code ec;
  if (::fchmod(fd, file.mode) != 0) ec = last_error();  // the umask must not widen or narrow it
  std::size_t done = 0;
  while (!ec && done < file.content.size()) {
    ssize_t n = ::write(fd, file.content.data() + done, file.content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      ec = n < 0 ? last_error() : std::make_error_code(std::errc::io_error);
    else
      done += static_cast<std::size_t>(n);
  }
  if (!ec && ::fsync(fd) != 0) ec = last_error();
  if (::close(fd) != 0 && !ec) ec = last_error();
  if (ec) {
    ::unlink(temp.c_str());
    detail = fmt::format("cannot write {}: {}", file.path.string(), ec.message());
  }
  return ec;
}

}  // namespace

std::error_code write_file(const file_content& file, overwrite policy, std::string& detail) {
  std::filesystem::path temp;
  if (auto ec = write_temp(file, temp, detail)) return ec;
  int rc = policy == overwrite::refuse ? ::link(temp.c_str(), file.path.c_str())
                                       : ::rename(temp.c_str(), file.path.c_str());
  std::error_code ec = rc != 0 ? last_error() : std::error_code();
  if (policy == overwrite::refuse || ec) ::unlink(temp.c_str());
  if (ec) {
    detail = ec == std::errc::file_exists
                 ? fmt::format("{} already exists; it is left as it is", file.path.string())
                 : fmt::format("cannot put {} in place: {}", file.path.string(), ec.message());
    return ec;
  }
  if (auto sec = sync_directory(file.path.parent_path())) {
    detail = fmt::format("cannot sync directory of {}: {}", file.path.string(), sec.message());
    return sec;
  }
  return {};
}

std::error_code write_files(std::span<const file_content> files, std::string& detail) {
  std::vector<std::filesystem::path> temps;
  for (const auto& f : files) {
    std::filesystem::path temp;
    if (auto ec = write_temp(f, temp, detail)) {
      for (const auto& t : temps)
        ::unlink(t.c_str());
      return ec;
    }
    temps.push_back(std::move(temp));
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (::rename(temps[i].c_str(), files[i].path.c_str()) != 0) {
      auto ec = last_error();
      for (std::size_t j = i; j < temps.size(); ++j)
        ::unlink(temps[j].c_str());
      detail = fmt::format("cannot put {} in place: {}", files[i].path.string(), ec.message());
      return ec;
    }
  }
  std::vector<std::filesystem::path> dirs;
  for (const auto& f : files) {
    auto dir = f.path.parent_path();
    if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
  }
  for (const auto& d : dirs) {
    if (auto ec = sync_directory(d)) {
      detail = fmt::format("cannot sync directory {}: {}", d.string(), ec.message());
      return ec;
    }
  }
  return {};
}

std::optional<file_stamp> stamp_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return file_stamp{
      static_cast<unsigned long long>(st.st_ino), static_cast<long long>(st.st_size),
      static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec};
}

std::optional<std::string> read_file(const std::filesystem::path& path, std::error_code& ec) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ec = errno ? last_error() : std::make_error_code(std::errc::no_such_file_or_directory);
    return std::nullopt;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) {
    ec = std::make_error_code(std::errc::io_error);
    return std::nullopt;
  }
  ec.clear();
  return std::move(ss).str();
}

std::error_code make_directories(const std::filesystem::path& dir, mode_t mode,
                                 std::string& detail) {
  std::filesystem::path partial;
  for (const auto& part : dir) {
    partial /= part;
    if (::mkdir(partial.c_str(), mode) != 0 && errno != EEXIST) {
      auto ec = last_error();
      detail = fmt::format("cannot create directory {}: {}", partial.string(), ec.message());
      return ec;
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    detail = fmt::format("{} is not a directory", dir.string());
    return std::make_error_code(std::errc::not_a_directory);
  }
  return {};
}

std::error_code replace_symlink(const std::filesystem::path& link,
                                const std::filesystem::path& target, std::string& detail) {
  struct stat st {};
  if (::lstat(link.c_str(), &st) == 0 && !S_ISLNK(st.st_mode)) {
    detail = fmt::format("{} is not a symbolic link; not replaced", link.string());
    return std::make_error_code(std::errc::file_exists);
  }
  auto temp = link.parent_path() / file_name_for("." + link.filename().string() + ".link-new");
  ::unlink(temp.c_str());
  if (::symlink(target.c_str(), temp.c_str()) != 0) {
    auto ec = last_error();
    detail = fmt::format("cannot create link {}: {}", temp.string(), ec.message());
    return ec;
  }
  if (::rename(temp.c_str(), link.c_str()) != 0) {
    auto ec = last_error();
    ::unlink(temp.c_str());
    detail = fmt::format("cannot put link {} in place: {}", link.string(), ec.message());
    return ec;
  }
  if (auto ec = sync_directory(link.parent_path())) {
    detail = fmt::format("cannot sync directory {}: {}", link.parent_path().string(), ec.message());
    return ec;
  }
  return {};
}

}  // namespace certherd::stores
