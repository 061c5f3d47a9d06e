// The Rancher client's pure parts: decoders fed with the shapes in tests/data/rancher (real
// captures and examples constructed from Cattle's code), the URL rules, the mirror's resync, the
// label source — and a mutation fuzzer over real frames that must never crash the decoders.
#include "clients/rancher/api.hpp"
#include "clients/rancher/mirror.hpp"
#include "clients/rancher/resources.hpp"
#include "controller/label_source.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <set>

#include <fstream>
#include <random>
#include <sstream>

namespace certherd {
namespace {

using namespace std::chrono;

std::string data_file(const std::string& name) {
  std::ifstream in(std::string(CERTHERD_TEST_DATA_DIR) + "/rancher/" + name);
  if (!in) throw std::runtime_error("missing data file " + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One member of a data file, serialised again (the files hold several examples each).
std::string member_of(const std::string& file, const char* key, bool escape_slashes = false) {
  rapidjson::Document doc;
  doc.Parse(data_file(file).c_str());
  const auto& v = doc[key];
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  std::string out(buf.GetString(), buf.GetSize());
  if (!escape_slashes) return out;
  // Cattle's HTTP API escapes every '/' as '\/' (valid JSON): '/' only occurs inside strings.
  std::string escaped;
  for (char c : out) {
    if (c == '/') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

TEST(RancherDecode, CertificateAsCattleRendersIt) {
  for (bool escaped : {false, true}) {
    auto c = rancher::decode_certificate(
        member_of("cattle-example-certificate-constructed.json", "GET_response", escaped));
    ASSERT_TRUE(c) << c.error();
    EXPECT_EQ(c->id, "1c3");
    EXPECT_EQ(c->name, "example.com");
    EXPECT_EQ(c->state, "active");
    EXPECT_TRUE(c->settled());
    EXPECT_FALSE(c->removed);
    EXPECT_EQ(c->common_name, "example.com");
    EXPECT_EQ(c->subject_alternative_names,
              (std::vector<std::string>{"example.com", "www.example.com"}));
    EXPECT_EQ(c->fingerprint_sha1, "3a7f0c9e112233445566778899aabbccddeeff00");
    EXPECT_EQ(c->serial_number, "271828182845904523536028747135266249775");
    ASSERT_TRUE(c->expires_at);
    EXPECT_EQ(*c->expires_at, sys_days(2017y / August / 30) + 11h);
    EXPECT_EQ(c->self_link, "http://rancher.example:8080/v2-beta/projects/1a5/certificates/1c3");
    EXPECT_NE(c->cert.find("BEGIN CERTIFICATE"), std::string::npos);
  }
}

TEST(RancherDecode, CollectionAndPagination) {
  auto body = data_file("cattle-example-collection-certificates-constructed.json");
  auto page = rancher::decode_certificates(body);
  ASSERT_TRUE(page) << page.error();
  EXPECT_FALSE(page->data.empty());
  EXPECT_TRUE(page->problems.empty());

  // A partial page names the next one; an item without an id is reported, not fatal.
  std::string partial =
      R"({"type":"collection","data":[{"id":"1c1","name":"a"},{"name":"x"},
    {"id":"1c2","name":"b","removed":"2017-01-01T00:00:00Z","state":"removed"}],
    "pagination":)" +
      member_of("cattle-example-pagination-partial-constructed.json", "pagination", true) + "}";
  auto p = rancher::decode_certificates(partial);
  ASSERT_TRUE(p) << p.error();
  ASSERT_EQ(p->data.size(), 2u);
  EXPECT_TRUE(p->data[1].removed);
  EXPECT_EQ(p->problems.size(), 1u);
  EXPECT_EQ(p->next,
            "http://rancher.example:8080/v2-beta/projects/1a5/services?limit=100&marker=m100");
}

TEST(RancherDecode, ServicesWithLabelsAndLoadBalancers) {
  std::string body = R"({"type":"collection","data":[
    {"id":"1s5","type":"service","baseType":"service","kind":"service","name":"web","state":"active",
     "launchConfig":{"labels":{"com.danieldent.rancher-lets-encrypt.hosts":"a.example.com, b.example.com","n":7}}},
    {"id":"1s6","type":"loadBalancerService","baseType":"service","kind":"loadBalancerService","name":"lb",
     "launchConfig":null,"lbConfig":{"certificateIds":["1c3","1c4"],"defaultCertificateId":"1c9"}},
    {"id":"1s7","type":"loadBalancerService","name":"v1lb","certificateIds":["1c5"],"defaultCertificateId":null}],
    "pagination":{"next":null}})";
  auto p = rancher::decode_services(body);
  ASSERT_TRUE(p) << p.error();
  ASSERT_EQ(p->data.size(), 3u);
  EXPECT_EQ(p->data[0].labels.at("com.danieldent.rancher-lets-encrypt.hosts"),
            "a.example.com, b.example.com");
  EXPECT_EQ(p->data[0].labels.count("n"), 0u);  // not a string: junk, skipped
  EXPECT_FALSE(p->data[0].is_load_balancer());
  EXPECT_TRUE(p->data[1].is_load_balancer());
  EXPECT_TRUE(p->data[1].references("1c4"));
  EXPECT_TRUE(p->data[1].references("1c9"));
  EXPECT_FALSE(p->data[1].references("1c5"));
  EXPECT_TRUE(p->data[2].references("1c5"));  // v1 load balancers: top-level certificateIds
  EXPECT_TRUE(p->next.empty());
}

TEST(RancherDecode, SubscribeFrames) {
  const char* file = "cattle-example-subscribe-messages-v1.6-constructed.json";
  auto ping = rancher::decode_event(member_of(file, "first_frame_ping"));
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->what, rancher::event::kind::ping);
  auto logout = rancher::decode_event(member_of(file, "logout_before_server_disconnect"));
  ASSERT_TRUE(logout);
  EXPECT_EQ(logout->what, rancher::event::kind::logout);
  auto change = rancher::decode_event(member_of(file, "resource_change_certificate"));
  ASSERT_TRUE(change) << change.error();
  EXPECT_EQ(change->what, rancher::event::kind::resource_change);
  ASSERT_TRUE(change->certificate_snapshot);
  EXPECT_EQ(change->certificate_snapshot->id, "1c3");
  EXPECT_FALSE(change->service_snapshot);

