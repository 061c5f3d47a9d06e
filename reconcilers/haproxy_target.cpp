#include "reconcilers/haproxy_target.hpp"

#include "stores/atomic_file.hpp"
#include "stores/file_names.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include <sstream>

namespace certherd::reconcilers {

namespace asio = boost::asio;

haproxy_target::haproxy_target(asio::any_io_executor executor, std::string socket,
                               std::filesystem::path crt_list, std::filesystem::path cert_dir)
    : api_(executor, std::move(socket)),
      turn_(executor, asio::steady_timer::time_point::max()),
      crt_list_(std::move(crt_list)),
      cert_dir_(std::move(cert_dir)) {}

std::filesystem::path haproxy_target::file_of(const std::string& cert_name) const {
  return cert_dir_ / stores::file_name_for(cert_name, ".pem");
}

asio::awaitable<text_result<target_copy>> haproxy_target::observe(std::string cert_name) {
  target_copy out;
  out.target = std::string(name());
  out.exclusive = true;  // the files and crt-list entries certherd manages are its own
  auto answer = co_await api_.async_command("show ssl cert " + file_of(cert_name).string());
  if (!answer) co_return failed{answer.error().message};
  if (auto info = haproxy::parse_cert_info(*answer)) {
    out.present = true;
    out.fingerprint_sha1 = info->sha1;
  }
  co_return out;
}

text_result<bool> haproxy_target::list_on_disk(const std::filesystem::path& file) {
  std::error_code ec;
  auto current = stores::read_file(crt_list_, ec);
  if (!current && ec != std::errc::no_such_file_or_directory) {
    // Never replace a list that could not be read: it holds other certificates too.
    return failed{fmt::format("cannot read {}: {}", crt_list_.string(), ec.message())};
  }
  std::string list = current.value_or("");
  std::istringstream lines(list);
  for (std::string line; std::getline(lines, line);) {
    if (line == file.string() || line.starts_with(file.string() + " ")) return true;
  }
  if (!list.empty() && list.back() != '\n') list += '\n';
  list += file.string() + "\n";
  std::string detail;
  if (stores::write_file({crt_list_, list, 0644}, stores::overwrite::allow, detail)) {
    return failed{detail};
  }
  return true;
}

asio::awaitable<text_result<bool>> haproxy_target::push(std::string cert_name,
                                                        std::vector<pki::certificate> chain,
                                                        pki::private_key key,
                                                        std::vector<std::string> /*own*/) {
  while (busy_) {
    co_await turn_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  busy_ = true;
  auto outcome = co_await push_locked(std::move(cert_name), std::move(chain), std::move(key));
  busy_ = false;
  turn_.cancel_one();
  co_return outcome;
}

asio::awaitable<text_result<bool>> haproxy_target::push_locked(std::string cert_name,
                                                               std::vector<pki::certificate> chain,
                                                               pki::private_key key) {
  auto file = file_of(cert_name);
  std::string pem = pki::to_pem(chain) + key.to_pem();
  // On disk first: whatever happens next, a restarted HAProxy serves the new certificate.
  std::string detail;
  if (stores::make_directories(cert_dir_, 0700, detail)) co_return failed{detail};
  if (stores::write_file({file, pem, 0600}, stores::overwrite::allow, detail)) {
    co_return failed{detail};
  }
  auto shown = co_await api_.async_command("show ssl cert " + file.string());
  if (!shown) co_return failed{shown.error().message};
  const bool known = haproxy::parse_cert_info(*shown).has_value();
  if (!known) {
    auto created = co_await api_.async_command("new ssl cert " + file.string());
    if (!created) co_return failed{created.error().message};
    // An empty store left by an interrupted push "already exists": fill it all the same.
    if (!haproxy::is_success(*created) && created->find("already exists") == std::string::npos) {
      co_return failed{fmt::format("HAProxy refused new ssl cert {}: {}", file.string(), *created)};
    }
  }
  auto set = haproxy::set_cert_command(file.string(), pem);
  if (!set) co_return failed{set.error().message};
  auto staged = co_await api_.async_command(*set);
  if (!staged) co_return failed{staged.error().message};
  if (!haproxy::is_success(*staged)) {
    co_await api_.async_command("abort ssl cert " + file.string());
    co_return failed{fmt::format("HAProxy refused set ssl cert {}: {}", file.string(), *staged)};
  }
  auto committed = co_await api_.async_command("commit ssl cert " + file.string());
  if (!committed) co_return failed{committed.error().message};
  if (!haproxy::is_success(*committed)) {
    co_await api_.async_command("abort ssl cert " + file.string());
    co_return failed{
        fmt::format("HAProxy refused commit ssl cert {}: {}", file.string(), *committed)};
  }
  auto listing = co_await api_.async_command("show ssl crt-list " + crt_list_.string());
  if (!listing) co_return failed{listing.error().message};
  if (!haproxy::crt_list_has(*listing, file.string())) {
    auto added = co_await api_.async_command(
        fmt::format("add ssl crt-list {} {}", crt_list_.string(), file.string()));
    if (!added) co_return failed{added.error().message};
    if (!haproxy::is_success(*added)) {
      co_return failed{
          fmt::format("HAProxy refused add ssl crt-list {}: {}", crt_list_.string(), *added)};
    }
    if (auto listed = list_on_disk(file); !listed) co_return failed{listed.error()};
  }
  co_return true;
}

}  // namespace certherd::reconcilers
