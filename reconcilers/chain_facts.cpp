#include "reconcilers/chain_facts.hpp"

#include "pki/encoding.hpp"
#include "stores/safe_dir.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace certherd::reconcilers {

namespace {

// First line: the format and the anchors' digest. Then one line per certificate, fields
// separated by tabs: name, SHA-256 of the chain's PEM, issuer class, notBefore and notAfter
// (Unix seconds), SHA-256 and SHA-1 of the leaf, the hosts joined by commas, and a check: the
// first 16 hex digits of the SHA-256 of the line before it. A line damaged on disk, whose chain
// digest still matches, is refused rather than believed (a notAfter off by a bit could order).
constexpr std::string_view kHeader = "certherd chain facts 2";
constexpr std::size_t kFields = 9;
constexpr std::size_t kMaxFileSize = std::size_t{512} << 20;
// The times an X.509 certificate can name: years 0001 to 9999.
constexpr long long kEarliest = -62'135'596'800, kLatest = 253'402'300'799;

std::string line_check(std::string_view body) {
  return pki::hex_encode(pki::sha256(body)).substr(0, 16);
}

std::optional<pki::issuer_class> issuer_from(std::string_view s) {
  for (auto c :
       {pki::issuer_class::production, pki::issuer_class::staging, pki::issuer_class::custom,
        pki::issuer_class::self_signed, pki::issuer_class::foreign}) {
    if (pki::to_string(c) == s) return c;
  }
  return std::nullopt;
}

bool is_hex(std::string_view s, std::size_t size) {
  return s.size() == size && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::optional<long long> to_seconds(std::string_view s) {
  long long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < kEarliest || v > kLatest) {
    return std::nullopt;
  }
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto at = s.find(sep);
    out.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return out;
    s.remove_prefix(at + 1);
  }
}

// What a field may hold so that the line reads back as written.
bool writable(std::string_view s, bool in_list) {
  return !s.empty() && std::none_of(s.begin(), s.end(), [in_list](char c) {
    return static_cast<unsigned char>(c) < 0x21 || c == 0x7f || (in_list && c == ',');
  });
}

}  // namespace

std::optional<chain_facts> read_chain_facts(std::string_view chain_pem,
                                            const pki::trust_anchors& anchors) {
  auto chain = pki::parse_pem_chain(chain_pem);
  if (!chain) return std::nullopt;
  const auto& leaf = chain->front();
  chain_facts f;
  f.chain_sha256 = pki::hex_encode(pki::sha256(chain_pem));
  f.hosts = leaf.subject_alt_names();
  std::sort(f.hosts.begin(), f.hosts.end());
  f.issuer = pki::classify(*chain, anchors);
  f.not_before = leaf.not_before();
  f.not_after = leaf.not_after();
  f.fingerprint = leaf.fingerprint_sha256();
  f.fingerprint_sha1 = leaf.fingerprint_sha1();
  return f;
}

chain_facts_memo::chain_facts_memo(std::filesystem::path file, std::string anchors_digest)
    : file_(std::move(file)), anchors_digest_(std::move(anchors_digest)) {}

chain_facts_memo::load_report chain_facts_memo::load() {
  load_report r;
  if (anchors_digest_.empty()) return r;  // anchors nobody can name: nothing is remembered
  // Opened as the store opens its records: a symbolic link is refused, not followed.
  std::string detail;
  auto dir = stores::dir_handle::open(file_.parent_path(), 0700, detail, false);
  if (!dir) {
    r.error = detail;
    return r;
  }
  std::error_code ec;
  auto text = dir->read(file_.filename().string(), ec, kMaxFileSize);
  if (!text) {
    if (ec != std::errc::no_such_file_or_directory) r.error = ec.message();
    return r;
  }
  std::string_view rest = *text;
  auto line_of = [&rest]() -> std::optional<std::string_view> {
    if (rest.empty()) return std::nullopt;
    auto nl = rest.find('\n');
    auto line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    return line;
  };
  auto header = line_of();
  if (!header || *header != fmt::format("{}\t{}", kHeader, anchors_digest_)) {
    // Another format, or other anchors: nothing in it can be trusted to classify.
    while (line_of())
      ++r.skipped;
    return r;
  }
  while (auto line = line_of()) {
    auto f = split(*line, '\t');
    bool whole =
        f.size() == kFields && f[8] == line_check(line->substr(0, line->size() - f[8].size() - 1));
    auto issuer = whole ? issuer_from(f[2]) : std::nullopt;
    auto not_before = whole ? to_seconds(f[3]) : std::nullopt;
    auto not_after = whole ? to_seconds(f[4]) : std::nullopt;
    if (!issuer || !not_before || !not_after || !writable(f[0], false) || !is_hex(f[1], 64) ||
        !is_hex(f[5], 64) || !is_hex(f[6], 40) || !writable(f[7], false)) {
      ++r.skipped;
      continue;
    }
    entry e;
    e.facts.chain_sha256 = std::string(f[1]);
    e.facts.issuer = *issuer;
    e.facts.not_before = std::chrono::sys_seconds(std::chrono::seconds(*not_before));
    e.facts.not_after = std::chrono::sys_seconds(std::chrono::seconds(*not_after));
    e.facts.fingerprint = std::string(f[5]);
    e.facts.fingerprint_sha1 = std::string(f[6]);
    for (auto h : split(f[7], ','))
      e.facts.hosts.emplace_back(h);
    by_name_[std::string(f[0])] = std::move(e);
    ++r.entries;
  }
  return r;
}

std::optional<chain_facts> chain_facts_memo::facts_of(const std::string& name,
                                                      std::string_view chain_pem,
                                                      const pki::trust_anchors& anchors) {
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    auto remembered = std::move(it->second.facts);
    by_name_.erase(it);  // handed out: the caller holds it from now on
    if (remembered.chain_sha256 == pki::hex_encode(pki::sha256(chain_pem))) {
      ++hits_;
      return remembered;
    }
  }
  ++reads_;
  dirty_ = true;
  return read_chain_facts(chain_pem, anchors);
}

void chain_facts_memo::writer::add(const std::string& name, const chain_facts& f) {
  if (!writable(name, false) || f.hosts.empty() || !is_hex(f.chain_sha256, 64) ||
      !std::all_of(f.hosts.begin(), f.hosts.end(),
                   [](const std::string& h) { return writable(h, true); })) {
    return;
  }
  auto body =
      fmt::format("{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}", name, f.chain_sha256, pki::to_string(f.issuer),
                  f.not_before.time_since_epoch().count(), f.not_after.time_since_epoch().count(),
                  f.fingerprint, f.fingerprint_sha1, fmt::join(f.hosts, ","));
  text_ += body;
  text_ += '\t';
  text_ += line_check(body);
  text_ += '\n';
}

chain_facts_memo::writer chain_facts_memo::start_writing() const {
  writer w;
  w.text_ = fmt::format("{}\t{}\n", kHeader, anchors_digest_);
  return w;
}

std::error_code chain_facts_memo::write(writer w, std::string& detail) {
  if (anchors_digest_.empty()) return {};  // nothing can be remembered for such anchors
  auto dir = stores::dir_handle::open(file_.parent_path(), 0700, detail, false);
  if (!dir) {
    if (detail.empty()) detail = file_.parent_path().string() + ": no such folder";
    return std::make_error_code(std::errc::no_such_file_or_directory);
  }
  stores::named_content file{file_.filename().string(), std::move(w.text_), 0600};
  auto ec = dir->write(std::span(&file, 1), detail);
  if (!ec) {
    dirty_ = false;
    by_name_.clear();
  }
  return ec;
}

}  // namespace certherd::reconcilers
