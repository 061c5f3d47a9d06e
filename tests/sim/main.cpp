// rancher-sim: a stand-in for a Rancher 1.x (Cattle) server that integration tests start in place
// of a real one (design/rancher-api.md Part A, checklist §A8). It binds, writes the bound port to
// --port-file (atomically, so a test polling for it never reads half a number), logs one line per
// request to stderr, and runs on one thread until SIGTERM or SIGINT.
#include "clients/http/server.hpp"
#include "tests/sim/lb_standin.hpp"
#include "tests/sim/model.hpp"
#include "tests/sim/server.hpp"
#include "tests/sim/stats.hpp"
#include "tests/sim/subscriptions.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace asio = boost::asio;
using namespace certherd::sim;

namespace {

void write_port_file(const std::filesystem::path& file, unsigned short port) {
  auto tmp = file;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp.string());
  }
  std::filesystem::rename(tmp, file);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rancher-sim: a Rancher 1.x (Cattle) API simulator for tests"};
  std::string listen = "127.0.0.1:0", port_file, access_key, secret_key, project_id = "1a5";
  std::string schemas_file = CERTHERD_DEFAULT_SCHEMAS;
  long ping_ms = 5000, coalesce_ms = 1000, transition_ms = 300, read_timeout_ms = 30000;
  bool reload_on_update = false;
  std::string haproxy_socket, haproxy_crt_list, haproxy_cert_dir;
  app.add_option("--listen", listen, "HOST:PORT to bind (port 0: any)");
  app.add_option("--port-file", port_file, "where the bound port is written")->required();
  app.add_option("--access-key", access_key, "the API key's access key")->required();
  app.add_option("--secret-key", secret_key, "the API key's secret key")->required();
  app.add_option("--project-id", project_id, "the one project (environment)");
  app.add_option("--schemas", schemas_file, "a real GET /v2-beta/schemas body");
  app.add_option("--ping-interval-ms", ping_ms, "subscribe pings")->check(CLI::PositiveNumber);
  app.add_option("--coalesce-ms", coalesce_ms, "resource.change publish delay")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--transition-ms", transition_ms, "length of each transitioning state")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--read-timeout-ms", read_timeout_ms, "per HTTP request")
      ->check(CLI::PositiveNumber);
  app.add_flag("--reload-on-certificate-update", reload_on_update,
               "LBs rebuild on a bare certificate update too");
  auto* sock = app.add_option("--haproxy-socket", haproxy_socket, "HAProxy admin socket");
  app.add_option("--haproxy-crt-list", haproxy_crt_list, "crt-list of HAProxy's frontend")
      ->needs(sock);
  app.add_option("--haproxy-cert-dir", haproxy_cert_dir, "where pushed PEMs are kept")->needs(sock);
  CLI11_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_logger_st("rancher-sim");
  logger->set_pattern("time=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);

  try {
    std::ifstream in(schemas_file, std::ios::binary);
    std::stringstream schemas;
    schemas << in.rdbuf();
    if (!in) throw std::runtime_error("cannot read --schemas " + schemas_file);

    std::optional<haproxy_settings> haproxy;
    if (!haproxy_socket.empty()) {
      if (haproxy_crt_list.empty()) throw std::runtime_error("--haproxy-crt-list is required");
      std::filesystem::path list(haproxy_crt_list);
      haproxy = haproxy_settings{
          haproxy_socket, list,
          haproxy_cert_dir.empty() ? list.parent_path() : std::filesystem::path(haproxy_cert_dir)};
    }

    asio::io_context ioc(1);
    stats counters;
    store resources(project_id, now_epoch_ms());
    resources.reload_on_certificate_update = reload_on_update;
    hub events(ioc.get_executor(), resources, counters, std::chrono::milliseconds(ping_ms),
               std::chrono::milliseconds(coalesce_ms));
    resources.on_change = [&events](resource_kind kind, const std::string& id) {
      events.changed(kind, id);
    };
    lb_standin lb(ioc.get_executor(), resources, counters, haproxy);
    server_options options{access_key, secret_key, std::chrono::milliseconds(transition_ms),
                           std::chrono::milliseconds(read_timeout_ms), schemas.str()};
    server http(ioc, std::move(options), resources, events, lb, counters);
    auto bound = http.listen(certherd::http::parse_listen(listen));
    write_port_file(port_file, bound.port());
    spdlog::info("event=listening address={} port={} project={} haproxy={}",
                 bound.address().to_string(), bound.port(), project_id, haproxy.has_value());

    asio::signal_set signals(ioc, SIGTERM, SIGINT);
    signals.async_wait([&ioc](const boost::system::error_code& ec, int signo) {
      if (!ec) spdlog::info("event=stopping signal={}", signo);
      ioc.stop();
    });
    ioc.run();
  } catch (const std::exception& e) {
    spdlog::error("event=failed error=\"{}\"", e.what());
    return 1;
  }
  return 0;
}
