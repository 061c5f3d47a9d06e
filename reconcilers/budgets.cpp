#include "reconcilers/budgets.hpp"

#include <algorithm>
#include <charconv>

namespace certherd::reconcilers {

using namespace std::chrono_literals;

std::chrono::seconds rate_limit::interval() const {
  if (capacity <= 0) return period;
  return std::chrono::seconds((period.count() + capacity - 1) / capacity);
}

std::vector<rate_limit> letsencrypt_limits() {
  return {
      {"new_orders", 300, 3h},
      {"certificates_per_domain", 50, 7 * 24h},
      {"duplicate_certificates", 5, 7 * 24h},
      {"failed_authorizations", 5, 1h},
      {"new_accounts", 10, 3h},
  };
}

budgets::budgets(std::vector<rate_limit> limits) : limits_(std::move(limits)) {
  std::erase_if(limits_, [](const rate_limit& l) {
    return l.capacity <= 0 || l.period <= std::chrono::seconds(0);
  });
}

const rate_limit* budgets::find(std::string_view name) const {
  for (const auto& l : limits_)
    if (l.name == name) return &l;
  return nullptr;
}

// GCRA: an event is allowed at t when TAT <= t + burst offset, the offset being (capacity - 1)
// intervals: exactly `capacity` at once from an untouched bucket, even when the period does not
// divide by the capacity.
std::chrono::seconds burst_offset(const rate_limit& l) {
  return l.interval() * (l.capacity - 1);
}
std::optional<sys_seconds> budgets::available_at(const rate_limit& l, const std::string& key,
                                                 sys_seconds now) const {
  auto it = tat_.find({l.name, key});
  if (it == tat_.end()) return std::nullopt;
  auto at = it->second - burst_offset(l);
  if (at <= now) return std::nullopt;
  return at;
}

std::optional<budget_wait> budgets::wait_for(const std::vector<charge>& charges,
                                             sys_seconds now) const {
  std::optional<budget_wait> longest;
  for (const auto& c : charges) {
    const rate_limit* l = find(c.limit);
    if (!l) continue;
    if (auto at = available_at(*l, c.key, now); at && (!longest || *at > longest->until)) {
      longest = budget_wait{*at, c.limit, c.key};
    }
  }
  return longest;
}

void budgets::spend(const std::vector<charge>& charges, sys_seconds now) {
  for (const auto& c : charges) {
    const rate_limit* l = find(c.limit);
    if (!l) continue;
    auto [it, fresh] = tat_.try_emplace({c.limit, c.key}, now);
    it->second = std::max(it->second, now) + l->interval();
    writer_[it->first] = self_;
  }
}

void budgets::refund(const std::vector<charge>& charges) {
  for (const auto& c : charges) {
    const rate_limit* l = find(c.limit);
    if (!l) continue;
    if (auto it = tat_.find({c.limit, c.key}); it != tat_.end()) {
      it->second -= l->interval();
      writer_[it->first] = self_;
    }
  }
}

void budgets::exhausted_until(const charge& c, sys_seconds until, sys_seconds now) {
  const rate_limit* l = find(c.limit);
  if (!l) return;
  until = std::min(until, now + kMaxBlock);
  auto blocked = until + burst_offset(*l);
  auto [it, fresh] = tat_.try_emplace({c.limit, c.key}, blocked);
  it->second = std::max(it->second, blocked);
  writer_[it->first] = self_;
}

int budgets::remaining(const charge& c, sys_seconds now) const {
  const rate_limit* l = find(c.limit);
  if (!l) return 0;
  auto it = tat_.find({c.limit, c.key});
  if (it == tat_.end() || it->second <= now) return l->capacity;
  auto ahead = (it->second - now).count();
  auto step = l->interval().count();
  auto used = (ahead + step - 1) / step;
  return static_cast<int>(std::max<long long>(0, l->capacity - used));
}

std::vector<charge> budgets::spent(sys_seconds now) const {
  std::vector<charge> out;
  for (const auto& [id, tat] : tat_) {
    if (tat > now) out.push_back({id.first, id.second});
  }
  return out;
}

std::string budgets::to_text(sys_seconds now) const {
  std::string out;
  for (const auto& [id, tat] : tat_) {
    if (tat <= now) continue;  // full again: as if never spent
    const auto& [limit, key] = id;
    if (key.find_first_of("\t\r\n") != std::string::npos) continue;
    out += limit;
    out += '\t';
    out += key;
    out += '\t';
    out += std::to_string(tat.time_since_epoch().count());
    // Who set this time last: a process reading its own line back knows it is not another's.
    if (auto w = writer_.find(id); w != writer_.end() && !w->second.empty()) {
      out += '\t';
      out += w->second;
    }
    out += '\n';
  }
  return out;
}

void budgets::load_text(std::string_view text, sys_seconds now, bool skip_own) {
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    auto a = line.find('\t');
    if (a == std::string_view::npos) continue;
    auto b = line.find('\t', a + 1);
    if (b == std::string_view::npos) continue;
    std::string_view limit = line.substr(0, a), key = line.substr(a + 1, b - a - 1),
                     number = line.substr(b + 1), writer;
    // An optional fourth field: who set the time (lines of older versions have none).
    if (auto c = number.find('\t'); c != std::string_view::npos) {
      writer = number.substr(c + 1);
      number = number.substr(0, c);
      if (writer.size() > 64) writer = {};
    }
    if (skip_own && !writer.empty() && writer == self_) continue;
    const rate_limit* l = find(limit);
    if (!l || key.empty()) continue;
    long long seconds = 0;
    auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), seconds);
    if (ec != std::errc() || p != number.data() + number.size()) continue;
    if (seconds < -62135596800LL || seconds > 253402300799LL) continue;  // 0001..9999
    // No line makes a key wait longer than the longest block a CA can set: a TAT written (or
    // damaged) further out would park the key for longer than the CA ever could.
    sys_seconds tat{std::chrono::seconds(seconds)};
    tat = std::min(tat, now + burst_offset(*l) + kMaxBlock);
    auto [it, fresh] = tat_.try_emplace({std::string(limit), std::string(key)}, tat);
    if (fresh || tat > it->second) {
      it->second = tat;
      writer_[it->first] = std::string(writer);
    }
  }
}

}  // namespace certherd::reconcilers
