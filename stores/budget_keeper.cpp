#include "stores/budget_keeper.hpp"

#include "stores/atomic_file.hpp"

#include <fmt/format.h>

namespace certherd::stores {

outcome<std::string> file_budget_keeper::read() {
  std::error_code ec;
  auto st = std::filesystem::symlink_status(file_, ec);
  if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st)) {
    return fail(failure_kind::store_io,
                fmt::format("{}: not a regular file; move it away", file_.string()));
  }
  auto text = read_file(file_, ec);
  if (!text) {
    if (ec == std::errc::no_such_file_or_directory) return std::string();
    return fail(failure_kind::store_io, fmt::format("{}: {}", file_.string(), ec.message()));
  }
  return std::move(*text);
}

outcome<> file_budget_keeper::update(
    const std::function<std::string(std::string_view kept)>& merge) {
  // Another certherd process (renew, revoke) may have written meanwhile: merged in.
  std::error_code read_ec;
  auto theirs = read_file(file_, read_ec);
  std::string detail;
  auto ec =
      write_file({file_, merge(theirs ? *theirs : std::string()), 0600}, overwrite::allow, detail);
  if (ec) return fail(failure_kind::store_io, detail);
  return {};
}

}  // namespace certherd::stores
