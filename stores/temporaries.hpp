// certherd's temporary files: every atomic write goes through one beside its target, renamed into
// place when whole. A process killed mid-write (kill -9, a power cut) leaves its temporaries
// behind; they are never read, but would pile up over crash loops, and in a container the next
// certherd is PID 1 again. So a temporary's name says who made it — ".certherd-tmp.<pid>.<tag>.
// <n>.<name>", <tag> random per process — and sweep() removes those whose writer is gone (our
// own PID with another tag: an earlier incarnation; a PID that no longer runs) once they are a
// minute old, and any of certherd's temporaries (older certherds named them ".<name>.<pid>.<n>
// .tmp") ten minutes old: a write takes milliseconds, and the age covers a writer in another
// PID namespace (another container on the same volume), whose PID means nothing here.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace certherd::stores {

inline constexpr std::string_view kTemporaryPrefix = ".certherd-tmp.";

/// \brief A fresh temporary name for writing `name` (hashed when long; the prefix stays).
std::string temporary_name(std::string_view name);

inline constexpr std::chrono::seconds kOrphanAge{60};
inline constexpr std::chrono::seconds kAbandonedAge{600};

/// \brief Whether `file_name`, last changed `age` ago, is a certherd temporary to sweep (see
/// above). `alive` answers whether a PID runs (injectable for tests).
bool is_stale_temporary(std::string_view file_name, std::chrono::seconds age,
                        bool (*alive)(long pid));

/// \brief Whether `pid` names a running process (kill(pid, 0)).
bool process_alive(long pid);

class dir_handle;

/// \brief Removes the stale temporaries in `dir` (regular files and links only, never followed;
/// not recursive). Returns how many it removed.
std::size_t sweep_temporaries(const dir_handle& dir);

}  // namespace certherd::stores
