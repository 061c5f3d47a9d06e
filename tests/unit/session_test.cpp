// The ACME flows driven by scripted server answers, no sockets: every step of an issuance is
// checked in order, then each step is failed in turn, and every error branch has its own case.
#include "clients/acme/session.hpp"

#include "clients/acme/jws.hpp"
#include "pki/certificate.hpp"
#include "pki/encoding.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <sstream>

namespace certherd::acme {
namespace {

using namespace std::chrono_literals;

const std::string kDirectory = R"({"newNonce":"https://ca/nonce","newAccount":"https://ca/new-acct",
  "newOrder":"https://ca/new-order","revokeCert":"https://ca/revoke","keyChange":"https://ca/key-change",
  "meta":{"termsOfService":"https://ca/tos"}})";

std::string describe(const action& a) {
  if (auto* s = std::get_if<send_request>(&a)) {
    return fmt::format("{} {}", http::to_string(s->request.verb), s->request.url);
  }
  if (std::holds_alternative<sleep_for>(a)) return "sleep";
  if (auto* p = std::get_if<present_challenge>(&a)) return "present " + p->identifier;
  if (auto* c = std::get_if<check_challenge>(&a)) return "check " + c->identifier;
  return "remove " + std::get<remove_challenge>(a).identifier;
}

int nonce_counter = 0;

action_result reply(unsigned status, std::string body, std::vector<http::header> headers = {}) {
  action_result r;
  r.response.status = status;
  r.response.body = std::move(body);
  r.response.headers = std::move(headers);
  r.response.headers.push_back({"Replay-Nonce", fmt::format("nonce-{}", ++nonce_counter)});
  r.now = std::chrono::system_clock::now();
  return r;
}

action_result ok() {
  return action_result{};
}

action_result refused() {
  action_result r;
  r.ec = std::make_error_code(std::errc::connection_refused);
  r.detail = "connect https://ca: Connection refused";
  return r;
}

std::string problem_body(std::string_view type, std::string_view detail) {
  return fmt::format(R"({{"type":"urn:ietf:params:acme:error:{}","detail":"{}"}})", type, detail);
}

struct step {
  std::string expect;
  action_result answer;
};

// Decoded view of a JWS request body.
struct signed_body {
  rapidjson::Document header;
  std::string payload;
};

signed_body decode(const action& a) {
  signed_body out;
  rapidjson::Document jws;
  jws.Parse(std::get<send_request>(a).request.body.c_str());
  out.header.Parse(pki::base64url_decode(jws["protected"].GetString())->c_str());
  out.payload = *pki::base64url_decode(jws["payload"].GetString());
  return out;
}

/// Runs a flow against a script. Past the script's end every request fails (so a flow that asks
/// for more cannot hang the test) and the extra actions are reported as failures.
template <class T>
T run(flow<T> f, const std::vector<step>& script, std::vector<action>* seen = nullptr) {
  flow_runner<T> runner(std::move(f));
  std::optional<action> next = runner.start();
  std::size_t i = 0;
  while (next) {
    if (seen) seen->push_back(*next);
    std::string got = describe(*next);
    if (i < script.size()) {
      EXPECT_EQ(got, script[i].expect) << "step " << i;
      next = runner.resume(script[i].answer);
    } else {
      ADD_FAILURE() << "action beyond the script: " << got;
      next = runner.resume(refused());
    }
    ++i;
  }
  EXPECT_EQ(i, script.size()) << "the flow ended before the script did";
  return runner.get();
}

class Session : public ::testing::Test {
 protected:
  Session()
      : key_(*pki::private_key::generate(pki::key_type::ec256)),
        cert_key_(*pki::private_key::generate(pki::key_type::ec256)) {}

  session make(session_options o = {}) {
    session s("https://ca/dir", key_, o);
    return s;
  }

  std::vector<step> account_steps() {
    return {{"GET https://ca/dir", reply(200, kDirectory)},
            {"HEAD https://ca/nonce", reply(200, "")},
            {"POST https://ca/new-acct",
             reply(201, R"({"status":"valid"})", {{"Location", "https://ca/acct/1"}})}};
  }

