#include "clients/etcd/protocol.hpp"

#include "clients/json/parse.hpp"
#include "pki/encoding.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>

namespace certherd::etcd {
namespace {

using json = rapidjson::Value;
using writer = rapidjson::Writer<rapidjson::StringBuffer>;

error bad(std::string_view what, std::string_view why) {
  return {errc::bad_answer, 0, fmt::format("etcd answer: {}: {}", what, why), false};
}

// --- writing -----------------------------------------------------------------------------

void bytes(writer& w, const char* name, std::string_view value) {
  if (value.empty()) return;
  w.Key(name);
  std::string b64 = pki::base64_encode(value);
  w.String(b64.data(), static_cast<rapidjson::SizeType>(b64.size()));
}

void number(writer& w, const char* name, std::int64_t value) {
  if (value == 0) return;
  w.Key(name);
  std::string text = std::to_string(value);
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
}

void flag(writer& w, const char* name, bool value) {
  if (!value) return;
  w.Key(name);
  w.Bool(true);
}

void write(writer& w, const range_request& r) {
  w.StartObject();
  bytes(w, "key", r.key);
  bytes(w, "range_end", r.range_end);
  number(w, "limit", r.limit);
  number(w, "revision", r.revision);
  flag(w, "keys_only", r.keys_only);
  flag(w, "count_only", r.count_only);
  flag(w, "serializable", r.serializable);
  w.EndObject();
}

void write(writer& w, const put_request& r) {
  w.StartObject();
  bytes(w, "key", r.key);
  bytes(w, "value", r.value);
  number(w, "lease", r.lease);
  flag(w, "prev_kv", r.prev_kv);
  w.EndObject();
}

void write(writer& w, const delete_request& r) {
  w.StartObject();
  bytes(w, "key", r.key);
  bytes(w, "range_end", r.range_end);
  flag(w, "prev_kv", r.prev_kv);
  w.EndObject();
}

void write(writer& w, const compare& c) {
  static constexpr const char* kTargets[] = {"VERSION", "CREATE", "MOD", "VALUE", "LEASE"};
  static constexpr const char* kOps[] = {"EQUAL", "GREATER", "LESS", "NOT_EQUAL"};
  static constexpr const char* kFields[] = {"version", "create_revision", "mod_revision", "value",
                                            "lease"};
  w.StartObject();
  w.Key("result");
  w.String(kOps[static_cast<int>(c.result)]);
  w.Key("target");
  w.String(kTargets[static_cast<int>(c.what)]);
  bytes(w, "key", c.key);
  bytes(w, "range_end", c.range_end);
  const char* field = kFields[static_cast<int>(c.what)];
  if (c.what == compare::target::value) {
    // An empty value must still be sent: comparing with "" is a real condition.
    w.Key(field);
    std::string b64 = pki::base64_encode(c.value);
    w.String(b64.data(), static_cast<rapidjson::SizeType>(b64.size()));
  } else {
    w.Key(field);
    std::string text = std::to_string(c.number);
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  }
  w.EndObject();
}

void write(writer& w, const operation& op) {
  w.StartObject();
  std::visit(
      [&](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, range_request>) w.Key("request_range");
        if constexpr (std::is_same_v<T, put_request>) w.Key("request_put");
        if constexpr (std::is_same_v<T, delete_request>) w.Key("request_delete_range");
        write(w, r);
      },
      op);
  w.EndObject();
}

template <class F>
std::string build(F&& f) {
  rapidjson::StringBuffer buf;
  writer w(buf);
  f(w);
  return {buf.GetString(), buf.GetSize()};
}

// --- reading -----------------------------------------------------------------------------

result<rapidjson::Document> parse_object(std::string_view body, std::string_view what) {
  rapidjson::Document doc;
  if (auto why = certherd::json::parse(doc, body)) return bad(what, "not JSON: " + *why);
  if (!doc.IsObject()) return bad(what, "not a JSON object");
  return doc;
}

const json* member(const json& obj, const char* name) {
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

// proto3 JSON writes 64-bit integers as strings; a number is accepted too.
result<std::int64_t> int_field(const json& obj, const char* name, std::string_view what) {
  const json* v = member(obj, name);
  if (!v) return std::int64_t{0};
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsString()) {
    std::string_view text(v->GetString(), v->GetStringLength());
    std::int64_t out = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return out;
  }
  return bad(what, fmt::format("{} is not a 64-bit integer", name));
}

// A revision, count or TTL: never negative, and far from overflowing when one is added to it
// (a resumed watch asks for the revision after the last one it saw).
constexpr std::int64_t kMaxRevision = std::int64_t{1} << 62;

result<std::int64_t> count_field(const json& obj, const char* name, std::string_view what) {
  auto n = int_field(obj, name, what);
  if (!n) return n;
  if (*n < 0 || *n >= kMaxRevision) return bad(what, fmt::format("{} is out of range", name));
  return n;
}

result<std::uint64_t> uint_field(const json& obj, const char* name, std::string_view what) {
  const json* v = member(obj, name);
  if (!v) return std::uint64_t{0};
  if (v->IsUint64()) return v->GetUint64();
  if (v->IsString()) {
    std::string_view text(v->GetString(), v->GetStringLength());
    std::uint64_t out = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return out;
  }
  return bad(what, fmt::format("{} is not an unsigned 64-bit integer", name));
}

result<bool> bool_field(const json& obj, const char* name, std::string_view what) {
  const json* v = member(obj, name);
  if (!v) return false;
  if (!v->IsBool()) return bad(what, fmt::format("{} is not a boolean", name));
  return v->GetBool();
}

result<std::string> bytes_field(const json& obj, const char* name, std::string_view what) {
  const json* v = member(obj, name);
  if (!v) return std::string();
  if (!v->IsString()) return bad(what, fmt::format("{} is not a string", name));
  auto decoded = pki::base64_decode({v->GetString(), v->GetStringLength()});
  if (!decoded) return bad(what, fmt::format("{} is not base64", name));
  return std::move(*decoded);
}

std::string text_field(const json& obj, const char* name) {
  const json* v = member(obj, name);
  if (!v || !v->IsString()) return {};
  return {v->GetString(), v->GetStringLength()};
}

// Every answer has a header; inside a txn, a response's own may be left out.
result<response_header> header_of(const json& obj, std::string_view what, bool required = true) {
  response_header h;
  const json* v = member(obj, "header");
  if (!v && !required) return h;
  if (!v) return bad(what, "no header");
  if (!v->IsObject()) return bad(what, "header is not an object");
  auto cluster = uint_field(*v, "cluster_id", what);
  if (!cluster) return cluster.error();
  auto member_id = uint_field(*v, "member_id", what);
  if (!member_id) return member_id.error();
  auto revision = count_field(*v, "revision", what);
  if (!revision) return revision.error();
  auto term = uint_field(*v, "raft_term", what);
  if (!term) return term.error();
  h.cluster_id = *cluster;
  h.member_id = *member_id;
  h.revision = *revision;
  h.raft_term = *term;
  return h;
}

result<key_value> kv_of(const json& v, std::string_view what) {
  if (!v.IsObject()) return bad(what, "a key-value is not an object");
  key_value kv;
  auto key = bytes_field(v, "key", what);
  if (!key) return key.error();
  auto value = bytes_field(v, "value", what);
  if (!value) return value.error();
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  for (auto [name, out] : {std::pair{"create_revision", &kv.create_revision},
                           std::pair{"mod_revision", &kv.mod_revision},
                           std::pair{"version", &kv.version}, std::pair{"lease", &kv.lease}}) {
    auto n =
        name == std::string_view("lease") ? int_field(v, name, what) : count_field(v, name, what);
    if (!n) return n.error();
    *out = *n;
  }
  return kv;
}

result<std::vector<key_value>> kvs_of(const json& obj, const char* name, std::string_view what) {
  std::vector<key_value> out;
  const json* v = member(obj, name);
  if (!v) return out;
  if (!v->IsArray()) return bad(what, fmt::format("{} is not an array", name));
  out.reserve(v->Size());
  for (const auto& item : v->GetArray()) {
    auto kv = kv_of(item, what);
    if (!kv) return kv.error();
    out.push_back(std::move(*kv));
  }
  return out;
}

result<range_response> range_of(const json& obj, bool top = true) {
  range_response r;
  auto h = header_of(obj, "range", top);
  if (!h) return h.error();
  r.header = *h;
  auto kvs = kvs_of(obj, "kvs", "range");
  if (!kvs) return kvs.error();
  r.kvs = std::move(*kvs);
  auto more = bool_field(obj, "more", "range");
  if (!more) return more.error();
  r.more = *more;
  auto count = count_field(obj, "count", "range");
  if (!count) return count.error();
  r.count = *count;
  return r;
}

result<put_response> put_of(const json& obj, bool top = true) {
  put_response r;
  auto h = header_of(obj, "put", top);
  if (!h) return h.error();
  r.header = *h;
  if (const json* prev = member(obj, "prev_kv")) {
    auto kv = kv_of(*prev, "put");
    if (!kv) return kv.error();
    r.prev_kv = std::move(*kv);
  }
  return r;
}

result<delete_response> delete_of(const json& obj, bool top = true) {
  delete_response r;
  auto h = header_of(obj, "delete", top);
  if (!h) return h.error();
  r.header = *h;
  auto deleted = int_field(obj, "deleted", "delete");
  if (!deleted) return deleted.error();
  r.deleted = *deleted;
  auto prev = kvs_of(obj, "prev_kvs", "delete");
  if (!prev) return prev.error();
  r.prev_kvs = std::move(*prev);
  return r;
}

errc code_of(int grpc) {
  switch (grpc) {
    case 3:  // INVALID_ARGUMENT
      return errc::invalid_argument;
    case 11:  // OUT_OF_RANGE: a revision compacted or in the future
      return errc::compacted;
    case 5:
      return errc::not_found;
    case 9:
      return errc::failed_precondition;
    case 7:
    case 16:
      return errc::denied;
    case 4:   // DEADLINE_EXCEEDED: etcd's "request timed out" (it may still apply)
    case 8:   // RESOURCE_EXHAUSTED: "too many requests"
    case 14:  // UNAVAILABLE: no leader, stopped, not capable
      return errc::unavailable;
    default:
      return errc::other;
  }
}

// etcd's words for a log line: at most 200 bytes (cut before a UTF-8 continuation byte), no
// control characters.
std::string said(std::string text) {
  if (text.size() > 200) {
    std::size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
      --cut;
    text = text.substr(0, cut) + "…";
  }
  for (char& ch : text) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
  }
  return text;
}

