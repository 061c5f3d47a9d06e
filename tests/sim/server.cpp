// HTTP server, routes and control API of the Rancher 1.x simulator (design/rancher-api.md §A1–§A8).
// Every API answer is JSON with '/' escaped, written chunked as Cattle's JsonResponseWriter does.
#include "tests/sim/server.hpp"

#include "pki/encoding.hpp"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <exception>

namespace certherd::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using request = http::request<http::string_body>;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view realm =
    R"(Basic realm="Enter API access key and secret key as username and password")";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// What the simulator answers; `how` covers the faults that never answer.
struct reply {
  enum class mode { answer, hang, drop };
  http::status status = http::status::ok;
  std::string body;
  bool api = true;  // X-API-* headers and '/' escaped
  bool challenge = false;
  mode how = mode::answer;
};

reply error_reply(const api_error& e) {
  return {static_cast<http::status>(e.status), render_error(e, random_uuid())};
}

template <class T>
reply error_reply(const api_result<T>& r) {
  return error_reply(r.error());
}

// A parsed API path: /{version}[/projects/{pid}][/{collection}[/{id}]].
struct route {
  std::string version;
  std::string project;  // when scoped under /projects/{pid}
  std::string type;     // certificate, service, loadBalancerService, stack, project, schema,
                        // subscribe; empty for the version root
  std::string id;
  bool valid = true;
};

// Collection names as Cattle accepts them: any case, plural or singular.
std::string type_of(std::string_view segment) {
  std::string s = lower(segment);
  if (s == "certificates" || s == "certificate") return "certificate";
  if (s == "services" || s == "service") return "service";
  if (s == "loadbalancerservices" || s == "loadbalancerservice") return "loadBalancerService";
  if (s == "stacks" || s == "stack") return "stack";
  if (s == "projects" || s == "project") return "project";
  if (s == "schemas" || s == "schema") return "schema";
  if (s == "subscribe" || s == "subscribes") return "subscribe";
  return {};
}

route parse_route(std::string_view path) {
  std::vector<std::string> segs;
  for (std::size_t i = 0; i < path.size();) {
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) segs.emplace_back(path.substr(i, j - i));
    i = j + 1;
  }
  route r;
  if (segs.empty() || (lower(segs[0]) != "v1" && lower(segs[0]) != "v2-beta")) {
    r.valid = false;
    return r;
  }
  r.version = lower(segs[0]);
  std::size_t at = 1;
  if (segs.size() >= 4 && type_of(segs[1]) == "project") {
    r.project = segs[2];
    at = 3;
  }
  if (at < segs.size()) {
    r.type = type_of(segs[at]);
    if (r.type.empty()) r.valid = false;
  }
  if (at + 1 < segs.size()) r.id = segs[at + 1];
  if (at + 2 < segs.size()) r.valid = false;
  return r;
}

std::optional<std::string> param(const query_params& q, std::string_view name) {
  for (const auto& [k, v] : q) {
    if (k == name) return v;
  }
  return std::nullopt;
}

// A JSON body; an empty one reads as {}.
std::optional<rapidjson::Document> parse_body(const std::string& text) {
  rapidjson::Document d;
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    d.SetObject();
    return d;
  }
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError()) return std::nullopt;
  return d;
}

template <class F>
std::string json(F&& write) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  write(w);
  return std::string(out.GetString(), out.GetSize());
}

struct faults {
  std::int64_t latency_ms = 0;
  std::int64_t fail_next = 0;
  int fail_status = 500;
  std::int64_t hang_next = 0;
  std::int64_t lose_next_create = 0;
  bool refuse_websockets = false;
};

}  // namespace