  // The real 2016 capture: every key present, nulls, no resource.
  auto real =
      rancher::decode_event(data_file("cattle-example-subscribe-resource-change-2016-real.json"));
  ASSERT_TRUE(real) << real.error();
  EXPECT_EQ(real->what, rancher::event::kind::resource_change);
  EXPECT_EQ(real->resource_type, "docker");
  EXPECT_FALSE(real->certificate_snapshot);
  EXPECT_FALSE(real->service_snapshot);

  // A qualified name, a service snapshot in a removed state.
  auto svc = rancher::decode_event(
      R"({"name":"resource.change;account=1a5","resourceType":"loadBalancerService","resourceId":"1s6",
          "data":{"resource":{"id":"1s6","type":"loadBalancerService","baseType":"service","state":"removed"}}})");
  ASSERT_TRUE(svc) << svc.error();
  ASSERT_TRUE(svc->service_snapshot);
  EXPECT_TRUE(svc->service_snapshot->removed);

  EXPECT_FALSE(rancher::decode_event("not json"));
  EXPECT_FALSE(rancher::decode_event("[1,2]"));
  auto unknown = rancher::decode_event(R"({"name":"something.else"})");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->what, rancher::event::kind::other);
}

TEST(RancherDecode, ErrorBodies) {
  const char* file = "cattle-example-errors-constructed.json";
  auto e = rancher::decode_error(422, member_of(file, "422_not_unique_name"));
  EXPECT_EQ(e.status, 422u);
  EXPECT_EQ(e.code, "NotUnique");
  EXPECT_EQ(e.field_name, "name");
  EXPECT_EQ(e.kind(), rancher::error_kind::invalid);
  EXPECT_FALSE(e.retryable());
  EXPECT_EQ(rancher::decode_error(401, member_of(file, "401_unauthorized")).kind(),
            rancher::error_kind::unauthorized);
  EXPECT_EQ(rancher::decode_error(404, member_of(file, "404_not_found")).kind(),
            rancher::error_kind::not_found);
  EXPECT_EQ((rancher::error{0, "transport", "connect: refused", {}}).kind(),
            rancher::error_kind::transport);
  EXPECT_TRUE((rancher::error{0, "transport", "connect: refused", {}}).retryable());
  EXPECT_FALSE((rancher::error{0, "decode", "not JSON", {}}).retryable());
  auto in_use = rancher::decode_error(405, member_of(file, "405_certificate_in_use"));
  EXPECT_EQ(in_use.code, "InvalidAction");
  EXPECT_NE(in_use.message.find("in use"), std::string::npos);
  EXPECT_TRUE(rancher::decode_error(500, member_of(file, "500_internal")).retryable());
  EXPECT_TRUE(
      rancher::decode_error(409, member_of(file, "409_conflict_resource_busy")).retryable());
  // Not Rancher's shape (a proxy's page): the status alone, the body never copied.
  auto html = rancher::decode_error(502, "<html>Bad gateway secret-looking-text</html>");
  EXPECT_EQ(html.status, 502u);
  EXPECT_TRUE(html.code.empty());
  EXPECT_EQ(html.to_string().find("secret"), std::string::npos);
}

