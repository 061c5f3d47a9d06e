#include "fault_proxy.hpp"

#include "support.hpp"

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/socket.h>

#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

namespace certherd::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using tls_stream = asio::ssl::stream<tcp::socket>;

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

std::string endpoint_of(std::string_view target) {
  target.remove_prefix(target.starts_with('/') ? 1 : 0);
  return std::string(target.substr(0, target.find_first_of("/?")));
}

}  // namespace

struct fault_proxy::impl : std::enable_shared_from_this<impl> {
  asio::io_context ioc;
  asio::ssl::context server_tls{asio::ssl::context::tls_server};
  asio::ssl::context client_tls{asio::ssl::context::tls_client};
  tcp::acceptor acceptor{ioc};
  unsigned short upstream = 0;
  unsigned short mine = 0;
  std::atomic<bool> stopping{false};
  mutable std::mutex mu;
  std::condition_variable released;
  bool held = false;
  fault_mix mix;
  proxy_counts stats;
  std::mt19937 rng;
  std::set<int> open_fds;  ///< client and upstream sockets, shut down on stop
  std::vector<std::thread> threads;
  std::thread acceptor_thread;

  impl(unsigned short up, unsigned seed) : upstream(up), rng(seed) {
    std::string tls = harness("CERTHERD_TEST_DIR") + "/tls";
    server_tls.use_certificate_chain_file(tls + "/pebble.pem");
    server_tls.use_private_key_file(tls + "/pebble.key", asio::ssl::context::pem);
    client_tls.load_verify_file(harness("CERTHERD_TEST_CA_BUNDLE"));
    client_tls.set_verify_mode(asio::ssl::verify_peer);
    tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
    acceptor.open(at.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(at);
    acceptor.listen();
    mine = acceptor.local_endpoint().port();
  }

  void track(int fd, bool add) {
    std::lock_guard lock(mu);
    if (add) {
      open_fds.insert(fd);
    } else {
      open_fds.erase(fd);
    }
  }

  // Which fault this request gets ("" for none), and the delay when it is "delay".
  std::string pick(std::chrono::milliseconds& delay) {
    std::lock_guard lock(mu);
    int roll = static_cast<int>(rng() % 100);
    auto take = [&roll](int percent) {
      if (roll < percent) return true;
      roll -= percent;
      return false;
    };
    if (take(mix.stall)) return "stall";
    if (take(mix.reset)) return "reset";
    if (take(mix.lose_answer)) return "lose_answer";
    if (take(mix.truncate)) return "truncate";
    if (take(mix.delay)) {
      delay = std::chrono::milliseconds(rng() % (mix.delay_max.count() + 1));
      return "delay";
    }
    return "";
  }

  void count(const std::string& endpoint, const std::string& fault) {
    std::lock_guard lock(mu);
    ++stats.requests;
    ++stats.by_endpoint[endpoint];
    if (!fault.empty()) ++stats.faults[fault];
  }

  void accept_loop() {
    while (!stopping) {
      boost::system::error_code ec;
      tcp::socket s(ioc);
      acceptor.accept(s, ec);
      if (ec || stopping) break;
      {
        std::lock_guard lock(mu);
        ++stats.connections;
      }
      auto self = shared_from_this();
      std::lock_guard lock(mu);
      threads.emplace_back([self, sock = std::move(s)]() mutable { self->serve(std::move(sock)); });
    }
  }

  // A socket registered for stop() while it is open: unregistered before it closes (declare it
  // after the socket), so stop() never shuts down a number the kernel gave to someone else.
  struct tracked {
    impl& owner;
    int fd;
    tracked(impl& o, int f) : owner(o), fd(f) { owner.track(fd, true); }
    ~tracked() { owner.track(fd, false); }
    tracked(const tracked&) = delete;
    tracked& operator=(const tracked&) = delete;
  };

  struct upstream_link {
    std::unique_ptr<tls_stream> stream;
    std::optional<tracked> fd;  // after `stream`: unregistered first
    beast::flat_buffer buffer;
    bool reused = false;
    void close() {
      fd.reset();
      stream.reset();
      buffer.clear();
      reused = false;
    }
  };

