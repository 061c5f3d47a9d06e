// Crash-safe file writes: the content goes to a temporary file in the target's directory, is
// fsync'd, renamed over (or, for keys that must never be replaced, hard-linked to) the final name,
// and the directory is fsync'd. A reader sees the old file or the new one, never a part of one.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include <sys/types.h>

namespace certherd::stores {

struct file_content {
  std::filesystem::path path;
  std::string content;
  mode_t mode = 0644;  ///< private keys: 0600
};

enum class overwrite { allow, refuse };

/// \brief Writes one file atomically. With overwrite::refuse an existing file is left untouched
/// and the call fails with file_exists. On failure `detail` names the path and the reason.
std::error_code write_file(const file_content& file, overwrite policy, std::string& detail);

/// \brief Writes several files: every temporary is written and synced first, and only when all
/// succeeded are they renamed into place, so a failed write leaves every old file as it was.
std::error_code write_files(std::span<const file_content> files, std::string& detail);

/// \brief Identity of a file's current content, as cheap to get as one stat(): an atomic
/// replacement (rename) always changes it, so equal stamps mean an unchanged file.
struct file_stamp {
  unsigned long long inode = 0;
  long long size = -1;
  long long mtime_ns = 0;
  friend bool operator==(const file_stamp&, const file_stamp&) = default;
};

/// \brief The stamp of `path`; nullopt when it does not exist (or cannot be stat'ed).
std::optional<file_stamp> stamp_of(const std::filesystem::path& path);

/// \brief Reads a whole file; nullopt with `ec` set when it cannot be read.
std::optional<std::string> read_file(const std::filesystem::path& path, std::error_code& ec);

/// \brief Points the symbolic link `link` at `target` in one atomic step (a temporary link
/// renamed over the old one, then the folder synced): a reader sees the old target or the new,
/// never neither. Fails when `link` is a real file or folder.
std::error_code replace_symlink(const std::filesystem::path& link,
                                const std::filesystem::path& target, std::string& detail);

/// \brief Creates `dir` and its parents with `mode` for the ones it creates.
std::error_code make_directories(const std::filesystem::path& dir, mode_t mode,
                                 std::string& detail);

}  // namespace certherd::stores
