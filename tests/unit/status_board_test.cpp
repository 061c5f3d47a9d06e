// The status board (controller/status_board): what /status and /metrics say of a failing
// certificate. The kind of its last failure is the metric's reason label — a bounded set of
// values (design/0004-errors.md) — while the words, URLs and all, stay on /status.
#include "controller/status_board.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace certherd::controller {
namespace {

using namespace std::chrono_literals;

struct board_fixture {
  status_board board{reconcilers::renewal_policy{}};
  std::map<std::string, reconcilers::cert_spec> desired;
  reconcilers::observation_cache held;
  reconcilers::sys_seconds now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());

  board_fixture() {
    reconcilers::cert_spec spec;
    spec.name = "a.example.com";
    spec.hosts = {"a.example.com"};
    desired[spec.name] = spec;
    reconcilers::local_copy l;
    l.failures = 2;
    l.last_error =
        "urn:ietf:params:acme:error:rateLimited: too many certificates, see "
        "https://letsencrypt.org/docs/rate-limits/";
    l.last_error_kind = failure_kind::rate_limited;
    held.entries[spec.name] = {stores::file_stamp{1, 1, 1}, l};
    reconcilers::reconcile_report r;
    r.failed = true;
    r.failed_kind = failure_kind::rate_limited;
    board.reconciled(spec, r, now);
  }
};

TEST(StatusBoard, FailureReasonLabelIsTheKind) {
  board_fixture f;
  auto metrics = f.board.to_prometheus(f.desired, f.held, {});
  EXPECT_NE(
      metrics.find(
          R"(certherd_certificate_last_failure_info{name="a.example.com",reason="rate_limited"} 1)"),
      std::string::npos)
      << metrics;
  EXPECT_EQ(metrics.find("https://"), std::string::npos) << "a URL in a label: " << metrics;
  EXPECT_NE(metrics.find(R"(certherd_certificate_failures{name="a.example.com"} 2)"),
            std::string::npos);
}

TEST(StatusBoard, StatusShowsFailuresWithTheirKindAndWords) {
  board_fixture f;
  rapidjson::Document doc;
  doc.Parse(f.board.to_json(f.desired, f.held, {}, f.now).c_str());
  ASSERT_TRUE(doc.IsObject());
  const auto& c = doc["certificates"][0];
  EXPECT_EQ(c["failures"].GetInt(), 2);
  EXPECT_EQ(std::string(c["last_error_kind"].GetString()), "rate_limited");
  EXPECT_NE(std::string(c["last_error"].GetString()).find("rate-limits"), std::string::npos);
  EXPECT_EQ(std::string(c["state"].GetString()), "failing");
}

TEST(StatusBoard, AFailureOnlyTheLastReconcileSawIsLabelledToo) {
  board_fixture f;
  f.held.entries["a.example.com"].local = {};  // nothing in the store: a push failed
  reconcilers::cert_spec spec = f.desired["a.example.com"];
  reconcilers::reconcile_report r;
  r.failed = true;
  r.failed_kind = failure_kind::target_refused;
  f.board.reconciled(spec, r, f.now);
  auto metrics = f.board.to_prometheus(f.desired, f.held, {});
  EXPECT_NE(metrics.find(R"(reason="target_refused")"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace certherd::controller
