// Parsing of ACME resources: what RFC 8555 requires is enforced, the rest tolerated.
#include "clients/acme/resources.hpp"

#include <gtest/gtest.h>

namespace certherd::acme {
namespace {

TEST(Resources, DirectoryAsPebbleServesIt) {
  auto d = parse_directory(R"({"keyChange":"https://ca/rollover-account-key",
    "meta":{"externalAccountRequired":false,"termsOfService":"data:text/plain,Do%20what%20thou%20wilt",
            "profiles":{"classic":"90 days","shortlived":"6 days"}},
    "newAccount":"https://ca/sign-me-up","newNonce":"https://ca/nonce-plz",
    "newOrder":"https://ca/order-plz","revokeCert":"https://ca/revoke-cert"})");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->new_nonce, "https://ca/nonce-plz");
  EXPECT_EQ(d->key_change, "https://ca/rollover-account-key");
  EXPECT_EQ(d->profiles, (std::vector<std::string>{"classic", "shortlived"}));
  EXPECT_TRUE(d->renewal_info.empty());
  EXPECT_FALSE(d->external_account_required);
}

TEST(Resources, AProfileIsAskedOnlyOfACaThatOffersIt) {
  directory with;
  with.profiles = {"classic", "tlsserver"};
  EXPECT_EQ(profile_problem(with, ""), std::nullopt) << "the CA's default needs no profiles";
  EXPECT_EQ(profile_problem(with, "tlsserver"), std::nullopt);
  EXPECT_EQ(profile_problem(with, "shortlived"),
            "ACME_PROFILE=shortlived: the CA offers classic, tlsserver (meta.profiles)");
  EXPECT_EQ(profile_problem(directory{}, "classic"),
            "ACME_PROFILE=classic: the CA offers no profiles (no meta.profiles in its directory)");
  directory many;
  for (int i = 0; i < 30; ++i)
    many.profiles.push_back(std::string(100, static_cast<char>('a' + i % 26)));
  auto why = profile_problem(many, "x");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("and 20 more"), std::string::npos) << *why;
  EXPECT_LT(why->size(), 1000u) << "a CA's list does not make a line of any length";
}

TEST(Resources, DirectoryMissingRequiredFields) {
  EXPECT_EQ(parse_directory(R"({"newNonce":"x"})").error().code, errc::bad_response);
  EXPECT_EQ(parse_directory("<html>").error().code, errc::bad_response);
  EXPECT_EQ(parse_directory("[]").error().code, errc::bad_response);
}

TEST(Resources, Order) {
  auto o = parse_order(R"({"status":"valid","expires":"2030-01-01T00:00:00Z",
    "identifiers":[{"type":"dns","value":"a.example"}],"authorizations":["https://ca/authz/1"],
    "finalize":"https://ca/fin/1","certificate":"https://ca/cert/1"})");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, order_status::valid);
  EXPECT_EQ(o->identifiers, (std::vector<identifier>{{"dns", "a.example"}}));
  EXPECT_EQ(o->certificate, "https://ca/cert/1");
  EXPECT_FALSE(parse_order(R"({"status":"valid","authorizations":[],"finalize":"f"})"))
      << "a valid order must name its certificate";
  EXPECT_FALSE(parse_order(R"({"status":"bogus","authorizations":[],"finalize":"f"})"));
  EXPECT_FALSE(parse_order(R"({"status":"pending","authorizations":[1],"finalize":"f"})"));
}

TEST(Resources, InvalidOrderCarriesItsProblem) {
  auto o = parse_order(R"({"status":"invalid","authorizations":[],"finalize":"f",
    "error":{"type":"urn:ietf:params:acme:error:unauthorized","detail":"no"}})");
  ASSERT_TRUE(o);
  ASSERT_TRUE(o->error);
  EXPECT_TRUE(o->error->is("unauthorized"));
}

TEST(Resources, AuthorizationWithChallenges) {
  auto a =
      parse_authorization(R"({"status":"pending","identifier":{"type":"dns","value":"a.example"},
    "challenges":[{"type":"dns-01","url":"https://ca/c/1","token":"t1","status":"pending"},
                  {"type":"http-01","url":"https://ca/c/2","token":"t2","status":"pending"}]})");
  ASSERT_TRUE(a);
  ASSERT_NE(a->find("http-01"), nullptr);
  EXPECT_EQ(a->find("http-01")->token, "t2");
  EXPECT_EQ(a->find("tls-alpn-01"), nullptr);
  EXPECT_FALSE(parse_authorization(R"({"status":"pending","challenges":[]})"));
}

TEST(Resources, ProblemWithSubproblems) {
  auto p = parse_problem(R"({"type":"urn:ietf:params:acme:error:rejectedIdentifier",
    "detail":"some names were rejected","status":400,
    "subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"bad",
                    "identifier":{"type":"dns","value":"x.example"}}]})");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->short_type(), "rejectedIdentifier");
  EXPECT_EQ(p->status, 400u);
  ASSERT_EQ(p->subproblems.size(), 1u);
  EXPECT_EQ(p->subproblems[0].identifier, "x.example");
  error e{errc::server_problem, "https://ca/order-plz", p};
  EXPECT_EQ(e.message(),
            "ACME server refused the request: https://ca/order-plz [rejectedIdentifier 400] some "
            "names were rejected; x.example rejectedIdentifier: bad");
  EXPECT_FALSE(parse_problem("not json"));
  EXPECT_FALSE(parse_problem(R"({"detail":"no type"})"));
}

TEST(Resources, LinkTargets) {
  std::vector<std::string_view> headers{
      R"(<https://ca/dir>;rel="index")",
      R"(<https://ca/cert/1/1>;rel="alternate", <https://ca/cert/1/2>; rel=alternate)",
      R"(<https://ca/x,y>;rel="up alternate")"};
  EXPECT_EQ(
      link_targets(headers, "alternate"),
      (std::vector<std::string>{"https://ca/cert/1/1", "https://ca/cert/1/2", "https://ca/x,y"}));
  EXPECT_EQ(link_targets(headers, "index"), (std::vector<std::string>{"https://ca/dir"}));
  EXPECT_TRUE(link_targets({"garbage", "<unterminated"}, "alternate").empty());
}

TEST(Resources, Payloads) {
  EXPECT_EQ(
      new_order_payload({{"dns", "a.example"}, {"dns", "b.example"}}, ""),
      R"({"identifiers":[{"type":"dns","value":"a.example"},{"type":"dns","value":"b.example"}]})");
  EXPECT_EQ(new_order_payload({{"dns", "a.example"}}, "shortlived"),
            R"({"identifiers":[{"type":"dns","value":"a.example"}],"profile":"shortlived"})");
  EXPECT_EQ(new_account_payload({"mailto:a@b.example"}, false, ""),
            R"({"termsOfServiceAgreed":true,"contact":["mailto:a@b.example"]})");
  EXPECT_EQ(
      new_account_payload({}, true, R"({"x":1})"),
      R"({"termsOfServiceAgreed":true,"onlyReturnExisting":true,"externalAccountBinding":{"x":1}})");
}

}  // namespace
}  // namespace certherd::acme
