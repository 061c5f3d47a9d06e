#include "controller/config.hpp"

#include "reconcilers/order_budgets.hpp"

#include "clients/haproxy/runtime_api.hpp"

#include "clients/etcd/client.hpp"
#include "pki/names.hpp"
#include "stores/atomic_file.hpp"
#include "stores/etcd_store.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>

extern char** environ;

namespace certherd::controller {
namespace {

std::optional<std::string> get(const std::map<std::string, std::string>& env,
                               std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (auto it = env.find(n); it != env.end() && !it->second.empty()) return it->second;
  }
  return std::nullopt;
}

long long integer(const char* name, const std::string& value, long long min, long long max) {
  long long v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || p != value.data() + value.size() || v < min || v > max) {
    throw config_error(
        fmt::format("{}='{}' is not a whole number from {} to {}", name, value, min, max));
  }
  return v;
}

}  // namespace

std::optional<bool> parse_bool(std::string_view text) {
  std::string t(text);
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "1" || t == "yes") return true;
  if (t == "false" || t == "0" || t == "no") return false;
  return std::nullopt;
}

std::string checked_url(std::string_view name, std::string_view value) {
  // A value with '@' in it may carry credentials: it is never printed, whatever else is wrong.
  const bool may_hold_secret = value.find('@') != std::string_view::npos;
  auto shown = [&] {
    return may_hold_secret ? std::string(" (not shown: it may hold credentials)")
                           : fmt::format("='{}'", value);
  };
  auto parsed = boost::urls::parse_uri(value);
  if (!parsed) throw config_error(fmt::format("{}{} is not an http(s) URL", name, shown()));
  boost::urls::url url(*parsed);
  std::string scheme(url.scheme());
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (scheme != "http" && scheme != "https") {
    throw config_error(fmt::format("{}{} is not an http(s) URL", name, shown()));
  }
  if (url.has_userinfo()) {
    throw config_error(fmt::format(
        "{} must not hold credentials (user:password@); certherd refuses them and does not print "
        "the value{}",
        name, name == "CATTLE_URL" ? "; use CATTLE_ACCESS_KEY and CATTLE_SECRET_KEY" : ""));
  }
  if (url.host().empty()) {
    throw config_error(fmt::format("{}{} names no host", name, shown()));
  }
  url.set_scheme(scheme);
  return std::string(url.buffer());
}

std::string checked_address(std::string_view name, std::string_view value) {
  // host:port, [v6]:port: what a connection goes to. The value is a word of the configuration,
  // never of a command line, so only its form is checked.
  auto colon = value.rfind(':');
  auto fail = [&] {
    return config_error(
        fmt::format("{}={:?} is not host:port (e.g. 10.0.0.5:80 or [fd00::5]:80)", name, value));
  };
  if (colon == std::string_view::npos || colon == 0) throw fail();
  std::string_view host = value.substr(0, colon), port = value.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') throw fail();
  } else if (host.find(':') != std::string_view::npos) {
    throw fail();  // an IPv6 address needs its brackets
  }
  auto ok_char = [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
  };
  if (!std::all_of(host.begin(), host.end(), ok_char)) throw fail();
  unsigned p = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) throw fail();
  return std::string(value);
}

std::string checked_profile(std::string_view name, std::string_view value) {
  // A word of the newOrder payload and of log lines; Let's Encrypt's are "classic", "tlsserver".
  bool ok = !value.empty() && value.size() <= 64 &&
            std::all_of(value.begin(), value.end(), [](unsigned char c) {
              return std::isalnum(c) || c == '-' || c == '_' || c == '.';
            });
  if (!ok) {
    throw config_error(fmt::format(
        "{}={:?} is not a profile name (letters, digits, '-', '_', '.'; at most 64)", name, value));
  }
  return std::string(value);
}

std::string read_secret_file(std::string_view name, const std::string& path) {
  std::error_code ec;
  auto text = stores::read_file(path, ec);
  if (!text) throw config_error(fmt::format("{}={}: cannot read it: {}", name, path, ec.message()));
  std::string_view v = pki::trim(*text);
  if (v.empty()) throw config_error(fmt::format("{}={} is empty", name, path));
  return std::string(v);
}

std::string config::effective_directory() const {
  if (!directory.empty()) return directory;
  return staging ? kLetsEncryptStaging : kLetsEncryptProduction;
}

