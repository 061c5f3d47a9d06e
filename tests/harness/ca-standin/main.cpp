// ca-standin: a STAND-IN in front of the real Pebble, for what Debian's Pebble 2.4.0 lacks —
// ACME Renewal Information (RFC 9773), profiles, and rateLimited answers with Retry-After.
// Everything else, every order, authorization, challenge and certificate, is Pebble's: requests
// are passed through unchanged (Host kept, so Pebble writes its URLs with this proxy's address
// and checks the JWS url against it), over TLS both ways. What it adds:
//   * the directory gains "renewalInfo" (https://<host>/renewal-info) and, with --profile,
//     meta.profiles;
//   * GET /renewal-info/<CertID> answers the window a test set for that CertID (or the default
//     one) with its Retry-After; 404 when none was set;
//   * POST to newOrder is recorded (the JWS payload, decoded: "replaces", "profile", the names)
//     and, while a test asked for it, answered 429 rateLimited with Retry-After instead.
// A test drives it over a plain-HTTP control port on loopback:
//   POST /window   {"certid": "...", "start": "...", "end": "...", "retry_after": 21600}
//                  ("certid": "*" sets the default window)
//   POST /rate-limit {"orders": N, "retry_after": S}   the next N new orders are refused
//   POST /refuse-replaces {"orders": N}   the next N new orders naming a certificate they replace
//                  are answered 409 alreadyReplaced
//   GET  /orders   the payloads of the new orders refused here or created at Pebble, a JSON array
//   GET  /stats    {"renewal_info_requests": n, "orders": n, "refused_orders": n}
// usage: ca-standin --listen 127.0.0.1:P --control 127.0.0.1:Q --upstream https://localhost:R/dir
//        --upstream-ca ca.pem --cert cert.pem --key key.pem [--profile NAME=description]...
#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include "clients/http/server.hpp"
#include "clients/http/url.hpp"
#include "pki/encoding.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

namespace {

struct window {
  std::string start, end;
  int retry_after = 21600;
};

struct standin {
  std::string upstream_host, upstream_port, directory_path;
  std::vector<std::pair<std::string, std::string>> profiles;
  std::map<std::string, window> windows;  // CertID ("*": default) → window
  int refuse_orders = 0;
  int refuse_retry_after = 60;
  int refuse_replaces = 0;  // the next N orders naming a certificate they replace: alreadyReplaced
  std::vector<std::string> order_payloads;
  int renewal_info_requests = 0, orders = 0, refused_orders = 0;
  std::string new_order_path;  // learnt from the directory
};

std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// The request target of an absolute URL Pebble wrote ("/" when it has none).
std::string path_of(const std::string& url) {
  std::string why;
  auto parts = certherd::http::parse_url(url, certherd::http::url_family::http, why);
  return parts ? parts->target : "/";
}

response problem(unsigned status, const std::string& type, const std::string& detail) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  doc.AddMember("type", rapidjson::Value(("urn:ietf:params:acme:error:" + type).c_str(), a), a);
  doc.AddMember("detail", rapidjson::Value(detail.c_str(), a), a);
  response res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/problem+json");
  res.body() = to_json(doc);
  res.prepare_payload();
  return res;
}

// Pebble's answer to `req`, passed through unchanged.
asio::awaitable<response> forward(standin& s, ssl::context& upstream_tls, request req) {
  auto ex = co_await asio::this_coro::executor;
  tcp::resolver resolver(ex);
  auto endpoints =
      co_await resolver.async_resolve(s.upstream_host, s.upstream_port, asio::use_awaitable);
  beast::ssl_stream<beast::tcp_stream> stream(ex, upstream_tls);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
  co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
  SSL_set_tlsext_host_name(stream.native_handle(), s.upstream_host.c_str());
  co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
  req.keep_alive(false);
  req.prepare_payload();
  co_await http::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buf;
  response res;
  co_await http::async_read(stream, buf, res, asio::use_awaitable);
  beast::error_code ignored;
  beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
  res.keep_alive(true);
  co_return res;
}

