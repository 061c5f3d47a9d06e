#include "clients/haproxy/runtime_api.hpp"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cctype>
#include <memory>
#include <stdexcept>

namespace certherd::haproxy {

void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

namespace asio = boost::asio;
using local = asio::local::stream_protocol;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

std::optional<cert_info> parse_cert_info(std::string_view answer) {
  if (answer.find("Filename:") == std::string_view::npos) return std::nullopt;
  cert_info info;
  std::size_t pos = 0;
  while (pos < answer.size()) {
    std::size_t end = answer.find('\n', pos);
    if (end == std::string_view::npos) end = answer.size();
    std::string_view line = answer.substr(pos, end - pos);
    pos = end + 1;
    auto value = [&](std::string_view key) -> std::optional<std::string> {
      if (!line.starts_with(key)) return std::nullopt;
      std::string_view v = line.substr(key.size());
      while (!v.empty() && v.front() == ' ')
        v.remove_prefix(1);
      return std::string(v);
    };
    if (auto v = value("Serial:")) info.serial = *v;
    if (auto v = value("notAfter:")) info.not_after = *v;
    if (auto v = value("SHA1 FingerPrint:")) {
      info.sha1 = *v;
      std::transform(info.sha1.begin(), info.sha1.end(), info.sha1.begin(),
                     [](unsigned char c) { return std::tolower(c); });
    }
  }
  return info;
}

bool is_success(std::string_view answer) {
  return answer.find("Success!") != std::string_view::npos ||
         answer.find("Transaction created") != std::string_view::npos ||
         answer.find("Transaction updated") != std::string_view::npos ||
         answer.find("New empty certificate store") != std::string_view::npos;
}

bool is_locked(std::string_view answer) {
  return answer.find("currently locked") != std::string_view::npos;
}

bool crt_list_has(std::string_view listing, std::string_view file) {
  std::size_t pos = 0;
  while (pos < listing.size()) {
    std::size_t end = listing.find('\n', pos);
    if (end == std::string_view::npos) end = listing.size();
    std::string_view line = listing.substr(pos, end - pos);
    pos = end + 1;
    if (line == file || (line.starts_with(file) && line.size() > file.size() &&
                         (line[file.size()] == ' ' || line[file.size()] == ':'))) {
      return true;
    }
  }
  return false;
}

bool is_cli_word(std::string_view word) noexcept {
  if (word.empty()) return false;
  for (char ch : word) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f || c == ';' || c == '\\' || c == '#') return false;
  }
  return true;
}

result<std::string> set_cert_command(std::string_view file, std::string_view pem) {
  if (!is_cli_word(file)) {
    return error{
        "the certificate file name is not one runtime-API word (white space, a control "
        "character, ';', '\\' or '#')"};
  }
  std::string payload(pem);
  while (!payload.empty() && (payload.back() == '\n' || payload.back() == '\r'))
    payload.pop_back();
  // HAProxy ends a payload at the first empty line; a line of only "\r" reads as one too.
  std::string_view rest = payload;
  for (;;) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      return error{"the certificate payload has an empty line, which ends a runtime-API payload"};
    }
    if (nl == std::string_view::npos) break;
    rest.remove_prefix(nl + 1);
  }
  return result<std::string>(boost::system::in_place_value,
                             fmt::format("set ssl cert {} <<\n{}\n\n", file, payload));
}

runtime_api::runtime_api(asio::any_io_executor executor, std::string socket_path,
                         std::chrono::milliseconds timeout)
    : executor_(std::move(executor)), socket_path_(std::move(socket_path)), timeout_(timeout) {}

asio::awaitable<result<std::string>> runtime_api::async_command(std::string command) {
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  asio::steady_timer pause(executor_);
  while (true) {
    auto answer = co_await exchange(command);
    if (!answer || !is_locked(*answer) || std::chrono::steady_clock::now() >= deadline) {
      co_return answer;
    }
    pause.expires_after(std::chrono::milliseconds(50));
    co_await pause.async_wait(tuple_awaitable);
  }
}

asio::awaitable<result<std::string>> runtime_api::exchange(std::string command) {
  if (command.empty() || command.back() != '\n') command += '\n';
  auto socket = std::make_shared<local::socket>(executor_);
  // One deadline for connect, write and read: the timer closes the socket, ending any wait.
  asio::steady_timer timer(executor_, timeout_);
  // Shared: the handler may run after this frame is gone when it fired just as the read ended.
  auto timed_out = std::make_shared<bool>(false);
  timer.async_wait([socket, timed_out](boost::system::error_code ec) {
    if (!ec) {
      *timed_out = true;
      boost::system::error_code ignored;
      socket->close(ignored);
    }
  });
  std::string verb = command.substr(0, command.find_first_of("<\n"));
  auto fail = [&](const boost::system::error_code& ec, std::string_view step) {
    return error{fmt::format(
        "HAProxy runtime API {} ({}): {} {}", socket_path_, verb, step,
        *timed_out ? fmt::format("timed out after {} ms", timeout_.count()) : ec.message())};
  };
  auto [cec] = co_await socket->async_connect(local::endpoint(socket_path_), tuple_awaitable);
  if (cec) {
    timer.cancel();
    co_return fail(cec, "connect:");
  }
  auto [wec, written] = co_await asio::async_write(*socket, asio::buffer(command), tuple_awaitable);
  if (wec) {
    timer.cancel();
    co_return fail(wec, "write:");
  }
  std::string answer;
  auto buffer = asio::dynamic_buffer(answer, 1024 * 1024);
  auto [rec, read] = co_await asio::async_read(*socket, buffer, tuple_awaitable);
  timer.cancel();
  if (*timed_out || (rec && rec != asio::error::eof)) co_return fail(rec, "read:");
  co_return result<std::string>(boost::system::in_place_value, std::move(answer));
}

}  // namespace certherd::haproxy