config load_config(const std::map<std::string, std::string>& env) {
  config c;
  if (auto v = get(env, {"DOMAINS"})) c.domains = *v;
  if (auto v = get(env, {"DOMAINS_FILE"})) {
    // For lists longer than an environment variable may be (128 KiB on Linux): one host per
    // line, or comma-separated, '#' starting a comment.
    if (!c.domains.empty()) {
      throw config_error("DOMAINS and DOMAINS_FILE exclude each other: set one");
    }
    std::error_code ec;
    auto text = stores::read_file(*v, ec);
    if (!text)
      throw config_error(fmt::format("DOMAINS_FILE={}: cannot read it: {}", *v, ec.message()));
    std::string list;
    std::size_t start = 0;
    while (start < text->size()) {
      auto end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      std::string_view line(text->data() + start, end - start);
      line = line.substr(0, line.find('#'));
      if (!pki::trim(line).empty()) {
        if (!list.empty()) list += ',';
        list += line;
      }
      start = end + 1;
    }
    c.domains = std::move(list);
  }
  if (auto v = get(env, {"STAGING"})) {
    auto b = parse_bool(*v);
    if (!b)
      throw config_error(fmt::format("STAGING='{}' is not one of true, false, 1, 0, yes, no", *v));
    c.staging = *b;
  }
  if (auto v = get(env, {"ACME_DIRECTORY"})) c.directory = checked_url("ACME_DIRECTORY", *v);
  if (auto v = get(env, {"ACME_EMAIL", "CERTBOT_EMAIL"})) {
    if (v->find('@') == std::string::npos || v->find_first_of(" ,") != std::string::npos) {
      throw config_error(fmt::format("ACME_EMAIL='{}' is not one e-mail address", *v));
    }
    c.email = *v;
  }
  if (auto v = get(env, {"ACME_CA_BUNDLE"})) c.ca_bundle = *v;
  if (auto v = get(env, {"ACME_ROOTS"})) c.ca_roots = *v;
  if (auto v = get(env, {"ACME_PROFILE"})) c.profile = checked_profile("ACME_PROFILE", *v);
  if (auto v = get(env, {"ACME_PREFERRED_CHAIN"})) c.preferred_chain = *v;
  if (auto v = get(env, {"ACME_EAB_KID"})) c.eab_kid = *v;
  // The HMAC key comes from the environment or a file, never a flag (flags show in `ps`).
  if (auto v = get(env, {"ACME_EAB_HMAC"})) c.eab_hmac = *v;
  if (auto v = get(env, {"ACME_EAB_HMAC_FILE"})) {
    if (!c.eab_hmac.empty()) {
      throw config_error("ACME_EAB_HMAC and ACME_EAB_HMAC_FILE exclude each other: set one");
    }
    c.eab_hmac = read_secret_file("ACME_EAB_HMAC_FILE", *v);
  }
  if (c.eab_kid.empty() != c.eab_hmac.empty()) {
    throw config_error("ACME_EAB_KID and ACME_EAB_HMAC go together: set both or neither");
  }
  if (auto v = get(env, {"WEBROOT", "CERTBOT_WEBROOT"})) c.webroot = *v;
  if (auto v = get(env, {"CHALLENGE_LISTEN"})) c.challenge_listen = *v;
  if (!c.webroot.empty() && !c.challenge_listen.empty()) {
    throw config_error("WEBROOT and CHALLENGE_LISTEN exclude each other: set one");
  }
  if (c.webroot.empty() && c.challenge_listen.empty()) {
    throw config_error(
        "set WEBROOT (a directory a web server serves) or CHALLENGE_LISTEN "
        "(host:port for the built-in responder)");
  }
  if (auto v = get(env, {"SELF_CHECK"})) {
    auto b = parse_bool(*v);
    if (!b) {
      throw config_error(
          fmt::format("SELF_CHECK='{}' is not one of true, false, 1, 0, yes, no", *v));
    }
    c.self_check = *b;
  }
  if (auto v = get(env, {"SELF_CHECK_ADDRESS"})) {
    c.self_check_address = checked_address("SELF_CHECK_ADDRESS", *v);
  }
  if (auto v = get(env, {"RENEW_BEFORE_DAYS"})) {
    c.renew_before_days = static_cast<int>(integer("RENEW_BEFORE_DAYS", *v, 1, 365));
  }
  if (auto v = get(env, {"LOOP_TIME"})) {
    c.loop_time = std::chrono::seconds(integer("LOOP_TIME", *v, 10, 7 * 86400));
  }
  if (auto v = get(env, {"KEY_TYPE"})) {
    auto kt = pki::parse_key_type(*v);
    if (!kt) {
      throw config_error(
          fmt::format("KEY_TYPE='{}' is not one of ec256, ec384, rsa2048, rsa3072, rsa4096", *v));
    }
    c.key_type = *kt;
  }
  if (auto v = get(env, {"STATE_DIR"})) c.state_dir = *v;
  if (auto v = get(env, {"OUTPUT_DIR"})) c.output_dir = *v;
  if (auto v = get(env, {"OUTPUT_RELOAD_COMMAND"})) c.output_reload = *v;
  if (auto v = get(env, {"HAPROXY_SOCKET"})) c.haproxy_socket = *v;
  if (auto v = get(env, {"HAPROXY_CRT_LIST"})) c.haproxy_crt_list = *v;
  if (auto v = get(env, {"HAPROXY_CERT_DIR"})) c.haproxy_cert_dir = *v;
  if (!c.haproxy_socket.empty() && c.haproxy_crt_list.empty()) {
    throw config_error(
        "HAPROXY_SOCKET needs HAPROXY_CRT_LIST: the crt-list file that HAProxy's "
        "frontend binds, where new certificates are added");
  }
  if (c.haproxy_cert_dir.empty() && !c.haproxy_crt_list.empty()) {
    // A folder of certherd's own beside the crt-list: never the folder of the operator's
    // default.pem and bought certificates.
    c.haproxy_cert_dir =
        (std::filesystem::path(c.haproxy_crt_list).parent_path() / "certherd").string();
  }
  // Both paths are words of runtime-API commands ("add ssl crt-list <list> <file>").
  for (auto [name, value] : {std::pair{"HAPROXY_CRT_LIST", &c.haproxy_crt_list},
                             std::pair{"HAPROXY_CERT_DIR", &c.haproxy_cert_dir}}) {
    if (!value->empty() && !haproxy::is_cli_word(*value)) {
      throw config_error(
          fmt::format("{}={:?} cannot be a word of HAProxy's runtime API: no white space, control "
                      "characters, ';', '\\' or '#'",
                      name, *value));
    }
  }
  if (auto v = get(env, {"CONCURRENCY"})) {
    c.concurrency = static_cast<int>(integer("CONCURRENCY", *v, 1, 256));
  }
  if (auto v = get(env, {"SYSTEM_TRUST_STORE"})) c.trust_store = *v;
  if (auto v = get(env, {"LISTEN"})) c.listen = *v;
  if (auto v = get(env, {"STATUS_TOKEN"})) c.status_token = *v;
  if (auto v = get(env, {"STATUS_TOKEN_FILE"})) {
    if (!c.status_token.empty()) {
      throw config_error("STATUS_TOKEN and STATUS_TOKEN_FILE exclude each other: set one");
    }
    c.status_token = read_secret_file("STATUS_TOKEN_FILE", *v);
  }
  if (!c.status_token.empty() && (c.status_token.size() < 16 ||
                                  c.status_token.find_first_of(" \t\r\n") != std::string::npos)) {
    throw config_error(
        "STATUS_TOKEN must be at least 16 characters without white space (e.g. `openssl rand "
        "-hex 24`); its value is not printed");
  }

  // Rancher (the service-account labels make Rancher inject the CATTLE_* variables).
  if (auto v = get(env, {"CATTLE_URL"})) c.cattle_url = checked_url("CATTLE_URL", *v);
  if (auto v = get(env, {"CATTLE_ACCESS_KEY"})) c.cattle_access_key = *v;
  if (auto v = get(env, {"CATTLE_SECRET_KEY"})) c.cattle_secret_key = *v;
  if (!c.cattle_url.empty() && (c.cattle_access_key.empty() || c.cattle_secret_key.empty())) {
    throw config_error(
        "CATTLE_URL needs CATTLE_ACCESS_KEY and CATTLE_SECRET_KEY (give the service the labels "
        "io.rancher.container.create_agent=true and io.rancher.container.agent.role=environment)");
  }
  if (auto v = get(env, {"CATTLE_CA_BUNDLE"})) c.cattle_ca_bundle = *v;
  auto boolean = [&](const char* name, bool& slot) {
    if (auto v = get(env, {name})) {
      auto b = parse_bool(*v);
      if (!b) {
        throw config_error(
            fmt::format("{}='{}' is not one of true, false, 1, 0, yes, no", name, *v));
      }
      slot = *b;
    }
  };
  boolean("DYNAMIC_CONFIG", c.dynamic_config);
  boolean("CERT_PER_SERVICE", c.cert_per_service);
  boolean("ADOPT_FOREIGN", c.adopt_foreign);
  boolean("PLACEHOLDERS", c.placeholders);
  if (auto v = get(env, {"HOSTS_LABEL"})) c.hosts_label = *v;
  if (auto v = get(env, {"ALLOWED_DOMAINS"})) {
    // Strict: an allow-list that lost its items to typos would silently allow any domain.
    std::size_t items = 0;
    for (auto item : pki::split_list(*v)) {
      item = pki::trim(item);
      if (item.empty()) continue;
      std::string_view bare = item;
      if (bare.starts_with("*.")) bare.remove_prefix(2);
      if (bare.starts_with(".")) bare.remove_prefix(1);
      auto host = pki::normalize_host(bare);
      if (host.empty()) {
        throw config_error(fmt::format("ALLOWED_DOMAINS item '{}' is not a domain", item));
      }
      if (auto ok = pki::check_host(host); !ok) {
        throw config_error(
            fmt::format("ALLOWED_DOMAINS item '{}' is not a domain ({})", item, ok.error().detail));
      }
      ++items;
    }
    if (items == 0) {
      throw config_error(
          fmt::format("ALLOWED_DOMAINS='{}' names no domain; leave it unset to allow any", *v));
    }
    c.allowed_domains = *v;
  }
  if (auto v = get(env, {"RANCHER_TIMEOUT"})) {
    c.rancher_timeout = std::chrono::seconds(integer("RANCHER_TIMEOUT", *v, 1, 600));
  }
  if (auto v = get(env, {"STORE"})) {
    if (*v == "file") {
      c.store = config::store_kind::file;
    } else if (*v == "etcd") {
      c.store = config::store_kind::etcd;
    } else {
      throw config_error(fmt::format("STORE='{}' is not one of file, etcd", *v));
    }
  }
  if (auto v = get(env, {"ETCD_ENDPOINTS"})) {
    auto eps = etcd::parse_endpoints(*v);
    if (!eps) throw config_error("ETCD_ENDPOINTS: " + eps.error());
    c.etcd_endpoints = std::move(*eps);
  }
  if (auto v = get(env, {"ETCD_PREFIX"})) {
    std::string why;
    c.etcd_prefix = stores::checked_prefix(*v, why);
    if (c.etcd_prefix.empty()) throw config_error(why);
  }
  if (auto v = get(env, {"ETCD_CA_FILE"})) c.etcd_ca_file = *v;
  if (auto v = get(env, {"ETCD_CERT_FILE"})) c.etcd_cert_file = *v;
  if (auto v = get(env, {"ETCD_KEY_FILE"})) c.etcd_key_file = *v;
  if (auto v = get(env, {"ETCD_TIMEOUT"})) {
    c.etcd_timeout = std::chrono::seconds(integer("ETCD_TIMEOUT", *v, 1, 60));
  }
  if (auto v = get(env, {"STORE_KEY_FILE"})) c.store_key_file = *v;
  if (auto v = get(env, {"LEADER_TTL"})) {
    c.leader_ttl = std::chrono::seconds(integer("LEADER_TTL", *v, 5, 300));
  }
  if (c.etcd_cert_file.empty() != c.etcd_key_file.empty()) {
    throw config_error("ETCD_CERT_FILE and ETCD_KEY_FILE go together: set both or neither");
  }
  if (c.store == config::store_kind::etcd) {
    if (c.etcd_endpoints.empty()) {
      throw config_error("STORE=etcd needs ETCD_ENDPOINTS (e.g. http://127.0.0.1:2379)");
    }
    if (c.store_key_file.empty()) {
      throw config_error(
          "STORE=etcd needs STORE_KEY_FILE: a file of 32 random bytes that seals private keys "
          "before they reach etcd (head -c 32 /dev/urandom > FILE; the same file on every "
          "replica)");
    }
  }
  auto dir = c.effective_directory();
  bool letsencrypt = dir == kLetsEncryptProduction || dir == kLetsEncryptStaging;
  c.rate_limits = get(env, {"RATE_LIMITS"}).value_or(letsencrypt ? "letsencrypt" : "off");
  if (c.rate_limits == "letsencrypt") {
    c.limits = reconcilers::letsencrypt_limits();
  } else if (c.rate_limits != "off") {
    std::error_code ec;
    auto text = stores::read_file(c.rate_limits, ec);
    if (!text) {
      throw config_error(
          fmt::format("RATE_LIMITS='{}' is not letsencrypt, off or a readable file "
                      "({})",
                      c.rate_limits, ec.message()));
    }
    auto limits = reconcilers::parse_rate_limits(*text);
    if (!limits) throw config_error(c.rate_limits + ": " + limits.error().message);
    c.limits = std::move(*limits);
  }
  return c;
}

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

}  // namespace certherd::controller
