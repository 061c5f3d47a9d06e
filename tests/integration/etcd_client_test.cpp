// certherd's etcd client against real etcd (Debian's etcd-server 3.4): private clusters of three
// members on loopback (tests/support/etcd_cluster), killed, paused and compacted by the test.
#include "clients/etcd/client.hpp"
#include "etcd_cluster.hpp"
#include "stores/etcd_store.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <mutex>
#include <set>

namespace certherd::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

template <class T>
T run(asio::io_context& ioc, asio::awaitable<T> work, std::chrono::seconds limit = 120s) {
  std::optional<T> out;
  asio::co_spawn(ioc, std::move(work), [&](std::exception_ptr e, T r) {
    if (e) std::rethrow_exception(e);
    out.emplace(std::move(r));
  });
  ioc.restart();
  ioc.run_for(limit);
  if (!out) throw std::runtime_error("the etcd call did not complete");
  return std::move(*out);
}

std::vector<std::string> list(const std::string& endpoints) {
  auto parsed = etcd::parse_endpoints(endpoints);
  if (!parsed) throw std::runtime_error(parsed.error());
  return *parsed;
}

struct fixture {
  temp_dir tmp;
  etcd_cluster cluster;
  asio::io_context ioc;
  http::client http;
  etcd::client etcd;

  explicit fixture(bool tls = false, std::chrono::milliseconds call_timeout = 5s)
      : cluster({tmp.path() / "etcd", 3, tls}),
        http(ioc.get_executor(), http_options(tls)),
        etcd(http, {list(cluster.endpoints()), call_timeout}) {}

  http::client_options http_options(bool tls) const {
    http::client_options o;
    if (tls) {
      o.ca_bundle = cluster.ca_file().string();
      o.client_certificate = cluster.client_cert().string();
      o.client_key = cluster.client_key().string();
    }
    return o;
  }
};

TEST(EtcdClient, KeysTransactionsAndLeasesAgainstARealCluster) {
  fixture f;
  auto put = run(f.ioc, f.etcd.async_put({"certherd/a", "one", 0, false}));
  ASSERT_TRUE(put) << put.error().message;
  auto got = run(f.ioc, f.etcd.async_range(etcd::under("certherd/")));
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(got->kvs[0].value, "one");
  auto revision = got->kvs[0].mod_revision;

  // A write fenced on the revision it read: the first succeeds, the second (stale) does not.
  etcd::txn_request fenced;
  fenced.conditions.push_back(etcd::modified_at("certherd/a", revision));
  fenced.success.emplace_back(etcd::put_request{"certherd/a", "two", 0, false});
  auto first = run(f.ioc, f.etcd.async_txn(fenced));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->succeeded);
  auto stale = run(f.ioc, f.etcd.async_txn(fenced));
  ASSERT_TRUE(stale);
  EXPECT_FALSE(stale->succeeded);
  EXPECT_EQ(f.cluster.etcdctl("get --print-value-only certherd/a"), "two\n");

  // A key on a lease lives while the lease does.
  auto lease = run(f.ioc, f.etcd.async_lease_grant(10s));
  ASSERT_TRUE(lease) << lease.error().message;
  EXPECT_EQ(lease->ttl, 10);
  ASSERT_TRUE(run(f.ioc, f.etcd.async_put({"certherd/leased", "x", lease->id, false})));
  auto alive = run(f.ioc, f.etcd.async_lease_keepalive(lease->id));
  ASSERT_TRUE(alive) << alive.error().message;
  EXPECT_GT(alive->ttl, 0);
  ASSERT_TRUE(run(f.ioc, f.etcd.async_lease_revoke(lease->id)));
  auto gone = run(f.ioc, f.etcd.async_range(etcd::get("certherd/leased")));
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->kvs.empty());
  auto dead = run(f.ioc, f.etcd.async_lease_keepalive(lease->id));
  ASSERT_TRUE(dead) << dead.error().message;
  EXPECT_EQ(dead->ttl, 0);  // a lease that is gone says so; it is not an error
  auto revoke_again = run(f.ioc, f.etcd.async_lease_revoke(lease->id));
  ASSERT_FALSE(revoke_again);
  EXPECT_EQ(revoke_again.error().code, etcd::errc::not_found);

  auto removed = run(f.ioc, f.etcd.async_delete({"certherd/a", "", false}));
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->deleted, 1);
}

