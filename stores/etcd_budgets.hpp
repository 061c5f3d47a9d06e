// The rate-limit budgets of replicas on etcd: one value, <prefix>budgets, that every replica
// reads at start and follows through the store's watch, and that the leader updates as it spends
// (a transaction on the value's revision: a write that raced another is merged again, never
// lost). It names hosts, not secrets, but it is sealed with STORE_KEY_FILE's key all the same:
// whoever can write to etcd without the key must not be able to plant a week's block on every
// order. A value that does not open is reported and counts as nothing spent; the next update
// replaces it.
#pragma once

#include "stores/budget_keeper.hpp"
#include "stores/etcd_store.hpp"

#include <optional>
#include <string_view>

namespace certherd::stores {

class etcd_budget_keeper final : public budget_keeper {
 public:
  /// The key below the store's prefix.
  static constexpr std::string_view kName = "budgets";
  explicit etcd_budget_keeper(etcd_store& store) : store_(store) {}
  outcome<std::string> read() override;
  outcome<> update(const std::function<std::string(std::string_view kept)>& merge) override;
  std::string where() const override;
  /// \brief The budgets text a stored value holds; nullopt when it does not open with the key
  /// (planted, damaged).
  std::optional<std::string> opened(std::string_view value) const;

 private:
  etcd_store& store_;
};

}  // namespace certherd::stores
