// The Rancher 1.x REST client (API v2-beta, design/rancher-api.md §A1–A5) on certherd's HTTP client:
// the environment's project, certificates (list, find by name, create, update in place by id,
// wait while transitioning), services and load-balancer services, and the load balancers'
// `update` action. Every call has a deadline, idempotent calls are retried a bounded number of
// times, and a create whose answer was lost is looked up by name before it is tried again, so a
// flaky Rancher never ends up holding two certificates under one name.
#pragma once

#include "clients/http/client.hpp"
#include "clients/rancher/resources.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace certherd::rancher {

struct api_options {
  std::string url;  ///< CATTLE_URL: …/v1, …/v1/, …/v2-beta or the server root
  std::string access_key;
  std::string secret_key;  ///< never logged, never part of an error
  std::chrono::milliseconds call_timeout{std::chrono::seconds(15)};  ///< one request
  int attempts = 3;                                                  ///< per idempotent call
  std::chrono::milliseconds retry_delay{std::chrono::milliseconds(500)};
  std::chrono::milliseconds settle_timeout{std::chrono::seconds(60)};  ///< transitioning → done
  std::chrono::milliseconds settle_poll{std::chrono::milliseconds(250)};
};

/// \brief The v2-beta API base for a CATTLE_URL: `/v1` becomes `/v2-beta`, a trailing `/` or
/// `/schemas` is dropped, a bare server gets `/v2-beta`. Empty when the URL is not http(s).
std::string api_base(std::string_view cattle_url);

/// \brief The subscribe websocket URL of a project (`ws` for http, `wss` for https).
std::string subscribe_url(std::string_view base, std::string_view project_id);

/// \brief `link`'s path and query on the origin of `base` ("" for an empty or bad link): Rancher's
/// absolute links may name another host or scheme (a proxy's view); the credentials go only to
/// CATTLE_URL's own origin.
std::string on_origin(std::string_view base, std::string_view link);

/// \brief The fields certherd writes to a certificate: the leaf alone in `cert`, the rest of the
/// chain in `certChain` (the original project sent the full chain in both and duplicated the
/// leaf), the key.
struct certificate_body {
  std::string name;
  std::string cert;
  std::string cert_chain;
  std::string key;  ///< secret
  std::string description;
};

class api {
 public:
  api(http::client& client, api_options options);

  /// \brief Finds the API base and the environment's project id; needed before anything else.
  boost::asio::awaitable<result<std::string>> async_connect();

  const std::string& base() const noexcept { return base_; }
  const std::string& project_id() const noexcept { return project_; }
  /// \brief "Basic …" for the websocket upgrade. Secret: never log it.
  std::string authorization() const;

  /// \brief Every certificate that is not removed (follows pagination.next).
  boost::asio::awaitable<result<page<certificate>>> async_list_certificates();
  /// \brief The certificate named `name` that is not removed, if any.
  boost::asio::awaitable<result<std::optional<certificate>>> async_find_certificate(
      std::string name);
  boost::asio::awaitable<result<certificate>> async_get_certificate(std::string id);
  /// \brief Creates a certificate; when the answer is lost, finds it by name before retrying.
  boost::asio::awaitable<result<certificate>> async_create_certificate(certificate_body body);
  /// \brief Updates a certificate in place (same id) and waits until Rancher has applied it.
  boost::asio::awaitable<result<certificate>> async_update_certificate(std::string id,
                                                                       certificate_body body);
  /// \brief Polls until the certificate is no longer transitioning (or settle_timeout passes).
  boost::asio::awaitable<result<certificate>> async_wait_settled(certificate c);

  /// \brief Every service of every kind that is not removed (follows pagination.next).
  boost::asio::awaitable<result<page<service>>> async_list_services();
  /// \brief Load-balancer services that are not removed.
  boost::asio::awaitable<result<page<service>>> async_list_load_balancers();
  /// \brief Asks a load-balancer service to update (`?action=update`), which makes Rancher ≥ 1.2
  /// load balancers reload their certificates (§A4).
  boost::asio::awaitable<result<service>> async_update_load_balancer(service lb);

  /// \brief Requests sent, for tests and metrics.
  std::size_t requests() const noexcept { return requests_; }

 private:
  struct reply {
    unsigned status = 0;
    std::string body;
  };
  boost::asio::awaitable<result<reply>> async_call(http::method verb, std::string url,
                                                   std::string body);
  /// \brief async_call with retries on retryable failures; any 2xx is success.
  boost::asio::awaitable<result<reply>> async_idempotent(http::method verb, std::string url,
                                                         std::string body);
  boost::asio::awaitable<result<reply>> async_get(std::string url);
  template <class T>
  boost::asio::awaitable<result<page<T>>> async_list_all(
      std::string url, result<page<T>> (*decode)(std::string_view));
  std::string collection(std::string_view name) const;

  http::client& client_;
  api_options options_;
  std::string base_;
  std::string project_;
  std::size_t requests_ = 0;
};

}  // namespace certherd::rancher
