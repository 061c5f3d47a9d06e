#include "reconcilers/haproxy_target.hpp"

#include "stores/temporaries.hpp"

#include "stores/atomic_file.hpp"
#include "stores/file_names.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

namespace certherd::reconcilers {

namespace asio = boost::asio;

haproxy_target::haproxy_target(asio::any_io_executor executor, const pki::trust_anchors& anchors,
                               haproxy_target_options options)
    : api_(executor, options.socket, options.timeout),
      turn_(executor, asio::steady_timer::time_point::max()),
      anchors_(anchors),
      options_(std::move(options)) {}

std::filesystem::path haproxy_target::file_of(const std::string& cert_name) const {
  return options_.cert_dir / stores::file_name_for(cert_name, ".pem");
}

outcome<std::set<std::string>> haproxy_target::owned(const stores::dir_handle& folder) {
  std::error_code ec;
  auto text = folder.read(kOwnedList, ec);
  std::set<std::string> out;
  if (!text) {
    if (ec == std::errc::no_such_file_or_directory) return out;
    return refused(
        fmt::format("cannot read {}: {}", (folder.path() / kOwnedList).string(), ec.message()));
  }
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) out.insert(line);
  return out;
}

asio::awaitable<outcome<bool>> haproxy_target::bound_by_frontend(const std::string& file) {
  auto shown = co_await api_.async_command("show ssl cert " + file);
  if (!shown) co_return unreachable(shown.error().message);
  if (!haproxy::parse_cert_info(*shown)) co_return false;
  auto listing = co_await api_.async_command("show ssl crt-list " + options_.crt_list.string());
  if (!listing) co_return unreachable(listing.error().message);
  co_return !haproxy::crt_list_has(*listing, file);
}

asio::awaitable<outcome<target_copy>> haproxy_target::async_observe(std::string cert_name) {
  target_copy out;
  out.target = std::string(name());
  out.takes_placeholders = true;
  const auto file = file_of(cert_name);
  const auto file_name = file.filename().string();
  std::string detail;
  auto folder = stores::dir_handle::open(options_.cert_dir, 0700, detail, false);
  if (!folder && !detail.empty()) co_return refused(detail);
  std::set<std::string> mine;
  std::optional<std::string> on_disk;
  if (folder) {
    auto list = owned(*folder);
    if (!list) co_return list.error();
    mine = std::move(*list);
    auto kind = folder->kind(file_name);
    if (kind == stores::entry_kind::link || kind == stores::entry_kind::directory ||
        kind == stores::entry_kind::other) {
      co_return foreign(fmt::format("{} is not a file certherd wrote; left alone", file.string()));
    }
    if (kind == stores::entry_kind::file && !mine.count(file_name)) {
      std::error_code ec;
      on_disk = folder->read(file_name, ec);
      if (!on_disk)
        co_return refused(fmt::format("cannot read {}: {}", file.string(), ec.message()));
    }
  }
  auto answer = co_await api_.async_command("show ssl cert " + file.string());
  if (!answer) co_return unreachable(answer.error().message);
  auto info = haproxy::parse_cert_info(*answer);
  if (info) {
    out.present = true;
    out.fingerprint_sha1 = info->sha1;
  }
  if (mine.count(file_name) || (!on_disk && !info)) {
    out.exclusive = true;  // written by certherd, or nothing there yet
    co_return out;
  }
  // Someone else's: what it holds is read from the file, and it is protected.
  out.present = true;
  out.foreign_owner = true;
  out.owner_note = fmt::format("{} is a file certherd did not write", file.string());
  if (on_disk) {
    if (auto chain = pki::parse_pem_bundle(*on_disk); chain && !chain->empty()) {
      out.fingerprint = chain->front().fingerprint_sha256();
      out.fingerprint_sha1 = chain->front().fingerprint_sha1();
      out.not_after = chain->front().not_after();
      out.issuer = pki::classify(*chain, anchors_);
    }
  }
  auto bound = co_await bound_by_frontend(file.string());
  if (!bound) co_return bound.error();
  if (*bound) {
    out.pinned = true;
    out.owner_note = fmt::format("{} is bound by HAProxy's frontend and certherd did not write it",
                                 file.string());
  }
  co_return out;
}

outcome<> haproxy_target::list_on_disk(const std::filesystem::path& file) {
  const auto& crt_list = options_.crt_list;
  std::error_code ec;
  auto current = stores::read_file(crt_list, ec);
  if (!current && ec != std::errc::no_such_file_or_directory) {
    // Never replace a list that could not be read: it holds other certificates too.
    return refused(fmt::format("cannot read {}: {}", crt_list.string(), ec.message()));
  }
  std::string list = current.value_or("");
  std::istringstream lines(list);
  for (std::string line; std::getline(lines, line);) {
    if (line == file.string() || line.starts_with(file.string() + " ")) return {};
  }
  if (!list.empty() && list.back() != '\n') list += '\n';
  list += file.string() + "\n";
  std::string detail;
  if (stores::write_file({crt_list, list, 0644}, stores::overwrite::allow, detail)) {
    return refused(detail);
  }
  return {};
}

