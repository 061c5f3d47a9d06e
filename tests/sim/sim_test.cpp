// Unit tests of the pure parts of the Rancher 1.x simulator: the derived certificate fields, the
// rendering of resources and errors, the process states, pagination and filters
// (design/rancher-api.md §A3, §A5, §A7). No sockets: the store is driven by hand with fixed times.
#include "tests/sim/cert_facts.hpp"
#include "tests/sim/model.hpp"
#include "tests/sim/wire.hpp"

#include "pki/certificate.hpp"
#include "pki/key.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>

namespace certherd::sim {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

// 2017-08-30 10:00:00 UTC: make_self_signed makes notBefore 09:00 and notAfter now + validity.
const sys_seconds t0 = sys_days{2017y / August / 30} + 10h;
constexpr std::int64_t now_ms = 1504087200000;  // t0 in epoch milliseconds
const render_context ctx{"http://127.0.0.1:8080/v2-beta/projects/1a5"};

struct pem_pair {
  std::string cert, key;
  pki::certificate parsed;
};

pem_pair make_cert(pki::key_type type, std::vector<std::string> names) {
  auto key = pki::private_key::generate(type).value();
  auto cert = pki::make_self_signed(key, names, t0, 1h).value();
  return {cert.pem(), key.to_pem(), cert};
}

// Hex to decimal by long division, independent of the code under test.
std::string hex_to_decimal(const std::string& hex) {
  std::vector<int> digits{0};  // little-endian base 10
  for (char h : hex) {
    int carry = std::stoi(std::string(1, h), nullptr, 16);
    for (int& d : digits) {
      int v = d * 16 + carry;
      d = v % 10;
      carry = v / 10;
    }
    for (; carry; carry /= 10)
      digits.push_back(carry % 10);
  }
  std::string out;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it)
    out += static_cast<char>('0' + *it);
  return out;
}

cert_facts facts_of(const std::string& pem) {
  auto r = compute_cert_facts(pem);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error());
  return r ? *r : cert_facts{};
}

rapidjson::Document parse(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

rapidjson::Document body_of(std::initializer_list<std::pair<const char*, std::string>> fields) {
  rapidjson::Document d;
  d.SetObject();
  for (const auto& [k, v] : fields) {
    d.AddMember(rapidjson::Value(k, d.GetAllocator()), rapidjson::Value(v, d.GetAllocator()),
                d.GetAllocator());
  }
  return d;
}

std::string render_cert(const store& s, const std::string& id, bool with_key) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  s.render(w, *s.find_certificate(id), ctx, with_key);
  return out.GetString();
}

TEST(CertFacts, RsaCertificateAsTheJvmPrintsIt) {
  auto pem = make_cert(pki::key_type::rsa2048, {"a.example.com", "www.a.example.com", "10.0.0.1"});
  auto facts = facts_of(pem.cert);
  EXPECT_EQ(facts.cn, "a.example.com");
  EXPECT_EQ(facts.subject_alternative_names,
            (std::vector<std::string>{"a.example.com", "www.a.example.com", "10.0.0.1"}));
  EXPECT_EQ(facts.expires_at, "Wed Aug 30 11:00:00 UTC 2017");
  EXPECT_EQ(facts.issued_at, "Wed Aug 30 09:00:00 UTC 2017");
  EXPECT_EQ(facts.issuer, "CN=a.example.com");
  EXPECT_EQ(facts.algorithm, "SHA256WITHRSA");
  EXPECT_EQ(facts.key_size, 2048);
  EXPECT_EQ(facts.version, "3");
  EXPECT_EQ(facts.serial_number, hex_to_decimal(pem.parsed.serial_hex()));
  std::string sha1 = pem.parsed.fingerprint_sha1();
  ASSERT_EQ(facts.fingerprint.size(), 59u);  // 20 bytes, 19 colons
  EXPECT_EQ(facts.fingerprint.substr(0, 6), sha1.substr(0, 2) + ":" + sha1.substr(2, 2) + ":");
  EXPECT_EQ(facts.fingerprint.substr(57), sha1.substr(38));
}