TEST(RancherDecode, ProjectId) {
  auto id =
      rancher::decode_project_id(R"({"type":"collection","data":[{"id":"1a5","type":"project"}]})");
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, "1a5");
  auto none = rancher::decode_project_id(R"({"type":"collection","data":[]})");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("environment key"), std::string::npos);
}

TEST(RancherDecode, JavaDates) {
  EXPECT_EQ(rancher::parse_java_date("Wed Aug 30 11:00:00 UTC 2017"),
            sys_days(2017y / August / 30) + 11h);
  EXPECT_EQ(rancher::parse_java_date("Thu Jun 01 11:00:00 GMT 2017"),
            sys_days(2017y / June / 1) + 11h);
  EXPECT_FALSE(rancher::parse_java_date("Wed Aug 30 11:00:00 PDT 2017"));
  EXPECT_FALSE(rancher::parse_java_date("Wed Foo 30 11:00:00 UTC 2017"));
  EXPECT_FALSE(rancher::parse_java_date("Wed Feb 30 11:00:00 UTC 2017"));
  EXPECT_FALSE(rancher::parse_java_date(""));
  EXPECT_FALSE(rancher::parse_java_date("Wed Aug 30 11:00:00 UTC 2017x"));
}

TEST(RancherApi, BaseAndSubscribeUrls) {
  EXPECT_EQ(rancher::api_base("http://r:8080/v1"), "http://r:8080/v2-beta");
  EXPECT_EQ(rancher::api_base("http://r:8080/v1/"), "http://r:8080/v2-beta");
  EXPECT_EQ(rancher::api_base("https://r/v2-beta"), "https://r/v2-beta");
  EXPECT_EQ(rancher::api_base("https://r/v2-beta/"), "https://r/v2-beta");
  EXPECT_EQ(rancher::api_base("http://r:8080/v1/schemas"), "http://r:8080/v2-beta");
  EXPECT_EQ(rancher::api_base("http://r:8080"), "http://r:8080/v2-beta");
  EXPECT_EQ(rancher::api_base("ftp://r"), "");
  EXPECT_EQ(
      rancher::on_origin("https://r/v2-beta",
                         "http://other:8080/v2-beta/projects/1a5/services?limit=100&marker=m100"),
      "https://r/v2-beta/projects/1a5/services?limit=100&marker=m100");
  EXPECT_EQ(rancher::on_origin("https://r/v2-beta", ""), "");
  EXPECT_EQ(rancher::on_origin("https://r/v2-beta", "/v2-beta/x"), "https://r/v2-beta/x");
  EXPECT_EQ(rancher::subscribe_url("http://r:8080/v2-beta", "1a5"),
            "ws://r:8080/v2-beta/projects/1a5/subscribe?eventNames=resource.change");
  EXPECT_EQ(rancher::subscribe_url("https://r/v2-beta", "1a5"),
            "wss://r/v2-beta/projects/1a5/subscribe?eventNames=resource.change");
}