TEST(EtcdClient, AWatchResumesOnAnotherMemberWithoutLosingOrRepeatingAnEvent) {
  fixture f;
  auto start = run(f.ioc, f.etcd.async_range(etcd::get("certherd/")));
  ASSERT_TRUE(start);
  // The watch and the writes go to member 0 first; it is killed halfway through the writes.
  etcd::client writer(f.http, {list(f.cluster.endpoints()), 5s});
  std::vector<std::string> seen;
  constexpr int kWrites = 200;
  etcd::watch_request w;
  w.key = "certherd/w/";
  w.range_end = etcd::prefix_end(w.key);
  w.start_revision = start->header.revision + 1;
  std::optional<etcd::watch_end> ended;
  asio::co_spawn(f.ioc,
                 f.etcd.async_watch(w,
                                    [&](const etcd::watch_response& r) {
                                      for (const auto& ev : r.events)
                                        seen.push_back(ev.kv.key + "=" + ev.kv.value);
                                      return seen.size() >= kWrites ? http::stream_step::stop
                                                                    : http::stream_step::more;
                                    }),
                 [&](std::exception_ptr e, etcd::watch_end end) {
                   if (e) std::rethrow_exception(e);
                   ended = end;
                 });
  std::string write_error;
  asio::co_spawn(
      f.ioc,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < kWrites; ++i) {
          if (i == kWrites / 2) f.cluster.kill(0);
          for (int attempt = 0;; ++attempt) {
            // Named, not braced temporaries: GCC 12 frees a braced argument of a co_await twice.
            etcd::put_request put{fmt::format("certherd/w/{:03}", i), std::to_string(i), 0, false};
            auto r = co_await writer.async_put(put);
            if (r) break;
            // A write whose answer was lost is read back before it is made again.
            auto read = etcd::get(put.key);
            auto back = co_await writer.async_range(read);
            if (back && !back->kvs.empty()) break;
            if (attempt == 20) {
              write_error = r.error().message;
              co_return;
            }
            asio::steady_timer t(co_await asio::this_coro::executor, 200ms);
            co_await t.async_wait(asio::use_awaitable);
          }
        }
      },
      asio::detached);
  f.ioc.restart();
  f.ioc.run_for(90s);
  ASSERT_TRUE(write_error.empty()) << write_error;
  ASSERT_TRUE(ended) << "the watch delivered " << seen.size() << " of " << kWrites;
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kWrites));
  for (int i = 0; i < kWrites; ++i)
    EXPECT_EQ(seen[i], fmt::format("certherd/w/{:03}={}", i, i));
  EXPECT_NE(f.etcd.endpoint(), f.cluster.endpoint(0));
}

TEST(EtcdClient, AWatchOnCompactedHistorySaysFromWhereToReadAgain) {
  fixture f;
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(run(f.ioc, f.etcd.async_put({"certherd/c", std::to_string(i), 0, false})));
  auto now = run(f.ioc, f.etcd.async_range(etcd::get("certherd/c")));
  ASSERT_TRUE(now);
  f.cluster.etcdctl(fmt::format("compaction {}", now->header.revision));
  etcd::watch_request w;
  w.key = "certherd/c";
  w.start_revision = 1;
  auto end = run(f.ioc, f.etcd.async_watch(w, [](const etcd::watch_response&) {
    return http::stream_step::more;
  }));
  EXPECT_EQ(end.why.code, etcd::errc::compacted) << end.why.message;
  EXPECT_EQ(end.compact_revision, now->header.revision);
}

// The store's watch across a compaction gap: the only member it talks to is killed; meanwhile
// the election key is deleted, a challenge token appears and the history is compacted. When the
// member is back, the watch finds its history gone and reads everything again, and the key
// handlers are told what the gap hid: the token, and the election key's removal (without it, the
// followers would wait for a deletion that never comes).
TEST(EtcdStoreWatch, KeyHandlersAreToldWhatACompactionGapHid) {
  temp_dir tmp;
  etcd_cluster cluster({tmp / "etcd", 3, false});
  stores::etcd_store_options o;
  o.client.endpoints = {cluster.endpoint(0)};
  o.client.call_timeout = 5s;
  o.prefix = "gap/";
  auto ring = stores::key_ring::of({std::string(32, 'g')});
  ASSERT_TRUE(ring);
  stores::etcd_store store(o, std::move(*ring));
  auto opened = store.open();
  ASSERT_TRUE(opened) << opened.error().message;
  std::mutex m;
  std::vector<std::string> seen;
  auto record = [&](const etcd::watch_event& ev) {
    std::lock_guard lock(m);
    seen.push_back((ev.type == etcd::watch_event::kind::put ? "put " : "remove ") + ev.kv.key);
  };
  auto saw = [&](const std::string& what) {
    std::lock_guard lock(m);
    return std::find(seen.begin(), seen.end(), what) != seen.end();
  };
  store.on_key("leader", record);
  store.on_key("challenges/", record);
  cluster.etcdctl("put gap/leader someone");
  ASSERT_TRUE(eventually([&] { return saw("put gap/leader"); }, 20s));

  cluster.kill(0);
  // The two left may first elect a leader among themselves (member 0 may have led).
  auto etcdctl = [&](const std::string& args) {
    std::string out, why;
    bool done = eventually(
        [&] {
          try {
            out = cluster.etcdctl(args);
            return true;
          } catch (const std::exception& e) {
            why = e.what();
            return false;
          }
        },
        30s);
    EXPECT_TRUE(done) << why;
    return out;
  };
  etcdctl("del gap/leader");
  etcdctl("put gap/challenges/tok value");
  auto fields = etcdctl("get gap/challenges/tok --write-out=fields");
  auto at = fields.find("\"Revision\" : ");
  ASSERT_NE(at, std::string::npos) << fields;
  long long revision = std::stoll(fields.substr(at + 13));
  etcdctl(fmt::format("compaction {}", revision));
  EXPECT_FALSE(saw("remove gap/leader"));
  cluster.start(0);
  EXPECT_TRUE(eventually([&] { return saw("remove gap/leader"); }, 60s));
  EXPECT_TRUE(eventually([&] { return saw("put gap/challenges/tok"); }, 10s));
}

