#include "stores/etcd_accounts.hpp"

#include "clients/json/parse.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace certherd::stores {
namespace {

failure io_failure(std::string message) {
  return fail(failure_kind::store_io, std::move(message));
}

std::string value_of(const std::string& directory, const std::string& sealed_key,
                     const std::string& account_url) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("directory");
  w.String(directory.c_str(), static_cast<rapidjson::SizeType>(directory.size()));
  w.Key("key");
  w.String(sealed_key.c_str(), static_cast<rapidjson::SizeType>(sealed_key.size()));
  w.Key("account_url");
  w.String(account_url.c_str(), static_cast<rapidjson::SizeType>(account_url.size()));
  w.EndObject();
  return {buf.GetString(), buf.GetSize()};
}

struct parsed_value {
  std::string sealed_key;
  std::string account_url;
  std::string directory;
};

std::optional<parsed_value> parse_value(const std::string& text) {
  rapidjson::Document doc;
  if (certherd::json::parse(doc, text) || !doc.IsObject()) return std::nullopt;
  auto str = [&doc](const char* k) -> std::optional<std::string> {
    auto it = doc.FindMember(k);
    if (it == doc.MemberEnd() || !it->value.IsString()) return std::nullopt;
    return std::string(it->value.GetString(), it->value.GetStringLength());
  };
  auto key = str("key");
  if (!key) return std::nullopt;
  return parsed_value{*key, str("account_url").value_or(""), str("directory").value_or("")};
}

}  // namespace

std::string etcd_account_store::name_of(const std::string& directory_url) const {
  return "accounts/" + account_folder("", directory_url).filename().string();
}

std::string etcd_account_store::where(const std::string& directory_url) const {
  return fmt::format("the etcd key {}{} (etcdctl del)", store_.prefix(), name_of(directory_url));
}

outcome<account_record> etcd_account_store::load_or_create(const std::string& directory_url,
                                                           pki::key_type type) {
  std::string name = name_of(directory_url);
  std::string key = store_.prefix() + name;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto got = store_.call<etcd::result<etcd::range_response>>(
        [key](etcd::client& c) { return c.async_range(etcd::get(key)); });
    if (!got) return io_failure("account key: no answer from etcd before the deadline");
    if (!*got) return io_failure("account key: " + got->error().message);
    if (!(*got)->kvs.empty()) {
      auto v = parse_value((*got)->kvs.front().value);
      if (!v) {
        return io_failure(fmt::format(
            "account key {} is not a record of certherd's; it is left as it is — delete it to "
            "start a new account",
            key));
      }
      auto pem = store_.unseal(v->sealed_key, name);
      if (!pem) return io_failure(fmt::format("account key {}: {}", key, pem.error().message));
      auto k = pki::private_key::from_pem(*pem);
      if (!k) {
        return io_failure(fmt::format("account key {} is unreadable ({}); left as it is", key,
                                      k.error().message()));
      }
      return account_record{std::move(*k), key, v->account_url, false};
    }
    // None yet: made here, written only if still absent (another replica's wins, and is read).
    auto made = pki::private_key::generate(type);
    if (!made) return fail(failure_kind::internal, made.error().message());
    auto sealed = store_.seal(made->to_pem(), name);
    if (!sealed) return sealed.error();
    etcd::txn_request t;
    t.conditions.push_back(etcd::absent(key));
    t.success.emplace_back(etcd::put_request{key, value_of(directory_url, *sealed, ""), 0, false});
    auto put = store_.call<etcd::result<etcd::txn_response>>(
        [t](etcd::client& c) { return c.async_txn(t); });
    if (!put) return io_failure("account key: no answer from etcd before the deadline");
    if (!*put) return io_failure("account key: " + put->error().message);
    if ((*put)->succeeded) return account_record{std::move(*made), key, "", true};
  }
  return io_failure("account key " + key + " changed three times while being read");
}

outcome<> etcd_account_store::save_url(const account_record& record,
                                       const std::string& directory_url,
                                       const std::string& account_url) {
  std::string name = name_of(directory_url);
  std::string key = store_.prefix() + name;
  auto sealed = store_.seal(record.key.to_pem(), name);
  if (!sealed) return sealed.error();
  // Beside the key it belongs to: only while the stored key is still that one.
  auto got = store_.call<etcd::result<etcd::range_response>>(
      [key](etcd::client& c) { return c.async_range(etcd::get(key)); });
  if (!got || !*got || (*got)->kvs.empty()) return io_failure("account URL: the key is gone");
  auto v = parse_value((*got)->kvs.front().value);
  auto pem = v ? store_.unseal(v->sealed_key, name) : outcome<std::string>(io_failure("x"));
  if (!pem || *pem != record.key.to_pem()) {
    return io_failure("account URL: the stored account key is another one; not recorded");
  }
  etcd::txn_request t;
  t.conditions.push_back(etcd::modified_at(key, (*got)->kvs.front().mod_revision));
  t.success.emplace_back(
      etcd::put_request{key, value_of(directory_url, *sealed, account_url), 0, false});
  auto put = store_.call<etcd::result<etcd::txn_response>>(
      [t](etcd::client& c) { return c.async_txn(t); });
  if (!put || !*put || !(*put)->succeeded) return io_failure("account URL: not recorded in etcd");
  return {};
}

outcome<bool> etcd_account_store::import(const exported& account) {
  std::string name = name_of(account.directory_url);
  std::string key = store_.prefix() + name;
  auto sealed = store_.seal(account.key_pem, name);
  if (!sealed) return sealed.error();
  etcd::txn_request t;
  t.conditions.push_back(etcd::absent(key));
  t.success.emplace_back(etcd::put_request{
      key, value_of(account.directory_url, *sealed, account.account_url), 0, false});
  auto put = store_.call<etcd::result<etcd::txn_response>>(
      [t](etcd::client& c) { return c.async_txn(t); });
  if (!put) return io_failure("account key: no answer from etcd before the deadline");
  if (!*put) return io_failure("account key: " + put->error().message);
  return (*put)->succeeded;
}

outcome<std::vector<etcd_account_store::exported>> etcd_account_store::all() {
  std::string under = store_.prefix() + "accounts/";
  auto got = store_.call<etcd::result<etcd::range_response>>(
      [under](etcd::client& c) { return c.async_range(etcd::under(under)); });
  if (!got) return io_failure("accounts: no answer from etcd before the deadline");
  if (!*got) return io_failure("accounts: " + got->error().message);
  std::vector<exported> out;
  for (const auto& kv : (*got)->kvs) {
    auto v = parse_value(kv.value);
    if (!v || v->directory.empty()) {
      return io_failure(fmt::format("{} is not an account record of certherd's", kv.key));
    }
    auto pem = store_.unseal(v->sealed_key, name_of(v->directory));
    if (!pem) return io_failure(fmt::format("{}: {}", kv.key, pem.error().message));
    out.push_back({v->directory, std::move(*pem), v->account_url});
  }
  return out;
}

}  // namespace certherd::stores
