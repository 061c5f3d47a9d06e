#include "reconcilers/files_target.hpp"

#include "stores/temporaries.hpp"

#include "reconcilers/child_process.hpp"

#include "clients/log/log.hpp"

#include "stores/atomic_file.hpp"
#include "stores/safe_dir.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <string_view>
#include <vector>

namespace certherd::reconcilers {

namespace asio = boost::asio;

files_target::files_target(asio::any_io_executor executor, std::filesystem::path dir,
                           std::string reload_command, std::chrono::seconds reload_timeout)
    : executor_(std::move(executor)),
      dir_(std::move(dir)),
      reload_command_(std::move(reload_command)),
      reload_timeout_(reload_timeout) {}

namespace {

constexpr std::string_view kMeta = ".certherd";

// A version folder's name as async_push() makes it: 20 digits, '-', then 12 hex digits or "legacy".
bool is_version_name(std::string_view v) {
  if (v.size() < 22 || v[20] != '-') return false;
  for (std::size_t i = 0; i < 20; ++i)
    if (v[i] < '0' || v[i] > '9') return false;
  auto rest = v.substr(21);
  if (rest == "legacy") return true;
  if (rest.size() != 12) return false;
  for (char c : rest)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The version folder `<dir>/<name>` links to, when the link is one certherd made.
std::optional<std::string> own_link_version(std::string_view target, std::string_view name) {
  std::string prefix = fmt::format("{}/{}/", kMeta, name);
  if (!target.starts_with(prefix)) return std::nullopt;
  auto v = target.substr(prefix.size());
  if (!is_version_name(v)) return std::nullopt;
  return std::string(v);
}

}  // namespace

asio::awaitable<outcome<target_copy>> files_target::async_observe(std::string cert_name) {
  target_copy out;
  out.target = std::string(name());
  out.exclusive = true;  // what certherd's links lead to was put there by certherd
  out.takes_placeholders = true;
  if (!stores::is_plain_name(cert_name))
    co_return refused(fmt::format("'{}' cannot name a file", cert_name));
  std::string detail;
  auto root = stores::dir_handle::open(dir_, 0755, detail, false);
  if (!root && detail.empty()) co_return out;  // no OUTPUT_DIR yet: nothing served
  if (!root) co_return refused(detail);
  // Nothing below OUTPUT_DIR is followed unless certherd made it: a link planted under a
  // certificate's name is reported, never read through.
  std::optional<stores::dir_handle> folder;
  std::string version;
  switch (root->kind(cert_name)) {
    case stores::entry_kind::none:
      seen_.erase(cert_name);
      co_return out;
    case stores::entry_kind::link: {
      auto target = root->link_target(cert_name).value_or("");
      auto v = own_link_version(target, cert_name);
      if (!v) {
        co_return foreign(
            fmt::format("{} is a symbolic link certherd did not make (to '{}'); left alone",
                        (dir_ / cert_name).string(), target));
      }
      version = *v;
      auto meta = root->sub(kMeta, false, 0, detail);
      auto versions = meta ? meta->sub(cert_name, false, 0, detail) : std::nullopt;
      folder = versions ? versions->sub(version, false, 0, detail) : std::nullopt;
      if (!folder && !detail.empty()) co_return refused(detail);
      if (!folder) {  // a dangling link of certherd's: as good as absent, it will be replaced
        seen_.erase(cert_name);
        co_return out;
      }
      break;
    }
    case stores::entry_kind::directory:  // a folder written by a certherd before version folders
      folder = root->sub(cert_name, false, 0, detail);
      if (!folder) co_return refused(detail);
      version = "legacy";
      break;
    default:
      co_return foreign(
          fmt::format("{} is not a link certherd made; left alone", (dir_ / cert_name).string()));
  }
  // A stat() tells whether the file changed since it was last read.
  auto stamp = folder->stamp("fullchain.pem");
  if (!stamp) {
    seen_.erase(cert_name);
    co_return out;
  }
  if (auto it = seen_.find(cert_name);
      it != seen_.end() && it->second.version == version && it->second.stamp == *stamp) {
    co_return it->second.copy;
  }
  std::error_code ec;
  auto pem = folder->read("fullchain.pem", ec);
  if (!pem) {
    if (ec == std::errc::no_such_file_or_directory) co_return out;
    co_return refused(fmt::format("cannot read {}: {}", (folder->path() / "fullchain.pem").string(),
                                  ec.message()));
  }
  // Only the fingerprint: these files are certherd's own (exclusive), so who issued what they
  // hold and until when decides nothing — and not parsing them halves a start-up pass.
  auto fingerprint = pki::pem_leaf_fingerprint(*pem);
  if (!fingerprint) co_return out;  // unreadable: as good as absent, it will be replaced
  out.present = true;
  out.fingerprint = std::move(*fingerprint);
  seen_[cert_name] = {version, *stamp, out};
  co_return out;
}

asio::awaitable<outcome<>> files_target::async_push(std::string cert_name,
                                                    std::vector<pki::certificate> chain,
                                                    pki::private_key key,
                                                    std::vector<std::string> /*own*/) {
  // Each certificate is written whole into a version folder of its own,
  // <dir>/.certherd/<name>/<epoch>-<fingerprint>/, and <dir>/<name> is a symbolic link switched
  // to it in one rename: a reader never sees a new key beside an old certificate.
  if (!stores::is_plain_name(cert_name))
    co_return refused(fmt::format("'{}' cannot name a file", cert_name));
  std::string detail;
  auto root = stores::dir_handle::open(dir_, 0755, detail);
  if (!root) co_return refused(detail);
  stores::sweep_temporaries(*root);  // what a killed certherd left half written
  // Whatever holds the name must be certherd's before anything is written.
  const auto kind = root->kind(cert_name);
  if (kind == stores::entry_kind::link &&
      !own_link_version(root->link_target(cert_name).value_or(""), cert_name)) {
    co_return foreign(fmt::format("{} is a symbolic link certherd did not make; left alone",
                                  (dir_ / cert_name).string()));
  }
  if (kind == stores::entry_kind::file || kind == stores::entry_kind::other) {
    co_return foreign(
        fmt::format("{} is not a link certherd made; left alone", (dir_ / cert_name).string()));
  }
  auto meta = root->sub(kMeta, true, 0755, detail);
  if (!meta) co_return refused(detail);
  auto versions = meta->sub(cert_name, true, 0755, detail);
  if (!versions) co_return refused(detail);
  // Named by time (nanoseconds: several pushes in one second still sort in order).
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto version_name =
      fmt::format("{:020d}-{}", now, chain.front().fingerprint_sha256().substr(0, 12));
  auto folder = versions->sub(version_name, true, 0755, detail);
  if (!folder) co_return refused(detail);
  std::string leaf = chain.front().pem();
  std::string full = pki::to_pem(chain);
  std::string intermediates = full.substr(leaf.size());
  std::string key_pem = key.to_pem();
  std::vector<stores::named_content> files{
      {"privkey.pem", key_pem, 0600},     {"cert.pem", leaf, 0644},
      {"chain.pem", intermediates, 0644}, {"combined.pem", full + key_pem, 0600},
      {"fullchain.pem", full, 0644},  // last: async_observe() reads it
  };
  if (folder->write(files, detail)) co_return refused(detail);
  if (kind == stores::entry_kind::directory) {
    // A folder from a certherd before version folders: kept, moved aside once.
    if (root->move(cert_name, *versions, fmt::format("{:020d}-legacy", now - 1), detail)) {
      co_return refused(detail);
    }
  }
  if (root->replace_link(cert_name, fmt::format("{}/{}/{}", kMeta, cert_name, version_name),
                         detail)) {
    co_return refused(detail);
  }
  prune(*versions, version_name);
  if (!reload_command_.empty()) {
    auto err = co_await async_run_shell(executor_, reload_command_, reload_timeout_);
    if (!err.empty()) {
      co_return refused(fmt::format("files written, but the reload command failed: {}", err));
    }
  }
  co_return outcome<>{};
}

void files_target::prune(const stores::dir_handle& versions, const std::string& current) {
  // The newest few stay: a reader may still hold files of the previous one open. Only version
  // folders certherd made are candidates; anything else found there is left alone.
  std::error_code ec;
  std::vector<std::string> names;
  for (auto& n : versions.list(ec)) {
    if (is_version_name(n) && versions.kind(n) == stores::entry_kind::directory)
      names.push_back(std::move(n));
  }
  std::sort(names.begin(), names.end());
  constexpr std::size_t keep = 5;
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string detail;
    if (i + keep < names.size() && names[i] != current) {
      if (versions.remove_flat_folder(names[i], detail)) {
        log::warn("prune_skipped",
                  {{"folder", (versions.path() / names[i]).string()}, {"reason", detail}});
      }
    } else if (auto kept = versions.sub(names[i], false, 0, detail)) {
      stores::sweep_temporaries(*kept);  // a version a killed certherd never finished
    }
  }
}

}  // namespace certherd::reconcilers
