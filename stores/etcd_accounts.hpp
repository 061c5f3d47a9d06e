// ACME account keys in the etcd store (STORE=etcd), so that whichever replica leads orders with
// the same account: <prefix>accounts/<host>-<hash of the directory URL>, a JSON value with the
// directory, the key sealed with STORE_KEY_FILE's key and the account URL. A key is created once
// (a transaction that applies only while the key is absent: two replicas racing end up with the
// same one) and never replaced.
#pragma once

#include "stores/account_keys.hpp"
#include "stores/etcd_store.hpp"

namespace certherd::stores {

class etcd_account_store final : public account_store {
 public:
  explicit etcd_account_store(etcd_store& store) : store_(store) {}
  outcome<account_record> load_or_create(const std::string& directory_url,
                                         pki::key_type type) override;
  outcome<> save_url(const account_record& record, const std::string& directory_url,
                     const std::string& account_url) override;
  std::string where(const std::string& directory_url) const override;

  /// An account as `certherd store migrate` carries it.
  struct exported {
    std::string directory_url;
    std::string key_pem;  ///< secret
    std::string account_url;
  };
  /// \brief Writes an account only where none is (an existing one is never replaced): true when
  /// written, false when one was there.
  outcome<bool> import(const exported& account);
  /// \brief Every account in the store, keys opened; one that cannot be read is a failure.
  outcome<std::vector<exported>> all();

 private:
  std::string name_of(const std::string& directory_url) const;  ///< below the prefix
  etcd_store& store_;
};

}  // namespace certherd::stores
