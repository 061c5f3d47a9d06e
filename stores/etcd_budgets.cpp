#include "stores/etcd_budgets.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace certherd::stores {
namespace {

failure io_failure(std::string message) {
  return fail(failure_kind::store_io, std::move(message));
}

struct kept_value {
  std::string text;
  std::int64_t mod_revision = 0;  ///< 0: absent
};

outcome<kept_value> look(etcd_store& store, const std::string& key) {
  auto got = store.call<etcd::result<etcd::range_response>>(
      [key](etcd::client& c) { return c.async_range(etcd::get(key)); });
  if (!got) return io_failure("no answer from etcd before the deadline");
  if (!*got) return io_failure(got->error().message);
  if ((*got)->kvs.empty()) return kept_value{};
  return kept_value{(*got)->kvs.front().value, (*got)->kvs.front().mod_revision};
}

}  // namespace

std::string etcd_budget_keeper::where() const {
  return fmt::format("the etcd key {}{}", store_.prefix(), kName);
}

std::optional<std::string> etcd_budget_keeper::opened(std::string_view value) const {
  if (value.empty()) return std::string();
  auto text = store_.unseal(value, kName);
  if (!text) return std::nullopt;
  return std::move(*text);
}

outcome<std::string> etcd_budget_keeper::read() {
  auto kept = look(store_, store_.prefix() + std::string(kName));
  if (!kept) return kept.error().within(where());
  auto text = opened(kept->text);
  if (!text) {
    spdlog::warn(
        "event=budgets_unreadable key=\"{}\" effect=\"counted as nothing spent; "
        "replaced at the next update\"",
        where());
    return std::string();
  }
  return std::move(*text);
}

outcome<> etcd_budget_keeper::update(
    const std::function<std::string(std::string_view kept)>& merge) {
  std::string key = store_.prefix() + std::string(kName);
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto kept = look(store_, key);
    if (!kept) return kept.error().within(where());
    etcd::txn_request t;
    t.conditions.push_back(kept->mod_revision == 0 ? etcd::absent(key)
                                                   : etcd::modified_at(key, kept->mod_revision));
    auto sealed = store_.seal(merge(opened(kept->text).value_or("")), kName);
    if (!sealed) return sealed.error().within(where());
    t.success.emplace_back(etcd::put_request{key, std::move(*sealed), 0, false});
    auto put = store_.call<etcd::result<etcd::txn_response>>(
        [t](etcd::client& c) { return c.async_txn(t); });
    if (!put) return io_failure(where() + ": no answer from etcd before the deadline");
    if (!*put) return io_failure(where() + ": " + put->error().message);
    if ((*put)->succeeded) return {};
    // Another replica wrote between the look and the write: merged again with what it wrote.
  }
  return io_failure(where() + " changed three times while being updated; not written");
}

}  // namespace certherd::stores