// One message of a gateway stream: {"result": {...}}, or {"error": {...}} as an error.
result<rapidjson::Document> stream_message(std::string_view body, std::string_view what) {
  auto doc = parse_object(body, what);
  if (!doc) return doc.error();
  if (const json* e = member(*doc, "error"); e && e->IsObject()) {
    int grpc = 0;
    if (const json* c = member(*e, "grpc_code"); c && c->IsInt()) grpc = c->GetInt();
    if (const json* c = member(*e, "code"); c && c->IsInt()) grpc = c->GetInt();
    return error{grpc ? code_of(grpc) : errc::other, grpc,
                 fmt::format("etcd {}: {}", what, said(text_field(*e, "message"))), false};
  }
  const json* res = member(*doc, "result");
  if (!res || !res->IsObject()) return bad(what, "no result");
  return doc;
}

}  // namespace

std::string_view to_string(errc e) noexcept {
  switch (e) {
    case errc::transport:
      return "transport";
    case errc::unavailable:
      return "unavailable";
    case errc::not_found:
      return "not_found";
    case errc::compacted:
      return "compacted";
    case errc::failed_precondition:
      return "failed_precondition";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::denied:
      return "denied";
    case errc::bad_answer:
      return "bad_answer";
    case errc::other:
      return "other";
  }
  return "other";
}

