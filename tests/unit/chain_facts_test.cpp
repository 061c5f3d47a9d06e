// The memo of what held chains say: remembered only for the same chain bytes and the same trust
// anchors, read again otherwise, and a damaged file costs time, never a wrong answer.
#include "reconcilers/chain_facts.hpp"

#include "pki/encoding.hpp"
#include "stores/atomic_file.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <iterator>

namespace certherd::reconcilers {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
const pki::sys_seconds kNow{std::chrono::seconds(1'800'000'000)};

struct fixture {
  pki::private_key ca_key = *pki::private_key::generate(pki::key_type::ec256);
  pki::certificate ca = *pki::make_ca_certificate(ca_key, "Memo Test Root", kNow, 24h * 365);
  pki::trust_anchors anchors{{}, {ca}, {}, 0, "staging-anchors-digest"};
  fs::path dir = fs::temp_directory_path() / ("chain-facts-test." + std::to_string(::getpid()));
  fs::path file = dir / "chain-facts";

  fixture() { fs::create_directories(dir); }
  ~fixture() { fs::remove_all(dir); }

  std::string chain(const std::vector<std::string>& hosts) const {
    auto key = *pki::private_key::generate(pki::key_type::ec256);
    return sign_certificate(ca, ca_key, key, hosts, kNow, 24h * 90)->pem() + ca.pem();
  }
  std::string read() const {
    std::ifstream in(file);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  void write(const std::string& text) const { std::ofstream(file) << text; }
  // What the controller does: the facts it holds now, written as the new file.
  void save(chain_facts_memo& memo,
            const std::vector<std::pair<std::string, chain_facts>>& held) const {
    auto w = memo.start_writing();
    for (const auto& [name, facts] : held)
      w.add(name, facts);
    std::string detail;
    ASSERT_FALSE(memo.write(std::move(w), detail)) << detail;
  }
  // Asks the memo for a chain's facts, as the reconciler does, and keeps them.
  void ask(chain_facts_memo& memo, std::vector<std::pair<std::string, chain_facts>>& held,
           const std::string& name, const std::string& pem) const {
    auto facts = memo.facts_of(name, pem, anchors);
    ASSERT_TRUE(facts);
    held.emplace_back(name, *facts);
  }
};

TEST(ChainFacts, ReadThenRememberedAcrossARestart) {
  fixture f;
  auto pem = f.chain({"b.example", "a.example"});
  auto direct = read_chain_facts(pem, f.anchors);
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->issuer, pki::issuer_class::staging);
  EXPECT_EQ(direct->hosts, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(direct->chain_sha256, pki::hex_encode(pki::sha256(pem)));
  {
    chain_facts_memo memo(f.file, f.anchors.digest);
    EXPECT_EQ(memo.load().entries, 0u);
    EXPECT_EQ(memo.facts_of("web", pem, f.anchors), direct);
    EXPECT_EQ(memo.reads(), 1u);
    EXPECT_TRUE(memo.dirty());
    f.save(memo, {{"web", *direct}});
    EXPECT_FALSE(memo.dirty());
  }
  chain_facts_memo again(f.file, f.anchors.digest);
  EXPECT_EQ(again.load().entries, 1u);
  EXPECT_EQ(again.facts_of("web", pem, f.anchors), direct);
  EXPECT_EQ(again.hits(), 1u);
  EXPECT_EQ(again.reads(), 0u);
  EXPECT_FALSE(again.dirty());
  EXPECT_EQ(fs::status(f.file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST(ChainFacts, AnotherChainOrOtherAnchorsAreReadAgain) {
  fixture f;
  auto first = f.chain({"a.example"});
  auto renewed = f.chain({"a.example"});
  {
    chain_facts_memo memo(f.file, f.anchors.digest);
    memo.load();
    std::vector<std::pair<std::string, chain_facts>> held;
    f.ask(memo, held, "a", first);
    f.save(memo, held);
  }
  chain_facts_memo memo(f.file, f.anchors.digest);
  memo.load();
  auto facts = memo.facts_of("a", renewed, f.anchors);
  ASSERT_TRUE(facts);
  EXPECT_EQ(facts, read_chain_facts(renewed, f.anchors));
  EXPECT_NE(facts, read_chain_facts(first, f.anchors));
  EXPECT_EQ(memo.reads(), 1u);

  // The same chain, but the CA's root now counts as production: the file says nothing then.
  pki::trust_anchors moved{{f.ca}, {}, {}, 0, "production-anchors-digest"};
  chain_facts_memo other(f.file, moved.digest);
  auto loaded = other.load();
  EXPECT_EQ(loaded.entries, 0u);
  EXPECT_EQ(loaded.skipped, 1u);
  auto now = other.facts_of("a", first, moved);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->issuer, pki::issuer_class::production);
  EXPECT_EQ(other.reads(), 1u);
}

TEST(ChainFacts, DamagedLinesAreSkippedNeverBelieved) {
  fixture f;
  auto pem = f.chain({"a.example"});
  {
    chain_facts_memo memo(f.file, f.anchors.digest);
    std::vector<std::pair<std::string, chain_facts>> held;
    f.ask(memo, held, "a", pem);
    f.ask(memo, held, "b", f.chain({"b.example"}));
    f.save(memo, held);
  }
  auto text = f.read();
  auto second_line = text.find('\n') + 1;
  auto third_line = text.find('\n', second_line) + 1;
  std::string a_line = text.substr(second_line, third_line - second_line);
  std::string b_line = text.substr(third_line);
  ASSERT_EQ(a_line.substr(0, 2), "a\t");
  std::string header = text.substr(0, second_line);
  // A line cut short, an unknown issuer kind, a time that is not a number.
  auto damaged = [&](std::string line, const std::string& from, const std::string& to) {
    auto at = line.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return line.replace(at, from.size(), to);
  };
  f.write(header + a_line.substr(0, 40) + "\n" + damaged(b_line, "\tstaging\t", "\tprod\t") +
          damaged(a_line, "\tstaging\t", "\tstaging\tx") + b_line.substr(0, b_line.size() - 1));
  chain_facts_memo memo(f.file, f.anchors.digest);
  auto loaded = memo.load();
  EXPECT_EQ(loaded.skipped, 3u);
  EXPECT_EQ(loaded.entries, 1u);  // b's last line, whole but for its newline
  EXPECT_EQ(memo.facts_of("a", pem, f.anchors), read_chain_facts(pem, f.anchors));
  EXPECT_EQ(memo.reads(), 1u);

  f.write("not a memo at all\n\x01\x02\n");
  chain_facts_memo junk(f.file, f.anchors.digest);
  EXPECT_EQ(junk.load().entries, 0u);
  EXPECT_EQ(junk.facts_of("a", pem, f.anchors), read_chain_facts(pem, f.anchors));
}

// Remembered facts are handed out once: the asker holds them (one copy in memory), and what
// is written is what the asker holds then.
TEST(ChainFacts, HandedOutOnceAndWrittenFromWhatIsHeld) {
  fixture f;
  auto a = f.chain({"a.example"});
  auto b = f.chain({"b.example"});
  {
    chain_facts_memo memo(f.file, f.anchors.digest);
    std::vector<std::pair<std::string, chain_facts>> held;
    f.ask(memo, held, "a", a);
    f.ask(memo, held, "b", b);
    f.save(memo, held);
  }
  {
    chain_facts_memo memo(f.file, f.anchors.digest);
    EXPECT_EQ(memo.load().entries, 2u);
    std::vector<std::pair<std::string, chain_facts>> held;
    f.ask(memo, held, "a", a);
    EXPECT_EQ(memo.hits(), 1u);
    f.ask(memo, held, "a", a);  // asked again: it was handed out, so it is read
    EXPECT_EQ(memo.reads(), 1u);
    f.ask(memo, held, "c", f.chain({"c.example"}));
    held.erase(held.begin() + 1);  // one "a" is enough; "b" was never asked for (its record went)
    f.save(memo, held);
    EXPECT_FALSE(memo.dirty());
  }
  chain_facts_memo memo(f.file, f.anchors.digest);
  EXPECT_EQ(memo.load().entries, 2u);  // a and c
  EXPECT_TRUE(memo.facts_of("b", b, f.anchors));
  EXPECT_EQ(memo.reads(), 1u);
}

TEST(ChainFacts, WhatTheFileCannotHoldIsLeftOut) {
  fixture f;
  chain_facts_memo memo(f.file, f.anchors.digest);
  EXPECT_FALSE(memo.facts_of("junk", "not a chain", f.anchors));
  auto pem = f.chain({"a.example"});
  auto facts = *memo.facts_of("a", pem, f.anchors);
  auto comma = facts;
  comma.hosts = {"a.example,b.example"};
  auto no_digest = facts;
  no_digest.chain_sha256 = "";
  f.save(memo, {{"name with\ttab", facts},
                {"name\nline", facts},
                {"comma", comma},
                {"nodigest", no_digest},
                {"fine", facts}});
  chain_facts_memo again(f.file, f.anchors.digest);
  auto loaded = again.load();
  EXPECT_EQ(loaded.entries, 1u);
  EXPECT_EQ(loaded.skipped, 0u);
  EXPECT_EQ(again.facts_of("fine", pem, f.anchors), facts);
  EXPECT_EQ(again.hits(), 1u);
}

TEST(ChainFacts, AnUnreadableFileIsReportedAndIgnored) {
  fixture f;
  fs::create_directories(f.file);  // a folder where the file should be
  chain_facts_memo memo(f.file, f.anchors.digest);
  auto loaded = memo.load();
  EXPECT_FALSE(loaded.error.empty());
  EXPECT_EQ(loaded.entries, 0u);
  auto pem = f.chain({"a.example"});
  auto facts = memo.facts_of("a", pem, f.anchors);
  EXPECT_EQ(facts, read_chain_facts(pem, f.anchors));
  auto w = memo.start_writing();
  w.add("a", *facts);
  std::string detail;
  EXPECT_TRUE(memo.write(std::move(w), detail));  // cannot replace a folder: said, not thrown
  EXPECT_FALSE(detail.empty());
  EXPECT_TRUE(memo.dirty());
}

// A line whose every field reads but which is not the line written (a bit flipped on disk, an
// edit by hand) is refused: a notAfter off by a little could make certherd order again.
TEST(ChainFacts, ALineThatIsNotTheOneWrittenIsRefused) {
  fixture f;
  auto pem = f.chain({"a.example"});
  chain_facts_memo memo(f.file, f.anchors.digest);
  std::vector<std::pair<std::string, chain_facts>> held;
  f.ask(memo, held, "a", pem);
  f.save(memo, held);
  auto text = f.read();
  auto body_at = text.find('\n') + 1;
  auto fields_of = [](std::string line) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (true) {
      auto tab = line.find('\t', at);
      out.push_back(line.substr(at, tab - at));
      if (tab == std::string::npos) return out;
      at = tab + 1;
    }
  };
  auto fields = fields_of(text.substr(body_at, text.size() - body_at - 1));
  ASSERT_EQ(fields.size(), 9u);
  auto with = [&](std::size_t index, const std::string& value, bool fix_check) {
    auto g = fields;
    g[index] = value;
    std::string body;
    for (std::size_t i = 0; i + 1 < g.size(); ++i)
      body += (i ? "\t" : "") + g[i];
    auto check = fix_check ? pki::hex_encode(pki::sha256(body)).substr(0, 16) : g[8];
    return text.substr(0, body_at) + body + "\t" + check + "\n";
  };
  auto loads = [&](const std::string& content) {
    f.write(content);
    chain_facts_memo m(f.file, f.anchors.digest);
    return m.load().entries;
  };
  EXPECT_EQ(loads(text), 1u);
  EXPECT_EQ(loads(with(4, std::to_string(std::stoll(fields[4]) - 86400), false)), 0u);
  EXPECT_EQ(loads(with(2, "production", false)), 0u);
  // The check fixed up too (written by someone who knows the format): still no time a
  // certificate cannot name.
  EXPECT_EQ(loads(with(4, "99999999999999", true)), 0u);
  EXPECT_EQ(loads(with(3, "-99999999999999", true)), 0u);
  EXPECT_EQ(loads(with(4, std::to_string(std::stoll(fields[4]) - 86400), true)), 1u);
}

TEST(ChainFacts, AnchorsWithoutADigestRememberNothing) {
  fixture f;
  auto pem = f.chain({"a.example"});
  pki::trust_anchors unnamed{{}, {f.ca}, {}, 0, ""};
  chain_facts_memo memo(f.file, unnamed.digest);
  auto facts = memo.facts_of("a", pem, unnamed);
  ASSERT_TRUE(facts);
  f.save(memo, {{"a", *facts}});
  EXPECT_FALSE(std::filesystem::exists(f.file));
}

TEST(ChainFacts, ALinkOrAFifoInItsPlaceIsNotFollowed) {
  fixture f;
  auto pem = f.chain({"a.example"});
  {
    chain_facts_memo memo(f.file, f.anchors.digest);
    std::vector<std::pair<std::string, chain_facts>> held;
    f.ask(memo, held, "a", pem);
    f.save(memo, held);
  }
  fs::rename(f.file, f.dir / "elsewhere");
  fs::create_symlink(f.dir / "elsewhere", f.file);
  chain_facts_memo linked(f.file, f.anchors.digest);
  auto loaded = linked.load();
  EXPECT_EQ(loaded.entries, 0u);
  EXPECT_FALSE(loaded.error.empty());
  fs::remove(f.file);
  ASSERT_EQ(::mkfifo(f.file.c_str(), 0600), 0);
  chain_facts_memo fifo(f.file, f.anchors.digest);  // must not wait for a writer
  loaded = fifo.load();
  EXPECT_EQ(loaded.entries, 0u);
  EXPECT_FALSE(loaded.error.empty());
}

}  // namespace
}  // namespace certherd::reconcilers
