#include "reconcilers/order_budgets.hpp"

#include "clients/log/log.hpp"
#include "pki/registered_domain.hpp"
#include "pki/utc_time.hpp"
#include "stores/atomic_file.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <random>
#include <set>

namespace certherd::reconcilers {
namespace {

constexpr std::string_view kNewOrders = "new_orders";
constexpr std::string_view kPerDomain = "certificates_per_domain";
constexpr std::string_view kDuplicates = "duplicate_certificates";
constexpr std::string_view kFailedAuthz = "failed_authorizations";

std::string words_of(std::string_view limit) {
  if (limit == kNewOrders) return "new orders per account";
  if (limit == kPerDomain) return "certificates per registered domain";
  if (limit == kDuplicates) return "certificates for the same set of names";
  if (limit == kFailedAuthz) return "failed validations per name";
  if (limit == "new_accounts") return "new accounts";
  return std::string(limit);
}

std::string duration_words(std::chrono::seconds s) {
  if (s.count() % 86400 == 0) return fmt::format("{} d", s.count() / 86400);
  if (s.count() % 3600 == 0) return fmt::format("{} h", s.count() / 3600);
  if (s.count() % 60 == 0) return fmt::format("{} min", s.count() / 60);
  return fmt::format("{} s", s.count());
}

std::string set_key(const std::vector<std::string>& hosts) {
  return fmt::format("{}", fmt::join(hosts, ","));
}

bool contains(std::string_view text, std::string_view what) {
  auto it = std::search(text.begin(), text.end(), what.begin(), what.end(),
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  return it != text.end();
}

}  // namespace

outcome<std::vector<rate_limit>> parse_rate_limits(std::string_view text) {
  std::vector<rate_limit> out;
  int number = 0;
  while (!text.empty()) {
    ++number;
    auto end = text.find('\n');
    std::string line(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::vector<std::string> words;
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])))
        ++i;
      size_t j = i;
      while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j])))
        ++j;
      if (j > i) words.push_back(line.substr(i, j - i));
      i = j;
    }
    if (words.empty()) continue;
    auto bad = [&](std::string why) {
      return fail(failure_kind::configuration,
                  fmt::format("RATE_LIMITS line {}: {} (want \"name capacity period\", as "
                              "\"certificates_per_domain 50 7d\")",
                              number, why));
    };
    if (words.size() != 3) return bad(fmt::format("{} words", words.size()));
    static const std::set<std::string, std::less<>> known{"new_orders", "certificates_per_domain",
                                                          "duplicate_certificates",
                                                          "failed_authorizations", "new_accounts"};
    if (!known.contains(words[0])) return bad("unknown limit '" + words[0].substr(0, 64) + "'");
    int capacity = 0;
    auto [p, ec] = std::from_chars(words[1].data(), words[1].data() + words[1].size(), capacity);
    if (ec != std::errc() || p != words[1].data() + words[1].size() || capacity < 1 ||
        capacity > 1'000'000) {
      return bad("capacity must be a whole number from 1 to 1000000");
    }
    const std::string& per = words[2];
    long long amount = 0;
    auto [q, ec2] = std::from_chars(per.data(), per.data() + per.size(), amount);
    std::string_view unit(q, per.data() + per.size());
    long long scale = unit == "s"   ? 1
                      : unit == "m" ? 60
                      : unit == "h" ? 3600
                      : unit == "d" ? 86400
                                    : 0;
    if (ec2 != std::errc() || amount < 1 || scale == 0 || amount > 366LL * 86400 / scale) {
      return bad("period must be a number with s, m, h or d, at most a year");
    }
    if (std::any_of(out.begin(), out.end(), [&](const auto& l) { return l.name == words[0]; })) {
      return bad("'" + words[0] + "' given twice");
    }
    out.push_back({words[0], capacity, std::chrono::seconds(amount * scale)});
  }
  return out;
}

std::vector<charge> order_charges(const cert_spec& spec, const std::optional<local_copy>& local,
                                  bool replaces) {
  std::vector<charge> out;
  const bool same_set =
      local && local->present && local->hosts == spec.hosts && local->directory == spec.directory;
  if (!replaces && !same_set) {
    out.push_back({std::string(kNewOrders), spec.directory});
    std::set<std::string> domains;
    for (const auto& h : spec.hosts)
      domains.insert(pki::registered_domain(h).value_or(h));
    for (const auto& d : domains)
      out.push_back({std::string(kPerDomain), d});
  }
  out.push_back({std::string(kDuplicates), set_key(spec.hosts)});
  // A name that failed validation too often waits: checked, spent only on failure.
  for (const auto& h : spec.hosts)
    out.push_back({std::string(kFailedAuthz), h});
  return out;
}

