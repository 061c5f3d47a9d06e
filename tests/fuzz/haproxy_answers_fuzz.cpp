// Fuzz target: answers of HAProxy's runtime API (`show ssl cert`, set/commit/add answers,
// `show ssl crt-list`) and the `set ssl cert` payload built from a PEM. The input's first NUL
// splits a file name from the answer. Properties: no crash; a command set_cert_command accepts
// has no empty line before its end (an empty line ends the payload early, so HAProxy would run
// the rest as commands).
#include "check.hpp"
#include "clients/haproxy/runtime_api.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace certherd::haproxy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto at = text.find('\0');
  std::string_view file = text.substr(0, at == std::string_view::npos ? 0 : at);
  std::string_view answer = at == std::string_view::npos ? text : text.substr(at + 1);
  if (auto info = parse_cert_info(answer)) {
    for (char c : info->sha1)
      FUZZ_CHECK(c != '\n');
  }
  (void)is_success(answer);
  (void)is_locked(answer);
  (void)crt_list_has(answer, file);
  if (auto command = set_cert_command(file, answer)) {
    std::string_view c = *command;
    auto empty_line = c.find("\n\n");
    FUZZ_CHECK(empty_line == std::string_view::npos || empty_line + 2 == c.size());
    // The file name is on the command's first line: it may not start a second command.
    FUZZ_CHECK(c.find('\n') >= c.find(" <<"));
  }
  return 0;
}