void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

range_request get(std::string key) {
  range_request r;
  r.key = std::move(key);
  return r;
}

range_request under(std::string prefix) {
  range_request r;
  r.range_end = prefix_end(prefix);
  r.key = std::move(prefix);
  return r;
}

compare absent(std::string key) {
  compare c;
  c.key = std::move(key);
  c.what = compare::target::create_revision;
  c.result = compare::op::equal;
  c.number = 0;
  return c;
}

compare modified_at(std::string key, std::int64_t revision) {
  compare c;
  c.key = std::move(key);
  c.what = compare::target::mod_revision;
  c.result = compare::op::equal;
  c.number = revision;
  return c;
}

std::string encode(const range_request& r) {
  return build([&](writer& w) { write(w, r); });
}
std::string encode(const put_request& r) {
  return build([&](writer& w) { write(w, r); });
}
std::string encode(const delete_request& r) {
  return build([&](writer& w) { write(w, r); });
}

std::string encode(const txn_request& r) {
  return build([&](writer& w) {
    w.StartObject();
    w.Key("compare");
    w.StartArray();
    for (const auto& c : r.conditions)
      write(w, c);
    w.EndArray();
    w.Key("success");
    w.StartArray();
    for (const auto& op : r.success)
      write(w, op);
    w.EndArray();
    w.Key("failure");
    w.StartArray();
    for (const auto& op : r.failure)
      write(w, op);
    w.EndArray();
    w.EndObject();
  });
}