TEST(CertFacts, EcCertificateHasNoKeySize) {
  auto pem = make_cert(pki::key_type::ec256, {"b.example.com"});
  auto facts = facts_of(pem.cert);
  EXPECT_EQ(facts.algorithm, "SHA256WITHECDSA");
  EXPECT_FALSE(facts.key_size.has_value());
}

TEST(CertFacts, OnlyTheFirstBlockCounts) {
  auto leaf = make_cert(pki::key_type::ec256, {"leaf.example.com"});
  auto other = make_cert(pki::key_type::ec256, {"other.example.com"});
  auto facts = facts_of(leaf.cert + "\n" + other.cert);
  EXPECT_EQ(facts.cn, "leaf.example.com");
}

TEST(CertFacts, GarbageIsAnError) {
  EXPECT_FALSE(compute_cert_facts("hello").has_value());
  auto broken = compute_cert_facts("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----");
  ASSERT_FALSE(broken.has_value());
  EXPECT_FALSE(broken.error().empty());
}

TEST(Wire, JavaDateAndIsoDate) {
  EXPECT_EQ(java_date(sys_days{2017y / June / 1} + 11h), "Thu Jun 01 11:00:00 UTC 2017");
  EXPECT_EQ(iso_date(1496318400000), "2017-06-01T12:00:00Z");
}

TEST(Wire, ErrorShape) {
  EXPECT_EQ(render_error(validation_error("NotUnique", "name"), "x-1"),
            R"({"id":"x-1","type":"error","links":{},"actions":{},"baseType":"error",)"
            R"("status":422,"code":"NotUnique","message":null,"detail":null,"fieldName":"name"})");
  EXPECT_EQ(render_error(status_error(404), "x-2"),
            R"({"id":"x-2","type":"error","links":{},"actions":{},"baseType":"error",)"
            R"("status":404,"code":"Not Found","message":"Not Found","detail":null})");
  EXPECT_EQ(status_error(405).code, "Method not allowed");
}

