// The etcd JSON gateway's messages, as etcd 3.4.23 (Debian's etcd-server) sent them when the
// integration harness was built (tests/integration/etcd_test.cpp talks to the real one), and in
// every hostile form a member or something pretending to be one could send.
#include "clients/etcd/client.hpp"
#include "clients/etcd/protocol.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

namespace certherd::etcd {
namespace {

rapidjson::Document parsed(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

TEST(EtcdProtocol, PrefixEndCoversEveryKeyUnderThePrefix) {
  EXPECT_EQ(prefix_end("certherd/"), "certherd0");
  EXPECT_EQ(prefix_end("a\xff"), "b");
  EXPECT_EQ(prefix_end(std::string("\xff\xff")), std::string(1, '\0'));
  EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

TEST(EtcdProtocol, BytesAreBase64AndNumbersStringsDefaultsLeftOut) {
  range_request r;
  r.key = "certherd/certificates/";
  r.range_end = prefix_end(r.key);
  r.limit = 500;
  auto doc = parsed(encode(r));
  EXPECT_STREQ(doc["key"].GetString(), "Y2VydGhlcmQvY2VydGlmaWNhdGVzLw==");
  EXPECT_STREQ(doc["range_end"].GetString(), "Y2VydGhlcmQvY2VydGlmaWNhdGVzMA==");
  EXPECT_STREQ(doc["limit"].GetString(), "500");
  EXPECT_FALSE(doc.HasMember("revision"));
  EXPECT_FALSE(doc.HasMember("serializable"));

  put_request p{"k", std::string("\0\x01value", 7), 7587883420301, false};
  auto put = parsed(encode(p));
  EXPECT_STREQ(put["value"].GetString(), "AAF2YWx1ZQ==");
  EXPECT_STREQ(put["lease"].GetString(), "7587883420301");
}

TEST(EtcdProtocol, TxnEncodesConditionsAndBothBranches) {
  txn_request t;
  t.conditions.push_back(modified_at("leader", 42));
  t.conditions.push_back(absent("records/a"));
  compare v;
  v.key = "k";
  v.what = compare::target::value;
  v.result = compare::op::not_equal;
  v.value = "";
  t.conditions.push_back(v);
  t.success.emplace_back(put_request{"records/a", "x", 0, false});
  range_request read;
  read.key = "records/a";
  t.failure.emplace_back(read);
  auto doc = parsed(encode(t));
  ASSERT_EQ(doc["compare"].Size(), 3u);
  EXPECT_STREQ(doc["compare"][0]["target"].GetString(), "MOD");
  EXPECT_STREQ(doc["compare"][0]["mod_revision"].GetString(), "42");
  EXPECT_STREQ(doc["compare"][1]["target"].GetString(), "CREATE");
  EXPECT_STREQ(doc["compare"][1]["create_revision"].GetString(), "0");
  EXPECT_STREQ(doc["compare"][2]["result"].GetString(), "NOT_EQUAL");
  EXPECT_STREQ(doc["compare"][2]["value"].GetString(), "");  // compared with "", still sent
  EXPECT_TRUE(doc["success"][0].HasMember("request_put"));
  EXPECT_TRUE(doc["failure"][0].HasMember("request_range"));
}

TEST(EtcdProtocol, ReadsARangeAsEtcdSendsIt) {
  auto r = decode_range(
      R"({"header":{"cluster_id":"15875391935852295136","member_id":"7383792418829112008",)"
      R"("revision":"2","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"2",)"
      R"("mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->header.cluster_id, 15875391935852295136u);
  EXPECT_EQ(r->header.revision, 2);
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].key, "foo");
  EXPECT_EQ(r->kvs[0].value, "bar");
  EXPECT_EQ(r->kvs[0].mod_revision, 2);
  EXPECT_EQ(r->count, 1);
  EXPECT_FALSE(r->more);

  auto empty = decode_range(R"({"header":{"revision":"9"}})");
  EXPECT_FALSE(decode_range(R"({"kvs":[]})"));  // every answer has a header
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->kvs.empty());
  EXPECT_EQ(empty->count, 0);
}

