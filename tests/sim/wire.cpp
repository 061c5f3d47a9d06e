// Cattle's wire format for the Rancher 1.x simulator (design/rancher-api.md §A2, §A5, §A7).
#include "tests/sim/wire.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>

namespace certherd::sim {

std::string_view status_text(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method not allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Request Entity Too Long";
    case 422:
      return "Unprocessable Entity";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

api_error status_error(int status) {
  std::string text(status_text(status));
  return {status, text, text, std::nullopt};
}

api_error validation_error(std::string code, std::string field) {
  return {422, std::move(code), std::nullopt, std::move(field)};
}

api_error coded_error(int status, std::string code, std::string message) {
  return {status, std::move(code), std::move(message), std::nullopt};
}

void write_key(json_writer& w, std::string_view name) {
  w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
}

void write_string(json_writer& w, std::string_view value) {
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

void write_nullable(json_writer& w, const std::optional<std::string>& value) {
  if (value) {
    write_string(w, *value);
  } else {
    w.Null();
  }
}

void kv(json_writer& w, std::string_view key, std::string_view value) {
  write_key(w, key);
  write_string(w, value);
}

void kv_nullable(json_writer& w, std::string_view key, const std::optional<std::string>& value) {
  write_key(w, key);
  write_nullable(w, value);
}

void kv_null(json_writer& w, std::string_view key) {
  write_key(w, key);
  w.Null();
}

void kv_bool(json_writer& w, std::string_view key, bool value) {
  write_key(w, key);
  w.Bool(value);
}

void kv_int(json_writer& w, std::string_view key, std::int64_t value) {
  write_key(w, key);
  w.Int64(value);
}

void kv_empty_object(json_writer& w, std::string_view key) {
  write_key(w, key);
  w.StartObject();
  w.EndObject();
}

void kv_empty_array(json_writer& w, std::string_view key) {
  write_key(w, key);
  w.StartArray();
  w.EndArray();
}

std::string render_error(const api_error& e, std::string_view id) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  kv(w, "id", id);
  kv(w, "type", "error");
  kv_empty_object(w, "links");
  kv_empty_object(w, "actions");
  kv(w, "baseType", "error");
  kv_int(w, "status", e.status);
  kv(w, "code", e.code);
  kv_nullable(w, "message", e.message);
  kv_null(w, "detail");
  if (e.field_name) {
    kv(w, "fieldName", *e.field_name);
  }
  w.EndObject();
  return out.GetString();
}

std::int64_t now_epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string escape_slashes(std::string_view json) {
  std::string out;
  out.reserve(json.size() + json.size() / 16);
  for (char c : json) {
    if (c == '/') out += '\\';
    out += c;
  }
  return out;
}

std::string iso_date(std::int64_t epoch_ms) {
  std::chrono::sys_seconds t{std::chrono::seconds{epoch_ms / 1000}};
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", t);
}

std::string java_date(std::chrono::sys_seconds t) {
  // %a and %b come from the C locale, which is what the JVM's default English locale prints.
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, "%a %b %d %H:%M:%S UTC %Y", &tm);
  return std::string(buf, n);
}

void write_date(json_writer& w, std::string_view name, std::optional<std::int64_t> epoch_ms) {
  write_key(w, name);
  if (!epoch_ms) {
    w.Null();
    return;
  }
  write_string(w, iso_date(*epoch_ms));
  kv_int(w, std::string(name) + "TS", *epoch_ms);
}

namespace {

constexpr std::string_view modifiers[] = {"eq",     "ne",   "lt",      "lte",  "gt",     "gte",
                                          "prefix", "like", "notlike", "null", "notnull"};

std::optional<long long> to_number(std::string_view text) {
  long long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace

list_options parse_list_options(const query_params& params,
                                std::span<const std::string_view> filterable) {
  list_options opts;
  for (const auto& [key, value] : params) {
    if (key == "limit") {
      if (auto n = to_number(value)) {
        opts.limit = (*n <= 0 || *n > 3000) ? 3000 : static_cast<std::size_t>(*n);
      }
    } else if (key == "marker") {
      auto n = value.starts_with('m') ? to_number(std::string_view(value).substr(1)) : std::nullopt;
      opts.offset = n && *n > 0 ? static_cast<std::size_t>(*n) : 0;
    } else if (key == "_removed") {
      opts.include_removed = true;
    } else {
      // The modifier is what follows the last '_' when it names one (removed_null, name_ne).
      filter f{key, "eq", value};
      auto us = key.rfind('_');
      if (us != std::string::npos && us > 0) {
        std::string_view mod = std::string_view(key).substr(us + 1);
        if (std::find(std::begin(modifiers), std::end(modifiers), mod) != std::end(modifiers)) {
          f.field = key.substr(0, us);
          f.modifier = std::string(mod);
        }
      }
      if (std::find(filterable.begin(), filterable.end(), f.field) != filterable.end()) {
        opts.filters.push_back(std::move(f));
      }
    }
  }
  return opts;
}

bool passes(const filter& f, const std::optional<std::string>& value) {
  if (f.modifier == "eq") return value && *value == f.value;
  if (f.modifier == "ne") return !value || *value != f.value;
  if (f.modifier == "null") return !value;
  if (f.modifier == "notnull") return value.has_value();
  if (f.modifier == "prefix") return value && value->starts_with(f.value);
  return true;
}

std::string next_link(std::string_view request_url, std::size_t offset) {
  auto q = request_url.find('?');
  std::string out(request_url.substr(0, q));
  std::string query;
  if (q != std::string_view::npos) {
    std::string_view rest = request_url.substr(q + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      std::string_view item = rest.substr(0, amp);
      if (!item.empty() && !item.starts_with("marker=") && item != "marker") {
        if (!query.empty()) query += '&';
        query += item;
      }
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    }
  }
  if (!query.empty()) query += '&';
  return fmt::format("{}?{}marker=m{}", out, query, offset);
}

void write_collection(json_writer& w, const collection_info& info, const list_options& opts,
                      bool more, const std::function<void(json_writer&)>& write_data) {
  w.StartObject();
  kv(w, "type", "collection");
  kv(w, "resourceType", info.resource_type);
  w.Key("links");
  w.StartObject();
  kv(w, "self", info.self_url);
  w.EndObject();
  w.Key("createTypes");
  w.StartObject();
  if (info.create_url) {
    kv(w, info.resource_type, *info.create_url);
  }
  w.EndObject();
  kv_empty_object(w, "actions");
  w.Key("data");
  w.StartArray();
  write_data(w);
  w.EndArray();
  w.Key("sortLinks");
  w.StartObject();
  std::string sep = info.self_url.find('?') == std::string::npos ? "?" : "&";
  for (auto field : info.filterable) {
    kv(w, field, fmt::format("{}{}sort={}", info.self_url, sep, field));
  }
  w.EndObject();
  // first, previous and total are never filled by Cattle.
  w.Key("pagination");
  w.StartObject();
  kv_null(w, "first");
  kv_null(w, "previous");
  w.Key("next");
  if (more) {
    write_string(w, next_link(info.self_url, opts.offset + opts.limit));
  } else {
    w.Null();
  }
  kv_int(w, "limit", opts.limit);
  kv_null(w, "total");
  kv_bool(w, "partial", more);
  w.EndObject();
  kv_null(w, "sort");
  w.Key("filters");
  w.StartObject();
  for (auto field : info.filterable) {
    write_key(w, field);
    bool any = false;
    for (const auto& f : opts.filters) {
      if (f.field != field) continue;
      if (!any) w.StartArray();
      any = true;
      w.StartObject();
      kv(w, "modifier", f.modifier);
      kv(w, "value", f.value);
      w.EndObject();
    }
    if (any) {
      w.EndArray();
    } else {
      w.Null();
    }
  }
  w.EndObject();
  kv_empty_object(w, "createDefaults");
  w.EndObject();
}

}  // namespace certherd::sim