struct server::impl {
  impl(asio::io_context& ioc, server_options o, store& s, hub& h, lb_standin& l, stats& st)
      : executor(ioc.get_executor()),
        acceptor(ioc),
        options(std::move(o)),
        resources(s),
        events(h),
        lb(l),
        counters(st) {
    schemas.Parse(options.schemas.c_str(), options.schemas.size());
    if (schemas.HasParseError() || !schemas.IsObject() || !schemas.HasMember("data") ||
        !schemas["data"].IsArray() || !schemas.HasMember("links") || !schemas["links"].IsObject() ||
        !schemas["links"].HasMember("self") || !schemas["links"]["self"].IsString()) {
      throw std::runtime_error("the schemas file is not a Cattle schema collection");
    }
    // The dump's own base URL ("http://<its server>/v2-beta"), replaced by ours when served.
    std::string self = schemas["links"]["self"].GetString();
    schemas_origin = self.substr(0, self.rfind("/schemas"));
    expected_auth = "basic " + pki::base64_encode(options.access_key + ":" + options.secret_key);
  }

  asio::any_io_executor executor;
  tcp::acceptor acceptor;
  server_options options;
  store& resources;
  hub& events;
  lb_standin& lb;
  stats& counters;
  faults knobs;
  rapidjson::Document schemas;
  std::string schemas_origin;
  std::string expected_auth;  // lower-cased scheme + base64(ak:sk)

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(tcp::socket socket);
  asio::awaitable<void> upgrade(beast::tcp_stream stream, request req);
  asio::awaitable<void> write(beast::tcp_stream& stream, const request& req, reply r);
  reply api(const request& req, const route& rt, const query_params& q);
  reply control(const request& req, const std::string& path);
  reply certificates(const request& req, const route& rt, const query_params& q,
                     const render_context& ctx);
  reply services(const request& req, const route& rt, const query_params& q,
                 const render_context& ctx);
  reply schema_reply(const route& rt, const render_context& ctx);
  std::string faults_json() const;
  void schedule(const transition& t);

  bool authorized(const request& req) const {
    auto given = req[http::field::authorization];
    if (given.size() < 6) return false;
    return lower(given.substr(0, 6)) + std::string(given.substr(6)) == expected_auth;
  }

  std::string host(const request& req) const {
    auto h = req[http::field::host];
    if (!h.empty()) return std::string(h);
    auto ep = acceptor.local_endpoint();
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  render_context context(const request& req, const route& rt) const {
    std::string base = "http://" + host(req) + "/" + rt.version;
    if (!rt.project.empty()) base += "/projects/" + rt.project;
    return {lower(base)};  // Cattle lower-cases every link it builds
  }

  template <class F>
  reply resource(http::status status, F&& write_resource) {
    return {status, json(std::forward<F>(write_resource))};
  }
};

server::server(asio::io_context& ioc, server_options options, store& resources, hub& events,
               lb_standin& lb, stats& counters)
    : impl_(std::make_unique<impl>(ioc, std::move(options), resources, events, lb, counters)) {}

server::~server() = default;

tcp::endpoint server::listen(const tcp::endpoint& where) {
  impl_->acceptor.open(where.protocol());
  impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  impl_->acceptor.bind(where);
  impl_->acceptor.listen();
  asio::co_spawn(impl_->executor, impl_->accept_loop(), [](std::exception_ptr e) {
    if (e) spdlog::error("event=accept_loop_crashed");
  });
  return impl_->acceptor.local_endpoint();
}

asio::awaitable<void> server::impl::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_tuple);
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) {
      // Out of descriptors, say: pause rather than spin, and keep serving what is open.
      asio::steady_timer pause(executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    asio::co_spawn(executor, serve(std::move(socket)), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        spdlog::error("event=session_crashed error=\"{}\"", x.what());
      }
    });
  }
}

void server::impl::schedule(const transition& t) {
  auto timer = std::make_shared<asio::steady_timer>(executor, options.transition);
  timer->async_wait([this, timer, t](beast::error_code ec) {
    if (ec) return;
    for (auto& id : resources.finish(t, now_epoch_ms()))
      lb.reload(id);
  });
}

