#include "stores/certificate_store.hpp"

#include "clients/json/parse.hpp"
#include "stores/temporaries.hpp"

#include "stores/atomic_file.hpp"
#include "stores/file_names.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>

#include <unistd.h>

namespace certherd::stores {
namespace {

failure io_failure(std::string message) {
  return fail(failure_kind::store_io, std::move(message));
}

constexpr int kFormat = 1;
constexpr std::string_view kSuffix = ".json";

bool safe_name(const std::string& name) {
  return !name.empty() && name.size() <= 255 && name.front() != '.' &&
         name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
}

std::string member_string(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsString() ? it->value.GetString() : std::string();
}

}  // namespace

std::string to_json(const stored_certificate& r) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  auto str = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  w.Key("format");
  w.Int(kFormat);
  str("name", r.name);
  w.Key("hosts");
  w.StartArray();
  for (const auto& h : r.hosts)
    w.String(h.c_str());
  w.EndArray();
  str("directory", r.directory);
  str("key_type", std::string(pki::to_string(r.key_type)));
  if (r.profile) str("profile", *r.profile);
  w.Key("not_after");
  w.Int64(r.not_after.time_since_epoch().count());
  str("fingerprint_sha256", r.fingerprint);
  w.Key("failures");
  w.Int(r.failures);
  w.Key("next_retry");
  w.Int64(r.next_retry.time_since_epoch().count());
  str("last_error", r.last_error);
  str("last_error_kind", r.last_error_kind);
  str("reissue", r.reissue);
  w.Key("issued");
  w.StartArray();
  for (const auto& f : r.issued)
    w.String(f.c_str(), static_cast<rapidjson::SizeType>(f.size()));
  w.EndArray();
  w.Key("ari");
  w.StartObject();
  {
    const auto& a = r.ari;
    auto time = [&](const char* k, std::optional<sys_seconds> t) {
      if (!t) return;
      w.Key(k);
      w.Int64(t->time_since_epoch().count());
    };
    if (!a.cert_id.empty()) str("cert_id", a.cert_id);
    if (!a.leaf.empty()) str("leaf", a.leaf);
    w.Key("offered");
    w.Bool(a.offered);
    time("window_start", a.window_start);
    time("window_end", a.window_end);
    time("renew_at", a.renew_at);
    time("next_poll", a.next_poll);
    w.Key("failures");
    w.Int(a.failures);
    if (!a.note.empty()) str("note", a.note);
    if (a.early) {
      w.Key("early");
      w.Bool(true);
    }
  }
  w.EndObject();
  str("chain", r.chain_pem);
  str("key", r.key_pem);
  w.EndObject();
  return std::string(buf.GetString()) + "\n";
}

