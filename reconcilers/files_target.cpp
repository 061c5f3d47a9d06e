#include "reconcilers/files_target.hpp"

#include "stores/atomic_file.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

extern char** environ;

namespace certherd::reconcilers {

namespace asio = boost::asio;

files_target::files_target(asio::any_io_executor executor, std::filesystem::path dir,
                           std::string reload_command, std::chrono::seconds reload_timeout)
    : executor_(std::move(executor)),
      dir_(std::move(dir)),
      reload_command_(std::move(reload_command)),
      reload_timeout_(reload_timeout) {}

asio::awaitable<text_result<target_copy>> files_target::observe(std::string cert_name) {
  target_copy out;
  out.target = std::string(name());
  out.exclusive = true;  // OUTPUT_DIR is certherd's own
  // A stat() tells whether the file changed since it was last read and classified.
  auto path = dir_ / cert_name / "fullchain.pem";
  auto stamp = stores::stamp_of(path);
  if (!stamp) {
    seen_.erase(cert_name);
    co_return out;
  }
  if (auto it = seen_.find(cert_name); it != seen_.end() && it->second.first == *stamp) {
    co_return it->second.second;
  }
  std::error_code ec;
  auto pem = stores::read_file(path, ec);
  if (!pem) {
    if (ec == std::errc::no_such_file_or_directory) co_return out;
    co_return failed{fmt::format("cannot read {}: {}",
                                 (dir_ / cert_name / "fullchain.pem").string(), ec.message())};
  }
  auto chain = pki::parse_pem_chain(*pem);
  if (!chain) co_return out;  // unreadable: as good as absent, it will be replaced
  out.present = true;
  out.fingerprint = chain->front().fingerprint_sha256();
  out.not_after = chain->front().not_after();
  // No classification: these files are certherd's own (exclusive), so who issued what they hold
  // decides nothing — and skipping the signature check halves a start-up pass.
  seen_[cert_name] = {*stamp, out};
  co_return out;
}

asio::awaitable<text_result<bool>> files_target::push(std::string cert_name,
                                                      std::vector<pki::certificate> chain,
                                                      pki::private_key key,
                                                      std::vector<std::string> /*own*/) {
  // Each certificate is written whole into a version folder of its own,
  // <dir>/.certherd/<name>/<epoch>-<fingerprint>/, and <dir>/<name> is a symbolic link switched
  // to it in one rename: a reader never sees a new key beside an old certificate.
  const auto versions = dir_ / ".certherd" / cert_name;
  // Named by time (nanoseconds: several pushes in one second still sort in order).
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const auto version_name =
      fmt::format("{:020d}-{}", now, chain.front().fingerprint_sha256().substr(0, 12));
  const auto folder = versions / version_name;
  std::string detail;
  if (stores::make_directories(folder, 0755, detail)) co_return failed{detail};
  std::string leaf = chain.front().pem();
  std::string full = pki::to_pem(chain);
  std::string intermediates = full.substr(leaf.size());
  std::string key_pem = key.to_pem();
  std::vector<stores::file_content> files{
      {folder / "privkey.pem", key_pem, 0600},     {folder / "cert.pem", leaf, 0644},
      {folder / "chain.pem", intermediates, 0644}, {folder / "combined.pem", full + key_pem, 0600},
      {folder / "fullchain.pem", full, 0644},  // last: observe() reads it
  };
  if (stores::write_files(files, detail)) co_return failed{detail};
  const auto link = dir_ / cert_name;
  std::error_code ec;
  if (std::filesystem::is_directory(std::filesystem::symlink_status(link, ec))) {
    // A folder from a certherd before version folders: kept, moved aside once.
    auto legacy = versions / fmt::format("{:020d}-legacy", now - 1);
    std::filesystem::rename(link, legacy, ec);
    if (ec) co_return failed{fmt::format("cannot move {} aside: {}", link.string(), ec.message())};
  }
  if (stores::replace_symlink(link, std::filesystem::path(".certherd") / cert_name / version_name,
                              detail)) {
    co_return failed{detail};
  }
  prune(versions, version_name);
  if (!reload_command_.empty()) {
    auto err = co_await run_command(executor_, reload_command_, reload_timeout_);
    if (!err.empty()) {
      co_return failed{fmt::format("files written, but the reload command failed: {}", err)};
    }
  }
  co_return true;
}

void files_target::prune(const std::filesystem::path& versions, const std::string& current) {
  // The newest few stay: a reader may still hold files of the previous one open.
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(versions, ec)) {
    if (e.is_directory(ec)) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  constexpr std::size_t keep = 5;
  for (std::size_t i = 0; i + keep < names.size(); ++i) {
    if (names[i] == current) continue;
    std::filesystem::remove_all(versions / names[i], ec);
  }
}

asio::awaitable<std::string> run_command(asio::any_io_executor executor, std::string command,
                                         std::chrono::seconds timeout) {
  pid_t pid = 0;
  std::string sh = "/bin/sh", flag = "-c";
  char* argv[] = {sh.data(), flag.data(), command.data(), nullptr};
  // The command gets our environment minus the secrets in it.
  std::vector<char*> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.starts_with("ACME_EAB_") || kv.starts_with("CATTLE_SECRET_KEY=") ||
        kv.starts_with("CATTLE_ACCESS_KEY=")) {
      continue;
    }
    env.push_back(*e);
  }
  env.push_back(nullptr);
  if (int rc = posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, env.data()); rc != 0) {
    co_return fmt::format("cannot start '{}': {}", command, std::strerror(rc));
  }
  // Poll for the exit so the io_context never blocks on the child.
  auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer timer(executor);
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) co_return std::string();
      if (WIFEXITED(status))
        co_return fmt::format("'{}' exited with {}", command, WEXITSTATUS(status));
      co_return fmt::format("'{}' ended by signal {}", command, WTERMSIG(status));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      co_return fmt::format("'{}' did not finish within {} s and was killed", command,
                            timeout.count());
    }
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace certherd::reconcilers
