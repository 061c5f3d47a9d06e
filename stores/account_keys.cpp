#include "stores/account_keys.hpp"
#include "clients/json/parse.hpp"
#include "stores/safe_dir.hpp"
#include "stores/temporaries.hpp"

#include "pki/encoding.hpp"
#include "stores/atomic_file.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <boost/url/parse.hpp>

namespace certherd::stores {
namespace {

failure io_failure(std::string message) {
  return fail(failure_kind::store_io, std::move(message));
}

}  // namespace

std::filesystem::path account_folder(const std::filesystem::path& state_dir,
                                     const std::string& directory_url) {
  std::string host = "ca";
  if (auto u = boost::urls::parse_uri(directory_url); u && !u->host_address().empty()) {
    host = u->host_address();
    for (char& c : host) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') c = '_';
    }
  }
  auto digest = pki::hex_encode(pki::sha256(directory_url)).substr(0, 12);
  return state_dir / "accounts" / fmt::format("{}-{}", host, digest);
}

outcome<account_record> load_or_create_account(const std::filesystem::path& state_dir,
                                               const std::string& directory_url,
                                               pki::key_type type) {
  auto folder = account_folder(state_dir, directory_url);
  std::string detail;
  if (auto ec = make_directories(folder, 0700, detail)) return io_failure(detail);
  if (auto handle = dir_handle::open(folder, 0700, detail, false)) sweep_temporaries(*handle);
  detail.clear();
  auto key_path = folder / "account-key.pem";
  std::optional<pki::private_key> loaded;
  bool created = false;
  std::error_code ec;
  if (auto pem = read_file(key_path, ec)) {
    auto key = pki::private_key::from_pem(*pem);
    if (!key) {
      return io_failure(
          fmt::format("account key {} is unreadable ({}); it is left as it is — move it away "
                      "to start a new account",
                      key_path.string(), key.error().message()));
    }
    loaded = std::move(*key);
  } else if (ec == std::errc::no_such_file_or_directory) {
    auto key = pki::private_key::generate(type);
    if (!key) return fail(failure_kind::internal, key.error().message());
    if (auto wec = write_file({key_path, key->to_pem(), 0600}, overwrite::refuse, detail)) {
      return io_failure(detail);
    }
    loaded = std::move(*key);
    created = true;
  } else {
    return io_failure(
        fmt::format("cannot read account key {}: {}", key_path.string(), ec.message()));
  }

  account_record record{std::move(*loaded), folder, {}, created};
  if (auto text = read_file(folder / "account.json", ec)) {
    rapidjson::Document doc;
    if (!certherd::json::parse(doc, *text) && doc.IsObject() && doc.HasMember("account_url") &&
        doc["account_url"].IsString()) {
      record.account_url = doc["account_url"].GetString();
    }
  }
  return record;
}

outcome<> save_account_url(const account_record& record, const std::string& directory_url,
                           const std::string& account_url) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("directory");
  w.String(directory_url.c_str());
  w.Key("account_url");
  w.String(account_url.c_str());
  w.EndObject();
  std::string detail;
  if (write_file({record.directory / "account.json", std::string(buf.GetString()) + "\n", 0600},
                 overwrite::allow, detail)) {
    return io_failure(detail);
  }
  return {};
}

}  // namespace certherd::stores
