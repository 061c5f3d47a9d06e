#include "rancher_sim_process.hpp"

#include "pki/certificate.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <stdexcept>
#include <thread>

namespace certherd::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

std::string json_string(const std::string& s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return {buf.GetString(), buf.GetSize()};
}

std::string labels_json(const std::map<std::string, std::string>& labels) {
  std::string out = "{";
  for (const auto& [k, v] : labels) {
    if (out.size() > 1) out += ",";
    out += json_string(k) + ":" + json_string(v);
  }
  return out + "}";
}

std::string ids_json(const std::vector<std::string>& ids) {
  std::string out = "[";
  for (const auto& id : ids) {
    if (out.size() > 1) out += ",";
    out += json_string(id);
  }
  return out + "]";
}

std::string lb_config(const std::vector<std::string>& ids, const std::string& default_id) {
  return fmt::format(R"({{"certificateIds":{},"defaultCertificateId":{}}})", ids_json(ids),
                     default_id.empty() ? "null" : json_string(default_id));
}

std::string id_of(const sim_reply& r, const std::string& what) {
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  if (r.status / 100 != 2 || doc.HasParseError() || !doc.IsObject() || !doc.HasMember("id") ||
      !doc["id"].IsString()) {
    throw std::runtime_error(
        fmt::format("simulator: {} failed: HTTP {} {}", what, r.status, r.body.substr(0, 300)));
  }
  return doc["id"].GetString();
}

void expect_ok(const sim_reply& r, const std::string& what) {
  if (r.status / 100 != 2) {
    throw std::runtime_error(
        fmt::format("simulator: {} failed: HTTP {} {}", what, r.status, r.body.substr(0, 300)));
  }
}

}  // namespace

rancher_sim::rancher_sim(options o) : dir_(o.dir) {
  auto port_file = dir_ / "sim.port";
  std::filesystem::remove(port_file);
  std::vector<std::string> args{
      CERTHERD_SIM_BINARY,
      "--listen",
      "127.0.0.1:0",
      "--port-file",
      port_file.string(),
      "--access-key",
      access_key,
      "--secret-key",
      secret_key,
      "--schemas",
      std::string(CERTHERD_TEST_DATA_DIR) + "/rancher/cattle-v2beta-schemas-full.json",
      "--ping-interval-ms",
      std::to_string(o.ping_ms),
      "--coalesce-ms",
      std::to_string(o.coalesce_ms)};
  if (o.reload_on_certificate_update) args.push_back("--reload-on-certificate-update");
  if (!o.haproxy_dir.empty()) {
    args.insert(args.end(), {"--haproxy-socket", (o.haproxy_dir / "admin.sock").string(),
                             "--haproxy-crt-list", (o.haproxy_dir / "crt-list.txt").string(),
                             "--haproxy-cert-dir", (o.haproxy_dir / "certs").string()});
  }
  pid_ = spawn_logged(std::move(args), dir_ / "sim.log");
  if (!eventually([&] { return std::filesystem::exists(port_file); }, 10s)) {
    throw std::runtime_error("the Rancher simulator did not start: " + log());
  }
  port_ = static_cast<unsigned short>(std::stoi(slurp(port_file)));
}

rancher_sim::~rancher_sim() {
  stop_child(pid_);
}

std::string rancher_sim::cattle_url() const {
  return fmt::format("http://127.0.0.1:{}/v1", port_);
}

std::string rancher_sim::log() const {
  return slurp(dir_ / "sim.log");
}

sim_reply rancher_sim::call(const std::string& method, const std::string& target,
                            const std::string& body) const {
  return loopback_call(port_, method, target, body);
}

std::string rancher_sim::add_service(const std::string& name,
                                     const std::map<std::string, std::string>& labels) {
  return id_of(call("POST", "/_sim/services",
                    fmt::format(R"({{"name":{},"kind":"service","labels":{}}})", json_string(name),
                                labels_json(labels))),
               "add service " + name);
}

