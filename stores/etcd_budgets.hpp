// The rate-limit budgets of replicas on etcd: one value, <prefix>budgets, that every replica
// reads at start and follows through the store's watch, and that the leader updates as it spends
// (a transaction on the value's revision: a write that raced another is merged again, never
// lost). What a budget holds names hosts, not secrets: it is not sealed.
#pragma once

#include "stores/budget_keeper.hpp"
#include "stores/etcd_store.hpp"

namespace certherd::stores {

class etcd_budget_keeper final : public budget_keeper {
 public:
  /// The key below the store's prefix.
  static constexpr std::string_view kName = "budgets";
  explicit etcd_budget_keeper(etcd_store& store) : store_(store) {}
  outcome<std::string> read() override;
  outcome<> update(const std::function<std::string(std::string_view kept)>& merge) override;
  std::string where() const override;

 private:
  etcd_store& store_;
};

}  // namespace certherd::stores
