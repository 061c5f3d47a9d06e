// Rancher 1.x (Cattle) wire format, as the simulator standing in for it writes it: error bodies
// (design/rancher-api.md §A7), the JSON quirks of gdapi's JacksonMapper (`\/`, dates with an `XTS`
// twin, §A2) and collections with their filters and offset pagination (§A5). Pure: no I/O.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certherd::sim {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;
using query_params = std::vector<std::pair<std::string, std::string>>;

/// \brief A Cattle error: what the `error` resource carries besides its id.
struct api_error {
  int status = 500;
  std::string code;
  std::optional<std::string> message;
  std::optional<std::string> field_name;  ///< only validation errors carry one
};

/// \brief Text api/messages.properties gives a status ("Not Found", "Method not allowed").
std::string_view status_text(int status);
/// \brief A routing-style error: code and message are both the status text.
api_error status_error(int status);
/// \brief A ValidationErrorImpl: 422 with `fieldName`, message and detail left null.
api_error validation_error(std::string code, std::string field);
/// \brief An error with a code and a message of its own (InvalidFormat, InvalidAction, ...).
api_error coded_error(int status, std::string code, std::string message);
/// \brief `{"id":..,"type":"error","links":{},"actions":{},"baseType":"error",...}`.
std::string render_error(const api_error& e, std::string_view id);

/// \brief The wall clock in epoch milliseconds (the store itself takes time as an argument).
std::int64_t now_epoch_ms();
/// \brief Every `/` as `\/`, as gdapi's mapper writes (only ever inside JSON strings).
std::string escape_slashes(std::string_view json);
/// \brief `yyyy-MM-dd'T'HH:mm:ss'Z'` in UTC.
std::string iso_date(std::int64_t epoch_ms);
/// \brief Java's Date.toString() in UTC: "Wed Aug 30 11:00:00 UTC 2017".
std::string java_date(std::chrono::sys_seconds t);
/// \brief A date field `name` and, when set, its `nameTS` twin in epoch milliseconds.
void write_date(json_writer& w, std::string_view name, std::optional<std::int64_t> epoch_ms);
void write_key(json_writer& w, std::string_view name);
void write_string(json_writer& w, std::string_view value);
void write_nullable(json_writer& w, const std::optional<std::string>& value);
/// \brief One member each: a string, a string or null, null, a boolean, a number, `{}`, `[]`.
void kv(json_writer& w, std::string_view key, std::string_view value);
void kv_nullable(json_writer& w, std::string_view key, const std::optional<std::string>& value);
void kv_null(json_writer& w, std::string_view key);
void kv_bool(json_writer& w, std::string_view key, bool value);
void kv_int(json_writer& w, std::string_view key, std::int64_t value);
void kv_empty_object(json_writer& w, std::string_view key);
void kv_empty_array(json_writer& w, std::string_view key);

/// \brief One `field[_modifier]=value` condition of a list request.
struct filter {
  std::string field, modifier, value;
};

struct list_options {
  std::size_t limit = 100;
  std::size_t offset = 0;
  std::vector<filter> filters;
  bool include_removed = false;  ///< `_removed` in the query
};

/// \brief Reads limit (default 100, at most 3000, <=0 meaning 3000), `marker=m<offset>`,
/// `_removed` and the filters on `filterable` fields; anything else is ignored, as Cattle does.
list_options parse_list_options(const query_params& params,
                                std::span<const std::string_view> filterable);
/// \brief Whether a field whose value is `value` (nullopt = null) passes `f`. Modifiers this
/// simulator does not evaluate (lt, like, ...) let everything through.
bool passes(const filter& f, const std::optional<std::string>& value);
/// \brief The request URL with its marker replaced by `marker=m<offset>` (DefaultUrlBuilder.next).
std::string next_link(std::string_view request_url, std::size_t offset);

/// \brief What a collection says about itself besides its data.
struct collection_info {
  std::string resource_type;
  std::string self_url;                   ///< the request URL
  std::optional<std::string> create_url;  ///< createTypes entry when POST is allowed
  std::span<const std::string_view> filterable;
};

/// \brief Writes a whole collection; `write_data` writes the page's resources into `data`.
void write_collection(json_writer& w, const collection_info& info, const list_options& opts,
                      bool more, const std::function<void(json_writer&)>& write_data);

}  // namespace certherd::sim
