#include "controller/fleet_view.hpp"

#include <algorithm>

namespace certherd::controller {
namespace {

constexpr std::array<std::string_view, kCertStates.size()> kStateNames{
    "failing", "expiring", "waiting", "conflict", "pending", "ready"};

int rank(cert_state s) {
  return static_cast<int>(s);
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

std::string haystack_of(const cert_facts& f) {
  std::string out = lowered(f.name);
  for (const auto* list : {&f.hosts, &f.sources}) {
    for (const auto& s : *list) {
      out += '\n';
      out += lowered(s);
    }
  }
  return out;
}

}  // namespace

std::string_view to_string(cert_state s) noexcept {
  return kStateNames[static_cast<std::size_t>(s)];
}

std::optional<cert_state> cert_state_from(std::string_view text) noexcept {
  for (auto s : kCertStates) {
    if (to_string(s) == text) return s;
  }
  return std::nullopt;
}

cert_verdict classify(const cert_facts& f, sys_seconds now) {
  cert_verdict v;
  // The times at which a clock-driven condition below turns: the earliest still to come.
  auto turns_at = [&v, now](sys_seconds t) {
    if (t > now && (!v.recheck_at || t < *v.recheck_at)) v.recheck_at = t;
  };
  std::optional<sys_seconds> window;  // where "expiring" begins
  if (f.held) {
    auto lifetime =
        f.not_after > f.not_before ? f.not_after - f.not_before : sys_seconds::duration{};
    auto within = std::min<sys_seconds::duration>(kExpiringWithin, lifetime / 2);
    window = f.not_after - within;
    turns_at(*window);
    turns_at(f.not_after);  // what the row shows of it changes then (expired)
  }
  bool failed = f.last_failed || f.failures > 0 || f.store_failures > 0;
  // The CA's rateLimited is a wait for its Retry-After, not a fault of the certificate's: it
  // waits until it is issued or fails otherwise.
  bool rate_limited =
      failed && f.last_error_kind == failure_kind::rate_limited && f.store_failures == 0;
  bool waiting = rate_limited || (f.waiting_until && *f.waiting_until > now);
  if (f.waiting_until) turns_at(*f.waiting_until);
  if (failed && !rate_limited) {
    v.state = cert_state::failing;
  } else if (window && now >= *window) {
    v.state = cert_state::expiring;
  } else if (waiting) {
    v.state = cert_state::waiting;
  } else if (!f.conflict.empty()) {
    v.state = cert_state::conflict;
  } else if (!f.reconciled || !f.held) {
    v.state = cert_state::pending;
  } else {
    v.state = cert_state::ready;
  }
  return v;
}

fleet_view::fleet_view(render_fn render) : render_(std::move(render)) {}

void fleet_view::unindex(const fleet_row& row) {
  order_.erase({rank(row.verdict.state), row.facts.name});
  counts_[static_cast<std::size_t>(row.verdict.state)] -= 1;
  if (row.verdict.recheck_at) {
    auto [first, last] = recheck_.equal_range(*row.verdict.recheck_at);
    for (auto it = first; it != last; ++it) {
      if (it->second == row.facts.name) {
        recheck_.erase(it);
        break;
      }
    }
  }
}

void fleet_view::index(const fleet_row& row) {
  order_.insert({rank(row.verdict.state), row.facts.name});
  counts_[static_cast<std::size_t>(row.verdict.state)] += 1;
  if (row.verdict.recheck_at) recheck_.emplace(*row.verdict.recheck_at, row.facts.name);
}

void fleet_view::classify_row(fleet_row& row, sys_seconds now) {
  row.verdict = classify(row.facts, now);
  if (render_) render_(row, now);
}

void fleet_view::put(cert_facts facts, sys_seconds now) {
  auto it = rows_.find(facts.name);
  if (it == rows_.end()) {
    it = rows_.emplace(facts.name, fleet_row{}).first;
  } else {
    unindex(it->second);
  }
  fleet_row& row = it->second;
  row.facts = std::move(facts);
  row.haystack = haystack_of(row.facts);
  classify_row(row, now);
  index(row);
}

void fleet_view::erase(std::string_view name) {
  auto it = rows_.find(name);
  if (it == rows_.end()) return;
  unindex(it->second);
  rows_.erase(it);
}

void fleet_view::advance(sys_seconds now) {
  std::vector<std::string> due;
  for (auto it = recheck_.begin(); it != recheck_.end() && it->first <= now; ++it)
    due.push_back(it->second);
  for (const auto& name : due) {
    auto row = rows_.find(name);
    if (row == rows_.end()) continue;
    unindex(row->second);
    classify_row(row->second, now);
    index(row->second);
  }
}

const fleet_row* fleet_view::find(std::string_view name) const {
  auto it = rows_.find(name);
  return it == rows_.end() ? nullptr : &it->second;
}

fleet_view::selection fleet_view::select(const query& q) const {
  selection out;
  std::string needle = lowered(q.text);
  auto first = order_.begin(), last = order_.end();
  if (q.state) {
    first = order_.lower_bound({rank(*q.state), std::string()});
    last = order_.lower_bound({rank(*q.state) + 1, std::string()});
  } else if (q.attention) {
    last = order_.lower_bound({rank(cert_state::ready), std::string()});
  }
  out.page = std::max<std::size_t>(1, q.page);
  std::size_t skip = q.per_page == 0 ? 0 : (out.page - 1) * q.per_page;
  if (needle.empty()) {
    // No text to match: the counts say how many match, and the page is found by skipping.
    if (q.state) {
      out.matching = count(*q.state);
    } else {
      for (auto s : kCertStates) {
        if (!q.attention || s != cert_state::ready) out.matching += count(s);
      }
    }
    auto it = first;
    for (; skip > 0 && it != last; --skip)
      ++it;
    for (; it != last && (q.per_page == 0 || out.rows.size() < q.per_page); ++it)
      out.rows.push_back(&rows_.find(it->second)->second);
  } else {
    for (auto it = first; it != last; ++it) {
      const fleet_row& row = rows_.find(it->second)->second;
      if (row.haystack.find(needle) == std::string::npos) continue;
      ++out.matching;
      if (skip > 0) {
        --skip;
      } else if (q.per_page == 0 || out.rows.size() < q.per_page) {
        out.rows.push_back(&row);
      }
    }
  }
  out.pages =
      q.per_page == 0 ? 1 : std::max<std::size_t>(1, (out.matching + q.per_page - 1) / q.per_page);
  if (out.page > out.pages) {  // past the end: the last page
    query last = q;
    last.page = out.pages;
    return select(last);
  }
  return out;
}

}  // namespace certherd::controller
