// The manual page, certherd.1, written from what `--help` is written from: CLI11's commands and
// options as main.cpp declares them, and the table of settings (controller/settings.hpp).
// `certherd manual` prints it; the build writes certherd.1 with it and the package installs it.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <string_view>

namespace certherd::controller {

/// \brief The page in roff (man(7) macros).
std::string manual_page(const CLI::App& app, std::string_view version);

/// \brief The packaged /etc/default/certherd: every setting, commented out, with what it means
/// and its default (systemd's EnvironmentFile= syntax, which a shell can also source).
std::string environment_file(std::string_view version);

}  // namespace certherd::controller
