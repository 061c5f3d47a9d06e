// The HAProxy target (HAPROXY_SOCKET): certificates swapped in a running HAProxy through its
// runtime API — `set ssl cert` + `commit ssl cert` — with no reload at all, so no connection is
// dropped. A certificate HAProxy has never seen is created (`new ssl cert`) and added to the
// crt-list the frontend binds (`add ssl crt-list`). Pushes are serialized: HAProxy allows one
// certificate transaction at a time. Each certificate is also written as
// <cert_dir>/<name>.pem and listed in the crt-list file, so a restarted HAProxy loads it.
#pragma once

#include "clients/haproxy/runtime_api.hpp"
#include "reconcilers/target.hpp"

#include <boost/asio/steady_timer.hpp>

#include <filesystem>

namespace certherd::reconcilers {

class haproxy_target final : public target {
 public:
  haproxy_target(boost::asio::any_io_executor executor, std::string socket,
                 std::filesystem::path crt_list, std::filesystem::path cert_dir);

  std::string_view name() const override { return "haproxy"; }
  boost::asio::awaitable<text_result<target_copy>> observe(std::string cert_name) override;
  boost::asio::awaitable<text_result<bool>> push(std::string cert_name,
                                                 std::vector<pki::certificate> chain,
                                                 pki::private_key key,
                                                 std::vector<std::string> own) override;

  std::filesystem::path file_of(const std::string& cert_name) const;

 private:
  text_result<bool> list_on_disk(const std::filesystem::path& file);

  boost::asio::awaitable<text_result<bool>> push_locked(std::string cert_name,
                                                        std::vector<pki::certificate> chain,
                                                        pki::private_key key);

  haproxy::runtime_api api_;
  // HAProxy runs one certificate transaction at a time ("operations on certificates are
  // currently locked" otherwise): pushes wait their turn here.
  boost::asio::steady_timer turn_;
  bool busy_ = false;
  std::filesystem::path crt_list_;
  std::filesystem::path cert_dir_;
};

}  // namespace certherd::reconcilers