  std::string chain(std::string_view issuer_cn) {
    auto leaf = *pki::make_self_signed(
        cert_key_, {"a.example", "b.example"},
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()), 24h);
    auto top = *pki::make_self_signed(
        cert_key_, {std::string(issuer_cn)},
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()), 24h);
    return leaf.pem() + top.pem();
  }

  static std::string authz(std::string_view name, std::string_view status,
                           std::string_view challenge_status = "pending",
                           std::string_view challenge_type = "http-01",
                           std::string_view challenge_error = "") {
    return fmt::format(
        R"({{"status":"{}","identifier":{{"type":"dns","value":"{}"}},"challenges":[
        {{"type":"{}","url":"https://ca/chall/{}","token":"tok-{}","status":"{}"{}}}]}})",
        status, name, challenge_type, name, name, challenge_status,
        challenge_error.empty() ? "" : fmt::format(R"(,"error":{})", challenge_error));
  }

  static std::string order(std::string_view status, std::string_view cert = "") {
    return fmt::format(
        R"({{"status":"{}","identifiers":[{{"type":"dns","value":"a.example"}},{{"type":"dns","value":"b.example"}}],
        "authorizations":["https://ca/authz/a.example","https://ca/authz/b.example"],
        "finalize":"https://ca/fin/1"{}}})",
        status, cert.empty() ? "" : fmt::format(R"(,"certificate":"{}")", cert));
  }

  order_request request(std::string preferred = "") {
    return {{"a.example", "b.example"},
            *pki::make_csr_der(cert_key_, {"a.example", "b.example"}),
            "",
            preferred};
  }

  // The whole issuance: a.example's authorization is reused (already valid), b.example is proved.
  std::vector<step> issue_steps(const std::string& pem) {
    return {
        {"POST https://ca/new-order",
         reply(201, order("pending"), {{"Location", "https://ca/order/1"}})},
        {"POST https://ca/authz/a.example", reply(200, authz("a.example", "valid", "valid"))},
        {"POST https://ca/authz/b.example", reply(200, authz("b.example", "pending"))},
        {"present b.example", ok()},
        {"check b.example", ok()},
        {"POST https://ca/chall/b.example",
         reply(200, R"({"type":"http-01","status":"processing"})")},
        {"POST https://ca/authz/b.example",
         reply(200, authz("b.example", "pending", "processing"), {{"Retry-After", "2"}})},
        {"sleep", ok()},
        {"POST https://ca/authz/b.example", reply(200, authz("b.example", "valid", "valid"))},
        {"remove b.example", ok()},
        {"POST https://ca/order/1", reply(200, order("ready"))},
        {"POST https://ca/fin/1", reply(200, order("processing"))},
        {"POST https://ca/order/1", reply(200, order("processing"), {{"Retry-After", "1"}})},
        {"sleep", ok()},
        {"POST https://ca/order/1", reply(200, order("valid", "https://ca/cert/1"))},
        {"POST https://ca/cert/1",
         reply(200, pem, {{"Link", R"(<https://ca/cert/1/alt>;rel="alternate")"}})},
    };
  }

  pki::private_key key_;
  pki::private_key cert_key_;
};

TEST_F(Session, RegistersAccountWithContactAndTerms) {
  auto s = make();
  std::vector<action> seen;
  auto steps = account_steps();
  std::string head_nonce = steps[1].answer.response.headers.back().value;
  auto acct = run(s.register_account({{"mailto:ops@example.com"}, "", ""}), steps, &seen);
  ASSERT_TRUE(acct) << acct.error();
  EXPECT_EQ(acct->url, "https://ca/acct/1");
  EXPECT_EQ(s.account_url(), "https://ca/acct/1");
  auto body = decode(seen[2]);
  EXPECT_TRUE(body.header.HasMember("jwk")) << "newAccount is signed with the JWK";
  EXPECT_EQ(body.payload, R"({"termsOfServiceAgreed":true,"contact":["mailto:ops@example.com"]})");
  EXPECT_EQ(std::string(body.header["nonce"].GetString()), head_nonce);
}

TEST_F(Session, IssuesThroughEveryStep) {
  auto s = make();
  ASSERT_TRUE(run(s.register_account({}), account_steps()));
  std::string pem = chain("Root A");
  std::vector<action> seen;
  auto issued = run(s.issue(request()), issue_steps(pem), &seen);
  ASSERT_TRUE(issued) << issued.error();
  EXPECT_EQ(issued->chain_pem, pem);
  EXPECT_EQ(issued->order_url, "https://ca/order/1");
  EXPECT_EQ(issued->alternate_urls, (std::vector<std::string>{"https://ca/cert/1/alt"}));

  // Every POST after the first is signed with the nonce of the answer just before it, with kid.
  int posts = 0;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    auto* send = std::get_if<send_request>(&seen[i]);
    if (!send) continue;
    auto body = decode(seen[i]);
    EXPECT_EQ(std::string(body.header["kid"].GetString()), "https://ca/acct/1");
    EXPECT_EQ(std::string(body.header["url"].GetString()), send->request.url);
    ++posts;
  }
  EXPECT_EQ(posts, 11);
  auto present = std::get<present_challenge>(seen[3]);
  EXPECT_EQ(present.token, "tok-b.example");
  EXPECT_EQ(present.key_authorization, key_authorization("tok-b.example", key_));
  auto check = std::get<check_challenge>(seen[4]);
  EXPECT_EQ(check.token, "tok-b.example") << "the self-check looks before the CA is told to";
  EXPECT_EQ(check.key_authorization, present.key_authorization);
  EXPECT_EQ(decode(seen[5]).payload, "{}") << "a challenge is triggered with {}";
  // Each request is labelled with its RFC 8555 resource (a metrics label), never by its text.
  EXPECT_EQ(std::get<send_request>(seen[0]).endpoint, "newOrder");
  EXPECT_EQ(std::get<send_request>(seen[1]).endpoint, "postAsGet");
  EXPECT_EQ(std::get<send_request>(seen[5]).endpoint, "challenge");
  EXPECT_EQ(std::get<send_request>(seen[11]).endpoint, "finalize");
  EXPECT_EQ(std::get<send_request>(seen.back()).endpoint, "certificate");
  EXPECT_EQ(decode(seen[1]).payload, "") << "reads are POST-as-GET";
  EXPECT_EQ(std::get<sleep_for>(seen[7]).duration, 2s) << "Retry-After is honoured";
  EXPECT_EQ(std::get<sleep_for>(seen[13]).duration, 1s) << "and on order polls";
  auto fin = decode(seen[11]).payload;
  EXPECT_TRUE(fin.starts_with(R"({"csr":")")) << "finalize carries the CSR: " << fin;
  auto& download = std::get<send_request>(seen.back()).request;
  EXPECT_NE(std::find(download.headers.begin(), download.headers.end(),
                      http::header{"Accept", "application/pem-certificate-chain"}),
            download.headers.end());
}