outcome<stored_certificate> from_json(std::string_view text) {
  rapidjson::Document doc;
  if (auto why = certherd::json::parse(doc, text)) return io_failure("not JSON: " + *why);
  if (!doc.IsObject()) return io_failure("not a JSON object");
  if (!doc.HasMember("format") || !doc["format"].IsInt() || doc["format"].GetInt() != kFormat) {
    return io_failure(
        fmt::format("unknown record format (this certherd reads format {})", kFormat));
  }
  stored_certificate r;
  r.name = member_string(doc, "name");
  if (r.name.empty()) return io_failure("no name");
  if (auto h = doc.FindMember("hosts"); h != doc.MemberEnd() && h->value.IsArray()) {
    for (const auto& v : h->value.GetArray()) {
      if (!v.IsString()) return io_failure("hosts must be strings");
      r.hosts.emplace_back(v.GetString());
    }
  } else {
    return io_failure("no hosts");
  }
  r.directory = member_string(doc, "directory");
  auto kt = pki::parse_key_type(member_string(doc, "key_type"));
  if (!kt) return io_failure("unknown key_type");
  r.key_type = *kt;
  // Only a profile name as certherd writes them: anything else (a damaged file) says nothing,
  // and is no reason to order again.
  if (auto p = doc.FindMember("profile"); p != doc.MemberEnd() && p->value.IsString()) {
    std::string_view v(p->value.GetString(), p->value.GetStringLength());
    if (v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        })) {
      r.profile = std::string(v);
    }
  }
  auto int64 = [&](const char* k) -> long long {
    auto it = doc.FindMember(k);
    return it != doc.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
  };
  r.not_after = sys_seconds{std::chrono::seconds(int64("not_after"))};
  r.next_retry = sys_seconds{std::chrono::seconds(int64("next_retry"))};
  r.failures = static_cast<int>(int64("failures"));
  r.fingerprint = member_string(doc, "fingerprint_sha256");
  r.last_error = member_string(doc, "last_error");
  r.last_error_kind = member_string(doc, "last_error_kind");
  r.reissue = member_string(doc, "reissue");
  if (auto h = doc.FindMember("issued"); h != doc.MemberEnd() && h->value.IsArray()) {
    for (const auto& v : h->value.GetArray()) {
      if (v.IsString() && r.issued.size() < kIssuedKept) r.issued.emplace_back(v.GetString());
    }
  }
  if (auto a = doc.FindMember("ari"); a != doc.MemberEnd() && a->value.IsObject()) {
    const auto& v = a->value;
    auto time = [&](const char* k) -> std::optional<sys_seconds> {
      auto it = v.FindMember(k);
      if (it == v.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
      return sys_seconds{std::chrono::seconds(it->value.GetInt64())};
    };
    r.ari.cert_id = member_string(v, "cert_id");
    r.ari.leaf = member_string(v, "leaf");
    // It goes into a URL and an order: only what a CertID is made of (base64url and '.'),
    // else it is made again from the chain.
    if (r.ari.cert_id.size() > 512 ||
        !std::all_of(r.ari.cert_id.begin(), r.ari.cert_id.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        })) {
      r.ari.cert_id.clear();
      r.ari.leaf.clear();
    }
    if (auto o = v.FindMember("offered"); o != v.MemberEnd() && o->value.IsBool()) {
      r.ari.offered = o->value.GetBool();
    }
    r.ari.window_start = time("window_start");
    r.ari.window_end = time("window_end");
    if (!r.ari.window_start || !r.ari.window_end) r.ari.window_start = r.ari.window_end = {};
    r.ari.renew_at = time("renew_at");
    r.ari.next_poll = time("next_poll").value_or(sys_seconds{});
    if (auto f = v.FindMember("failures"); f != v.MemberEnd() && f->value.IsInt()) {
      r.ari.failures = std::clamp(f->value.GetInt(), 0, 1000);
    }
    r.ari.note = member_string(v, "note");
    if (auto e = v.FindMember("early"); e != v.MemberEnd() && e->value.IsBool()) {
      r.ari.early = e->value.GetBool();
    }
  }
  r.chain_pem = member_string(doc, "chain");
  r.key_pem = member_string(doc, "key");
  if (r.chain_pem.empty() != r.key_pem.empty())
    return io_failure("chain and key must come together");
  return r;
}

void remember_issued(stored_certificate& record, const std::string& sha256,
                     const std::string& sha1) {
  for (const auto& fp : {sha256, sha1}) {
    if (fp.empty() ||
        std::find(record.issued.begin(), record.issued.end(), fp) != record.issued.end()) {
      continue;
    }
    record.issued.push_back(fp);
  }
  if (record.issued.size() > kIssuedKept) {
    record.issued.erase(
        record.issued.begin(),
        record.issued.begin() + static_cast<std::ptrdiff_t>(record.issued.size() - kIssuedKept));
  }
}

fs_store::fs_store(std::filesystem::path state_dir)
    : state_dir_(std::move(state_dir)), dir_(state_dir_ / "certificates") {}

const dir_handle* fs_store::folder(std::string& detail) {
  if (folder_) return &*folder_;
  auto root = dir_handle::open(state_dir_, 0700, detail, false);
  if (!root) {
    if (detail.empty()) detail = fmt::format("{} does not exist", state_dir_.string());
    return nullptr;
  }
  folder_ = root->sub("certificates", false, 0700, detail);
  if (!folder_ && detail.empty()) detail = fmt::format("{} does not exist", dir_.string());
  return folder_ ? &*folder_ : nullptr;
}