rancher::certificate cert(std::string id, std::string name, std::string fp,
                          std::string state = "active") {
  rancher::certificate c;
  c.id = std::move(id);
  c.name = std::move(name);
  c.fingerprint_sha1 = std::move(fp);
  c.state = std::move(state);
  c.removed = rancher::is_removed_state(c.state);
  return c;
}

rancher::service svc(std::string id, std::string name, std::string hosts) {
  rancher::service s;
  s.id = std::move(id);
  s.name = std::move(name);
  s.type = "service";
  s.state = "active";
  if (!hosts.empty()) s.labels[controller::kDefaultHostsLabel] = std::move(hosts);
  return s;
}

rancher::event change_of(rancher::certificate c) {
  rancher::event e;
  e.what = rancher::event::kind::resource_change;
  e.certificate_snapshot = std::move(c);
  return e;
}

rancher::event change_of(rancher::service s) {
  rancher::event e;
  e.what = rancher::event::kind::resource_change;
  e.service_snapshot = std::move(s);
  return e;
}

TEST(RancherMirror, EventsDuringAResyncWinOverTheList) {
  rancher::mirror m;
  EXPECT_FALSE(m.synced());
  m.begin_resync();
  // Arrives while the list is read: newer than the list.
  EXPECT_TRUE(m.apply(change_of(cert("1c1", "a.example.com", "22"))).certificate_names.empty());
  auto change =
      m.finish_resync({cert("1c1", "a.example.com", "11"), cert("1c2", "b.example.com", "33")},
                      {svc("1s1", "web", "a.example.com")});
  EXPECT_TRUE(m.synced());
  EXPECT_TRUE(change.services);
  EXPECT_EQ(change.certificate_names, (std::set<std::string>{"a.example.com", "b.example.com"}));
  ASSERT_TRUE(m.certificate_named("a.example.com"));
  EXPECT_EQ(m.certificate_named("a.example.com")->fingerprint_sha1, "22");

  // The same list again changes nothing; a removal event drops the name.
  m.begin_resync();
  change = m.finish_resync({cert("1c1", "a.example.com", "22"), cert("1c2", "b.example.com", "33")},
                           {svc("1s1", "web", "a.example.com")});
  EXPECT_TRUE(change.certificate_names.empty());
  EXPECT_FALSE(change.services);
  change = m.apply(change_of(cert("1c2", "b.example.com", "33", "removed")));
  EXPECT_EQ(change.certificate_names, (std::set<std::string>{"b.example.com"}));
  EXPECT_FALSE(m.certificate_named("b.example.com"));

  // A service that vanished while disconnected is gone after the next list.
  m.mark_unsynced();
  m.begin_resync();
  change = m.finish_resync({cert("1c1", "a.example.com", "22")}, {});
  EXPECT_TRUE(change.services);
  EXPECT_TRUE(m.services().empty());

  // A failed list still applies what was held.
  m.begin_resync();
  m.apply(change_of(svc("1s2", "api", "c.example.com")));
  change = m.abandon_resync();
  EXPECT_TRUE(change.services);
  EXPECT_EQ(m.services().size(), 1u);
}

