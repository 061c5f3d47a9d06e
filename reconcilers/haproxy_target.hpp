// The HAProxy target (HAPROXY_SOCKET): certificates swapped in a running HAProxy through its
// runtime API — `set ssl cert` + `commit ssl cert` — with no reload at all, so no connection is
// dropped. A certificate HAProxy has never seen is created (`new ssl cert`) and added to the
// crt-list the frontend binds (`add ssl crt-list`). Pushes are serialized: HAProxy allows one
// certificate transaction at a time, and a transaction that failed or timed out is aborted so it
// never blocks the next. Each certificate is also written as <cert_dir>/<name>.pem and listed in
// the crt-list file, so a restarted HAProxy loads it.
//
// certherd writes only files it created: <cert_dir>/.certherd-owned lists them (written before
// the file itself). A file it did not write is someone else's — the operator's default.pem, a
// bought certificate: it is reported and left alone unless ADOPT_FOREIGN (or it holds a
// certificate certherd itself issued), and one the frontend binds by itself (loaded by HAProxy,
// but not through the crt-list) is never touched.
#pragma once

#include "clients/haproxy/runtime_api.hpp"
#include "pki/classification.hpp"
#include "reconcilers/target.hpp"
#include "stores/safe_dir.hpp"

#include <boost/asio/steady_timer.hpp>

#include <filesystem>
#include <set>

namespace certherd::reconcilers {

struct haproxy_target_options {
  std::string socket;
  std::filesystem::path crt_list;
  std::filesystem::path cert_dir;
  bool adopt_foreign = false;
  std::chrono::milliseconds timeout = std::chrono::seconds(10);  ///< one runtime-API command
};

class haproxy_target final : public target {
 public:
  haproxy_target(boost::asio::any_io_executor executor, const pki::trust_anchors& anchors,
                 haproxy_target_options options);

  std::string_view name() const override { return "haproxy"; }
  boost::asio::awaitable<outcome<target_copy>> async_observe(std::string cert_name) override;
  boost::asio::awaitable<outcome<>> async_push(std::string cert_name,
                                               std::vector<pki::certificate> chain,
                                               pki::private_key key,
                                               std::vector<std::string> own) override;

  std::filesystem::path file_of(const std::string& cert_name) const;

  /// \brief The name of the file listing what certherd wrote in the certificate folder.
  static constexpr const char* kOwnedList = ".certherd-owned";

 private:
  outcome<> list_on_disk(const std::filesystem::path& file);
  /// \brief The file names certherd wrote in `folder` (its .certherd-owned list).
  outcome<std::set<std::string>> owned(const stores::dir_handle& folder);
  /// \brief Whether the frontend binds `file` by itself: HAProxy holds it, the crt-list not.
  boost::asio::awaitable<outcome<bool>> bound_by_frontend(const std::string& file);

  boost::asio::awaitable<outcome<>> push_locked(std::string cert_name,
                                                std::vector<pki::certificate> chain,
                                                pki::private_key key, std::vector<std::string> own);

  haproxy::runtime_api api_;
  // HAProxy runs one certificate transaction at a time ("operations on certificates are
  // currently locked" otherwise): pushes wait their turn here.
  boost::asio::steady_timer turn_;
  bool busy_ = false;
  const pki::trust_anchors& anchors_;
  haproxy_target_options options_;
};

}  // namespace certherd::reconcilers