TEST_F(Session, FailingAnyStepEndsWithAnErrorAndWithdrawsChallenges) {
  std::string pem = chain("Root A");
  auto script = issue_steps(pem);
  for (std::size_t k = 0; k < script.size(); ++k) {
    // A failed self-check looks again; SelfCheck.* below has its own cases.
    if (script[k].expect.starts_with("sleep") || script[k].expect.starts_with("remove") ||
        script[k].expect.starts_with("check")) {
      continue;
    }
    SCOPED_TRACE(fmt::format("failing step {} ({})", k, script[k].expect));
    session_options no_retries;
    no_retries.max_transport_retries = 0;
    auto s = make(no_retries);
    ASSERT_TRUE(run(s.register_account({}), account_steps()));
    flow_runner<result<issued_certificate>> runner(s.issue(request()));
    std::optional<action> next = runner.start();
    std::size_t i = 0;
    bool presented = false, removed = false;
    while (next) {
      std::string got = describe(*next);
      if (i < k) {
        ASSERT_EQ(got, script[i].expect);
        presented |= got.starts_with("present");
        removed |= got.starts_with("remove");
        next = runner.resume(script[i].answer);
      } else {
        if (i > k) {
          EXPECT_TRUE(got.starts_with("remove")) << "after the failure only cleanup: " << got;
        }
        removed |= got.starts_with("remove");
        next = runner.resume(i == k ? refused() : ok());
      }
      ++i;
    }
    auto r = runner.get();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, script[k].expect.starts_with("present") ? errc::challenge_setup_failed
                                                                      : errc::transport);
    EXPECT_NE(r.error().message().find("Connection refused"), std::string::npos) << r.error();
    if (presented) {
      EXPECT_TRUE(removed) << "a published challenge is always withdrawn";
    }
  }
}

// Issue 9 (CA faults): a request that gets no answer is sent again after a pause, signed anew,
// so one lost answer anywhere in an issuance costs seconds, not the reconcile's backoff.
TEST_F(Session, EveryStepSurvivesOneLostAnswer) {
  std::string pem = chain("Root A");
  auto script = issue_steps(pem);
  for (std::size_t k = 0; k < script.size(); ++k) {
    if (!script[k].expect.starts_with("POST")) continue;
    SCOPED_TRACE(fmt::format("losing the answer of step {} ({})", k, script[k].expect));
    auto s = make();
    ASSERT_TRUE(run(s.register_account({}), account_steps()));
    auto lossy = script;
    // No answer, no nonce: the retry fetches one.
    lossy.insert(lossy.begin() + static_cast<std::ptrdiff_t>(k),
                 {{script[k].expect, refused()},
                  {"sleep", ok()},
                  {"HEAD https://ca/nonce", reply(200, "")}});
    std::vector<action> seen;
    auto issued = run(s.issue(request()), lossy, &seen);
    ASSERT_TRUE(issued) << issued.error();
    EXPECT_EQ(std::get<sleep_for>(seen[k + 1]).duration, 1s);
    EXPECT_NE(decode(seen[k]).header["nonce"], decode(seen[k + 3]).header["nonce"])
        << "a retry is signed with a fresh nonce";
  }
}