void rancher_sim::set_labels(const std::string& id,
                             const std::map<std::string, std::string>& labels) {
  expect_ok(
      call("PUT", "/_sim/services/" + id, fmt::format(R"({{"labels":{}}})", labels_json(labels))),
      "set labels of " + id);
}

void rancher_sim::remove_service(const std::string& id) {
  expect_ok(call("DELETE", "/_sim/services/" + id), "remove " + id);
}

std::string rancher_sim::add_load_balancer(const std::string& name,
                                           const std::vector<std::string>& cert_ids,
                                           const std::string& default_id) {
  return id_of(
      call("POST", "/_sim/services",
           fmt::format(R"({{"name":{},"kind":"loadBalancerService","labels":{{}},"lbConfig":{}}})",
                       json_string(name), lb_config(cert_ids, default_id))),
      "add load balancer " + name);
}

void rancher_sim::set_load_balancer_certificates(const std::string& id,
                                                 const std::vector<std::string>& ids,
                                                 const std::string& default_id) {
  expect_ok(call("PUT", "/_sim/services/" + id,
                 fmt::format(R"({{"lbConfig":{}}})", lb_config(ids, default_id))),
            "set certificates of " + id);
}

std::string rancher_sim::seed_certificate(const std::string& name, const std::string& cert,
                                          const std::string& chain, const std::string& key) {
  return id_of(call("POST", "/_sim/certificates",
                    fmt::format(R"({{"name":{},"cert":{},"certChain":{},"key":{}}})",
                                json_string(name), json_string(cert),
                                chain.empty() ? "null" : json_string(chain), json_string(key))),
               "seed certificate " + name);
}

void rancher_sim::faults(const std::string& json) {
  expect_ok(call("POST", "/_sim/faults", json), "faults " + json);
}

long rancher_sim::stat(const std::string& counter) const {
  auto r = call("GET", "/_sim/stats");
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember(counter.c_str()) ||
      !doc[counter.c_str()].IsNumber()) {
    throw std::runtime_error("simulator stats lack " + counter + ": " + r.body);
  }
  return doc[counter.c_str()].GetInt64();
}

std::vector<sim_certificate> rancher_sim::certificates() const {
  auto r = call("GET", "/_sim/state");
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  std::vector<sim_certificate> out;
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("certificates")) {
    throw std::runtime_error("simulator state unreadable: " + r.body.substr(0, 300));
  }
  auto text = [](const rapidjson::Value& o, const char* k) {
    return o.HasMember(k) && o[k].IsString() ? std::string(o[k].GetString()) : std::string();
  };
  for (const auto& c : doc["certificates"].GetArray()) {
    sim_certificate s{text(c, "id"), text(c, "name"), text(c, "state"), text(c, "certFingerprint"),
                      text(c, "cert")};
    if (s.state == "removed" || s.state == "removing" || s.state == "purged") continue;
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<sim_certificate> rancher_sim::certificate_named(const std::string& name) const {
  for (auto& c : certificates()) {
    if (c.name == name) return c;
  }
  return std::nullopt;
}

haproxy_process::haproxy_process(std::filesystem::path d) : dir(std::move(d)) {
  port = free_port();
  std::string cmd = fmt::format("{}/tests/harness/start-haproxy {} {} >/dev/null 2>&1",
                                CERTHERD_SOURCE_DIR, dir.string(), port);
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("start-haproxy failed: " + cmd);
  std::string why;
  if (!eventually([&] { return !served_fingerprint(port, "x.invalid", why).empty(); }, 10s))
    throw std::runtime_error("HAProxy did not come up: " + why);
}

haproxy_process::~haproxy_process() {
  auto pid = slurp(dir / "haproxy.pid");
  if (!pid.empty()) ::kill(std::stoi(pid), SIGTERM);
}

}  // namespace certherd::testing