asio::awaitable<outcome<>> haproxy_target::async_push(std::string cert_name,
                                                      std::vector<pki::certificate> chain,
                                                      pki::private_key key,
                                                      std::vector<std::string> own) {
  while (busy_) {
    co_await turn_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  busy_ = true;
  auto outcome =
      co_await push_locked(std::move(cert_name), std::move(chain), std::move(key), std::move(own));
  busy_ = false;
  turn_.cancel_one();
  co_return outcome;
}

asio::awaitable<outcome<>> haproxy_target::push_locked(std::string cert_name,
                                                       std::vector<pki::certificate> chain,
                                                       pki::private_key key,
                                                       std::vector<std::string> own) {
  const auto file = file_of(cert_name);
  const auto file_name = file.filename().string();
  std::string detail;
  auto folder = stores::dir_handle::open(options_.cert_dir, 0700, detail);
  if (!folder) co_return refused(detail);
  stores::sweep_temporaries(*folder);  // what a killed certherd left half written
  auto mine = owned(*folder);
  if (!mine) co_return mine.error();
  auto made = [&](const std::string& fp) {
    return !fp.empty() && std::find(own.begin(), own.end(), fp) != own.end();
  };
  if (!mine->count(file_name)) {
    // Not certherd's file yet: the last line of defence for someone else's certificate, whatever
    // plan() decided from an observation that may be old.
    auto kind = folder->kind(file_name);
    if (kind != stores::entry_kind::none && kind != stores::entry_kind::file) {
      co_return foreign(fmt::format("{} is not a file certherd wrote; left alone", file.string()));
    }
    std::string sha256, sha1;
    if (kind == stores::entry_kind::file) {
      std::error_code ec;
      auto text = folder->read(file_name, ec);
      if (!text) co_return refused(fmt::format("cannot read {}: {}", file.string(), ec.message()));
      if (auto held = pki::parse_pem_bundle(*text); held && !held->empty()) {
        sha256 = held->front().fingerprint_sha256();
        sha1 = held->front().fingerprint_sha1();
      }
    } else {
      auto shown = co_await api_.async_command("show ssl cert " + file.string());
      if (!shown) co_return unreachable(shown.error().message);
      if (auto info = haproxy::parse_cert_info(*shown)) sha1 = info->sha1;
    }
    const bool something = kind == stores::entry_kind::file || !sha1.empty();
    if (something && !made(sha256) && !made(sha1)) {
      auto bound = co_await bound_by_frontend(file.string());
      if (!bound) co_return bound.error();
      if (*bound) {
        co_return foreign(fmt::format(
            "{} is bound by HAProxy's frontend and certherd did not write it; never touched",
            file.string()));
      }
      if (!options_.adopt_foreign) {
        co_return foreign(fmt::format(
            "{} holds a certificate certherd did not write; left alone (ADOPT_FOREIGN=true to "
            "replace it)",
            file.string()));
      }
    }
    // Recorded before the file is written: a file certherd wrote is always on the list.
    std::string list;
    for (const auto& n : *mine)
      list += n + "\n";
    list += file_name + "\n";
    std::vector<stores::named_content> record{{kOwnedList, list, 0600}};
    if (folder->write(record, detail)) co_return refused(detail);
  }
  std::string pem = pki::to_pem(chain) + key.to_pem();
  // On disk first: whatever happens next, a restarted HAProxy serves the new certificate.
  std::vector<stores::named_content> files{{file_name, pem, 0600}};
  if (folder->write(files, detail)) co_return refused(detail);
  auto shown = co_await api_.async_command("show ssl cert " + file.string());
  if (!shown) co_return unreachable(shown.error().message);
  const bool known = haproxy::parse_cert_info(*shown).has_value();
  if (!known) {
    auto created = co_await api_.async_command("new ssl cert " + file.string());
    if (!created) co_return unreachable(created.error().message);
    // An empty store left by an interrupted push "already exists": fill it all the same.
    if (!haproxy::is_success(*created) && created->find("already exists") == std::string::npos) {
      co_return refused(
          fmt::format("HAProxy refused new ssl cert {}: {}", file.string(), *created));
    }
  }
  auto set = haproxy::set_cert_command(file.string(), pem);
  if (!set) co_return refused(set.error().message);
  // From here a transaction may be open: whatever fails (an answer, a timeout, a dropped
  // socket), it is aborted, or it would block every other certificate's push.
  auto abort = [&]() -> asio::awaitable<void> {
    co_await api_.async_command("abort ssl cert " + file.string());
  };
  auto staged = co_await api_.async_command(*set);
  if (!staged || !haproxy::is_success(*staged)) {
    co_await abort();
    co_return !staged
        ? unreachable(staged.error().message)
        : refused(fmt::format("HAProxy refused set ssl cert {}: {}", file.string(), *staged));
  }
  auto committed = co_await api_.async_command("commit ssl cert " + file.string());
  if (!committed || !haproxy::is_success(*committed)) {
    co_await abort();
    co_return !committed
        ? unreachable(committed.error().message)
        : refused(fmt::format("HAProxy refused commit ssl cert {}: {}", file.string(), *committed));
  }
  auto listing = co_await api_.async_command("show ssl crt-list " + options_.crt_list.string());
  if (!listing) co_return unreachable(listing.error().message);
  if (!haproxy::crt_list_has(*listing, file.string())) {
    auto added = co_await api_.async_command(
        fmt::format("add ssl crt-list {} {}", options_.crt_list.string(), file.string()));
    if (!added) co_return unreachable(added.error().message);
    if (!haproxy::is_success(*added)) {
      co_return refused(fmt::format("HAProxy refused add ssl crt-list {}: {}",
                                    options_.crt_list.string(), *added));
    }
    if (auto listed = list_on_disk(file); !listed) co_return listed.error();
  }
  co_return outcome<>{};
}

}  // namespace certherd::reconcilers