TEST(RancherMirror, DuplicateNamesKeepTheOlderCertificate) {
  rancher::mirror m;
  m.begin_resync();
  m.finish_resync({cert("1c12", "a.example.com", "new"), cert("1c3", "a.example.com", "old")}, {});
  EXPECT_EQ(m.certificate_named("a.example.com")->id, "1c3");
}

controller::label_result labels(std::vector<rancher::service> list,
                                controller::label_options o = {}) {
  std::map<std::string, rancher::service> m;
  for (auto& s : list)
    m[s.id] = std::move(s);
  return controller::certificates_from_labels(m, o);
}

TEST(LabelSource, OneCertificatePerHostByDefault) {
  auto r = labels({svc("1s5", "web", " a.example.com, B.Example.com.,,"),
                   svc("1s6", "api", "a.example.com"), svc("1s7", "db", "")});
  ASSERT_EQ(r.certificates.size(), 2u);
  EXPECT_EQ(r.certificates.at("a.example.com").hosts, (std::vector<std::string>{"a.example.com"}));
  // Two services naming one host share its certificate; nothing flaps.
  EXPECT_EQ(r.certificates.at("a.example.com").services,
            (std::vector<std::string>{"web (1s5)", "api (1s6)"}));
  EXPECT_TRUE(r.certificates.count("b.example.com"));
  EXPECT_FALSE(r.problems.empty());  // the empty items and the rewritten one are reported
}

TEST(LabelSource, JunkIsReportedAndSkipped) {
  std::string long_label(64, 'a');
  auto r = labels({svc("1s5", "web",
                       "*.example.com, 10.0.0.1, ok.example.com, bad_name.example.com, " +
                           long_label + ".example.com, evil.org")},
                  {controller::kDefaultHostsLabel, false, {"example.com"}});
  ASSERT_EQ(r.certificates.size(), 1u);
  EXPECT_TRUE(r.certificates.count("ok.example.com"));
  EXPECT_EQ(r.problems.size(), 5u);
  bool outside = false;
  for (const auto& p : r.problems) {
    EXPECT_NE(p.find("web (1s5)"), std::string::npos) << p;
    outside = outside || p.find("evil.org is outside ALLOWED_DOMAINS") != std::string::npos;
  }
  EXPECT_TRUE(outside);
}