asio::awaitable<response> handle_acme(standin& s, ssl::context& upstream_tls, request req) {
  const std::string target(req.target());
  const std::string host(req[http::field::host]);
  if (req.method() == http::verb::get && target == s.directory_path) {
    auto res = co_await forward(s, upstream_tls, req);
    rapidjson::Document doc;
    doc.Parse(res.body().c_str());
    if (doc.HasParseError() || !doc.IsObject()) co_return res;
    auto& a = doc.GetAllocator();
    if (doc.HasMember("newOrder") && doc["newOrder"].IsString())
      s.new_order_path = path_of(doc["newOrder"].GetString());
    doc.RemoveMember("renewalInfo");
    doc.AddMember("renewalInfo",
                  rapidjson::Value(fmt::format("https://{}/renewal-info", host).c_str(), a), a);
    if (!s.profiles.empty()) {
      if (!doc.HasMember("meta"))
        doc.AddMember("meta", rapidjson::Value(rapidjson::kObjectType), a);
      rapidjson::Value profiles(rapidjson::kObjectType);
      for (const auto& [name, about] : s.profiles)
        profiles.AddMember(rapidjson::Value(name.c_str(), a), rapidjson::Value(about.c_str(), a),
                           a);
      doc["meta"].RemoveMember("profiles");
      doc["meta"].AddMember("profiles", profiles, a);
    }
    res.body() = to_json(doc);
    res.prepare_payload();
    co_return res;
  }
  if (req.method() == http::verb::get && target.starts_with("/renewal-info/")) {
    ++s.renewal_info_requests;
    auto id = target.substr(std::string("/renewal-info/").size());
    auto it = s.windows.find(id);
    if (it == s.windows.end()) it = s.windows.find("*");
    if (it == s.windows.end())
      co_return problem(404, "malformed", "stand-in: no window for this certificate");
    response res{http::status::ok, 11};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::retry_after, std::to_string(it->second.retry_after));
    res.body() = fmt::format(R"({{"suggestedWindow":{{"start":"{}","end":"{}"}}}})",
                             it->second.start, it->second.end);
    res.prepare_payload();
    co_return res;
  }
  if (req.method() == http::verb::post && !s.new_order_path.empty() && target == s.new_order_path) {
    // An order counts when it was refused here or created at Pebble: a newOrder Pebble turned
    // down (a rejected nonce, re-signed and sent again) is no order.
    std::string payload;
    rapidjson::Document jws;
    jws.Parse(req.body().c_str());
    if (!jws.HasParseError() && jws.IsObject() && jws.HasMember("payload") &&
        jws["payload"].IsString()) {
      payload = certherd::pki::base64url_decode(jws["payload"].GetString()).value_or("");
    }
    if (s.refuse_replaces > 0 && payload.find("\"replaces\"") != std::string::npos) {
      --s.refuse_replaces;
      ++s.refused_orders;
      ++s.orders;
      s.order_payloads.push_back(payload);
      co_return problem(409, "alreadyReplaced", "stand-in: that certificate was replaced");
    }
    if (s.refuse_orders > 0) {
      --s.refuse_orders;
      ++s.refused_orders;
      ++s.orders;
      s.order_payloads.push_back(payload);
      auto res = problem(429, "rateLimited", "stand-in: too many new orders");
      res.set(http::field::retry_after, std::to_string(s.refuse_retry_after));
      co_return res;
    }
    auto res = co_await forward(s, upstream_tls, std::move(req));
    if (res.result() == http::status::created) {
      ++s.orders;
      s.order_payloads.push_back(payload);
    }
    co_return res;
  }
  co_return co_await forward(s, upstream_tls, std::move(req));
}

asio::awaitable<void> acme_connection(standin& s, ssl::context& tls, ssl::context& upstream_tls,
                                      tcp::socket socket) {
  beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), tls);
  try {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    co_await stream.async_handshake(ssl::stream_base::server, asio::use_awaitable);
    beast::flat_buffer buf;
    for (;;) {
      request req;
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
      co_await http::async_read(stream, buf, req, asio::use_awaitable);
      bool keep = req.keep_alive();
      response res;
      try {
        res = co_await handle_acme(s, upstream_tls, std::move(req));
      } catch (const std::exception& e) {
        res = problem(502, "serverInternal",
                      std::string("stand-in: Pebble did not answer: ") + e.what());
      }
      res.keep_alive(keep);
      co_await http::async_write(stream, res, asio::use_awaitable);
      if (!keep) break;
    }
  } catch (const std::exception&) {
  }
}