TEST(EtcdProtocol, HostileAnswersAreBadAnswersNamingTheField) {
  struct row {
    const char* body;
    const char* names;
  } rows[] = {
      {"", "not JSON"},
      {R"({"kvs":[]})", "no header"},
      {R"({"header":{"revision":"-1"}})", "revision is out of range"},
      {R"({"header":{"revision":"9223372036854775807"}})", "revision is out of range"},
      {R"({"header":{},"kvs":[{"key":"YQ==","mod_revision":"-5"}]})", "mod_revision"},
      {"[]", "not a JSON object"},
      {R"({"header":{"revision":"x"}})", "revision"},
      {R"({"header":{"revision":"99999999999999999999"}})", "revision"},
      {R"({"header":"no"})", "header"},
      {R"({"header":{},"kvs":{}})", "kvs"},
      {R"({"header":{},"kvs":[{"key":"!!!"}]})", "key is not base64"},
      {R"({"header":{},"kvs":[{"key":5}]})", "key is not a string"},
      {R"({"header":{},"kvs":[7]})", "not an object"},
      {R"({"header":{},"more":"yes"})", "more"},
  };
  for (const auto& r : rows) {
    auto got = decode_range(r.body);
    ASSERT_FALSE(got) << r.body;
    EXPECT_EQ(got.error().code, errc::bad_answer) << r.body;
    EXPECT_NE(got.error().message.find(r.names), std::string::npos)
        << r.body << " → " << got.error().message;
  }
}

TEST(EtcdProtocol, ReadsATxnEitherWay) {
  auto won = decode_txn(
      R"({"header":{"revision":"5"},"succeeded":true,"responses":[{"response_put":{"header":)"
      R"({"revision":"5"}}}]})");
  ASSERT_TRUE(won) << won.error().message;
  EXPECT_TRUE(won->succeeded);
  ASSERT_EQ(won->responses.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<put_response>(won->responses[0]));

  // As etcd 3.4.23 answered a failed comparison: "succeeded" left out, the failure branch's range.
  auto lost = decode_txn(
      R"({"header":{"cluster_id":"1","member_id":"2","revision":"2","raft_term":"2"},)"
      R"("responses":[{"response_range":{"header":{"revision":"2"},"kvs":[{"key":"Zm9v",)"
      R"("create_revision":"2","mod_revision":"2","version":"1","value":"YmFy"}],"count":"1"}}]})");
  ASSERT_TRUE(lost) << lost.error().message;
  EXPECT_FALSE(lost->succeeded);
  ASSERT_EQ(lost->responses.size(), 1u);
  const auto& range = std::get<range_response>(lost->responses[0]);
  EXPECT_EQ(range.kvs.at(0).value, "bar");

  EXPECT_FALSE(decode_txn(R"({"header":{},"responses":[{"response_nothing":{}}]})"));
}

TEST(EtcdProtocol, LeasesAndTheirKeepAliveStream) {
  auto grant =
      decode_lease_grant(R"({"header":{"revision":"2"},"ID":"1353510092533112839","TTL":"5"})");
  ASSERT_TRUE(grant);
  EXPECT_EQ(grant->id, 1353510092533112839);
  EXPECT_EQ(grant->ttl, 5);
  EXPECT_FALSE(decode_lease_grant(R"({"header":{}})"));  // no lease in it

  auto alive =
      decode_lease_keepalive(R"({"result":{"header":{"revision":"2"},"ID":"7","TTL":"15"}})");
  ASSERT_TRUE(alive);
  EXPECT_EQ(alive->ttl, 15);
  // A lease that is gone: etcd 3.4.23 answers its ID without a TTL.
  auto gone = decode_lease_keepalive(R"({"result":{"header":{"revision":"2"},"ID":"1"}})");
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->ttl, 0);
  auto refused = decode_lease_keepalive(
      R"({"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}})");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::unavailable);
}

TEST(EtcdProtocol, ErrorAnswersByTheirGrpcCode) {
  auto lease = error_of(404,
                        R"({"error":"etcdserver: requested lease not found","message":)"
                        R"("etcdserver: requested lease not found","code":5})",
                        "http://127.0.0.1:2379/v3/lease/revoke");
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->code, errc::not_found);
  EXPECT_NE(lease->message.find("requested lease not found"), std::string::npos);
  EXPECT_NE(lease->message.find("127.0.0.1:2379"), std::string::npos);
  EXPECT_FALSE(lease->maybe_applied);

  auto no_leader = error_of(503, R"({"message":"etcdserver: no leader","code":14})", "e");
  ASSERT_TRUE(no_leader);
  EXPECT_EQ(no_leader->code, errc::unavailable);
  // Said before anything is proposed (hasleader): not applied, another member may be asked.
  EXPECT_FALSE(no_leader->maybe_applied);
  auto changed = error_of(503, R"({"message":"etcdserver: leader changed","code":14})", "e");
  ASSERT_TRUE(changed);
  EXPECT_TRUE(changed->maybe_applied);  // cut short after it was proposed: may be applied

  auto timed_out = error_of(503, R"({"message":"etcdserver: request timed out","code":4})", "e");
  ASSERT_TRUE(timed_out);
  EXPECT_TRUE(timed_out->maybe_applied);  // a proposal that timed out may still be applied

  auto compacted = error_of(400,
                            R"({"message":"mvcc: required revision has been compacted",)"
                            R"("code":11})",
                            "e");
  EXPECT_EQ(compacted->code, errc::compacted);

  // Not a gateway at all (a web server on the port); control bytes of an answer never reach a log.
  auto page = error_of(404, "<html>\r\nnot here", "e");
  EXPECT_EQ(page->code, errc::bad_answer);
  auto evil = error_of(500, R"({"message":"a\r\nlevel=error forged","code":2})", "e");
  EXPECT_EQ(evil->message.find('\n'), std::string::npos);
  auto cancelled =
      decode_watch(R"({"result":{"header":{},"canceled":true,"cancel_reason":"x\ny"}})");
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->cancel_reason, "x y");
  EXPECT_EQ(evil->code, errc::other);

  EXPECT_FALSE(error_of(200, "{}", "e"));
}