std::string describe(const budget_wait& w, const std::vector<rate_limit>& limits) {
  std::string bound;
  for (const auto& l : limits) {
    if (l.name == w.limit) bound = fmt::format(", {} per {}", l.capacity, duration_words(l.period));
  }
  return fmt::format("waiting for the {} budget ({}{}) until {}", w.key, words_of(w.limit), bound,
                     pki::to_rfc3339(w.until));
}

order_budgets::order_budgets(std::vector<rate_limit> limits, std::filesystem::path file)
    : order_budgets(
          std::move(limits),
          file.empty() ? nullptr : std::make_unique<stores::file_budget_keeper>(std::move(file))) {}

order_budgets::order_budgets(std::vector<rate_limit> limits,
                             std::unique_ptr<stores::budget_keeper> keeper)
    : b_(std::move(limits)), keeper_(std::move(keeper)) {
  // Who this process is in the kept state's lines: unique per run.
  std::random_device rd;
  b_.set_writer(fmt::format("{:x}-{:08x}{:08x}", static_cast<long>(::getpid()), rd(), rd()));
}

outcome<> order_budgets::load(sys_seconds now) {
  if (!keeper_) return {};
  auto text = keeper_->read();
  if (!text) return text.error();
  b_.load_text(*text, now);
  return {};
}

std::optional<budget_wait> order_budgets::wait_for(const std::vector<charge>& charges,
                                                   sys_seconds now) const {
  return b_.wait_for(charges, now);
}

namespace {
std::vector<charge> without(const std::vector<charge>& charges, std::string_view limit) {
  std::vector<charge> out;
  for (const auto& c : charges)
    if (c.limit != limit) out.push_back(c);
  return out;
}
std::vector<charge> only(const std::vector<charge>& charges,
                         std::initializer_list<std::string_view> limits) {
  std::vector<charge> out;
  for (const auto& c : charges)
    if (std::find(limits.begin(), limits.end(), c.limit) != limits.end()) out.push_back(c);
  return out;
}
}  // namespace

void order_budgets::spend(const std::vector<charge>& charges, sys_seconds now) {
  b_.spend(without(charges, kFailedAuthz), now);
  save(now);
}

void order_budgets::not_issued(const std::vector<charge>& charges, sys_seconds now) {
  b_.refund(only(charges, {kPerDomain, kDuplicates}));
  save(now);
}

void order_budgets::failed_validation(const std::vector<std::string>& hosts, sys_seconds now) {
  std::vector<charge> c;
  for (const auto& h : hosts)
    c.push_back({std::string(kFailedAuthz), h});
  b_.spend(c, now);
  save(now);
}

void order_budgets::rate_limited(const std::vector<charge>& charges, std::string_view detail,
                                 sys_seconds until, sys_seconds now) {
  // Let's Encrypt's details name the limit ("too many new orders", "too many certificates
  // (50) already issued for \"example.com\"", "...exact set of identifiers...", "too many
  // failed authorizations"); a detail naming none blocks what is most likely.
  std::vector<charge> hit;
  if (contains(detail, "new orders")) {
    hit = only(charges, {kNewOrders});
  } else if (contains(detail, "exact set") || contains(detail, "duplicate")) {
    hit = only(charges, {kDuplicates});
  } else if (contains(detail, "failed authorization")) {
    hit = only(charges, {kFailedAuthz});
  } else if (contains(detail, "registered domain") || contains(detail, "already issued for")) {
    hit = only(charges, {kPerDomain});
  }
  if (hit.empty()) hit = only(charges, {kPerDomain, kDuplicates});
  for (const auto& c : hit)
    b_.exhausted_until(c, until, now);
  save(now);
}

std::vector<order_budgets::usage> order_budgets::in_use(sys_seconds now) const {
  std::vector<usage> out;
  for (auto& c : b_.spent(now))
    out.push_back({c.limit, c.key, b_.remaining(c, now)});
  return out;
}

void order_budgets::save(sys_seconds now) {
  if (!keeper_) return;
  // Another process may have spent meanwhile (renew or revoke beside a single instance, a
  // replica that led before): its counts are kept (the later time of each key wins). A line
  // this process set last is not another's spend: a refund made since stands (else every order
  // that issued nothing would keep its certificates_per_domain share for the whole period, and
  // failing hosts would starve the good ones of their domain). Another process's spend names
  // that process, so it is never taken for this one's, whatever its time.
  auto kept = keeper_->update([&](std::string_view theirs) {
    b_.load_text(theirs, now, true);
    return b_.to_text(now);
  });
  if (!kept) {
    if (save_error_ != kept.error().message) {
      log::error("budgets_not_saved", {{"error", kept.error().message}});
    }
    save_error_ = kept.error().message;
  } else {
    save_error_.clear();
  }
}

}  // namespace certherd::reconcilers