  void connect_upstream(upstream_link& up) {
    up.close();
    up.stream = std::make_unique<tls_stream>(ioc, client_tls);
    SSL_set_tlsext_host_name(up.stream->native_handle(), "localhost");
    up.stream->set_verify_callback(asio::ssl::host_name_verification("localhost"));
    up.stream->next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), upstream));
    up.fd.emplace(*this, up.stream->next_layer().native_handle());
    up.stream->handshake(asio::ssl::stream_base::client);
  }

  // Sends the request to Pebble and reads its answer; a kept-alive connection Pebble closed in
  // the meantime is opened again once (that is no fault of the proxy's making).
  bhttp::response<bhttp::string_body> forward(upstream_link& up,
                                              const bhttp::request<bhttp::string_body>& req) {
    for (int attempt = 0;; ++attempt) {
      if (!up.stream) connect_upstream(up);
      try {
        bhttp::write(*up.stream, req);
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(16 * 1024 * 1024);
        if (req.method() == bhttp::verb::head) parser.skip(true);
        bhttp::read(*up.stream, up.buffer, parser);
        up.reused = true;
        return parser.release();
      } catch (const boost::system::system_error&) {
        bool retry = up.reused && attempt == 0;
        up.close();
        if (!retry) throw;
      }
    }
  }

  void serve(tcp::socket socket) {
    tls_stream client(std::move(socket), server_tls);
    tracked client_fd(*this, client.next_layer().native_handle());
    // Registered before this look: stop() either sees the socket or has set `stopping` already.
    if (stopping) return;
    upstream_link up;
    try {
      client.handshake(asio::ssl::stream_base::server);
      beast::flat_buffer in_buffer;
      const std::string them = fmt::format("localhost:{}", upstream);
      const std::string us = fmt::format("localhost:{}", mine);
      while (!stopping) {
        bhttp::request<bhttp::string_body> req;
        boost::system::error_code ec;
        bhttp::read(client, in_buffer, req, ec);
        if (ec) break;
        {
          std::unique_lock lock(mu);
          released.wait(lock, [this] { return !held || stopping; });
        }
        std::chrono::milliseconds delay{0};
        std::string fault = pick(delay);
        count(endpoint_of(req.target()), fault);
        if (fault == "stall") {
          // Hold the connection: only the client's deadline (or the proxy's end) closes it.
          char byte;
          boost::system::error_code ignored;
          client.next_layer().read_some(asio::buffer(&byte, 1), ignored);
          break;
        }
        if (fault == "reset") break;
        // The Host header stays the proxy's: Pebble builds its URLs from it (and checks each
        // JWS "url" against it), so every URL it hands out leads back through the proxy.
        auto rsp = forward(up, req);
        {
          std::lock_guard lock(mu);
          ++stats.by_status[rsp.result_int()];
        }
        if (fault == "lose_answer") break;
        replace_all(rsp.body(), them, us);
        // Location, Link: rewritten after the walk (changing a field invalidates the walk).
        std::vector<std::pair<std::string, std::string>> fields;
        for (const auto& field : rsp)
          fields.emplace_back(std::string(field.name_string()), std::string(field.value()));
        bool rewritten = false;
        for (auto& [name, value] : fields) {
          if (value.find(them) == std::string::npos) continue;
          replace_all(value, them, us);
          rewritten = true;
        }
        if (rewritten) {
          for (const auto& [name, value] : fields)
            rsp.erase(name);
          for (const auto& [name, value] : fields)
            rsp.insert(name, value);
        }
        if (req.method() != bhttp::verb::head) rsp.prepare_payload();
        if (fault == "delay") std::this_thread::sleep_for(delay);
        if (fault == "truncate") {
          std::ostringstream bytes;
          bytes << rsp;
          std::string all = bytes.str();
          asio::write(client, asio::buffer(all.data(), all.size() / 2));
          break;
        }
        bhttp::write(client, rsp);
        if (!rsp.keep_alive() || !req.keep_alive()) break;
      }
    } catch (const std::exception&) {
      // A connection the client or Pebble broke, or one of the proxy's own faults: it ends.
    }
    // `up`, then `client_fd`, then `client` go: unregistered, then closed abruptly (no TLS
    // close_notify).
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    released.notify_all();
    ::shutdown(acceptor.native_handle(), SHUT_RDWR);  // wakes the blocked accept()
    if (acceptor_thread.joinable()) acceptor_thread.join();
    boost::system::error_code ignored;
    acceptor.close(ignored);
    {
      std::lock_guard lock(mu);
      for (int fd : open_fds)
        ::shutdown(fd, SHUT_RDWR);
    }
    std::vector<std::thread> all;
    {
      std::lock_guard lock(mu);
      all.swap(threads);
    }
    for (auto& t : all)
      t.join();
  }
};

fault_proxy::fault_proxy(unsigned short upstream_port, unsigned seed)
    : impl_(std::make_shared<impl>(upstream_port, seed)) {
  impl_->acceptor_thread = std::thread([self = impl_] { self->accept_loop(); });
}

fault_proxy::~fault_proxy() {
  impl_->stop();
}

void fault_proxy::set_faults(const fault_mix& mix) {
  std::lock_guard lock(impl_->mu);
  impl_->mix = mix;
}

void fault_proxy::hold(bool on) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->held = on;
  }
  impl_->released.notify_all();
}

std::string fault_proxy::directory_url() const {
  return fmt::format("https://localhost:{}/dir", impl_->mine);
}

unsigned short fault_proxy::port() const {
  return impl_->mine;
}

proxy_counts fault_proxy::counts() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

}  // namespace certherd::testing
