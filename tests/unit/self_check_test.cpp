// The HTTP-01 self-check's rules (clients/acme/self_check.hpp), row by row: which redirects the
// CA follows and where they lead, how a body is compared, what of a hostile body reaches a log
// line, and which addresses are tried in which order. The I/O is tested against a real nginx
// (tests/integration/self_check_test.cpp).
#include "clients/acme/self_check.hpp"

#include <gtest/gtest.h>

namespace certherd::acme {
namespace {

const std::string kFrom = "http://a.example.com/.well-known/acme-challenge/tok";

struct redirect_row {
  const char* location;
  const char* leads_to;  ///< nullptr: the CA does not follow it
  const char* why;       ///< a fragment of the reason when it does not
};

class Redirects : public ::testing::TestWithParam<redirect_row> {};

TEST_P(Redirects, FollowedAsTheCaFollowsThem) {
  const auto& row = GetParam();
  std::string why;
  auto next = follow_redirect(kFrom, row.location, why);
  if (row.leads_to) {
    ASSERT_TRUE(next) << why;
    EXPECT_EQ(*next, row.leads_to);
  } else {
    ASSERT_FALSE(next) << "followed to " << *next;
    EXPECT_NE(why.find(row.why), std::string::npos) << why;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, Redirects,
    ::testing::Values(
        redirect_row{"http://b.example.com/x", "http://b.example.com/x", ""},
        redirect_row{"https://b.example.com/.well-known/acme-challenge/tok",
                     "https://b.example.com/.well-known/acme-challenge/tok", ""},
        redirect_row{"HTTPS://b.example.com/x", "https://b.example.com/x", ""},
        redirect_row{"http://b.example.com:80/x", "http://b.example.com:80/x", ""},
        redirect_row{"https://b.example.com:443/x", "https://b.example.com:443/x", ""},
        // Relative references resolve against the URL that answered (RFC 3986 §5).
        redirect_row{"/other/tok", "http://a.example.com/other/tok", ""},
        redirect_row{"tok2", "http://a.example.com/.well-known/acme-challenge/tok2", ""},
        redirect_row{"//c.example.com/y", "http://c.example.com/y", ""},
        redirect_row{"http://b.example.com/x#frag", "http://b.example.com/x", ""},
        // What the CA refuses to follow.
        redirect_row{"ftp://b.example.com/x", nullptr, "only http and https"},
        redirect_row{"file:///etc/passwd", nullptr, "only http and https"},
        redirect_row{"http://b.example.com:8080/x", nullptr, "only to ports 80 and 443"},
        redirect_row{"https://b.example.com:8443/x", nullptr, "only to ports 80 and 443"},
        redirect_row{"http://203.0.113.7/x", nullptr, "not IP addresses"},
        redirect_row{"http://[2001:db8::7]/x", nullptr, "not IP addresses"},
        redirect_row{"http://exa mple.com/x", nullptr, "not a URL"},
        redirect_row{"http://b.example.com:080/x", "http://b.example.com:080/x", ""},
        redirect_row{"http://127.1/x", nullptr, "not a domain name"},
        redirect_row{"http://2130706433/x", nullptr, "not a domain name"},
        redirect_row{"http://localhost/x", nullptr, "not a domain name"},
        redirect_row{"http://under_score.example.com/x", nullptr, "not a domain name"},
        redirect_row{"http://a%0d%0ab.example.com/x", nullptr, "not a domain name"},
        redirect_row{"http://\x01/x", nullptr, "not a URL"}));

TEST(SelfCheck, TheReasonForARefusedRedirectEscapesWhatTheServerSent) {
  std::string why;
  ASSERT_FALSE(follow_redirect(kFrom, "gopher://x/\"\n\x1b[31mforged line", why));
  EXPECT_EQ(why.find('\n'), std::string::npos) << why;
  EXPECT_EQ(why.find('\x1b'), std::string::npos) << why;
}

TEST(SelfCheck, TheKeyAuthorizationIsComparedAsTheCaDoes) {
  EXPECT_TRUE(is_key_authorization("tok.thumb", "tok.thumb"));
  EXPECT_TRUE(is_key_authorization("tok.thumb\n", "tok.thumb")) << "trailing white space";
  EXPECT_TRUE(is_key_authorization("tok.thumb \r\n\t", "tok.thumb"));
  EXPECT_FALSE(is_key_authorization(" tok.thumb", "tok.thumb")) << "leading white space";
  EXPECT_FALSE(is_key_authorization("tok.thumbX", "tok.thumb"));
  EXPECT_FALSE(is_key_authorization("tok.thum", "tok.thumb"));
  EXPECT_FALSE(is_key_authorization("", "tok.thumb"));
  EXPECT_FALSE(is_key_authorization("", "")) << "nothing published matches nothing";
  EXPECT_FALSE(is_key_authorization("<html>tok.thumb</html>", "tok.thumb"));
}

TEST(SelfCheck, AnExcerptIsShortAndSafeForALogLine) {
  EXPECT_EQ(excerpt("plain text"), "plain text");
  EXPECT_EQ(excerpt("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(excerpt("line\nforged=1"), "line\\nforged=1");
  EXPECT_EQ(excerpt(std::string("\x00\x1b\x7f\xff", 4)), "\\x00\\x1b\\x7f\\xff");
  EXPECT_EQ(excerpt(std::string(100, 'x'), 10), std::string(10, 'x') + "…");
  EXPECT_EQ(excerpt(""), "");
}

TEST(SelfCheck, OnlyAnotherTokensKeyAuthorizationIsQuoted) {
  const std::string ka = "tok.thumb_print";
  EXPECT_EQ(what_was_sent("stale-token.thumb_print\n", "text/plain", ka),
            "the key authorization of another token, stale-token");
  EXPECT_EQ(what_was_sent("", "text/plain", ka), "nothing");
  // Whatever else a server (perhaps an internal one a redirect led to) sent stays out of logs,
  // a bare token-like secret too.
  EXPECT_EQ(what_was_sent("{\"AccessKeyId\":\"AKIA...\"}", "application/json", ka),
            "25 bytes of application/json");
  EXPECT_EQ(what_was_sent("<html>secret</html>", "", ka), "19 bytes");
  EXPECT_EQ(what_was_sent("AKIAIOSFODNN7EXAMPLE", "text/plain", ka), "20 bytes of text/plain");
  EXPECT_EQ(what_was_sent("a/b.thumb_print", "text/plain", ka), "15 bytes of text/plain")
      << "not a token";
  EXPECT_EQ(what_was_sent("<", "text/html\r\nX-Forged: 1", ka),
            "1 byte of text/html\\x0d\\nX-Forged: 1");
}

TEST(SelfCheck, IPv6FirstThenIPv4AsTheCaTriesThem) {
  using v = std::vector<std::string>;
  EXPECT_EQ(validator_addresses({"203.0.113.7", "2001:db8::7", "203.0.113.8", "2001:db8::8"}),
            (v{"2001:db8::7", "203.0.113.7"}));
  EXPECT_EQ(validator_addresses({"203.0.113.7", "203.0.113.8"}), (v{"203.0.113.7"}));
  EXPECT_EQ(validator_addresses({"2001:db8::7"}), (v{"2001:db8::7"}));
  EXPECT_EQ(validator_addresses({}), v{});
  EXPECT_EQ(validator_addresses({"not an address", "198.51.100.1"}), (v{"198.51.100.1"}));
}

TEST(SelfCheck, TheChallengeUrlIsOnPort80) {
  EXPECT_EQ(challenge_url("a.example.com", "tok_-9"),
            "http://a.example.com/.well-known/acme-challenge/tok_-9");
}

}  // namespace
}  // namespace certherd::acme