outcome<> fs_store::open() {
  std::string detail;
  auto root = dir_handle::open(state_dir_, 0700, detail);
  if (!root) return io_failure(detail);
  auto records = root->sub("certificates", true, 0700, detail);
  if (!records) return io_failure(detail);
  // Prove now that records can be written, rather than at the first issuance.
  std::vector<named_content> probe{{".write-test", "", 0600}};
  if (records->write(probe, detail)) {
    return io_failure(fmt::format("state directory is not writable: {}", detail));
  }
  ::unlinkat(records->fd(), ".write-test", 0);
  sweep_temporaries(*records);  // what a killed certherd left half written
  last_sweep_ = std::chrono::steady_clock::now();
  folder_ = std::move(records);
  return {};
}

std::filesystem::path fs_store::path_of(const std::string& name) const {
  return dir_ / file_name_for(name, kSuffix);
}

outcome<std::optional<stored_certificate>> fs_store::load(const std::string& name) {
  if (!safe_name(name)) return io_failure(fmt::format("'{}' cannot name a record", name));
  std::string detail;
  const auto* records = folder(detail);
  if (!records) return io_failure(detail);
  std::error_code ec;
  auto text = records->read(file_name_for(name, kSuffix), ec);
  if (!text) {
    if (ec == std::errc::no_such_file_or_directory) return std::optional<stored_certificate>();
    if (ec == std::errc::too_many_symbolic_link_levels) {
      return io_failure(fmt::format("{} is a symbolic link certherd did not make; left alone",
                                    path_of(name).string()));
    }
    return io_failure(fmt::format("cannot read {}: {}", path_of(name).string(), ec.message()));
  }
  auto r = from_json(*text);
  if (!r) {
    return io_failure(fmt::format("{} is not a certificate record ({}); it is left as it is",
                                  path_of(name).string(), r.error().message));
  }
  if (r->name != name) {
    return io_failure(fmt::format("{} holds the record of '{}'; it is left as it is",
                                  path_of(name).string(), r->name));
  }
  return std::optional<stored_certificate>(std::move(*r));
}

outcome<> fs_store::save(const stored_certificate& record) {
  auto existing = load(record.name);  // never replace what we cannot read
  if (!existing) return existing.error();
  std::string detail;
  const auto* records = folder(detail);
  if (!records) return io_failure(detail);
  // Now and then, what a killed certherd left half written goes (stores/temporaries.hpp).
  auto now = std::chrono::steady_clock::now();
  if (now - last_sweep_ >= kOrphanAge) {
    sweep_temporaries(*records);
    last_sweep_ = now;
  }
  std::vector<named_content> file{{file_name_for(record.name, kSuffix), to_json(record), 0600}};
  if (records->write(file, detail)) return io_failure(detail);
  return {};
}

std::optional<file_stamp> fs_store::version(const std::string& name) {
  if (!safe_name(name)) return std::nullopt;
  std::string detail;
  const auto* records = folder(detail);
  if (!records) return std::nullopt;
  return records->stamp(file_name_for(name, kSuffix));
}

outcome<std::vector<std::string>> fs_store::names() {
  std::vector<std::string> out;
  std::string detail;
  const auto* records = folder(detail);
  if (!records) return io_failure(detail);
  std::error_code ec;
  for (auto& file : records->list(ec)) {
    if (file.starts_with(".") || !file.ends_with(kSuffix)) continue;
    if (records->kind(file) != entry_kind::file) continue;  // a planted link is no record
    std::string base = file.substr(0, file.size() - kSuffix.size());
    if (is_hashed_file_name(base)) {
      // A long name's file is named by its hash: the name is the record's.
      std::error_code rec;
      auto text = records->read(file, rec);
      if (!text) continue;
      auto r = from_json(*text);
      if (r && file_name_for(r->name, kSuffix) == file) out.push_back(r->name);
      continue;
    }
    out.push_back(std::move(base));
  }
  if (ec) return io_failure(fmt::format("cannot list {}: {}", dir_.string(), ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace certherd::stores