TEST(EtcdClient, EveryEndpointIsTriedInTurnAndEachCallHasADeadline) {
  fixture f;
  auto dead = free_port();
  etcd::client c(f.http, {{fmt::format("http://127.0.0.1:{}", dead), f.cluster.endpoint(1)}, 5s});
  auto put = run(f.ioc, c.async_put({"certherd/turn", "x", 0, false}));
  ASSERT_TRUE(put) << put.error().message;
  EXPECT_EQ(c.endpoint(), f.cluster.endpoint(1));  // and stays there

  // A member that hangs (SIGSTOP) costs at most the call's deadline, then the next one answers.
  etcd::client hung(f.http, {list(f.cluster.endpoints()), 2s});
  f.cluster.pause(0);
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(f.ioc, hung.async_range(etcd::get("certherd/turn")));
  auto took = std::chrono::steady_clock::now() - t0;
  f.cluster.resume(0);
  EXPECT_LT(took, 30s);  // bounded by the deadline (not a speed assertion: a hang is unbounded)
  if (r) {
    EXPECT_EQ(r->kvs.at(0).value, "x");
  } else {
    EXPECT_EQ(r.error().code, etcd::errc::transport) << r.error().message;
  }
  // Nothing answers at all: a transport error by the deadline.
  etcd::client none(f.http, {{fmt::format("http://127.0.0.1:{}", dead)}, 2s});
  auto nothing = run(f.ioc, none.async_range(etcd::get("certherd/turn")));
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().code, etcd::errc::transport);
  EXPECT_NE(nothing.error().message.find(std::to_string(dead)), std::string::npos)
      << nothing.error().message;
}

TEST(EtcdClient, WithoutQuorumNothingIsWrittenAndItResumesWhenMembersReturn) {
  fixture f(false, 3s);
  f.cluster.kill(1);
  f.cluster.kill(2);
  auto put = run(f.ioc, f.etcd.async_put({"certherd/q", "lost?", 0, false}));
  ASSERT_FALSE(put);
  EXPECT_TRUE(put.error().code == etcd::errc::unavailable ||
              put.error().code == etcd::errc::transport)
      << put.error().message;
  f.cluster.start(1);
  f.cluster.start(2);
  bool back = eventually(
      [&] {
        auto r = run(f.ioc, f.etcd.async_put({"certherd/q", "after", 0, false}));
        return static_cast<bool>(r);
      },
      60s);
  ASSERT_TRUE(back);
  EXPECT_EQ(f.cluster.etcdctl("get --print-value-only certherd/q"), "after\n");
}

TEST(EtcdClient, TlsWithClientCertificatesOfTheClusterCaOnly) {
  fixture f(true);
  auto ok = run(f.ioc, f.etcd.async_put({"certherd/tls", "x", 0, false}));
  ASSERT_TRUE(ok) << ok.error().message;

  for (auto [cert, key] :
       {std::pair{std::string(), std::string()},
        std::pair{f.cluster.stranger_cert().string(), f.cluster.stranger_key().string()}}) {
    http::client_options o;
    o.ca_bundle = f.cluster.ca_file().string();
    o.client_certificate = cert;
    o.client_key = key;
    http::client other(f.ioc.get_executor(), o);
    etcd::client c(other, {list(f.cluster.endpoints()), 3s});
    auto refused = run(f.ioc, c.async_range(etcd::get("certherd/tls")));
    EXPECT_FALSE(refused) << "a client without the cluster's certificate read the store ("
                          << (cert.empty() ? "none" : cert) << ")";
  }
}

}  // namespace
}  // namespace certherd::testing
