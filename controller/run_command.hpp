// `certherd run` (the main job: keep every desired certificate valid, forever) and `certherd plan`
// (print what run would do for each certificate and why, changing nothing).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace certherd::controller {

/// \brief The flags of run and plan, each the twin of an environment variable.
const std::vector<std::pair<std::string, std::string>>& setting_flags();

/// \brief Runs the controller until SIGTERM/SIGINT. `flags` (variable → value) override the
/// environment. Returns the process exit code.
int run_controller(const std::map<std::string, std::string>& flags);

/// \brief Prints the plan of every certificate; changes nothing.
int print_plan(const std::map<std::string, std::string>& flags);

}  // namespace certherd::controller
