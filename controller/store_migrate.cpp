#include "controller/store_migrate.hpp"

#include "clients/json/parse.hpp"
#include "controller/command.hpp"
#include "controller/setup.hpp"
#include "stores/atomic_file.hpp"
#include "stores/etcd_accounts.hpp"
#include "stores/etcd_budgets.hpp"
#include "stores/etcd_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

namespace certherd::controller {
namespace {

struct tally {
  int copied = 0;
  int already = 0;
  int skipped = 0;
};

// Copies every record of `from` that `to` does not hold; one `to` holds with another
// certificate is reported and left.
tally copy_records(stores::certificate_store& from, stores::certificate_store& to) {
  tally t;
  auto names = from.names();
  if (!names) {
    std::cerr << "certherd: " << names.error().message << "\n";
    ++t.skipped;
    return t;
  }
  for (const auto& name : *names) {
    auto record = from.load(name);
    if (!record || !*record) {
      std::cerr << fmt::format("certherd: {}: not copied: {}\n", name,
                               record ? "gone meanwhile" : record.error().message);
      ++t.skipped;
      continue;
    }
    auto there = to.load(name);
    if (!there) {
      std::cerr << fmt::format(
          "certherd: {}: not copied: the destination cannot read its own "
          "record ({})\n",
          name, there.error().message);
      ++t.skipped;
      continue;
    }
    if (*there) {
      if ((*there)->chain_pem == (*record)->chain_pem) {
        ++t.already;
      } else {
        std::cerr << fmt::format(
            "certherd: {}: not copied: the destination holds another "
            "certificate under this name (left as it is)\n",
            name);
        ++t.skipped;
      }
      continue;
    }
    if (auto saved = to.save(**record); !saved) {
      std::cerr << fmt::format("certherd: {}: not copied: {}\n", name, saved.error().message);
      ++t.skipped;
      continue;
    }
    ++t.copied;
  }
  return t;
}

// The account folders under STATE_DIR/accounts: key and, when registered, the account URL.
std::vector<stores::etcd_account_store::exported> file_accounts(const std::string& state_dir,
                                                                int& skipped) {
  std::vector<stores::etcd_account_store::exported> out;
  std::error_code ec;
  auto root = std::filesystem::path(state_dir) / "accounts";
  if (!std::filesystem::is_directory(root, ec)) return out;
  for (const auto& folder : std::filesystem::directory_iterator(root, ec)) {
    if (!folder.is_directory() || folder.is_symlink()) continue;
    std::error_code rec;
    auto key = stores::read_file(folder.path() / "account-key.pem", rec);
    auto info = stores::read_file(folder.path() / "account.json", rec);
    if (!key || !info) {
      std::cerr << fmt::format("certherd: account {}: not copied: no key or no account.json\n",
                               folder.path().string());
      ++skipped;
      continue;
    }
    rapidjson::Document doc;
    bool parsed = !certherd::json::parse(doc, *info) && doc.IsObject();
    auto str = [&doc, parsed](const char* k) -> std::string {
      if (!parsed) return {};
      auto it = doc.FindMember(k);
      return it != doc.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
    };
    std::string directory = str("directory");
    if (directory.empty() ||
        stores::account_folder(state_dir, directory).filename() != folder.path().filename()) {
      std::cerr << fmt::format(
          "certherd: account {}: not copied: account.json does not name "
          "its CA's directory\n",
          folder.path().string());
      ++skipped;
      continue;
    }
    out.push_back({directory, *key, str("account_url")});
  }
  return out;
}

}  // namespace

int migrate_store(const std::map<std::string, std::string>& flags, const std::string& to) {
  if (to != "etcd" && to != "file") {
    std::cerr << "certherd: --to '" << to << "' is not one of etcd, file\n";
    return exit_usage;
  }
  auto env = environment();
  for (const auto& [k, v] : flags)
    env[k] = v;
  // Migration issues nothing: how challenges would be answered does not matter.
  if (!env.count("WEBROOT") && !env.count("CHALLENGE_LISTEN")) env["CHALLENGE_LISTEN"] = ":0";
  env["STORE"] = "etcd";
  setup shared;
  try {
    shared.cfg = load_config(env);
  } catch (const config_error& e) {
    return report(fail(failure_kind::configuration, e.what()));
  }
  if (auto opened = open_store(shared); !opened) return report(opened.error());
  stores::fs_store files(shared.cfg.state_dir);
  if (auto opened = files.open(); !opened) {
    return report(opened.error().within("STATE_DIR=" + shared.cfg.state_dir));
  }
  auto& etcd_store = static_cast<stores::etcd_store&>(*shared.store);
  auto& accounts = static_cast<stores::etcd_account_store&>(*shared.accounts);

  tally records = to == "etcd" ? copy_records(files, etcd_store) : copy_records(etcd_store, files);
  int accounts_copied = 0, accounts_already = 0, accounts_skipped = 0;
  if (to == "etcd") {
    for (const auto& a : file_accounts(shared.cfg.state_dir, accounts_skipped)) {
      auto done = accounts.import(a);
      if (!done) {
        std::cerr << "certherd: account for " << a.directory_url << ": " << done.error().message
                  << "\n";
        ++accounts_skipped;
      } else {
        ++(*done ? accounts_copied : accounts_already);
      }
    }
  } else {
    auto all = accounts.all();
    if (!all) {
      std::cerr << "certherd: " << all.error().message << "\n";
      ++accounts_skipped;
    } else {
      for (const auto& a : *all) {
        auto folder = stores::account_folder(shared.cfg.state_dir, a.directory_url);
        std::string detail;
        if (std::filesystem::exists(folder / "account-key.pem")) {
          ++accounts_already;
          continue;
        }
        if (stores::make_directories(folder, 0700, detail) ||
            stores::write_file({folder / "account-key.pem", a.key_pem, 0600},
                               stores::overwrite::refuse, detail)) {
          std::cerr << "certherd: account for " << a.directory_url << ": " << detail << "\n";
          ++accounts_skipped;
          continue;
        }
        auto key = pki::private_key::from_pem(a.key_pem);
        if (key && !a.account_url.empty()) {
          stores::account_record r{std::move(*key), folder, a.account_url, false};
          stores::save_account_url(r, a.directory_url, a.account_url);
        }
        ++accounts_copied;
      }
    }
  }
  // The rate-limit budgets: the source's lines are added to the destination's (a reader keeps
  // the later time of each key), each line once, so the move gives back nothing spent and a
  // second run adds nothing.
  stores::file_budget_keeper budget_file(std::filesystem::path(shared.cfg.state_dir) / "budgets");
  stores::etcd_budget_keeper budget_etcd(etcd_store);
  stores::budget_keeper& budget_from =
      to == "etcd" ? static_cast<stores::budget_keeper&>(budget_file) : budget_etcd;
  stores::budget_keeper& budget_to =
      to == "etcd" ? static_cast<stores::budget_keeper&>(budget_etcd) : budget_file;
  bool budgets_failed = false;
  if (auto spent = budget_from.read(); !spent) {
    std::cerr << "certherd: rate-limit budgets: " << spent.error().message << "\n";
    budgets_failed = true;
  } else if (!spent->empty()) {
    auto added = budget_to.update([&](std::string_view kept) {
      std::string out;
      std::set<std::string_view> lines;
      for (std::string_view text : {kept, std::string_view(*spent)}) {
        while (!text.empty()) {
          auto end = std::min(text.find('\n'), text.size());
          auto line = text.substr(0, end);
          text.remove_prefix(std::min(end + 1, text.size()));
          if (!line.empty() && lines.insert(line).second) (out += line) += '\n';
        }
      }
      return out;
    });
    if (!added) {
      std::cerr << "certherd: rate-limit budgets: " << added.error().message << "\n";
      budgets_failed = true;
    }
  }
  std::cout << fmt::format(
      "certherd: to {}: {} certificate{} copied, {} already there, {} not copied; {} account{} "
      "copied, {} already there, {} not copied; rate-limit budgets {}. The source is left as it "
      "was.\n",
      to == "etcd" ? fmt::format("etcd (ETCD_PREFIX={})", shared.cfg.etcd_prefix)
                   : "STATE_DIR=" + shared.cfg.state_dir,
      records.copied, records.copied == 1 ? "" : "s", records.already, records.skipped,
      accounts_copied, accounts_copied == 1 ? "" : "s", accounts_already, accounts_skipped,
      budgets_failed ? "not copied" : "added");
  return records.skipped + accounts_skipped == 0 && !budgets_failed ? exit_ok : exit_failed;
}

}  // namespace certherd::controller
