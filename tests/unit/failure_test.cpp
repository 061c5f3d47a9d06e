// The error model (design/0004-errors.md): each ACME problem type and each flow error becomes
// its kind, each kind its backoff, and the kinds' names round-trip (they are metric labels and
// are kept in the store).
#include "reconcilers/failure.hpp"
#include "reconcilers/renewal_policy.hpp"

#include <gtest/gtest.h>

namespace certherd::reconcilers {
namespace {

using namespace std::chrono_literals;

struct problem_row {
  const char* type;
  failure_kind kind;
  std::chrono::seconds first_wait;  ///< after the first failure, without Retry-After
};

class ProblemTypes : public ::testing::TestWithParam<problem_row> {};

TEST_P(ProblemTypes, MapToTheirKindAndBackoff) {
  const auto& row = GetParam();
  acme::error e{acme::errc::server_problem, "https://ca/new-order", acme::problem{}};
  e.server->type = std::string("urn:ietf:params:acme:error:") + row.type;
  e.server->detail = "the CA's words";
  auto f = failure_from(e);
  EXPECT_EQ(f.kind, row.kind) << row.type;
  EXPECT_EQ(f.problem_type, row.type);
  EXPECT_NE(f.message.find("the CA's words"), std::string::npos) << f.message;
  const sys_seconds t{std::chrono::seconds(1'800'000'000)};
  EXPECT_EQ(next_retry_time(1, t, f.kind, std::nullopt) - t, row.first_wait) << row.type;
}

INSTANTIATE_TEST_SUITE_P(
    Rfc8555, ProblemTypes,
    ::testing::Values(problem_row{"rateLimited", failure_kind::rate_limited, 1h},
                      problem_row{"badNonce", failure_kind::bad_nonce, 1min},
                      problem_row{"unauthorized", failure_kind::unauthorized, 1min},
                      problem_row{"incorrectResponse", failure_kind::validation, 1min},
                      problem_row{"connection", failure_kind::validation, 1min},
                      problem_row{"dns", failure_kind::validation, 1min},
                      problem_row{"tls", failure_kind::validation, 1min},
                      problem_row{"caa", failure_kind::caa, 1min},
                      problem_row{"rejectedIdentifier", failure_kind::rejected_identifier, 1min},
                      problem_row{"unsupportedIdentifier", failure_kind::rejected_identifier, 1min},
                      problem_row{"serverInternal", failure_kind::server_internal, 1min},
                      problem_row{"accountDoesNotExist", failure_kind::account_unknown, 1min},
                      problem_row{"badCSR", failure_kind::internal, 1min},
                      problem_row{"orderNotReady", failure_kind::ca_refused, 1min},
                      problem_row{"externalAccountRequired", failure_kind::ca_refused, 1min}),
    [](const auto& info) { return std::string(info.param.type); });

TEST(Failure, RancherErrorsByWhatRancherSaid) {
  struct row {
    unsigned status;
    const char* code;
    failure_kind kind;
  };
  for (auto [status, code, kind] : {
           row{0, "transport", failure_kind::transport},
           row{0, "decode", failure_kind::target_refused},
           row{401, "Unauthorized", failure_kind::configuration},
           row{403, "Forbidden", failure_kind::configuration},
           row{404, "NotFound", failure_kind::target_refused},
           row{409, "Conflict", failure_kind::target_refused},
           row{422, "NotUnique", failure_kind::target_refused},
           row{503, "ServiceUnavailable", failure_kind::target_refused},
       }) {
    rancher::error e;
    e.status = status;
    e.code = code;
    e.message = "Rancher's words";
    auto f = failure_from(e);
    EXPECT_EQ(f.kind, kind) << status;
    EXPECT_NE(f.message.find("Rancher's words"), std::string::npos) << f.message;
    EXPECT_TRUE(f.problem_type.empty()) << "a problem type is the CA's only";
  }
}

TEST(Failure, WithinNamesWhereAndKeepsTheRest) {
  failure f = fail(failure_kind::rate_limited, "too many");
  f.problem_type = "rateLimited";
  f.retry_after = std::chrono::seconds(30);
  auto g = f.within("store");
  EXPECT_EQ(g.message, "store: too many");
  EXPECT_EQ(g.kind, failure_kind::rate_limited);
  EXPECT_EQ(g.problem_type, "rateLimited");
  EXPECT_EQ(g.retry_after, std::chrono::seconds(30));
}

TEST(Failure, FlowErrorsWithoutAProblem) {
  using acme::errc;
  struct row {
    errc code;
    failure_kind kind;
  };
  for (auto [code, kind] : {row{errc::transport, failure_kind::transport},
                            row{errc::bad_response, failure_kind::ca_misbehaved},
                            row{errc::bad_nonce_exhausted, failure_kind::bad_nonce},
                            row{errc::account_not_valid, failure_kind::unauthorized},
                            row{errc::order_invalid, failure_kind::ca_refused},
                            row{errc::authorization_failed, failure_kind::validation},
                            row{errc::unsupported_challenge, failure_kind::ca_refused},
                            row{errc::challenge_setup_failed, failure_kind::challenge_setup},
                            row{errc::poll_exhausted, failure_kind::server_internal},
                            row{errc::invalid_certificate, failure_kind::ca_misbehaved},
                            row{errc::crypto_failure, failure_kind::internal},
                            row{errc::self_check_failed, failure_kind::challenge_setup},
                            row{errc::unsupported_profile, failure_kind::configuration}}) {
    acme::error e{code, "detail", std::nullopt};
    EXPECT_EQ(failure_from(e).kind, kind) << static_cast<int>(code);
  }
}

TEST(Failure, AFailedAuthorizationTakesItsChallengeErrorsKind) {
  acme::error e{acme::errc::authorization_failed, "a.example.com is invalid", acme::problem{}};
  e.server->type = "urn:ietf:params:acme:error:caa";
  EXPECT_EQ(failure_from(e).kind, failure_kind::caa);
  e.server->type = "urn:ietf:params:acme:error:somethingNew";
  EXPECT_EQ(failure_from(e).kind, failure_kind::validation) << "still a failed validation";
  e.server->type = "urn:ietf:params:acme:error:unauthorized";  // Pebble's word for a 404
  EXPECT_EQ(failure_from(e).kind, failure_kind::validation) << "the answer did not match";
}

TEST(Failure, RetryAfterTravelsAndRateLimitsWaitForIt) {
  acme::error e{acme::errc::server_problem, "https://ca/new-order", acme::problem{}};
  e.server->type = "urn:ietf:params:acme:error:rateLimited";
  e.server->retry_after = 7200s;
  auto f = failure_from(e);
  ASSERT_TRUE(f.retry_after);
  const sys_seconds t{std::chrono::seconds(1'800'000'000)};
  EXPECT_EQ(next_retry_time(1, t, f.kind, f.retry_after) - t, 2h);
}

TEST(Failure, KindNamesRoundTrip) {
  for (int k = 0; k <= static_cast<int>(failure_kind::internal); ++k) {
    auto kind = static_cast<failure_kind>(k);
    auto name = to_string(kind);
    EXPECT_EQ(failure_kind_from(name), kind) << name;
    for (char c : name)
      EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
  }
  EXPECT_EQ(failure_kind_from("Rate limited"), std::nullopt);
  EXPECT_EQ(failure_kind_from(""), std::nullopt);
}

}  // namespace
}  // namespace certherd::reconcilers
