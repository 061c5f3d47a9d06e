// Where the rate-limit budgets are kept between runs (reconcilers/order_budgets.hpp): their
// state as text, lines the budgets write and read back. A single instance keeps it in
// STATE_DIR/budgets; replicas on etcd keep one copy for all (stores/etcd_budgets.hpp), so that
// whichever replica leads next knows what the last leader spent.
#pragma once

#include "clients/outcome/outcome.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace certherd::stores {

class budget_keeper {
 public:
  virtual ~budget_keeper() = default;
  /// \brief What is kept ("" when nothing is yet); a failure when it cannot be read.
  virtual outcome<std::string> read() = 0;
  /// \brief Replaces what is kept with `merge(what is kept now)`; another writer's change made
  /// between the look and the write is not lost (the merge runs again on it, or, for a file,
  /// the last writer's merge included it).
  virtual outcome<> update(const std::function<std::string(std::string_view kept)>& merge) = 0;
  /// \brief Where, for messages.
  virtual std::string where() const = 0;
};

/// The state in one file, written whole and atomically (STATE_DIR/budgets).
class file_budget_keeper final : public budget_keeper {
 public:
  explicit file_budget_keeper(std::filesystem::path file) : file_(std::move(file)) {}
  outcome<std::string> read() override;
  outcome<> update(const std::function<std::string(std::string_view kept)>& merge) override;
  std::string where() const override { return file_.string(); }

 private:
  std::filesystem::path file_;
};

}  // namespace certherd::stores
