// Folders that other processes can write into (OUTPUT_DIR, HAProxy's certificate folder, the
// state directory), walked one component at a time and never through a symbolic link: every
// open below the configured folder uses O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, so a link someone
// planted cannot redirect a write, a read or a removal to a place certherd never meant. The
// configured folder itself may be a link (the operator chose it). Writes are atomic as in
// atomic_file.hpp: temporaries written and synced, renamed into place, the folder synced.
#pragma once

#include "stores/atomic_file.hpp"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <sys/types.h>

namespace certherd::stores {

enum class entry_kind { none, file, directory, link, other };

struct named_content {
  std::string name;  ///< a name inside the folder (no '/')
  std::string content;
  mode_t mode = 0644;
};

class dir_handle {
 public:
  dir_handle() = default;
  ~dir_handle();
  dir_handle(dir_handle&& other) noexcept;
  dir_handle& operator=(dir_handle&& other) noexcept;
  dir_handle(const dir_handle&) = delete;
  dir_handle& operator=(const dir_handle&) = delete;

  /// \brief Opens the configured folder `path`, created with `mode` (parents too) when missing
  /// and `create`; without `create` a missing folder gives nullopt and an empty `detail`.
  static std::optional<dir_handle> open(const std::filesystem::path& path, mode_t mode,
                                        std::string& detail, bool create = true);

  /// \brief Opens the sub-folder `name`, creating it with `mode` when `create`; refuses a
  /// symbolic link or anything that is not a folder, saying so in `detail`. With `create` false
  /// a missing folder gives nullopt and an empty `detail`.
  std::optional<dir_handle> sub(std::string_view name, bool create, mode_t mode,
                                std::string& detail) const;

  /// \brief What `name` is, without following a link.
  entry_kind kind(std::string_view name) const;
  /// \brief The target of the link `name`; nullopt when it is not a link.
  std::optional<std::string> link_target(std::string_view name) const;
  /// \brief The stamp of `name` itself (a link's own, not its target's).
  std::optional<file_stamp> stamp(std::string_view name) const;
  /// \brief Reads the regular file `name`; a link fails with ELOOP. nullopt with `ec` set.
  std::optional<std::string> read(std::string_view name, std::error_code& ec,
                                  std::size_t limit = 16 * 1024 * 1024) const;
  /// \brief Writes every file atomically; a failure leaves every old file as it was.
  std::error_code write(std::span<const named_content> files, std::string& detail) const;
  /// \brief Points the link `name` at `target` in one rename. Refuses to replace anything that
  /// is not a link.
  std::error_code replace_link(std::string_view name, std::string_view target,
                               std::string& detail) const;
  /// \brief Moves `name` to `to_name` inside `to` (one rename; a link is moved, not followed).
  std::error_code move(std::string_view name, const dir_handle& to, std::string_view to_name,
                       std::string& detail) const;
  /// \brief Removes the folder `name` and the files in it (links are removed, never followed).
  /// A folder holding a folder is left alone and reported.
  std::error_code remove_flat_folder(std::string_view name, std::string& detail) const;
  /// \brief The names in the folder, without "." and "..".
  std::vector<std::string> list(std::error_code& ec) const;

  int fd() const noexcept { return fd_; }
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  dir_handle(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  std::error_code sync() const;
  int fd_ = -1;
  std::filesystem::path path_;  // for messages only: every operation goes through fd_
};

/// \brief Whether `name` can be one component of a path: not empty, not "." or "..", no '/'
/// and no NUL.
bool is_plain_name(std::string_view name);

}  // namespace certherd::stores
