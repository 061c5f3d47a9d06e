// Every setting of certherd in one table: the environment variable, its flag (when it may be
// given as one: secrets never are, a flag shows in every process listing), what it means and its
// default. `--help`, the manual page (`certherd manual`, installed as certherd.1) and the
// packaged /etc/default/certherd are written from it, so they cannot drift apart.
#pragma once

#include <span>
#include <string_view>

namespace certherd::controller {

struct setting {
  std::string_view variable;  ///< "DOMAINS"
  std::string_view flag;      ///< "--domains"; empty: environment only
  std::string_view section;   ///< the group it is listed under
  std::string_view meaning;   ///< one or two sentences
  std::string_view fallback;  ///< the default, in words; empty: none
  bool secret = false;        ///< a key or token: environment only, never printed
};

/// \brief Every setting, grouped by section, in the order the manual lists them.
std::span<const setting> settings();

/// \brief Exit codes, shared by every command (details per command in the manual).
struct exit_code_row {
  int code;
  std::string_view meaning;
};
std::span<const exit_code_row> exit_codes();

/// \brief Files certherd reads or writes.
struct file_row {
  std::string_view path;
  std::string_view meaning;
};
std::span<const file_row> files();

}  // namespace certherd::controller
