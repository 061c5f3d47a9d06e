#include "controller/ops_commands.hpp"
#include "clients/json/parse.hpp"

#include "clients/http/server.hpp"
#include "controller/command.hpp"
#include "controller/config.hpp"
#include "controller/fleet_view.hpp"
#include "controller/setup.hpp"
#include "pki/utc_time.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

namespace certherd::controller {

namespace asio = boost::asio;
using reconcilers::cert_spec;

namespace {

// The running instance's /status. ":9090", "0.0.0.0:9090" and "[::]:9090" listen everywhere:
// ask on loopback. Throws std::system_error for an address that is not host:port.
std::string status_url(const std::string& listen) {
  auto at = http::parse_listen(listen);
  auto address = at.address();
  if (address.is_unspecified()) {
    address = address.is_v6() ? asio::ip::address(asio::ip::address_v6::loopback())
                              : asio::ip::address(asio::ip::address_v4::loopback());
  }
  std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return fmt::format("http://{}:{}/status", host, at.port());
}

struct row {
  std::string name, state, expires, renewal, detail;
  std::string sources;  ///< hosts and sources, for --query
};

std::string lowered(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The exit code says whether every certificate is ready, whatever is shown; the filters choose
// what is shown. Without filters or --all, text shows a summary by state and the certificates
// that need attention; --json shows every certificate (or those the filters choose).
int print_rows(std::vector<row> rows, const status_options& o) {
  int code = rows.empty() ? exit_failed : exit_ok;  // nothing held is nothing kept valid
  std::map<std::string, std::size_t> counts;
  for (const auto& r : rows) {
    if (r.state != "ready") code = exit_failed;
    counts[r.state] += 1;
  }
  const std::size_t total = rows.size();
  const bool filtered = !o.state.empty() || !o.query.empty();
  if (filtered) {
    std::string needle = lowered(o.query);
    std::erase_if(rows, [&](const row& r) {
      if (!o.state.empty() && r.state != o.state) return true;
      return !needle.empty() &&
             lowered(r.name + "\n" + r.sources).find(needle) == std::string::npos;
    });
  }
  if (o.json) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartArray();
    for (const auto& r : rows) {
      w.StartObject();
      w.Key("name");
      w.String(r.name.c_str());
      w.Key("state");
      w.String(r.state.c_str());
      w.Key("not_after");
      w.String(r.expires.c_str());
      w.Key("renewal_at");
      w.String(r.renewal.c_str());
      w.Key("detail");
      w.String(r.detail.c_str());
      w.EndObject();
    }
    w.EndArray();
    std::cout << buf.GetString() << "\n";
    return code;
  }
  std::string summary;
  for (const auto& [state, n] : counts)
    summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", n, state);
  std::cout << fmt::format("{} certificate{}: {}\n", total, total == 1 ? "" : "s",
                           summary.empty() ? "none" : summary);
  std::size_t hidden = 0;
  if (!filtered && !o.all) {
    hidden = static_cast<std::size_t>(
        std::count_if(rows.begin(), rows.end(), [](const row& r) { return r.state == "ready"; }));
    std::erase_if(rows, [](const row& r) { return r.state == "ready"; });
  }
  if (!rows.empty()) {
    std::cout << fmt::format("{:<40} {:<10} {:<21} {:<21} {}\n", "NAME", "STATE", "EXPIRES",
                             "RENEWAL", "DETAIL");
  }
  for (const auto& r : rows) {
    std::cout << fmt::format("{:<40} {:<10} {:<21} {:<21} {}\n", r.name, r.state,
                             r.expires.empty() ? "-" : r.expires,
                             r.renewal.empty() ? "-" : r.renewal, r.detail);
  }
  if (hidden > 0) {
    std::cout << fmt::format("{} ready certificate{} not listed (--all lists them)\n", hidden,
                             hidden == 1 ? "" : "s");
  }
  return code;
}

std::string text(const rapidjson::Value& o, const char* k) {
  auto it = o.FindMember(k);
  return it != o.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

}  // namespace

std::vector<std::string> status_states() {
  std::vector<std::string> out;
  for (auto s : kCertStates)
    out.emplace_back(to_string(s));
  for (const char* s : {"missing", "replace", "expired", "unreadable"})
    out.emplace_back(s);
  return out;
}

int print_status(const status_options& o) {
  if (!o.listen.empty()) {
    std::string url;
    try {
      url = status_url(o.listen);
    } catch (const std::system_error& e) {
      std::cerr << "certherd status: --listen " << e.what() << "\n";
      return exit_usage;
    }
    // The running instance's /status may need its STATUS_TOKEN (environment or file only).
    std::string token;
    try {
      auto env = environment();
      if (auto it = env.find("STATUS_TOKEN"); it != env.end()) token = it->second;
      if (auto it = env.find("STATUS_TOKEN_FILE"); it != env.end() && token.empty())
        token = read_secret_file("STATUS_TOKEN_FILE", it->second);
    } catch (const config_error& e) {
      std::cerr << "certherd: " << e.what() << "\n";
      return exit_usage;
    }
    asio::io_context ioc;
    http::client_options co;
    co.operation_timeout = std::chrono::seconds(30);
    // The whole fleet: about 800 bytes a certificate (8 MB at 10,000), 256 MiB at most.
    co.body_limit = std::size_t{256} << 20;
    http::client client(ioc.get_executor(), co);
    http::request req{http::method::get, url, {}, {}, false};
    if (!token.empty()) req.headers.push_back({"Authorization", "Bearer " + token});
    auto got = run_to_end(ioc, client.async_request(std::move(req)));
    std::optional<http::response> answer;
    std::string why;
    if (*got) {
      answer = std::move(**got);
    } else {
      why = (*got).error().detail;
    }
    if (answer && answer->status == 200) {
      rapidjson::Document doc;
      if (!certherd::json::parse(doc, answer->body) && doc.IsObject() &&
          doc.HasMember("certificates") && doc["certificates"].IsArray()) {
        std::vector<row> rows;
        for (const auto& c : doc["certificates"].GetArray()) {
          auto list = [&c](const char* k) {
            std::string out;
            if (c.HasMember(k) && c[k].IsArray()) {
              for (const auto& v : c[k].GetArray()) {
                if (!v.IsString()) continue;
                if (!out.empty()) out += ", ";
                out += v.GetString();
              }
            }
            return out;
          };
          // Why it needs attention, else who wants it.
          std::string detail = text(c, "last_error");
          if (detail.empty()) detail = text(c, "waiting_reason");
          if (detail.empty()) detail = text(c, "conflict");
          if (detail.empty()) detail = list("sources");
          rows.push_back({text(c, "name"), text(c, "state"), text(c, "not_after"),
                          text(c, "renewal_at"), detail, list("hosts") + "\n" + list("sources")});
        }
        if (!o.json) std::cout << "from the running instance at " << o.listen << "\n";
        return print_rows(std::move(rows), o);
      }
    }
    std::cerr << "certherd: no running instance answers at " << o.listen << " ("
              << (why.empty() ? "unexpected answer" : why) << "); reading the store instead\n";
  }
  stores::fs_store store(o.state_dir);
  if (!std::filesystem::exists(std::filesystem::path(o.state_dir) / "certificates")) {
    std::cerr << "certherd: no certificates are held in STATE_DIR=" << o.state_dir
              << " (no running instance asked: set LISTEN or --listen to ask one)\n";
    return exit_failed;
  }
  auto names = store.names();
  if (!names) {
    return report(names.error().within("STATE_DIR=" + o.state_dir));
  }
  auto now = now_seconds();
  std::vector<row> rows;
  for (const auto& name : *names) {
    auto record = store.load(name);
    if (!record || !*record) {
      rows.push_back(
          {name, "unreadable", "", "", record ? "no record" : record.error().message, name});
      continue;
    }
    const auto& r = **record;
    // What the store alone can tell (a running instance knows more: waiting, conflicts).
    std::string state = r.chain_pem.empty()                    ? "missing"
                        : !r.reissue.empty()                   ? "replace"
                        : r.failures > 0                       ? "failing"
                        : now >= r.not_after                   ? "expired"
                        : now >= r.not_after - kExpiringWithin ? "expiring"
                                                               : "ready";
    std::string detail = !r.last_error.empty() ? r.last_error : r.reissue;
    rows.push_back(
        {name, state, r.chain_pem.empty() ? "" : pki::to_rfc3339(r.not_after), "", detail, name});
  }
  if (!o.json) std::cout << "from the store in " << o.state_dir << " (no running instance asked)\n";
  return print_rows(std::move(rows), o);
}

namespace {

// One reconcile of `name` with run's settings; prints what happened.
int reconcile_one(setup& s, asio::io_context& ioc, acme_parts& acme, const std::string& name) {
  reconcilers::observation_cache cache;
  reconcilers::executor_deps deps{*s.store,       s.anchors,        acme.issuer.get(),
                                  raw(s.targets), policy_of(s.cfg), now_seconds};
  deps.cache = &cache;
  deps.budgets = s.budgets.get();
  auto done = run_to_end(ioc, reconcilers::reconcile(s.specs.at(name), deps, true));
  const auto& r = *done;
  std::cout << fmt::format("{}: {}\n", name, r.decision.reason);
  for (const auto& o : r.outcomes)
    std::cout << "  " << o << "\n";
  return r.failed ? exit_failed : exit_ok;
}

// Run's setup with Rancher read, for one managed certificate.
outcome<std::unique_ptr<setup>> prepare_for(const std::map<std::string, std::string>& flags,
                                            asio::io_context& ioc, const std::string& name) {
  auto s = prepare(flags, ioc);
  if (!s) return s;
  if (auto read = read_rancher_once(**s, ioc); !read) return read.error();
  if (!(*s)->specs.count(name)) {
    return fail(failure_kind::configuration,
                name + " is not a managed certificate (not in DOMAINS, not named by a label)");
  }
  return s;
}

}  // namespace

int renew_certificate(const std::map<std::string, std::string>& flags, const std::string& name,
                      bool force) {
  asio::io_context ioc;
  auto prepared = prepare_for(flags, ioc, name);
  if (!prepared) return report(prepared.error());
  auto& s = **prepared;
  if (force) {
    auto record = s.store->load(name);
    if (!record) return report(record.error().within(name));
    if (*record) {
      auto r = **record;
      r.reissue = "renewal forced by certherd renew --force";
      if (auto saved = s.store->save(r); !saved) return report(saved.error().within(name));
    }
  }
  if (s.cfg.store == config::store_kind::etcd) {
    // Only the leader of the replicas orders: this command asks, it never orders beside it.
    auto held = s.store->load(name);
    bool recorded = force && held && *held;
    std::cout << fmt::format(
        "{}: {}; the leader of the replicas (STORE=etcd) reconciles it\n", name,
        recorded
            ? "a replacement is recorded in etcd"
            : (force ? "no certificate is held, so nothing is recorded" : "nothing done here"));
    return exit_ok;
  }
  auto acme = make_acme(s, ioc);
  if (!acme) return report(acme.error());
  return reconcile_one(s, ioc, *acme, name);
}

std::optional<int> revocation_reason(const std::string& name) {
  static const std::map<std::string, int> reasons{{"unspecified", 0},
                                                  {"keyCompromise", 1},
                                                  {"affiliationChanged", 3},
                                                  {"superseded", 4},
                                                  {"cessationOfOperation", 5}};
  if (name.empty()) return std::nullopt;
  auto it = reasons.find(name);
  if (it == reasons.end()) return -1;
  return it->second;
}

int revoke_certificate(const std::map<std::string, std::string>& flags, const std::string& name,
                       const std::string& reason, bool reissue) {
  auto code_of = revocation_reason(reason);
  if (code_of && *code_of < 0) {
    std::cerr << "certherd: --reason '" << reason
              << "' is not one of unspecified, keyCompromise, affiliationChanged, superseded, "
                 "cessationOfOperation\n";
    return exit_usage;
  }
  asio::io_context ioc;
  auto prepared = prepare(flags, ioc);
  if (!prepared) return report(prepared.error());
  auto& s = **prepared;
  auto record = s.store->load(name);
  if (!record) return report(record.error().within(name));
  if (!*record || (*record)->chain_pem.empty()) {
    std::cerr << "certherd: no certificate is held for " << name << "\n";
    return exit_usage;
  }
  auto r = **record;
  auto chain = pki::parse_pem_chain(r.chain_pem);
  if (!chain) {
    std::cerr << "certherd: " << name << ": the held chain is unreadable\n";
    return exit_failed;
  }
  auto acme = make_acme(s, ioc);
  if (!acme) return report(acme.error());
  auto revoked = run_to_end(ioc, acme->issuer->async_revoke(r.directory, chain->front(), code_of));
  if (!*revoked) return report(revoked->error().within("revoking " + name));
  std::cout << fmt::format("{}: revoked at {} (serial {})\n", name, r.directory,
                           chain->front().serial_hex());
  // Recorded before anything else, so that even without --reissue every later reconcile (this
  // command's, or the running instance's) replaces it. Read again: a running instance may have
  // written the record while the CA was asked.
  outcome<> saved = fail(failure_kind::internal, "not tried");
  for (int attempt = 0; attempt < 5 && !saved; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
    if (auto fresh = s.store->load(name); fresh && *fresh) r = **fresh;
    r.reissue = "revoked" + (reason.empty() ? std::string() : " (" + reason + ")");
    saved = s.store->save(r);
    // STORE=etcd: the leader wrote the record meanwhile; read it again and record on top.
    if (!saved && saved.error().kind != failure_kind::conflict) break;
  }
  if (!saved) return report(saved.error().within(name + ": revoked, but not recorded"));
  if (!reissue || s.cfg.store == config::store_kind::etcd) return exit_ok;  // the leader reissues
  if (auto read = read_rancher_once(s, ioc); !read) {
    // Revoked and recorded: what fails from here is the replacement (1), whatever its kind.
    report(read.error().within(name + ": revoked, not replaced"));
    return exit_failed;
  }
  if (!s.specs.count(name)) {
    std::cout << name << " is no longer managed: not replaced\n";
    return exit_ok;
  }
  return reconcile_one(s, ioc, *acme, name);
}

}  // namespace certherd::controller