TEST(EtcdProtocol, WatchMessagesAsEtcdStreamsThem) {
  auto created = decode_watch(
      R"({"result":{"header":{"cluster_id":"1","member_id":"2","revision":"2","raft_term":"2"},)"
      R"("created":true}})");
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->created);
  EXPECT_TRUE(created->events.empty());

  auto events = decode_watch(
      R"({"result":{"header":{"revision":"4"},"events":[{"kv":{"key":"Zm9v","create_revision":"2",)"
      R"("mod_revision":"3","version":"2","value":"cXV4"}},{"type":"DELETE","kv":{"key":"Zm9v",)"
      R"("mod_revision":"4"}}]}})");
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->events.size(), 2u);
  EXPECT_EQ(events->events[0].type, watch_event::kind::put);
  EXPECT_EQ(events->events[0].kv.value, "qux");
  EXPECT_EQ(events->events[1].type, watch_event::kind::remove);
  EXPECT_EQ(events->events[1].kv.mod_revision, 4);

  auto compacted = decode_watch(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"3"}})");
  ASSERT_TRUE(compacted);
  EXPECT_TRUE(compacted->canceled);
  EXPECT_EQ(compacted->compact_revision, 3);

  EXPECT_FALSE(decode_watch(R"({"result":{"header":{},"events":[{"type":"RENAME","kv":{}}]}})"));
  EXPECT_FALSE(decode_watch(R"({"result":{"header":{},"events":[{"type":"PUT"}]}})"));
  auto err = decode_watch(R"({"error":{"grpc_code":14,"message":"etcdserver: no leader"}})");
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().code, errc::unavailable);
}

TEST(EtcdProtocol, TheStreamIsSplitIntoWholeMessagesWhateverTheChunks) {
  message_splitter split(64);
  auto a = split.feed(R"({"result":)");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->empty());
  auto b = split.feed("{}}\n{\"x\":1}\r\n\n{\"y\"");
  ASSERT_TRUE(b);
  ASSERT_EQ(b->size(), 2u);
  EXPECT_EQ((*b)[0], R"({"result":{}})");
  EXPECT_EQ((*b)[1], R"({"x":1})");
  auto c = split.feed(":2}\n");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0], R"({"y":2})");
  // A message that never ends is refused at the limit, not held in memory without bound.
  auto d = split.feed(std::string(100, 'x'));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, errc::bad_answer);
}

TEST(EtcdProtocol, EndpointsAreHttpUrlsWithoutAPath) {
  auto ok = parse_endpoints(" http://127.0.0.1:2379/, https://etcd-2:2379,http://127.0.0.1:2379");
  ASSERT_TRUE(ok) << ok.error();
  ASSERT_EQ(ok->size(), 2u);  // the same one twice is one
  EXPECT_EQ((*ok)[0], "http://127.0.0.1:2379");
  EXPECT_EQ((*ok)[1], "https://etcd-2:2379");
  EXPECT_FALSE(parse_endpoints(""));
  EXPECT_FALSE(parse_endpoints(" , "));
  EXPECT_FALSE(parse_endpoints("etcd:2379"));
  EXPECT_FALSE(parse_endpoints("ftp://etcd:2379"));
  auto path = parse_endpoints("http://etcd:2379/v3");
  ASSERT_FALSE(path);
  EXPECT_NE(path.error().find("path"), std::string::npos);
}

}  // namespace
}  // namespace certherd::etcd