std::string encode_lease_grant(std::int64_t ttl_seconds, std::int64_t id) {
  return build([&](writer& w) {
    w.StartObject();
    number(w, "TTL", ttl_seconds);
    number(w, "ID", id);
    w.EndObject();
  });
}

std::string encode_lease_id(std::int64_t id) {
  return build([&](writer& w) {
    w.StartObject();
    number(w, "ID", id);
    w.EndObject();
  });
}

std::string encode(const watch_request& r) {
  return build([&](writer& w) {
    w.StartObject();
    w.Key("create_request");
    w.StartObject();
    bytes(w, "key", r.key);
    bytes(w, "range_end", r.range_end);
    number(w, "start_revision", r.start_revision);
    flag(w, "progress_notify", r.progress_notify);
    flag(w, "prev_kv", r.prev_kv);
    w.EndObject();
    w.EndObject();
  });
}

std::optional<error> error_of(unsigned status, std::string_view body, std::string_view where) {
  // A stream may carry an error after a 200 too; decode_watch and decode_lease_keepalive read it.
  if (status >= 200 && status < 300) return std::nullopt;
  rapidjson::Document doc;
  std::string words;
  int grpc = 0;
  if (!certherd::json::parse(doc, body) && doc.IsObject()) {
    words = text_field(doc, "message");
    if (words.empty()) words = text_field(doc, "error");
    if (const json* c = member(doc, "code"); c && c->IsInt()) grpc = c->GetInt();
  }
  errc code = grpc ? code_of(grpc) : (status >= 500 ? errc::unavailable : errc::other);
  if (!grpc && (status == 404 || status == 405)) code = errc::bad_answer;  // not a gateway
  if (words.empty()) words = fmt::format("HTTP {}", status);
  words = said(std::move(words));
  // etcd answers a proposal that timed out, and one cut short by a change of leader, with
  // UNAVAILABLE: it may still be applied. "no leader" is said before anything is proposed (the
  // gateway's hasleader check, or a member that knows of no leader): not applied, so another
  // member may be asked at once.
  bool maybe = code == errc::unavailable && words != "etcdserver: no leader";
  return error{code, grpc, fmt::format("etcd {}: {}", where, words), maybe};
}

result<range_response> decode_range(std::string_view body) {
  auto doc = parse_object(body, "range");
  if (!doc) return doc.error();
  return range_of(*doc);
}

result<put_response> decode_put(std::string_view body) {
  auto doc = parse_object(body, "put");
  if (!doc) return doc.error();
  return put_of(*doc);
}

result<delete_response> decode_delete(std::string_view body) {
  auto doc = parse_object(body, "delete");
  if (!doc) return doc.error();
  return delete_of(*doc);
}

result<txn_response> decode_txn(std::string_view body) {
  auto doc = parse_object(body, "txn");
  if (!doc) return doc.error();
  txn_response r;
  auto h = header_of(*doc, "txn");
  if (!h) return h.error();
  r.header = *h;
  auto ok = bool_field(*doc, "succeeded", "txn");
  if (!ok) return ok.error();
  r.succeeded = *ok;
  if (const json* list = member(*doc, "responses")) {
    if (!list->IsArray()) return bad("txn", "responses is not an array");
    for (const auto& item : list->GetArray()) {
      if (!item.IsObject()) return bad("txn", "a response is not an object");
      if (const json* v = member(item, "response_range"); v && v->IsObject()) {
        auto x = range_of(*v, false);
        if (!x) return x.error();
        r.responses.emplace_back(std::move(*x));
      } else if (const json* p = member(item, "response_put"); p && p->IsObject()) {
        auto x = put_of(*p, false);
        if (!x) return x.error();
        r.responses.emplace_back(std::move(*x));
      } else if (const json* d = member(item, "response_delete_range"); d && d->IsObject()) {
        auto x = delete_of(*d, false);
        if (!x) return x.error();
        r.responses.emplace_back(std::move(*x));
      } else {
        return bad("txn", "a response is none of range, put, delete");
      }
    }
  }
  return r;
}