asio::awaitable<void> server::impl::serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    stream.expires_after(options.read_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec == http::error::body_limit) {
      reply too_big = error_reply(status_error(413));
      request none;
      co_await write(stream, none, std::move(too_big));
      break;
    }
    if (ec) break;
    request req = parser.release();
    if (beast::websocket::is_upgrade(req)) {
      co_await upgrade(std::move(stream), std::move(req));
      co_return;
    }
    std::string target(req.target());
    reply r;
    if (target.starts_with("/_sim/") || target == "/_sim") {
      r = control(req, target.substr(0, target.find('?')));
    } else {
      ++counters.requests;
      auto url = boost::urls::parse_origin_form(target);
      if (!url) {
        r = error_reply(status_error(400));
      } else if (!authorized(req)) {
        r = error_reply(status_error(401));
        r.challenge = req[http::field::connection].find("pgrade") == std::string_view::npos &&
                      lower(req["X-API-No-Challenge"]) != "true";
      } else if (knobs.hang_next > 0) {
        --knobs.hang_next;
        r.how = reply::mode::hang;
      } else if (knobs.fail_next > 0) {
        --knobs.fail_next;
        r = error_reply(status_error(knobs.fail_status));
      } else {
        if (knobs.latency_ms > 0) {
          asio::steady_timer delay(executor, std::chrono::milliseconds(knobs.latency_ms));
          co_await delay.async_wait(use_tuple);
        }
        query_params q;
        for (auto p : url->params())
          q.emplace_back(p.key, p.has_value ? p.value : "");
        r = api(req, parse_route(url->path()), q);
      }
    }
    if (r.how == reply::mode::hang) {
      // Read and never answered: hold the connection until the client gives up.
      spdlog::info("event=request method={} target={} status=hang", req.method_string(), target);
      stream.expires_never();
      char sink[512];
      for (;;) {
        auto [rec, rn] = co_await stream.async_read_some(asio::buffer(sink), use_tuple);
        if (rec) break;
      }
      co_return;
    }
    if (r.how == reply::mode::drop) {
      spdlog::info("event=request method={} target={} status=lost", req.method_string(), target);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream.close();
      co_return;
    }
    bool keep = req.keep_alive();
    co_await write(stream, req, std::move(r));
    if (!keep || !stream.socket().is_open()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> server::impl::write(beast::tcp_stream& stream, const request& req, reply r) {
  http::response<http::string_body> res(r.status, req.version() ? req.version() : 11);
  res.set(http::field::server, "rancher-sim");
  res.set(http::field::content_type, "application/json; charset=utf-8");
  if (r.api) {
    auto rt = parse_route(req.target().substr(0, req.target().find('?')));
    if (!rt.valid) rt.version = "v2-beta";
    render_context ctx = context(req, rt);
    res.set("X-API-Schemas", ctx.base + "/schemas");
    res.set("X-API-Account-Id", resources.project_id());
    res.set("X-API-User-Id", resources.project_id());
    res.set("X-API-Account-Kind", "environment");
    res.set("X-API-Account-Name", "Default");
    r.body = escape_slashes(r.body);
  }
  if (r.challenge) res.set(http::field::www_authenticate, realm);
  res.body() = std::move(r.body);
  res.chunked(true);
  res.keep_alive(req.keep_alive());
  stream.expires_after(std::chrono::seconds(30));
  auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
  spdlog::info("event=request method={} target={} status={}", req.method_string(), req.target(),
               res.result_int());
  if (ec) stream.close();
}

asio::awaitable<void> server::impl::upgrade(beast::tcp_stream stream, request req) {
  ++counters.requests;
  std::string target(req.target());
  auto url = boost::urls::parse_origin_form(target);
  route rt;
  if (url) rt = parse_route(url->path());
  reply r;
  // No WWW-Authenticate on upgrades (BasicAuthImpl.challenge skips "Connection: upgrade").
  if (!url || !rt.valid || rt.type != "subscribe" || !rt.id.empty()) {
    r = error_reply(status_error(404));
  } else if (!authorized(req)) {
    r = error_reply(status_error(401));
  } else if (!rt.project.empty() && rt.project != resources.project_id()) {
    r = error_reply(status_error(404));
  } else if (knobs.refuse_websockets) {
    r = error_reply(status_error(503));
  } else {
    // Without eventNames=resource.change Cattle subscribes to nothing and only pings.
    bool changes = false;
    for (auto p : url->params()) {
      if (p.key != "eventNames") continue;
      std::string v = p.value;
      for (std::size_t i = 0; i <= v.size();) {
        auto j = std::min(v.find(',', i), v.size());
        std::string name = v.substr(i, j - i);
        if (name.substr(0, name.find(';')) == "resource.change") changes = true;
        i = j + 1;
      }
    }
    spdlog::info("event=request method=GET target={} status=101", target);
    render_context ctx = context(req, rt);  // before `req` is moved away
    co_await events.async_serve(std::move(stream), std::move(req), std::move(ctx), changes);
    co_return;
  }
  co_await write(stream, req, std::move(r));
  stream.close();
}

reply server::impl::api(const request& req, const route& rt, const query_params& q) {
  if (!rt.valid) return error_reply(status_error(404));
  if (!rt.project.empty() && rt.project != resources.project_id()) {
    return error_reply(status_error(404));
  }
  render_context ctx = context(req, rt);
  std::string self_url = "http://" + host(req) + std::string(req.target());
  bool get = req.method() == http::verb::get;
  if (rt.type.empty()) {
    if (!get) return error_reply(status_error(405));
    // The apiVersion resource: go-rancher-style clients start here and follow X-API-Schemas.
    std::string root = ctx.base.substr(0, ctx.base.find("/projects/"));
    return resource(http::status::ok, [&](json_writer& w) {
      w.StartObject();
      kv(w, "id", rt.version);
      kv(w, "type", "apiVersion");
      w.Key("links");
      w.StartObject();
      kv(w, "self", ctx.base);
      for (auto name :
           {"certificates", "loadbalancerservices", "schemas", "services", "stacks", "subscribe"}) {
        w.Key(name);
        write_string(w, ctx.base + "/" + name);
      }
      kv(w, "projects", root + "/projects");
      w.EndObject();
      kv_empty_object(w, "actions");
      w.EndObject();
    });
  }
  if (rt.type == "schema") {
    if (!get) return error_reply(status_error(405));
    return schema_reply(rt, ctx);
  }
  if (rt.type == "subscribe") return error_reply(status_error(400));  // needs the upgrade
  if (rt.type == "certificate") return certificates(req, rt, q, ctx);
  if (rt.type == "service" || rt.type == "loadBalancerService") {
    return services(req, rt, q, ctx);
  }
  // The project and its one stack are read-only here.
  if (!get) return error_reply(status_error(405));
  if (rt.id.empty()) return {http::status::ok, resources.list(rt.type, q, self_url, ctx)};
  if (rt.type == "project" && rt.id == resources.project_id()) {
    return resource(http::status::ok, [&](json_writer& w) { resources.render_project(w, ctx); });
  }
  if (rt.type == "stack" && rt.id == "1st1") {
    return resource(http::status::ok, [&](json_writer& w) { resources.render_stack(w, ctx); });
  }
  return error_reply(status_error(404));
}

reply server::impl::schema_reply(const route& rt, const render_context& ctx) {
  std::string text;
  if (rt.id.empty()) {
    text = options.schemas;
  } else {
    const auto& data = schemas["data"];
    for (const auto& s : data.GetArray()) {
      if (lower(s["id"].GetString()) == lower(rt.id)) {
        text = json([&](json_writer& w) { s.Accept(w); });
      }
    }
    if (text.empty()) return error_reply(status_error(404));
  }
  for (auto at = text.find(schemas_origin); at != std::string::npos;
       at = text.find(schemas_origin, at + ctx.base.size())) {
    text.replace(at, schemas_origin.size(), ctx.base);
  }
  return {http::status::ok, std::move(text)};
}

reply server::impl::certificates(const request& req, const route& rt, const query_params& q,
                                 const render_context& ctx) {
  auto method = req.method();
  auto action = param(q, "action");
  auto body = parse_body(req.body());
  if (!body) return error_reply(validation_error("InvalidBodyContent", "body"));
  if (rt.id.empty()) {
    if (method == http::verb::get) {
      return {
          http::status::ok,
          resources.list("certificate", q, "http://" + host(req) + std::string(req.target()), ctx)};
    }
    if (method != http::verb::post || action) return error_reply(status_error(405));
    auto created = resources.create_certificate(*body, now_epoch_ms());
    if (!created) return error_reply(created);
    ++counters.certificate_creates;
    schedule(*created);
    if (knobs.lose_next_create > 0) {
      // Applied, but the client never hears of it: a create that "timed out".
      --knobs.lose_next_create;
      reply lost;
      lost.how = reply::mode::drop;
      return lost;
    }
    const certificate_record* c = resources.find_certificate(created->id);
    // readOnCreateOnly: the create response is the one place the key shows.
    return resource(http::status::created,
                    [&](json_writer& w) { resources.render(w, *c, ctx, true); });
  }
  if (!resources.find_certificate(rt.id)) return error_reply(status_error(404));
  http::status status = http::status::ok;
  if (method == http::verb::put || (method == http::verb::post && action == "update")) {
    auto updated = resources.update_certificate(rt.id, *body);
    if (!updated) return error_reply(updated);
    ++counters.certificate_updates;
    if (*updated) schedule(**updated);
    if (method == http::verb::post) status = http::status::accepted;
  } else if (method == http::verb::delete_ || (method == http::verb::post && action == "remove")) {
    auto removed = resources.remove_certificate(rt.id);
    if (!removed) return error_reply(removed);
    schedule(*removed);
    if (method == http::verb::post) status = http::status::accepted;
  } else if (method == http::verb::post) {
    return error_reply(coded_error(405, "InvalidAction", "Invalid action: " + action.value_or("")));
  } else if (method != http::verb::get) {
    return error_reply(status_error(405));
  }
  const certificate_record* c = resources.find_certificate(rt.id);
  return resource(status, [&](json_writer& w) { resources.render(w, *c, ctx, false); });
}

reply server::impl::services(const request& req, const route& rt, const query_params& q,
                             const render_context& ctx) {
  auto method = req.method();
  auto action = param(q, "action");
  auto body = parse_body(req.body());
  if (!body) return error_reply(validation_error("InvalidBodyContent", "body"));
  if (rt.id.empty()) {
    if (method != http::verb::get) return error_reply(status_error(405));
    return {http::status::ok,
            resources.list(rt.type, q, "http://" + host(req) + std::string(req.target()), ctx)};
  }
  const service_record* s = resources.find_service(rt.id);
  if (!s || (rt.type == "loadBalancerService" && !s->is_lb())) {
    return error_reply(status_error(404));
  }
  http::status status = http::status::ok;
  if (method == http::verb::put) {
    auto updated = resources.update_service(rt.id, *body);
    if (!updated) return error_reply(updated);
    if (*updated) schedule(**updated);
  } else if (method == http::verb::post && action == "update") {
    auto updated = resources.update_service_action(rt.id);
    if (!updated) return error_reply(updated);
    if (s->is_lb()) ++counters.lb_update_actions;
    schedule(*updated);
    status = http::status::accepted;
  } else if (method == http::verb::delete_ || (method == http::verb::post && action == "remove")) {
    auto removed = resources.remove_service(rt.id);
    if (!removed) return error_reply(removed);
    schedule(*removed);
    if (method == http::verb::post) status = http::status::accepted;
  } else if (method == http::verb::post) {
    return error_reply(coded_error(405, "InvalidAction", "Invalid action: " + action.value_or("")));
  } else if (method != http::verb::get) {
    return error_reply(status_error(405));
  }
  return resource(status, [&](json_writer& w) { resources.render(w, *s, ctx); });
}

std::string server::impl::faults_json() const {
  return json([&](json_writer& w) {
    w.StartObject();
    kv_int(w, "latency_ms", knobs.latency_ms);
    kv_int(w, "fail_next", knobs.fail_next);
    kv_int(w, "fail_status", knobs.fail_status);
    kv_int(w, "hang_next", knobs.hang_next);
    kv_int(w, "lose_next_create", knobs.lose_next_create);
    kv_bool(w, "refuse_websockets", knobs.refuse_websockets);
    kv_bool(w, "reload_on_certificate_update", resources.reload_on_certificate_update);
    w.EndObject();
  });
}

reply server::impl::control(const request& req, const std::string& path) {
  auto method = req.method();
  auto body = parse_body(req.body());
  if (!body) return error_reply(validation_error("InvalidBodyContent", "body"));
  render_context ctx{lower("http://" + host(req) + "/v2-beta")};
  auto ok = [](http::status st, std::string text) {
    reply r{st, std::move(text)};
    r.api = false;
    return r;
  };
  if (path == "/_sim/stats" && method == http::verb::get) {
    return ok(http::status::ok, json([&](json_writer& w) { counters.write(w); }));
  }
  if (path == "/_sim/faults" && method == http::verb::get)
    return ok(http::status::ok, faults_json());
  if (path == "/_sim/faults" && method == http::verb::post) {
    auto integer = [&](const char* name, auto& field) {
      if (auto it = body->FindMember(name); it != body->MemberEnd() && it->value.IsInt64()) {
        field = static_cast<std::remove_reference_t<decltype(field)>>(it->value.GetInt64());
      }
    };
    auto flag = [&](const char* name) -> std::optional<bool> {
      auto it = body->FindMember(name);
      if (it == body->MemberEnd() || !it->value.IsBool()) return std::nullopt;
      return it->value.GetBool();
    };
    integer("latency_ms", knobs.latency_ms);
    integer("fail_next", knobs.fail_next);
    integer("fail_status", knobs.fail_status);
    integer("hang_next", knobs.hang_next);
    integer("lose_next_create", knobs.lose_next_create);
    if (auto v = flag("refuse_websockets")) knobs.refuse_websockets = *v;
    if (auto v = flag("reload_on_certificate_update")) resources.reload_on_certificate_update = *v;
    if (flag("drop_websockets") == true) events.drop_all();
    if (flag("logout") == true) events.logout_all();
    spdlog::info("event=faults {}", faults_json());
    return ok(http::status::ok, faults_json());
  }
  if (path == "/_sim/state" && method == http::verb::get) {
    return ok(http::status::ok, json([&](json_writer& w) {
                w.StartObject();
                w.Key("certificates");
                w.StartArray();
                for (const auto& [n, c] : resources.certificates())
                  resources.render(w, c, ctx, false);
                w.EndArray();
                w.Key("services");
                w.StartArray();
                for (const auto& [n, s] : resources.services())
                  resources.render(w, s, ctx);
                w.EndArray();
                w.EndObject();
              }));
  }
  if (path == "/_sim/certificates" && method == http::verb::post) {
    // A certificate that already existed before the test: active at once, no process.
    auto created = resources.create_certificate(*body, now_epoch_ms());
    if (!created) return error_reply(created);
    resources.finish(*created, now_epoch_ms());
    const certificate_record* c = resources.find_certificate(created->id);
    return ok(http::status::created,
              json([&](json_writer& w) { resources.render(w, *c, ctx, false); }));
  }
  if (path == "/_sim/services" && method == http::verb::post) {
    auto created = resources.create_service(*body, now_epoch_ms());
    if (!created) return error_reply(created);
    schedule(*created);
    const service_record* s = resources.find_service(created->id);
    return ok(http::status::created, json([&](json_writer& w) { resources.render(w, *s, ctx); }));
  }
  if (path.starts_with("/_sim/services/")) {
    std::string id = path.substr(std::string_view("/_sim/services/").size());
    api_result<std::optional<transition>> done = std::optional<transition>();
    if (method == http::verb::put) {
      done = resources.update_service(id, *body);
    } else if (method == http::verb::delete_) {
      auto removed = resources.remove_service(id);
      if (removed) {
        done = std::optional(*removed);
      } else {
        done = removed.error();
      }
    } else {
      return error_reply(status_error(405));
    }
    if (!done) return error_reply(done);
    if (*done) schedule(**done);
    const service_record* s = resources.find_service(id);
    return ok(http::status::ok, json([&](json_writer& w) { resources.render(w, *s, ctx); }));
  }
  return error_reply(status_error(404));
}

}  // namespace certherd::sim
