// `certherd run` (the main job: keep every desired certificate valid, forever) and `certherd plan`
// (print what run would do for each certificate and why, changing nothing).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certherd::controller {

/// \brief The flags of run and plan, each the twin of an environment variable.
const std::vector<std::pair<std::string, std::string>>& setting_flags();

/// \brief Runs the controller until SIGTERM/SIGINT. `flags` (variable → value) override the
/// environment. Returns the process exit code.
int run_controller(const std::map<std::string, std::string>& flags);

/// \brief Whether an Authorization header carries `token`: as a bearer token, or as the password
/// of Basic credentials (what a browser sends); compared in constant time. Always true when no
/// token is configured.
bool status_token_accepted(std::string_view authorization, std::string_view token);

/// \brief Prints the plan of every certificate; changes nothing.
int print_plan(const std::map<std::string, std::string>& flags);

}  // namespace certherd::controller