result<lease_grant_response> decode_lease_grant(std::string_view body) {
  auto doc = parse_object(body, "lease grant");
  if (!doc) return doc.error();
  lease_grant_response r;
  auto h = header_of(*doc, "lease grant");
  if (!h) return h.error();
  r.header = *h;
  if (std::string said_text = text_field(*doc, "error"); !said_text.empty()) {
    return error{errc::other, 0, "etcd lease grant: " + said(std::move(said_text)), false};
  }
  auto id = int_field(*doc, "ID", "lease grant");
  if (!id) return id.error();
  auto ttl = count_field(*doc, "TTL", "lease grant");
  if (!ttl) return ttl.error();
  if (*id == 0 || *ttl <= 0) return bad("lease grant", "no lease ID or TTL");
  r.id = *id;
  r.ttl = *ttl;
  return r;
}

result<lease_keepalive_response> decode_lease_keepalive(std::string_view body) {
  auto doc = stream_message(body, "lease keep-alive");
  if (!doc) return doc.error();
  const json& res = (*doc)["result"];
  lease_keepalive_response r;
  auto h = header_of(res, "lease keep-alive");
  if (!h) return h.error();
  r.header = *h;
  auto id = int_field(res, "ID", "lease keep-alive");
  if (!id) return id.error();
  auto ttl = count_field(res, "TTL", "lease keep-alive");
  if (!ttl) return ttl.error();
  r.id = *id;
  r.ttl = *ttl;
  return r;
}

result<response_header> decode_header_only(std::string_view body) {
  auto doc = parse_object(body, "answer");
  if (!doc) return doc.error();
  return header_of(*doc, "answer");
}

result<watch_response> decode_watch(std::string_view message) {
  auto doc = stream_message(message, "watch");
  if (!doc) return doc.error();
  const json* res = &(*doc)["result"];
  watch_response r;
  auto h = header_of(*res, "watch");
  if (!h) return h.error();
  r.header = *h;
  auto id = int_field(*res, "watch_id", "watch");
  if (!id) return id.error();
  r.watch_id = *id;
  auto created = bool_field(*res, "created", "watch");
  if (!created) return created.error();
  r.created = *created;
  auto canceled = bool_field(*res, "canceled", "watch");
  if (!canceled) return canceled.error();
  r.canceled = *canceled;
  auto compact = count_field(*res, "compact_revision", "watch");
  if (!compact) return compact.error();
  r.compact_revision = *compact;
  r.cancel_reason = said(text_field(*res, "cancel_reason"));
  if (const json* events = member(*res, "events")) {
    if (!events->IsArray()) return bad("watch", "events is not an array");
    for (const auto& ev : events->GetArray()) {
      if (!ev.IsObject()) return bad("watch", "an event is not an object");
      watch_event out;
      std::string type = text_field(ev, "type");
      if (type == "DELETE") {
        out.type = watch_event::kind::remove;
      } else if (type.empty() || type == "PUT") {
        out.type = watch_event::kind::put;
      } else {
        return bad("watch", "an event's type is neither PUT nor DELETE");
      }
      const json* kv = member(ev, "kv");
      if (!kv) return bad("watch", "an event without kv");
      auto parsed = kv_of(*kv, "watch");
      if (!parsed) return parsed.error();
      out.kv = std::move(*parsed);
      if (const json* prev = member(ev, "prev_kv")) {
        auto p = kv_of(*prev, "watch");
        if (!p) return p.error();
        out.prev_kv = std::move(*p);
      }
      r.events.push_back(std::move(out));
    }
  }
  return r;
}

result<std::vector<std::string>> message_splitter::feed(std::string_view data) {
  std::vector<std::string> out;
  std::size_t start = 0;
  std::size_t from = pending_.size();  // what was there is known to hold no newline
  pending_.append(data);
  for (;;) {
    auto nl = pending_.find('\n', std::max(start, from));
    if (nl == std::string::npos) break;
    std::string_view msg(pending_.data() + start, nl - start);
    if (!msg.empty() && msg.back() == '\r') msg.remove_suffix(1);
    if (!msg.empty()) out.emplace_back(msg);
    start = nl + 1;
  }
  pending_.erase(0, start);
  if (pending_.size() > limit_) {
    pending_.clear();
    return bad("stream", fmt::format("a message longer than {} bytes", limit_));
  }
  return out;
}

}  // namespace certherd::etcd
