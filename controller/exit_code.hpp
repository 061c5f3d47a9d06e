// The exit codes every subcommand shares (README: "Operating commands").
#pragma once

namespace certherd::controller {

/// 0 done; 1 the operation failed (one line on stderr says why); 2 wrong usage or bad input.
enum exit_code : int { exit_ok = 0, exit_failed = 1, exit_usage = 2 };

}  // namespace certherd::controller