TEST_F(Session, RetriesOfLostAnswersAreCappedAndBackOff) {
  auto s = make();
  s.set_account_url("https://ca/acct/1");
  std::vector<action> seen;
  auto r = run(s.post("https://ca/x", std::string("{}")),
               {{"GET https://ca/dir", refused()},
                {"sleep", ok()},
                {"GET https://ca/dir", reply(200, kDirectory)},
                {"HEAD https://ca/nonce", reply(504, "")},
                {"sleep", ok()},
                {"HEAD https://ca/nonce", reply(200, "")},
                {"POST https://ca/x", refused()},
                {"sleep", ok()},
                {"HEAD https://ca/nonce", reply(200, "")},
                {"POST https://ca/x", refused()},
                {"sleep", ok()},
                {"HEAD https://ca/nonce", reply(200, "")},
                {"POST https://ca/x", refused()},
                {"sleep", ok()},
                {"HEAD https://ca/nonce", reply(200, "")},
                {"POST https://ca/x", refused()}},
               &seen);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::transport);
  EXPECT_EQ(std::get<sleep_for>(seen[7]).duration, 1s);
  EXPECT_EQ(std::get<sleep_for>(seen[10]).duration, 2s);
  EXPECT_EQ(std::get<sleep_for>(seen[13]).duration, 4s);
}