TEST(LabelSource, PerServiceModeKeepsAContestedHostWithTheOlderService) {
  controller::label_options o;
  o.per_service = true;
  auto r = labels({svc("1s12", "shop", "shop.example.com, www.example.com"),
                   svc("1s5", "www", "www.example.com, example.com")},
                  o);
  ASSERT_EQ(r.certificates.size(), 2u);
  EXPECT_EQ(r.certificates.at("www").hosts,
            (std::vector<std::string>{"example.com", "www.example.com"}));
  EXPECT_EQ(r.certificates.at("shop").hosts, (std::vector<std::string>{"shop.example.com"}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("already claimed by certificate www"), std::string::npos);
  // Same input, same answer: nothing depends on map order or time.
  auto again = labels({svc("1s5", "www", "www.example.com, example.com"),
                       svc("1s12", "shop", "shop.example.com, www.example.com")},
                      o);
  EXPECT_EQ(again.certificates.at("shop").hosts, r.certificates.at("shop").hosts);
}

// Issue 9, defect 10: per-service names never collide, whatever services are called.
TEST(LabelSource, PerServiceNamesNeverCollide) {
  controller::label_options o;
  o.per_service = true;
  auto r = labels({svc("1s3", "web-1s9", "a.example.com"), svc("1s5", "web", "b.example.com"),
                   svc("1s9", "web", "c.example.com"), svc("1s12", "Web", "d.example.com")},
                  o);
  // web-1s9 (oldest) keeps its name; web (1s5) is "web"; the web of 1s9 would be "web-1s9":
  // taken, so it is reported and gets nothing; Web (1s12) becomes "web-1s12".
  ASSERT_EQ(r.certificates.size(), 3u);
  EXPECT_EQ(r.certificates.at("web-1s9").hosts, std::vector<std::string>{"a.example.com"});
  EXPECT_EQ(r.certificates.at("web").hosts, std::vector<std::string>{"b.example.com"});
  EXPECT_EQ(r.certificates.at("web-1s12").hosts, std::vector<std::string>{"d.example.com"});
  bool reported = false;
  for (const auto& p : r.problems)
    reported = reported || (p.find("web (1s9)") != std::string::npos &&
                            p.find("is taken by another service") != std::string::npos);
  EXPECT_TRUE(reported);
  std::set<std::string> hosts;
  for (const auto& [name, c] : r.certificates)
    for (const auto& h : c.hosts)
      EXPECT_TRUE(hosts.insert(h).second) << h << " in two certificates";
}

TEST(LabelSource, AllowedDomains) {
  auto allowed = controller::parse_allowed_domains(" example.com, *.corp.example.net ,.Other.ORG,");
  EXPECT_EQ(allowed, (std::vector<std::string>{"example.com", "corp.example.net", "other.org"}));
  EXPECT_TRUE(controller::domain_allowed("example.com", allowed));
  EXPECT_TRUE(controller::domain_allowed("a.b.example.com", allowed));
  EXPECT_FALSE(controller::domain_allowed("badexample.com", allowed));
  EXPECT_FALSE(controller::domain_allowed("example.com.evil.io", allowed));
  EXPECT_TRUE(controller::domain_allowed("anything.io", {}));
}

// A mutation fuzzer over real and constructed frames and bodies: bytes flipped, cut, repeated
// and spliced. The decoders must return a value or a reason — never crash, hang or read out of
// bounds (the unit tests also run under ASan and UBSan).
TEST(RancherDecode, FuzzedInputNeverCrashes) {
  std::vector<std::string> seeds{
      member_of("cattle-example-subscribe-messages-v1.6-constructed.json",
                "resource_change_certificate"),
      member_of("cattle-example-subscribe-messages-v1.6-constructed.json", "first_frame_ping"),
      data_file("cattle-example-subscribe-resource-change-2016-real.json"),
      data_file("cattle-example-collection-certificates-constructed.json"),
      member_of("cattle-example-errors-constructed.json", "422_not_unique_name", true),
      R"({"name":"resource.change","data":{"resource":{"id":"1s1","baseType":"service",
         "launchConfig":{"labels":{"com.danieldent.rancher-lets-encrypt.hosts":"a.example.com"}},
         "lbConfig":{"certificateIds":["1c1",null,5],"defaultCertificateId":7}}}})"};
  std::mt19937 rng(20261128);
  const std::string junk = "{}[]\",:\\/0123456789eE+-.truefalsenull \x00\xff\xc3";
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < edits && !s.empty(); ++k) {
      std::size_t at = rng() % s.size();
      switch (rng() % 5) {
        case 0:
          s[at] = junk[rng() % junk.size()];
          break;
        case 1:
          s.erase(at, 1 + rng() % 16);
          break;
        case 2:
          s.insert(at, 1, junk[rng() % junk.size()]);
          break;
        case 3:
          s = s.substr(0, at);
          break;
        case 4:
          s.insert(at, seeds[rng() % seeds.size()].substr(0, 1 + rng() % 64));
          break;
      }
    }
    decoded += rancher::decode_event(s).has_value();
    decoded += rancher::decode_certificates(s).has_value();
    decoded += rancher::decode_services(s).has_value();
    (void)rancher::decode_error(400 + rng() % 200, s);
    (void)rancher::parse_java_date(s.substr(0, 28));
  }
  // Some mutants stay valid JSON: the decoders were exercised on both paths.
  EXPECT_GT(decoded, 0);
}

}  // namespace
}  // namespace certherd
