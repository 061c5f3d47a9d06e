#include "ca_standin_process.hpp"

#include "support.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <stdexcept>

namespace certherd::testing {

using namespace std::chrono_literals;

ca_standin::ca_standin(std::vector<std::string> profiles, std::string upstream) {
  port_ = free_port();
  control_ = free_port();
  std::string dir = harness("CERTHERD_TEST_DIR");
  log_file_ = fmt::format("{}/logs/ca-standin-{}.log", dir, port_);
  std::vector<std::string> args{CERTHERD_CA_STANDIN_BINARY,
                                "--listen",
                                fmt::format("127.0.0.1:{}", port_),
                                "--control",
                                fmt::format("127.0.0.1:{}", control_),
                                "--upstream",
                                upstream.empty() ? harness("CERTHERD_TEST_DIRECTORY") : upstream,
                                "--upstream-ca",
                                harness("CERTHERD_TEST_CA_BUNDLE"),
                                "--cert",
                                dir + "/tls/pebble.pem",
                                "--key",
                                dir + "/tls/pebble.key"};
  for (const auto& p : profiles)
    args.insert(args.end(), {"--profile", p});
  pid_ = spawn_logged(std::move(args), log_file_);
  if (!eventually([&] { return slurp(log_file_).find("up on") != std::string::npos; }, 10s)) {
    throw std::runtime_error("the ACME stand-in did not start: " + log());
  }
}

ca_standin::~ca_standin() {
  stop_child(pid_);
}

std::string ca_standin::directory() const {
  return fmt::format("https://localhost:{}/dir", port_);
}

void ca_standin::set_window(const std::string& certid, const std::string& start,
                            const std::string& end, int retry_after) {
  auto r = call("POST", "/window",
                fmt::format(R"({{"certid":"{}","start":"{}","end":"{}","retry_after":{}}})", certid,
                            start, end, retry_after));
  if (r.status != 200) throw std::runtime_error("ca-standin /window: " + r.body);
}

void ca_standin::refuse_replaces(int orders) {
  auto r = call("POST", "/refuse-replaces", fmt::format(R"({{"orders":{}}})", orders));
  if (r.status != 200) throw std::runtime_error("ca-standin /refuse-replaces: " + r.body);
}

void ca_standin::refuse_orders(int orders, int retry_after) {
  auto r = call("POST", "/rate-limit",
                fmt::format(R"({{"orders":{},"retry_after":{}}})", orders, retry_after));
  if (r.status != 200) throw std::runtime_error("ca-standin /rate-limit: " + r.body);
}

std::string ca_standin::orders() const {
  return call("GET", "/orders").body;
}

std::vector<std::string> ca_standin::order_field(const std::string& host,
                                                 const std::string& field) const {
  rapidjson::Document doc;
  std::string text = orders();
  doc.Parse(text.c_str());
  std::vector<std::string> out;
  if (!doc.IsArray()) return out;
  for (const auto& o : doc.GetArray()) {
    if (!o.IsObject() || !o.HasMember("identifiers") || !o["identifiers"].IsArray()) continue;
    bool ours = false;
    for (const auto& id : o["identifiers"].GetArray())
      ours = ours || (id.IsObject() && id.HasMember("value") && id["value"].IsString() &&
                      host == id["value"].GetString());
    if (!ours) continue;
    auto f = o.FindMember(field.c_str());
    out.push_back(f != o.MemberEnd() && f->value.IsString() ? f->value.GetString() : "");
  }
  return out;
}

std::string ca_standin::stats() const {
  return call("GET", "/stats").body;
}

std::string ca_standin::log() const {
  return slurp(log_file_);
}

loopback_reply ca_standin::call(const std::string& method, const std::string& target,
                                const std::string& body) const {
  return loopback_call(control_, method, target, body);
}

}  // namespace certherd::testing
