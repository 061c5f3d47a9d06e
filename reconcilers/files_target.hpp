// The files target (OUTPUT_DIR): per certificate <dir>/<name>/ with cert.pem, chain.pem,
// fullchain.pem, privkey.pem (0600) and combined.pem (full chain then key, 0600, as HAProxy
// reads it). <dir>/<name> is a symbolic link to a version folder under <dir>/.certherd/<name>/
// that was written and synced whole; switching the link is one rename, so the five files change
// together. The newest five versions are kept. Then an optional reload command, bounded by a
// timeout, so a web server that reads files at reload picks it up.
#pragma once

#include "reconcilers/target.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include "stores/atomic_file.hpp"
#include "stores/safe_dir.hpp"

#include <filesystem>
#include <map>

namespace certherd::reconcilers {

class files_target final : public target {
 public:
  files_target(boost::asio::any_io_executor executor, std::filesystem::path dir,
               std::string reload_command = {},
               std::chrono::seconds reload_timeout = std::chrono::seconds(30));

  std::string_view name() const override { return "files"; }
  boost::asio::awaitable<outcome<target_copy>> async_observe(std::string cert_name) override;
  boost::asio::awaitable<outcome<>> async_push(std::string cert_name,
                                               std::vector<pki::certificate> chain,
                                               pki::private_key key,
                                               std::vector<std::string> own) override;

 private:
  boost::asio::any_io_executor executor_;
  std::filesystem::path dir_;
  std::string reload_command_;
  std::chrono::seconds reload_timeout_;
  void prune(const stores::dir_handle& versions, const std::string& current);
  // What each fullchain.pem was found to hold, until the link or the file changes
  // (async_observe()).
  struct seen {
    std::string version;
    stores::file_stamp stamp;
    target_copy copy;
  };
  std::map<std::string, seen> seen_;
};

}  // namespace certherd::reconcilers
