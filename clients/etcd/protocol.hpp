// etcd v3 through its JSON gateway (etcd 3.4: POST /v3/kv/range, /v3/kv/put, /v3/kv/deleterange,
// /v3/kv/txn, /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke, /v3/watch), as values free
// of I/O: what to send for each call and what an answer means. The gateway speaks proto3 JSON:
// bytes (keys, values) are standard base64, 64-bit integers are strings, and a field at its
// default (0, false, "") is left out. An error answer is {"error","message","code"} with gRPC's
// status code. Everything read from etcd is read as hostile: a body that is not the answer's
// shape is a bad_answer naming what was wrong, never a crash or a default.
#pragma once

#include <boost/system/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace certherd::etcd {

enum class errc {
  transport = 1,        ///< no answer from any endpoint (connect, TLS, timeout, cut short)
  unavailable,          ///< the member answered it cannot serve now (no leader, quorum lost, 5xx)
  not_found,            ///< gRPC NOT_FOUND: a lease that does not exist (any more)
  compacted,            ///< a revision older than the cluster keeps
  failed_precondition,  ///< gRPC FAILED_PRECONDITION
  invalid_argument,     ///< gRPC INVALID_ARGUMENT: a request etcd would not take
  denied,               ///< gRPC UNAUTHENTICATED / PERMISSION_DENIED
  bad_answer,           ///< an answer that is not what the gateway sends
  other,                ///< any other gRPC status
};

std::string_view to_string(errc e) noexcept;

struct error {
  errc code = errc::other;
  int grpc_code = 0;    ///< the gateway's "code", when it sent one
  std::string message;  ///< for people: the endpoint and etcd's own words
  /// The request may have reached etcd and been applied (its answer was lost, or etcd said it
  /// is unavailable, which it also says of a proposal that timed out): a write must not be sent
  /// again blindly. False when it surely was not (no connection, or etcd refused it).
  bool maybe_applied = false;
};

template <class T>
using result = boost::system::result<T, error>;

[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

/// \brief The range_end that makes a range cover every key starting with `prefix` (etcd's
/// "prefix + 1": the last byte below 0xff incremented, what follows dropped; "\0" for an empty
/// prefix or one of 0xff bytes only, meaning every key).
std::string prefix_end(std::string_view prefix);

struct response_header {
  std::uint64_t cluster_id = 0;
  std::uint64_t member_id = 0;
  std::int64_t revision = 0;
  std::uint64_t raft_term = 0;
};

struct key_value {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  std::int64_t lease = 0;
  friend bool operator==(const key_value&, const key_value&) = default;
};

struct range_request {
  std::string key;
  std::string range_end;  ///< empty: `key` alone; prefix_end(key): every key under it
  std::int64_t limit = 0;
  std::int64_t revision = 0;  ///< 0: the newest
  bool keys_only = false;
  bool count_only = false;
  bool serializable = false;  ///< answered by the member alone (may be stale)
};
/// \brief The key `key` alone.
range_request get(std::string key);
/// \brief Every key that starts with `prefix`.
range_request under(std::string prefix);

struct range_response {
  response_header header;
  std::vector<key_value> kvs;
  bool more = false;
  std::int64_t count = 0;
};

struct put_request {
  std::string key;
  std::string value;
  std::int64_t lease = 0;
  bool prev_kv = false;
};
struct put_response {
  response_header header;
  std::optional<key_value> prev_kv;
};

struct delete_request {
  std::string key;
  std::string range_end;
  bool prev_kv = false;
};
struct delete_response {
  response_header header;
  std::int64_t deleted = 0;
  std::vector<key_value> prev_kvs;
};

/// One condition of a transaction: the key's `target` compared with a number (or `value`).
struct compare {
  enum class target { version, create_revision, mod_revision, value, lease };
  enum class op { equal, greater, less, not_equal };
  std::string key;
  target what = target::mod_revision;
  op result = op::equal;
  std::int64_t number = 0;  ///< version, revisions, lease
  std::string value;        ///< for target::value
  std::string range_end;    ///< compare every key of a range (etcd ≥ 3.3)
};

/// \brief A key that does not exist (its create revision is 0).
compare absent(std::string key);
/// \brief A key last modified at `revision` (0: absent).
compare modified_at(std::string key, std::int64_t revision);

using operation = std::variant<range_request, put_request, delete_request>;
using operation_response = std::variant<range_response, put_response, delete_response>;

struct txn_request {
  std::vector<compare> conditions;
  std::vector<operation> success;
  std::vector<operation> failure;
};
struct txn_response {
  response_header header;
  bool succeeded = false;
  std::vector<operation_response> responses;
};

struct lease_grant_response {
  response_header header;
  std::int64_t id = 0;
  std::int64_t ttl = 0;  ///< seconds
};
struct lease_keepalive_response {
  response_header header;
  std::int64_t id = 0;
  std::int64_t ttl = 0;  ///< seconds left; 0: the lease is gone
};

struct watch_request {
  std::string key;
  std::string range_end;
  std::int64_t start_revision = 0;  ///< 0: from now on
  bool prev_kv = false;
  bool progress_notify = true;
};
struct watch_event {
  enum class kind { put, remove };
  kind type = kind::put;
  key_value kv;
  std::optional<key_value> prev_kv;
};
struct watch_response {
  response_header header;
  std::int64_t watch_id = 0;
  bool created = false;
  bool canceled = false;
  std::int64_t compact_revision = 0;  ///< set when canceled because history is compacted
  std::string cancel_reason;
  std::vector<watch_event> events;
};

// The body of each call.
std::string encode(const range_request& r);
std::string encode(const put_request& r);
std::string encode(const delete_request& r);
std::string encode(const txn_request& r);
std::string encode_lease_grant(std::int64_t ttl_seconds, std::int64_t id = 0);
std::string encode_lease_id(std::int64_t id);  ///< keepalive, revoke
std::string encode(const watch_request& r);

/// \brief An error answer ({"error","message","code"}) or a non-2xx status as an error; nullopt
/// when `status` is 2xx. `where` names the endpoint for people.
std::optional<error> error_of(unsigned status, std::string_view body, std::string_view where);

// Reading the answers; each fails with bad_answer, saying which field was wrong.
result<range_response> decode_range(std::string_view body);
result<put_response> decode_put(std::string_view body);
result<delete_response> decode_delete(std::string_view body);
result<txn_response> decode_txn(std::string_view body);
result<lease_grant_response> decode_lease_grant(std::string_view body);
/// \brief One message of the keep-alive stream ({"result": {...}}), or an error message in it.
result<lease_keepalive_response> decode_lease_keepalive(std::string_view body);
result<response_header> decode_header_only(std::string_view body);  ///< revoke
/// \brief One message of the watch stream ({"result": {...}} or {"error": {...}}).
result<watch_response> decode_watch(std::string_view message);

/// \brief Splits what a stream delivered so far into whole newline-delimited messages; what is
/// left (a message not yet complete) stays in `pending`. Fails when one message grows past
/// `limit` bytes without ending.
class message_splitter {
 public:
  explicit message_splitter(std::size_t limit) : limit_(limit) {}
  /// \brief Appends `data`; the whole messages it completed, in order.
  result<std::vector<std::string>> feed(std::string_view data);

 private:
  std::size_t limit_;
  std::string pending_;
};

}  // namespace certherd::etcd
