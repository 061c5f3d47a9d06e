#include "reconcilers/rancher_target.hpp"

#include "clients/log/log.hpp"
#include "reconcilers/failure.hpp"

#include "pki/encoding.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace certherd::reconcilers {

namespace asio = boost::asio;

namespace {

failure from_rancher(std::string_view what, const rancher::error& e) {
  return failure_from(e).within(what);
}

}  // namespace

rancher_target::rancher_target(rancher::api& api, rancher::mirror& mirror,
                               const pki::trust_anchors& anchors, bool adopt_foreign)
    : api_(api), mirror_(mirror), anchors_(anchors), adopt_foreign_(adopt_foreign) {}

target_copy rancher_target::to_target_copy(const rancher::certificate& c) {
  std::string key = pki::sha256(c.cert + "\n" + c.cert_chain);
  if (auto it = classified_.find(key); it != classified_.end()) return it->second;
  target_copy out;
  out.target = std::string(name());
  out.present = true;
  out.fingerprint_sha1 = c.fingerprint_sha1;
  auto leaf = pki::parse_pem_bundle(c.cert);
  if (leaf && !leaf->empty()) {
    std::vector<pki::certificate> chain{leaf->front()};
    if (auto rest = pki::parse_pem_bundle(c.cert_chain)) {
      for (auto& cert : *rest) {
        // The original project put the full chain in certChain, leaf included: skip it.
        if (cert.fingerprint_sha256() != chain.front().fingerprint_sha256())
          chain.push_back(std::move(cert));
      }
    }
    out.fingerprint = chain.front().fingerprint_sha256();
    out.fingerprint_sha1 = chain.front().fingerprint_sha1();
    out.not_after = chain.front().not_after();
    out.issuer = pki::classify(chain, anchors_);
  } else if (c.expires_at) {
    // Rancher parsed it once, or it would not hold it; we cannot: treat it as another CA's.
    out.not_after = *c.expires_at;
  }
  if (classified_.size() > 20000) classified_.clear();  // bound the cache; it refills
  classified_.emplace(std::move(key), out);
  return out;
}

asio::awaitable<outcome<std::optional<rancher::certificate>>> rancher_target::current(
    const std::string& cert_name) {
  using found = std::optional<rancher::certificate>;
  if (api_.project_id().empty()) co_return unreachable("Rancher is not connected yet");
  if (mirror_.synced()) {
    const auto* c = mirror_.certificate_named(cert_name);
    co_return c ? found(*c) : found();
  }
  auto r = co_await api_.async_find_certificate(cert_name);
  if (!r) co_return from_rancher("Rancher", r.error());
  co_return std::move(*r);
}

asio::awaitable<outcome<target_copy>> rancher_target::async_observe(std::string cert_name) {
  auto c = co_await current(cert_name);
  if (!c) co_return c.error();
  if (!*c) {
    target_copy none;
    none.target = std::string(name());
    co_return none;
  }
  auto copy = to_target_copy(**c);
  if (reload_pending_.count(cert_name)) {
    copy.fingerprint.clear();
    copy.fingerprint_sha1 = "load balancers not updated yet";
  }
  co_return copy;
}

asio::awaitable<outcome<>> rancher_target::reload_load_balancers(const rancher::certificate& c) {
  // Rancher ≥ 1.2 load balancers reload on service.update, not on certificate.update (§A4).
  auto lbs = co_await api_.async_list_load_balancers();
  if (!lbs) co_return from_rancher("listing load balancers", lbs.error());
  outcome<> problem;
  for (const auto& lb : lbs->data) {
    if (!lb.references(c.id)) continue;
    if (lb.state != "active" && lb.state != "updating-active" && lb.state != "upgraded") {
      // Stopped or mid-upgrade: it reads its certificates when it starts or finishes.
      log::info(
          "lb_not_updated",
          {{"cert", c.name}, {"load_balancer", lb.name}, {"lb_id", lb.id}, {"state", lb.state}});
      continue;
    }
    auto r = co_await api_.async_update_load_balancer(lb);
    if (r) {
      log::info("lb_updated",
                {{"cert", c.name}, {"id", c.id}, {"load_balancer", lb.name}, {"lb_id", lb.id}});
    } else {
      problem = from_rancher(fmt::format("load balancer {} ({})", lb.name, lb.id), r.error());
    }
  }
  co_return problem;
}

asio::awaitable<outcome<>> rancher_target::async_push(std::string cert_name,
                                                      std::vector<pki::certificate> chain,
                                                      pki::private_key key,
                                                      std::vector<std::string> own) {
  if (chain.empty()) co_return fail(failure_kind::internal, "nothing to push");
  auto existing = co_await current(cert_name);
  if (!existing) co_return existing.error();
  rancher::certificate_body body;
  body.name = cert_name;
  body.cert = chain.front().pem();
  body.cert_chain = pki::to_pem(std::span(chain).subspan(1));
  body.key = key.to_pem();
  body.description = "managed by certherd";
  if (*existing) {
    // The last line of defence for another CA's certificate: plan() leaves it alone, but a push
    // planned while Rancher could not be read must not overwrite it either.
    auto held = to_target_copy(**existing);
    auto made = [&](const std::string& fp) {
      return !fp.empty() && std::find(own.begin(), own.end(), fp) != own.end();
    };
    const bool ours = made(held.fingerprint) || made(held.fingerprint_sha1);
    if (!adopt_foreign_ && !ours && held.issuer == pki::issuer_class::foreign &&
        held.not_after >
            std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now())) {
      co_return foreign(fmt::format(
          "Rancher holds a valid certificate of another CA under {}; not overwritten", cert_name));
    }
    auto id = (*existing)->id;
    // Pending until the load balancers are told, whatever happens to the update's answer.
    reload_pending_.insert(cert_name);
    auto updated = co_await api_.async_update_certificate(id, std::move(body));
    if (!updated) co_return from_rancher(fmt::format("Rancher update of {}", id), updated.error());
    mirror_.put(*updated);
    log::info("rancher_updated", {{"cert", cert_name},
                                  {"id", id},
                                  {"fingerprint", updated->fingerprint_sha1.substr(0, 12)}});
    if (auto told = co_await reload_load_balancers(*updated); !told) {
      // Until the load balancers are told, async_observe() reports the certificate as out of sync,
      // so the next reconcile pushes again and retries them.
      auto why = told.error();
      why.message = "certificate updated, but " + why.message;
      co_return why;
    }
    reload_pending_.erase(cert_name);
    co_return outcome<>{};
  }
  auto created = co_await api_.async_create_certificate(std::move(body));
  if (!created) co_return from_rancher("Rancher create", created.error());
  mirror_.put(*created);
  log::info("rancher_created", {{"cert", cert_name},
                                {"id", created->id},
                                {"fingerprint", created->fingerprint_sha1.substr(0, 12)}});
  co_return outcome<>{};
}

}  // namespace certherd::reconcilers
