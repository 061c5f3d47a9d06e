// The resource store of the simulator that stands in for Rancher 1.x (Cattle): one project, one
// stack, certificates (design/rancher-api.md §A3) and services / load-balancer services (§A4, §A5),
// their validation, their process states (activating→active, updating-active→active,
// removing→removed) and their rendering exactly as a GET with an environment API key shows them.
// Pure: time comes in as arguments, and the caller runs the transition delays; every state change
// is reported through `on_change` so the event stream (§A6) can follow it.
#pragma once

#include "tests/sim/cert_facts.hpp"
#include "tests/sim/wire.hpp"

#include <rapidjson/document.h>
#include <boost/system/result.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace certherd::sim {

[[noreturn]] void throw_exception_from_error(const api_error& e, const boost::source_location&);

template <class T>
using api_result = boost::system::result<T, api_error>;

enum class resource_kind { certificate, service };

struct lb_config {
  std::vector<std::string> certificate_ids;
  std::optional<std::string> default_certificate_id;
  std::string port_rules = "[]";  ///< kept as JSON text: the simulator never reads them
  bool operator==(const lb_config&) const = default;
};

struct certificate_record {
  std::uint64_t n = 0;
  std::string id, uuid, name, cert, key;
  std::optional<std::string> cert_chain, description;
  cert_facts facts;
  std::string state;
  bool transitioning = false;
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> removed_ms;
  std::uint64_t generation = 0;  ///< bumped by every process: a stale timer finishes nothing
};

struct service_record {
  std::uint64_t n = 0;
  std::string id, uuid, name;
  std::string kind;  ///< "service" or "loadBalancerService"
  std::optional<std::string> description;
  std::map<std::string, std::string> labels;
  std::optional<lb_config> lb;  ///< load balancers only
  std::string state;
  bool transitioning = false;
  bool reload_pending = false;  ///< the LB rebuilds its config when this update finishes
  std::int64_t created_ms = 0;
  std::optional<std::int64_t> removed_ms;
  std::uint64_t generation = 0;
  bool is_lb() const { return kind == "loadBalancerService"; }
};

/// \brief Where links point: "http://host:port/v2-beta[/projects/1a5]", lower-cased.
struct render_context {
  std::string base;
};

/// \brief A process the store started; the caller calls finish() after the transition delay.
struct transition {
  resource_kind kind;
  std::string id;
  std::uint64_t generation = 0;
};

class store {
 public:
  explicit store(std::string project_id, std::int64_t now_ms = 0);

  /// \brief Called after every change of a certificate or service (for resource.change).
  std::function<void(resource_kind, const std::string& id)> on_change;
  /// \brief Load balancers rebuild on a bare certificate update too (a Rancher 1.0/1.1 habit).
  bool reload_on_certificate_update = false;

  const std::string& project_id() const { return project_id_; }

  /// \brief POST: validates (MissingRequired, NotUnique, InvalidFormat) and starts activating.
  api_result<transition> create_certificate(const rapidjson::Value& body, std::int64_t now_ms);
  /// \brief PUT: cert, certChain, key, description and name; a new cert or key starts
  /// certificate.update (409 InvalidState unless active).
  api_result<std::optional<transition>> update_certificate(const std::string& id,
                                                           const rapidjson::Value& body);
  /// \brief DELETE or ?action=remove: 405 InvalidAction while a load balancer uses it.
  api_result<transition> remove_certificate(const std::string& id);

  /// \brief Creates a service: {"name","kind","labels","lbConfig"}.
  api_result<transition> create_service(const rapidjson::Value& body, std::int64_t now_ms);
  /// \brief name, description, labels (or launchConfig.labels) and, on a load balancer,
  /// lbConfig; a change of labels or lbConfig runs service.update.
  api_result<std::optional<transition>> update_service(const std::string& id,
                                                       const rapidjson::Value& body);
  /// \brief POST ?action=update: service.update, which makes a load balancer rebuild.
  api_result<transition> update_service_action(const std::string& id);
  api_result<transition> remove_service(const std::string& id);

  /// \brief Ends the transition `t` started (unless a later process superseded it); returns the
  /// load balancers that rebuild their configuration now.
  std::vector<std::string> finish(const transition& t, std::int64_t now_ms);

  const certificate_record* find_certificate(const std::string& id) const;
  const service_record* find_service(const std::string& id) const;
  const std::map<std::uint64_t, certificate_record>& certificates() const { return certs_; }
  const std::map<std::uint64_t, service_record>& services() const { return services_; }

  void render(json_writer& w, const certificate_record& c, const render_context& ctx,
              bool with_key) const;
  void render(json_writer& w, const service_record& s, const render_context& ctx) const;
  void render_project(json_writer& w, const render_context& ctx) const;
  void render_stack(json_writer& w, const render_context& ctx) const;
  /// \brief The resource as GET renders it (key null), or nullopt when there is none.
  std::optional<std::string> render(resource_kind kind, const std::string& id,
                                    const render_context& ctx) const;

  /// \brief A collection ("certificate", "service", "loadBalancerService", "stack",
  /// "project") for the request URL `self_url` and its query.
  std::string list(std::string_view type, const query_params& params, std::string_view self_url,
                   const render_context& ctx) const;

 private:
  certificate_record* cert_mut(const std::string& id);
  service_record* service_mut(const std::string& id);
  void changed(resource_kind kind, const std::string& id) const;

  std::string project_id_;
  std::int64_t created_ms_;
  std::map<std::uint64_t, certificate_record> certs_;
  std::map<std::uint64_t, service_record> services_;
  std::uint64_t next_cert_ = 1;
  std::uint64_t next_service_ = 1;
};

/// \brief Filter fields of each collection, as the schema dump lists them.
std::span<const std::string_view> filterable_fields(std::string_view type);

/// \brief A random version-4 UUID.
std::string random_uuid();

}  // namespace certherd::sim