TEST_F(Session, LastingFailuresAreNotSentAgain) {
  auto s = make();
  action_result untrusted = refused();
  untrusted.detail = "TLS handshake with https://ca: certificate verify failed";
  untrusted.lasting = true;
  auto r = run(s.load_directory(), {{"GET https://ca/dir", untrusted}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("certificate verify failed"), std::string::npos);
}

TEST_F(Session, AFailureAfterRetriesNamesTheFirstOneToo) {
  auto s = make();
  action_result timed_out = refused();
  timed_out.detail = "read https://ca: timed out";
  action_result deadline = refused();
  deadline.detail = "the operation's deadline passed";
  deadline.lasting = true;
  auto r =
      run(s.load_directory(),
          {{"GET https://ca/dir", timed_out}, {"sleep", ok()}, {"GET https://ca/dir", deadline}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("deadline passed"), std::string::npos) << r.error();
  EXPECT_NE(r.error().message().find("the first time: read https://ca: timed out"),
            std::string::npos)
      << r.error();
}

TEST_F(Session, UnavailableHonoursAShortRetryAfterOnly) {
  auto s = make();
  s.set_account_url("https://ca/acct/1");
  std::vector<action> seen;
  auto r = run(s.post("https://ca/x", std::string("{}")),
               {{"GET https://ca/dir", reply(200, kDirectory)},
                {"HEAD https://ca/nonce", reply(200, "")},
                {"POST https://ca/x", reply(503, "", {{"Retry-After", "7"}})},
                {"sleep", ok()},
                {"POST https://ca/x", reply(200, "{}")}},
               &seen);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(std::get<sleep_for>(seen[3]).duration, 7s);
  // A long Retry-After is the reconcile's to wait for (its backoff honours it).
  auto busy = run(s.post("https://ca/x", std::string("{}")),
                  {{"POST https://ca/x", reply(503, problem_body("serverInternal", "maintenance"),
                                               {{"Retry-After", "3600"}})}});
  ASSERT_FALSE(busy);
  ASSERT_TRUE(busy.error().server);
  EXPECT_EQ(busy.error().server->retry_after, 3600s);
  // Other errors are not sent again.
  auto refused_once = run(s.post("https://ca/x", std::string("{}")),
                          {{"POST https://ca/x", reply(500, problem_body("serverInternal", "x"))}});
  ASSERT_FALSE(refused_once);
}

TEST_F(Session, LostFinalizeAnswerFindsTheOrderFinalized) {
  auto s = make();
  ASSERT_TRUE(run(s.register_account({}), account_steps()));
  std::string pem = chain("Root A");
  auto script = issue_steps(pem);
  auto fin = std::find_if(script.begin(), script.end(),
                          [](const step& st) { return st.expect == "POST https://ca/fin/1"; });
  ASSERT_NE(fin, script.end());
  // The CA finalized the order, but its answer was lost; the second finalize finds it done.
  fin = script.insert(fin, {{"POST https://ca/fin/1", refused()},
                            {"sleep", ok()},
                            {"HEAD https://ca/nonce", reply(200, "")},
                            {"POST https://ca/fin/1",
                             reply(403, problem_body("orderNotReady", "order is processing"))}});
  *(fin + 4) = {"POST https://ca/order/1", reply(200, order("processing"))};
  auto issued = run(s.issue(request()), script);
  ASSERT_TRUE(issued) << issued.error();
  EXPECT_EQ(issued->chain_pem, pem);
}

TEST_F(Session, LostChallengeAnswerIsNotTakenForAFailure) {
  auto s = make();
  ASSERT_TRUE(run(s.register_account({}), account_steps()));
  std::string pem = chain("Root A");
  auto script = issue_steps(pem);
  auto ch = std::find_if(script.begin(), script.end(), [](const step& st) {
    return st.expect == "POST https://ca/chall/b.example";
  });
  ASSERT_NE(ch, script.end());
  // The CA started the validation, but its answer was lost; sent again, the challenge is
  // refused as already processing: the authorization shows it started, and the order goes on.
  *ch = {"POST https://ca/chall/b.example",
         reply(400, problem_body("malformed", "Cannot update challenge with status processing"))};
  ch = script.insert(ch, {{"POST https://ca/chall/b.example", refused()},
                          {"sleep", ok()},
                          {"HEAD https://ca/nonce", reply(200, "")}});
  script.insert(ch + 4, {"POST https://ca/authz/b.example",
                         reply(200, authz("b.example", "pending", "processing"))});
  auto issued = run(s.issue(request()), script);
  ASSERT_TRUE(issued) << issued.error();
}

TEST_F(Session, ChallengeRefusedBeforeItStartedStillFails) {
  auto s = make();
  ASSERT_TRUE(run(s.register_account({}), account_steps()));
  auto script = issue_steps(chain("Root A"));
  script.resize(5);  // up to the challenge trigger (the self-check passed)
  script.push_back({"POST https://ca/chall/b.example",
                    reply(403, problem_body("unauthorized", "account may not validate"))});
  script.push_back({"POST https://ca/authz/b.example", reply(200, authz("b.example", "pending"))});
  script.push_back({"remove b.example", ok()});
  auto issued = run(s.issue(request()), script);
  ASSERT_FALSE(issued);
  ASSERT_TRUE(issued.error().server);
  EXPECT_TRUE(issued.error().server->is("unauthorized"));
}

TEST_F(Session, ManyBadNoncesInARowArePaced) {
  session_options o;
  o.max_bad_nonce_retries = kBadNoncesWithoutPause + 2;
  auto s = make(o);
  s.set_account_url("https://ca/acct/1");
  std::vector<step> script{{"GET https://ca/dir", reply(200, kDirectory)},
                           {"HEAD https://ca/nonce", reply(200, "")}};
  for (int i = 0; i < kBadNoncesWithoutPause; ++i)
    script.push_back({"POST https://ca/x", reply(400, problem_body("badNonce", "stale"))});
  script.push_back({"sleep", ok()});
  script.push_back({"POST https://ca/x", reply(400, problem_body("badNonce", "stale"))});
  script.push_back({"sleep", ok()});
  script.push_back({"POST https://ca/x", reply(200, "{}")});
  std::vector<action> seen;
  auto r = run(s.post("https://ca/x", std::string("{}")), script, &seen);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(std::get<sleep_for>(seen[2 + kBadNoncesWithoutPause]).duration, 50ms);
  EXPECT_EQ(std::get<sleep_for>(seen[4 + kBadNoncesWithoutPause]).duration, 100ms);
}

TEST_F(Session, BadNonceIsReSignedWithTheFreshNonce) {
  auto s = make();
  s.set_account_url("https://ca/acct/1");
  std::vector<action> seen;
  auto bad =
      reply(400, problem_body("badNonce", "stale"), {{"Content-Type", "application/problem+json"}});
  std::string fresh = bad.response.headers.back().value;
  auto r = run(s.post("https://ca/x", std::string("{}")),
               {{"GET https://ca/dir", reply(200, kDirectory)},
                {"HEAD https://ca/nonce", reply(200, "")},
                {"POST https://ca/x", bad},
                {"POST https://ca/x", reply(200, "{}")}},
               &seen);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(std::string(decode(seen[3]).header["nonce"].GetString()), fresh);
}

TEST_F(Session, BadNonceRetriesAreCapped) {
  session_options o;
  o.max_bad_nonce_retries = 2;
  auto s = make(o);
  s.set_account_url("https://ca/acct/1");
  auto bad = [] { return reply(400, problem_body("badNonce", "stale")); };
  auto r = run(s.post("https://ca/x", std::string("{}")),
               {{"GET https://ca/dir", reply(200, kDirectory)},
                {"HEAD https://ca/nonce", reply(200, "")},
                {"POST https://ca/x", bad()},
                {"POST https://ca/x", bad()},
                {"POST https://ca/x", bad()}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::bad_nonce_exhausted);
}

TEST_F(Session, RateLimitCarriesRetryAfter) {
  auto s = make();
  s.set_account_url("https://ca/acct/1");
  auto r =
      run(s.issue(request()), {{"GET https://ca/dir", reply(200, kDirectory)},
                               {"HEAD https://ca/nonce", reply(200, "")},
                               {"POST https://ca/new-order",
                                reply(429, problem_body("rateLimited", "too many certificates"),
                                      {{"Retry-After", "3600"}})}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::server_problem);
  ASSERT_TRUE(r.error().server);
  EXPECT_TRUE(r.error().server->is("rateLimited"));
  EXPECT_EQ(r.error().server->retry_after, 3600s);
  EXPECT_EQ(r.error().server->status, 429u);
}

TEST_F(Session, DirectoryFailures) {
  {
    session_options no_retries;
    no_retries.max_transport_retries = 0;
    auto s = make(no_retries);
    auto r = run(s.load_directory(), {{"GET https://ca/dir", reply(503, "busy")}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::server_problem);
  }
  {
    auto s = make();
    auto r = run(s.load_directory(), {{"GET https://ca/dir", reply(200, "<html>hi</html>")}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::bad_response);
    EXPECT_NE(r.error().detail.find("is not an ACME directory"), std::string::npos);
  }
  {
    auto s = make();
    s.set_account_url("https://ca/acct/1");
    action_result no_nonce;
    no_nonce.response.status = 200;
    auto r =
        run(s.post("https://ca/x", std::nullopt),
            {{"GET https://ca/dir", reply(200, kDirectory)}, {"HEAD https://ca/nonce", no_nonce}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::bad_response);
  }
}

TEST_F(Session, AccountFailures) {
  {
    auto s = make();
    auto r = run(s.register_account({}),
                 {{"GET https://ca/dir", reply(200, kDirectory)},
                  {"HEAD https://ca/nonce", reply(200, "")},
                  {"POST https://ca/new-acct", reply(200, R"({"status":"deactivated"})",
                                                     {{"Location", "https://ca/acct/1"}})}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::account_not_valid);
    EXPECT_TRUE(s.account_url().empty());
  }
  {
    auto s = make();
    auto r = run(s.register_account({}),
                 {{"GET https://ca/dir", reply(200, kDirectory)},
                  {"HEAD https://ca/nonce", reply(200, "")},
                  {"POST https://ca/new-acct", reply(201, R"({"status":"valid"})")}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::bad_response);
  }
  {
    std::string eab_dir = kDirectory;
    eab_dir.insert(eab_dir.rfind('}', eab_dir.rfind('}') - 1),
                   R"(,"externalAccountRequired":true)");
    auto s = make();
    auto r = run(s.register_account({}), {{"GET https://ca/dir", reply(200, eab_dir)}});
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find("External Account Binding"), std::string::npos);
  }
  {
    auto s = make();  // a request that needs an account before there is one
    auto r = run(s.post("https://ca/x", std::nullopt), {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::account_not_valid);
  }
}

TEST_F(Session, ExternalAccountBindingIsSent) {
  auto s = make();
  std::vector<action> seen;
  auto r = run(s.register_account({{}, "kid-7", pki::base64url_encode("0123456789abcdef")}),
               account_steps(), &seen);
  ASSERT_TRUE(r);
  rapidjson::Document payload;
  payload.Parse(decode(seen[2]).payload.c_str());
  ASSERT_TRUE(payload.HasMember("externalAccountBinding"));
  EXPECT_TRUE(payload["externalAccountBinding"].HasMember("signature"));
}

class IssueFailure : public Session {
 protected:
  result<issued_certificate> issue_with(std::vector<step> tail) {
    auto s = make();
    s.set_account_url("https://ca/acct/1");
    std::vector<step> script{
        {"GET https://ca/dir", reply(200, kDirectory)},
        {"HEAD https://ca/nonce", reply(200, "")},
        {"POST https://ca/new-order",
         reply(201, order("pending"), {{"Location", "https://ca/order/1"}})},
        {"POST https://ca/authz/a.example", reply(200, authz("a.example", "valid", "valid"))}};
    script.insert(script.end(), tail.begin(), tail.end());
    return run(s.issue(request()), script);
  }
};

TEST_F(IssueFailure, ValidationFails) {
  auto r =
      issue_with({{"POST https://ca/authz/b.example", reply(200, authz("b.example", "pending"))},
                  {"present b.example", ok()},
                  {"check b.example", ok()},
                  {"POST https://ca/chall/b.example", reply(200, "{}")},
                  {"POST https://ca/authz/b.example",
                   reply(200, authz("b.example", "invalid", "invalid", "http-01",
                                    problem_body("connection", "Connection refused")))},
                  {"remove b.example", ok()}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::authorization_failed);
  ASSERT_TRUE(r.error().server);
  EXPECT_TRUE(r.error().server->is("connection"));
  EXPECT_NE(r.error().message().find("b.example is invalid"), std::string::npos) << r.error();
}

// Issue 11 §3: the CA is told to validate only a challenge certherd saw answer its key
// authorization; one that never does is looked at three times, its authorizations are
// deactivated and the CA never validates (no failed validation is spent).
TEST_F(IssueFailure, SelfCheckThatNeverPassesNeverAsksTheCa) {
  action_result wrong;
  wrong.ec = std::make_error_code(std::errc::protocol_error);
  wrong.detail =
      "b.example answered 404 from 127.0.0.1:80 — is /.well-known/acme-challenge/ routed";
  std::vector<action> seen;
  auto s = make();
  s.set_account_url("https://ca/acct/1");
  auto r =
      run(s.issue(request()),
          {{"GET https://ca/dir", reply(200, kDirectory)},
           {"HEAD https://ca/nonce", reply(200, "")},
           {"POST https://ca/new-order",
            reply(201, order("pending"), {{"Location", "https://ca/order/1"}})},
           {"POST https://ca/authz/a.example", reply(200, authz("a.example", "valid", "valid"))},
           {"POST https://ca/authz/b.example", reply(200, authz("b.example", "pending"))},
           {"present b.example", ok()},
           {"check b.example", wrong},
           {"sleep", ok()},
           {"check b.example", wrong},
           {"sleep", ok()},
           {"check b.example", wrong},
           {"POST https://ca/authz/b.example", reply(200, authz("b.example", "deactivated"))},
           {"remove b.example", ok()}},
          &seen);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::self_check_failed);
  EXPECT_NE(r.error().message().find("answered 404 from 127.0.0.1:80"), std::string::npos)
      << r.error();
  EXPECT_NE(r.error().message().find("the CA was not asked to validate"), std::string::npos);
  EXPECT_EQ(std::get<sleep_for>(seen[7]).duration, 1s);
  EXPECT_EQ(std::get<sleep_for>(seen[9]).duration, 2s);
  EXPECT_EQ(decode(seen[11]).payload, R"({"status":"deactivated"})")
      << "the pending authorization is given up (RFC 8555 §7.5.2)";
}

TEST_F(IssueFailure, SelfCheckThatPassesOnALaterLookGoesOn) {
  action_result refused_once = refused();
  auto r =
      issue_with({{"POST https://ca/authz/b.example", reply(200, authz("b.example", "pending"))},
                  {"present b.example", ok()},
                  {"check b.example", refused_once},
                  {"sleep", ok()},
                  {"check b.example", ok()},
                  {"POST https://ca/chall/b.example", reply(200, "{}")},
                  {"POST https://ca/authz/b.example",
                   reply(200, authz("b.example", "invalid", "invalid", "http-01",
                                    problem_body("unauthorized", "404")))},
                  {"remove b.example", ok()}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::authorization_failed) << "the CA was asked after the second look";
}

// Issue 11 §4: a profile the directory does not offer is never asked for: no order is made.
TEST_F(IssueFailure, AProfileTheCaDoesNotOfferOrdersNothing) {
  auto s = make();
  s.set_account_url("https://ca/acct/1");
  auto req = request();
  req.profile = "tlsserver";
  auto r = run(s.issue(req), {{"GET https://ca/dir", reply(200, kDirectory)}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unsupported_profile);
  EXPECT_NE(r.error().message().find("the CA offers no profiles"), std::string::npos) << r.error();
}

// A CA's authorization for a name the order did not ask for is never proved, published or
// looked at (a made-up identifier would aim the self-check anywhere).
TEST_F(IssueFailure, AnAuthorizationForANameNotAskedForIsRefused) {
  auto r = issue_with(
      {{"POST https://ca/authz/b.example", reply(200, authz("10.0.0.5:8080", "pending"))}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::bad_response);
  EXPECT_NE(r.error().message().find("which the order did not ask for"), std::string::npos)
      << r.error();
}

TEST_F(IssueFailure, AuthorizationAlreadyDead) {
  auto r = issue_with(
      {{"POST https://ca/authz/b.example", reply(200, authz("b.example", "deactivated"))}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::authorization_failed);
}

TEST_F(IssueFailure, NoHttp01Offered) {
  auto r = issue_with({{"POST https://ca/authz/b.example",
                        reply(200, authz("b.example", "pending", "pending", "dns-01"))}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unsupported_challenge);
}

TEST_F(IssueFailure, PresenterFails) {
  action_result failed;
  failed.ec = std::make_error_code(std::errc::permission_denied);
  failed.detail = "cannot write /srv/webroot/.well-known/acme-challenge/tok: Permission denied";
  auto r =
      issue_with({{"POST https://ca/authz/b.example", reply(200, authz("b.example", "pending"))},
                  {"present b.example", failed}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::challenge_setup_failed);
  EXPECT_NE(r.error().detail.find("Permission denied"), std::string::npos);
}

TEST_F(IssueFailure, OrderTurnsInvalidAtFinalize) {
  std::string invalid = order("invalid");
  invalid.insert(invalid.rfind('}'),
                 R"(,"error":{"type":"urn:ietf:params:acme:error:badCSR","detail":"bad"})");
  auto r = issue_with(
      {{"POST https://ca/authz/b.example", reply(200, authz("b.example", "valid", "valid"))},
       {"POST https://ca/order/1", reply(200, order("ready"))},
       {"POST https://ca/fin/1", reply(200, invalid)}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::order_invalid);
  ASSERT_TRUE(r.error().server);
  EXPECT_TRUE(r.error().server->is("badCSR"));
}

TEST_F(IssueFailure, NotAPemChain) {
  auto r = issue_with(
      {{"POST https://ca/authz/b.example", reply(200, authz("b.example", "valid", "valid"))},
       {"POST https://ca/order/1", reply(200, order("valid", "https://ca/cert/1"))},
       {"POST https://ca/cert/1", reply(200, "<html>")}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_certificate);
}

TEST_F(Session, PollingGivesUpAtItsBound) {
  session_options o;
  o.poll = {100ms, 100ms, 1.0, 1s, 300ms};
  // The order stays pending: a first look, three more in the 300 ms bound, then it gives up.
  auto s2 = make(o);
  s2.set_account_url("https://ca/acct/1");
  std::vector<step> order_script{
      {"GET https://ca/dir", reply(200, kDirectory)},
      {"HEAD https://ca/nonce", reply(200, "")},
      {"POST https://ca/new-order",
       reply(201, order("pending"), {{"Location", "https://ca/order/1"}})},
      {"POST https://ca/authz/a.example", reply(200, authz("a.example", "valid", "valid"))},
      {"POST https://ca/authz/b.example", reply(200, authz("b.example", "valid", "valid"))}};
  order_script.push_back({"POST https://ca/order/1", reply(200, order("pending"))});
  for (int i = 0; i < 3; ++i) {
    order_script.push_back({"sleep", ok()});
    order_script.push_back({"POST https://ca/order/1", reply(200, order("pending"))});
  }
  auto r = run(s2.issue(request()), order_script);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::poll_exhausted);
  EXPECT_NE(r.error().detail.find("still pending"), std::string::npos) << r.error();
}

TEST_F(Session, PreferredChainFromAlternates) {
  std::string a = chain("Root A"), b = chain("Root B");
  for (auto [preferred, expected] : {std::pair{"Root B", b}, std::pair{"Root C", a}}) {
    auto s = make();
    s.set_account_url("https://ca/acct/1");
    auto r = run(
        s.issue(request(preferred)),
        {{"GET https://ca/dir", reply(200, kDirectory)},
         {"HEAD https://ca/nonce", reply(200, "")},
         {"POST https://ca/new-order",
          reply(201, order("valid", "https://ca/cert/1"), {{"Location", "https://ca/order/1"}})},
         {"POST https://ca/authz/a.example", reply(200, authz("a.example", "valid", "valid"))},
         {"POST https://ca/authz/b.example", reply(200, authz("b.example", "valid", "valid"))},
         {"POST https://ca/cert/1",
          reply(200, a, {{"Link", R"(<https://ca/cert/1/1>;rel="alternate")"}})},
         {"POST https://ca/cert/1/1", reply(200, b)}});
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->chain_pem, expected) << preferred;
  }
}

TEST_F(Session, RevokeSendsCertificateAndReason) {
  auto s = make();
  s.set_account_url("https://ca/acct/1");
  std::vector<action> seen;
  auto r = run(s.revoke("DER", 4),
               {{"GET https://ca/dir", reply(200, kDirectory)},
                {"HEAD https://ca/nonce", reply(200, "")},
                {"POST https://ca/revoke", reply(200, "")}},
               &seen);
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(decode(seen[2]).payload, R"({"certificate":"REVS","reason":4})");
}

TEST_F(Session, KeyChangeNestsAnInnerJwsByTheNewKey) {
  auto s = make();
  s.set_account_url("https://ca/acct/1");
  auto new_key = *pki::private_key::generate(pki::key_type::ec384);
  std::vector<action> seen;
  auto r = run(s.change_key(new_key),
               {{"GET https://ca/dir", reply(200, kDirectory)},
                {"HEAD https://ca/nonce", reply(200, "")},
                {"POST https://ca/key-change", reply(200, "{}")}},
               &seen);
  ASSERT_TRUE(r) << r.error();
  auto outer = decode(seen[2]);
  EXPECT_EQ(std::string(outer.header["kid"].GetString()), "https://ca/acct/1");
  rapidjson::Document inner;
  inner.Parse(outer.payload.c_str());
  rapidjson::Document inner_header;
  inner_header.Parse(pki::base64url_decode(inner["protected"].GetString())->c_str());
  EXPECT_EQ(std::string(inner_header["alg"].GetString()), "ES384");
  EXPECT_FALSE(inner_header.HasMember("nonce"));
  EXPECT_EQ(std::string(inner_header["url"].GetString()), "https://ca/key-change");
  auto inner_payload = *pki::base64url_decode(inner["payload"].GetString());
  EXPECT_EQ(inner_payload, R"({"account":"https://ca/acct/1","oldKey":)" + jwk_json(key_) + "}");
  EXPECT_EQ(s.account_key().public_der(), new_key.public_der());
}

TEST_F(Session, ActionsPrintReadably) {
  std::ostringstream os;
  os << action{sleep_for{250ms}} << ' ' << action{present_challenge{"a.example", "t", "k"}};
  EXPECT_EQ(os.str(), "sleep_for{250ms} present_challenge{a.example t}");
}

}  // namespace
}  // namespace certherd::acme