TEST(Wire, SlashesEscaped) {
  EXPECT_EQ(escape_slashes(R"({"self":"http://h/v2-beta"})"), R"({"self":"http:\/\/h\/v2-beta"})");
}

TEST(Wire, ListOptions) {
  auto f = filterable_fields("certificate");
  EXPECT_EQ(parse_list_options({}, f).limit, 100u);
  EXPECT_EQ(parse_list_options({{"limit", "0"}}, f).limit, 3000u);
  EXPECT_EQ(parse_list_options({{"limit", "-1"}}, f).limit, 3000u);
  EXPECT_EQ(parse_list_options({{"limit", "5000"}}, f).limit, 3000u);
  EXPECT_EQ(parse_list_options({{"limit", "7"}}, f).limit, 7u);
  EXPECT_EQ(parse_list_options({{"marker", "m250"}}, f).offset, 250u);
  EXPECT_EQ(parse_list_options({{"marker", "x"}}, f).offset, 0u);
  auto o = parse_list_options(
      {{"removed_null", "1"}, {"name_ne", "a"}, {"bogus", "1"}, {"name", "b"}, {"_removed", ""}},
      f);
  ASSERT_EQ(o.filters.size(), 3u);
  EXPECT_EQ(o.filters[0].field, "removed");
  EXPECT_EQ(o.filters[0].modifier, "null");
  EXPECT_EQ(o.filters[1].modifier, "ne");
  EXPECT_EQ(o.filters[2].modifier, "eq");
  EXPECT_TRUE(o.include_removed);
}

TEST(Wire, NextLinkReplacesTheMarker) {
  EXPECT_EQ(next_link("http://h/v2-beta/services?limit=100&marker=m100", 200),
            "http://h/v2-beta/services?limit=100&marker=m200");
  EXPECT_EQ(next_link("http://h/v2-beta/services", 100), "http://h/v2-beta/services?marker=m100");
  EXPECT_EQ(next_link("http://h/c?marker=m5&name=x", 10), "http://h/c?name=x&marker=m10");
}

class StoreTest : public ::testing::Test {
 protected:
  store s{"1a5", now_ms};
  std::vector<std::string> changes;
  pem_pair pem = make_cert(pki::key_type::ec256, {"a.example.com"});

  void SetUp() override {
    s.on_change = [this](resource_kind, const std::string& id) { changes.push_back(id); };
  }

  transition create(const std::string& name) {
    auto body = body_of({{"name", name}, {"cert", pem.cert}, {"key", pem.key}});
    return s.create_certificate(body, now_ms).value();
  }

  std::string active(const std::string& name) {
    auto t = create(name);
    s.finish(t, now_ms);
    return t.id;
  }

  std::string lb_using(const std::string& cert_id) {
    auto body = parse(fmt::format(
        R"({{"name":"lb1","kind":"loadBalancerService","lbConfig":{{"defaultCertificateId":"{}"}}}})",
        cert_id));
    auto t = s.create_service(body, now_ms).value();
    s.finish(t, now_ms);
    return t.id;
  }

  std::string list(std::string_view type, const query_params& q, std::string url = "") {
    if (url.empty()) url = ctx.base + "/certificates";
    return s.list(type, q, url, ctx);
  }
};

TEST_F(StoreTest, CreateRendersLikeCattle) {
  auto t = create("a.example.com");
  EXPECT_EQ(t.id, "1c1");
  auto posted = parse(render_cert(s, t.id, true));
  EXPECT_STREQ(posted["state"].GetString(), "activating");
  EXPECT_STREQ(posted["transitioning"].GetString(), "yes");
  EXPECT_EQ(posted["key"].GetString(), pem.key);
  EXPECT_EQ(changes, std::vector<std::string>{"1c1"});

  s.finish(t, now_ms + 300);
  std::string text = render_cert(s, t.id, false);
  // Cattle's order: id, type, links, actions, baseType, then the fields sorted ("CN" first).
  EXPECT_TRUE(text.starts_with(R"({"id":"1c1","type":"certificate","links":{"self":)")) << text;
  EXPECT_LT(text.find(R"("baseType":"certificate","CN":"a.example.com")"), text.size());
  auto got = parse(text);
  EXPECT_TRUE(got["key"].IsNull());
  EXPECT_TRUE(got["removed"].IsNull());
  EXPECT_FALSE(got.HasMember("removedTS"));
  EXPECT_STREQ(got["state"].GetString(), "active");
  EXPECT_STREQ(got["transitioning"].GetString(), "no");
  EXPECT_STREQ(got["created"].GetString(), "2017-08-30T10:00:00Z");
  EXPECT_EQ(got["createdTS"].GetInt64(), now_ms);
  EXPECT_STREQ(got["links"]["self"].GetString(),
               "http://127.0.0.1:8080/v2-beta/projects/1a5/certificates/1c1");
  EXPECT_STREQ(got["actions"]["update"].GetString(),
               "http://127.0.0.1:8080/v2-beta/projects/1a5/certificates/1c1/?action=update");
  EXPECT_STREQ(got["expiresAt"].GetString(), "Wed Aug 30 11:00:00 UTC 2017");
  EXPECT_TRUE(got["keySize"].IsNull());
  EXPECT_TRUE(got["certChain"].IsNull());
  EXPECT_TRUE(got["description"].IsNull());
  EXPECT_EQ(changes.size(), 2u);
}

TEST_F(StoreTest, ValidationErrors) {
  auto no_key = body_of({{"name", "x"}, {"cert", pem.cert}});
  auto e = s.create_certificate(no_key, now_ms).error();
  EXPECT_EQ(e.status, 422);
  EXPECT_EQ(e.code, "MissingRequired");
  EXPECT_EQ(e.field_name, "key");

  auto bad = body_of({{"name", "x"}, {"cert", "not a pem"}, {"key", pem.key}});
  e = s.create_certificate(bad, now_ms).error();
  EXPECT_EQ(e.code, "InvalidFormat");
  EXPECT_TRUE(e.message.has_value());
  EXPECT_FALSE(e.field_name.has_value());

  create("dup");
  auto dup = body_of({{"name", "dup"}, {"cert", pem.cert}, {"key", pem.key}});
  e = s.create_certificate(dup, now_ms).error();
  EXPECT_EQ(e.code, "NotUnique");
  EXPECT_EQ(e.field_name, "name");
}

TEST_F(StoreTest, UpdateRunsCertificateUpdateOnlyWhenActive) {
  auto t = create("a.example.com");
  auto renewed = make_cert(pki::key_type::rsa2048, {"a.example.com"});
  auto put = body_of({{"cert", renewed.cert}, {"key", renewed.key}});
  auto e = s.update_certificate(t.id, put).error();
  EXPECT_EQ(e.status, 409);
  EXPECT_EQ(e.code, "InvalidState");

  s.finish(t, now_ms);
  auto u = s.update_certificate(t.id, put).value();
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(s.find_certificate(t.id)->state, "updating-active");
  EXPECT_EQ(s.find_certificate(t.id)->facts.algorithm, "SHA256WITHRSA");
  EXPECT_EQ(s.find_certificate(t.id)->key, renewed.key);
  s.finish(t, now_ms);  // the create's timer: stale, changes nothing
  EXPECT_EQ(s.find_certificate(t.id)->state, "updating-active");
  s.finish(*u, now_ms);
  EXPECT_EQ(s.find_certificate(t.id)->state, "active");

  // A description alone starts no process.
  auto d = s.update_certificate(t.id, body_of({{"description", "renewed"}})).value();
  EXPECT_FALSE(d.has_value());
  EXPECT_EQ(s.find_certificate(t.id)->description, "renewed");
}

TEST_F(StoreTest, RemoveRefusedWhileAnLbUsesIt) {
  auto id = active("a.example.com");
  lb_using(id);
  auto e = s.remove_certificate(id).error();
  EXPECT_EQ(e.status, 405);
  EXPECT_EQ(e.code, "InvalidAction");
  EXPECT_EQ(e.message, "Certificate is in use by load balancer services: lb1");

  auto other = active("b.example.com");
  auto t = s.remove_certificate(other).value();
  EXPECT_EQ(s.find_certificate(other)->state, "removing");
  s.finish(t, now_ms + 1000);
  EXPECT_EQ(s.find_certificate(other)->state, "removed");
  auto got = parse(render_cert(s, other, false));
  EXPECT_STREQ(got["removed"].GetString(), "2017-08-30T10:00:01Z");
  EXPECT_EQ(got["removedTS"].GetInt64(), now_ms + 1000);
  EXPECT_EQ(parse(list("certificate", {}))["data"].Size(), 1u);
  EXPECT_EQ(parse(list("certificate", {{"_removed", "true"}}))["data"].Size(), 2u);
  EXPECT_EQ(
      parse(list("certificate", {{"_removed", "true"}, {"removed_null", "1"}}))["data"].Size(), 1u);
  EXPECT_EQ(
      parse(list("certificate", {{"_removed", "true"}, {"removed_notnull", ""}}))["data"][0]["id"],
      other.c_str());
  // A removed certificate's name is free again.
  create("b.example.com");
}

TEST_F(StoreTest, PaginationOver250) {
  for (int i = 0; i < 250; ++i)
    create(fmt::format("n{:03}", i));
  std::string url = ctx.base + "/certificates?limit=100";
  auto page = parse(list("certificate", {{"limit", "100"}}, url));
  EXPECT_EQ(page["data"].Size(), 100u);
  EXPECT_STREQ(page["pagination"]["next"].GetString(), (url + "&marker=m100").c_str());
  EXPECT_TRUE(page["pagination"]["partial"].GetBool());
  EXPECT_EQ(page["pagination"]["limit"].GetInt(), 100);
  EXPECT_TRUE(page["pagination"]["total"].IsNull());

  page = parse(list("certificate", {{"limit", "100"}, {"marker", "m200"}}, url + "&marker=m200"));
  EXPECT_EQ(page["data"].Size(), 50u);
  EXPECT_STREQ(page["data"][0]["id"].GetString(), "1c201");
  EXPECT_TRUE(page["pagination"]["next"].IsNull());
  EXPECT_FALSE(page["pagination"]["partial"].GetBool());

  page = parse(list("certificate", {{"limit", "-1"}}));
  EXPECT_EQ(page["data"].Size(), 250u);
  EXPECT_EQ(page["pagination"]["limit"].GetInt(), 3000);
}

TEST_F(StoreTest, FiltersAndCollectionShape) {
  active("a.example.com");
  create("b.example.com");
  auto page = parse(list(
      "certificate", {{"name", "b.example.com"}, {"removed_null", "1"}, {"unknown", "ignored"}}));
  ASSERT_EQ(page["data"].Size(), 1u);
  EXPECT_STREQ(page["data"][0]["id"].GetString(), "1c2");
  EXPECT_STREQ(page["type"].GetString(), "collection");
  EXPECT_STREQ(page["resourceType"].GetString(), "certificate");
  EXPECT_STREQ(page["filters"]["name"][0]["modifier"].GetString(), "eq");
  EXPECT_STREQ(page["filters"]["name"][0]["value"].GetString(), "b.example.com");
  EXPECT_STREQ(page["filters"]["removed"][0]["modifier"].GetString(), "null");
  EXPECT_TRUE(page["filters"]["state"].IsNull());
  EXPECT_FALSE(page["filters"].HasMember("unknown"));
  EXPECT_STREQ(page["createTypes"]["certificate"].GetString(),
               (ctx.base + "/certificates").c_str());
  EXPECT_EQ(parse(list("certificate", {{"state", "active"}}))["data"].Size(), 1u);
  EXPECT_EQ(parse(list("certificate", {{"state", "removed"}}))["data"].Size(), 0u);
}

TEST_F(StoreTest, ServicesAndLoadBalancers) {
  auto cert = active("a.example.com");
  auto web = parse(R"({"name":"web","labels":{"io.certherd/hosts":"a.example.com"}})");
  auto w = s.create_service(web, now_ms).value();
  EXPECT_TRUE(s.finish(w, now_ms).empty());  // not a balancer: nothing rebuilds
  auto lb = lb_using(cert);
  EXPECT_EQ(lb, "1s2");

  auto all = parse(list("service", {}));
  EXPECT_EQ(all["data"].Size(), 2u);
  EXPECT_EQ(parse(list("service", {{"kind", "loadBalancerService"}}))["data"].Size(), 1u);
  auto lbs = parse(list("loadBalancerService", {}));
  ASSERT_EQ(lbs["data"].Size(), 1u);
  const auto& r = lbs["data"][0];
  EXPECT_STREQ(r["type"].GetString(), "loadBalancerService");
  EXPECT_STREQ(r["baseType"].GetString(), "service");
  EXPECT_STREQ(r["lbConfig"]["defaultCertificateId"].GetString(), cert.c_str());
  EXPECT_EQ(r["lbConfig"]["certificateIds"].Size(), 0u);
  EXPECT_STREQ(r["links"]["self"].GetString(),
               "http://127.0.0.1:8080/v2-beta/projects/1a5/loadbalancerservices/1s2");
  EXPECT_STREQ(all["data"][0]["launchConfig"]["labels"]["io.certherd/hosts"].GetString(),
               "a.example.com");
  EXPECT_STREQ(all["data"][0]["stackId"].GetString(), "1st1");

  // ?action=update rebuilds the balancer when it finishes.
  auto u = s.update_service_action(lb).value();
  EXPECT_EQ(s.find_service(lb)->state, "updating-active");
  EXPECT_EQ(s.finish(u, now_ms), std::vector<std::string>{lb});

  // A bare certificate update does not, unless asked to.
  auto renewed = make_cert(pki::key_type::ec256, {"a.example.com"});
  auto put = body_of({{"cert", renewed.cert}, {"key", renewed.key}});
  auto c1 = s.update_certificate(cert, put).value();
  EXPECT_TRUE(s.finish(*c1, now_ms).empty());
  s.reload_on_certificate_update = true;
  auto c2 = s.update_certificate(cert, put).value();
  EXPECT_EQ(s.finish(*c2, now_ms), std::vector<std::string>{lb});

  // A new lbConfig rebuilds; the same one again starts nothing.
  auto cfg = parse(R"({"lbConfig":{"certificateIds":["1c1"],"defaultCertificateId":null}})");
  auto p = s.update_service(lb, cfg).value();
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(s.finish(*p, now_ms), std::vector<std::string>{lb});
  EXPECT_FALSE(s.update_service(lb, cfg).value().has_value());
}

}  // namespace
}  // namespace certherd::sim