response control(standin& s, const request& req) {
  const std::string target(req.target());
  response res{http::status::ok, 11};
  res.set(http::field::content_type, "application/json");
  rapidjson::Document in;
  if (req.method() == http::verb::post) {
    in.Parse(req.body().c_str());
    if (in.HasParseError() || !in.IsObject()) {
      res.result(http::status::bad_request);
      res.body() = R"({"error":"not a JSON object"})";
      res.prepare_payload();
      return res;
    }
  }
  if (req.method() == http::verb::post && target == "/window" && in.HasMember("certid") &&
      in["certid"].IsString() && in.HasMember("start") && in["start"].IsString() &&
      in.HasMember("end") && in["end"].IsString()) {
    window w{in["start"].GetString(), in["end"].GetString(), 21600};
    if (in.HasMember("retry_after") && in["retry_after"].IsInt())
      w.retry_after = in["retry_after"].GetInt();
    s.windows[in["certid"].GetString()] = w;
    res.body() = "{}";
  } else if (req.method() == http::verb::post && target == "/rate-limit" &&
             in.HasMember("orders") && in["orders"].IsInt()) {
    s.refuse_orders = in["orders"].GetInt();
    if (in.HasMember("retry_after") && in["retry_after"].IsInt())
      s.refuse_retry_after = in["retry_after"].GetInt();
    res.body() = "{}";
  } else if (req.method() == http::verb::post && target == "/refuse-replaces" &&
             in.HasMember("orders") && in["orders"].IsInt()) {
    s.refuse_replaces = in["orders"].GetInt();
    res.body() = "{}";
  } else if (req.method() == http::verb::get && target == "/orders") {
    std::string out = "[";
    for (const auto& p : s.order_payloads) {
      rapidjson::Document d;
      d.Parse(p.c_str());
      if (d.HasParseError()) continue;
      if (out.size() > 1) out += ",";
      out += to_json(d);
    }
    res.body() = out + "]";
  } else if (req.method() == http::verb::get && target == "/stats") {
    res.body() = fmt::format(R"({{"renewal_info_requests":{},"orders":{},"refused_orders":{}}})",
                             s.renewal_info_requests, s.orders, s.refused_orders);
  } else {
    res.result(http::status::not_found);
    res.body() = R"({"error":"no such control"})";
  }
  res.prepare_payload();
  return res;
}

asio::awaitable<void> control_connection(standin& s, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  try {
    beast::flat_buffer buf;
    for (;;) {
      request req;
      stream.expires_after(std::chrono::seconds(60));
      co_await http::async_read(stream, buf, req, asio::use_awaitable);
      auto res = control(s, req);
      res.keep_alive(req.keep_alive());
      co_await http::async_write(stream, res, asio::use_awaitable);
      if (!req.keep_alive()) break;
    }
  } catch (const std::exception&) {
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ca-standin: ARI, profiles and rateLimited in front of the real Pebble (a stand-in)"};
  std::string listen, control_listen, upstream, upstream_ca, cert, key;
  std::vector<std::string> profiles;
  app.add_option("--listen", listen)->required();
  app.add_option("--control", control_listen)->required();
  app.add_option("--upstream", upstream, "Pebble's directory URL")->required();
  app.add_option("--upstream-ca", upstream_ca)->required();
  app.add_option("--cert", cert)->required();
  app.add_option("--key", key)->required();
  app.add_option("--profile", profiles, "NAME=description, advertised in meta.profiles");
  CLI11_PARSE(app, argc, argv);

  standin s;
  std::string why;
  auto up = certherd::http::parse_url(upstream, certherd::http::url_family::http, why);
  if (!up || !up->tls) {
    std::cerr << "ca-standin: --upstream must be an https URL: " << why << "\n";
    return 2;
  }
  s.upstream_host = up->host;
  s.upstream_port = up->port;
  s.directory_path = up->target;
  for (const auto& p : profiles) {
    auto eq = p.find('=');
    s.profiles.emplace_back(p.substr(0, eq), eq == std::string::npos ? "" : p.substr(eq + 1));
  }

  try {
    asio::io_context ioc;
    ssl::context tls(ssl::context::tls_server);
    tls.use_certificate_chain_file(cert);
    tls.use_private_key_file(key, ssl::context::pem);
    ssl::context upstream_tls(ssl::context::tls_client);
    upstream_tls.load_verify_file(upstream_ca);
    upstream_tls.set_verify_mode(ssl::verify_peer);

    tcp::acceptor acme(ioc, certherd::http::parse_listen(listen));
    tcp::acceptor ctl(ioc, certherd::http::parse_listen(control_listen));
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          for (;;) {
            auto socket = co_await acme.async_accept(asio::use_awaitable);
            asio::co_spawn(ioc, acme_connection(s, tls, upstream_tls, std::move(socket)),
                           asio::detached);
          }
        },
        asio::detached);
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          for (;;) {
            auto socket = co_await ctl.async_accept(asio::use_awaitable);
            asio::co_spawn(ioc, control_connection(s, std::move(socket)), asio::detached);
          }
        },
        asio::detached);
    std::cout << "ca-standin: up on " << listen << " (control " << control_listen
              << ") in front of " << upstream << std::endl;
    ioc.run();
  } catch (const std::exception& e) {
    std::cerr << "ca-standin: " << e.what() << "\n";
    return 1;
  }
}
