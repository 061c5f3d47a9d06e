// Rancher 1.x (Cattle, API v2-beta) resources as values, and the decoders that read them from
// the JSON Rancher sends: certificates, services and load-balancer services, collections with
// their pagination, error bodies, and the frames of the event websocket (design/rancher-api.md §A2–A7).
// No I/O here: the decoders take text and return values or a reason, so they are table-tested
// and fuzzed (tests/fuzz). They accept the wire's quirks — `\/` escapes, nulls anywhere,
// `…TS` companions, lower-cased links, unknown fields — and never trust a field's type.
#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace certherd::rancher {

using sys_seconds = std::chrono::sys_seconds;

/// \brief What kind of failure an error is, from its status (Cattle's codes refine it).
enum class error_kind {
  transport,     ///< no answer: connect, TLS, timeout
  decode,        ///< an answer that could not be read
  unauthorized,  ///< 401: the API key is wrong or revoked
  forbidden,     ///< 403: the key may not do this (not an environment key?)
  not_found,     ///< 404
  not_allowed,   ///< 405: e.g. InvalidAction, a certificate in use
  conflict,      ///< 409: the resource is busy (transitioning)
  invalid,       ///< 422: NotUnique, InvalidFormat, MissingRequired, …
  server,        ///< 5xx
  other,
};

std::string_view to_string(error_kind k) noexcept;

/// \brief Why a Rancher call failed: an HTTP status with Rancher's error body (code, message,
/// fieldName), or status 0 for a transport failure (detail in `message`). Never holds a secret.
struct error {
  unsigned status = 0;
  std::string code;  ///< Cattle's code: NotUnique, InvalidFormat, InvalidState, … or "transport"
  std::string message;
  std::string field_name;

  bool transport() const noexcept { return status == 0 && code == "transport"; }
  error_kind kind() const noexcept;
  /// \brief Worth retrying: transport failures, 5xx, 409 (a busy resource).
  bool retryable() const noexcept;
  std::string to_string() const;
};

std::ostream& operator<<(std::ostream& os, const error& e);

template <class T>
using result = boost::system::result<T, error>;

[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

/// \brief A `certificate` resource (§A3). `key` is never read: Rancher returns it to a
/// service account only in the answer to a create.
struct certificate {
  std::string id;  ///< "1c3"
  std::string name;
  std::string state;          ///< activating, active, updating-active, removing, removed, …
  std::string transitioning;  ///< yes / no / error
  std::string transitioning_message;
  std::string cert;        ///< PEM of the leaf
  std::string cert_chain;  ///< PEM of the rest of the chain (may be empty)
  std::string common_name;
  std::vector<std::string> subject_alternative_names;
  std::string fingerprint_sha1;  ///< certFingerprint, lower-case hex without ':'
  std::string serial_number;     ///< decimal, as Rancher reports it
  std::optional<sys_seconds> expires_at;
  std::string self_link;
  bool removed = false;  ///< removed, purging, purged, or a `removed` time set

  bool settled() const noexcept { return transitioning != "yes"; }
};

/// \brief A service of any kind (§A4, §A5): plain services carry the hosts label in
/// launchConfig.labels; load-balancer services reference certificates in lbConfig.
struct service {
  std::string id;  ///< "1s5"
  std::string name;
  std::string type;  ///< service, loadBalancerService, dnsService, …
  std::string kind;
  std::string state;
  std::string transitioning;
  std::string stack_id;
  std::map<std::string, std::string> labels;
  std::vector<std::string> certificate_ids;  ///< lbConfig.certificateIds
  std::string default_certificate_id;        ///< lbConfig.defaultCertificateId
  std::string self_link;
  bool removed = false;

  bool is_load_balancer() const noexcept;
  bool references(std::string_view certificate_id) const noexcept;
};

template <class T>
struct page {
  std::vector<T> data;
  std::string next;                   ///< pagination.next, empty on the last page
  std::vector<std::string> problems;  ///< items skipped because they could not be read
};

/// \brief One frame of the subscribe websocket (§A6).
struct event {
  enum class kind { ping, resource_change, logout, other };
  kind what = kind::other;
  std::string name;  ///< the frame's name as sent
  std::string resource_type;
  std::string resource_id;
  std::optional<certificate> certificate_snapshot;  ///< resourceType certificate
  std::optional<service> service_snapshot;          ///< resourceType *service
};

std::string_view to_string(event::kind k) noexcept;

/// \brief Rancher's states that mean the object is gone (the 1.6 UI's REMOVEDISH_STATES).
bool is_removed_state(std::string_view state) noexcept;

/// \brief Parses Java's Date.toString() ("Wed Aug 30 11:00:00 UTC 2017") in UTC/GMT.
std::optional<sys_seconds> parse_java_date(std::string_view text);

// The decoders fail with status 0 and code "decode" on malformed input; the message says what
// was wrong without quoting the body.
result<certificate> decode_certificate(std::string_view body);
result<page<certificate>> decode_certificates(std::string_view body);
result<service> decode_service(std::string_view body);
result<page<service>> decode_services(std::string_view body);
/// \brief The id of the first project of a `/projects` collection (an environment API key sees
/// its own project only).
result<std::string> decode_project_id(std::string_view body);
/// \brief A websocket frame; unknown names are kind::other, not errors.
result<event> decode_event(std::string_view frame);
/// \brief Rancher's error body for `status`; falls back to the status alone when the body is
/// not Rancher's error shape (a proxy's HTML page, say). The body is never copied verbatim.
error decode_error(unsigned status, std::string_view body);

}  // namespace certherd::rancher
