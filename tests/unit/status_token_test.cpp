// STATUS_TOKEN (issue 9, defect 13): only the token opens /status and the page, as a bearer
// token or as the password of a browser's Basic credentials.
#include "controller/run_command.hpp"
#include "pki/encoding.hpp"

#include <gtest/gtest.h>

namespace certherd::controller {
namespace {

TEST(StatusToken, AcceptsOnlyTheToken) {
  const std::string token = "0123456789abcdef";
  EXPECT_TRUE(status_token_accepted("", ""));
  EXPECT_TRUE(status_token_accepted("anything", ""));
  EXPECT_TRUE(status_token_accepted("Bearer 0123456789abcdef", token));
  EXPECT_TRUE(status_token_accepted("bearer 0123456789abcdef", token));
  EXPECT_FALSE(status_token_accepted("", token));
  EXPECT_FALSE(status_token_accepted("Bearer 0123456789abcde", token));
  EXPECT_FALSE(status_token_accepted("Bearer 0123456789abcdefX", token));
  EXPECT_FALSE(status_token_accepted("Bearer", token));
  EXPECT_FALSE(status_token_accepted("Bearer  0123456789abcdef", token));
  EXPECT_FALSE(status_token_accepted("Bearerx0123456789abcdef", token));
  // A browser's Basic credentials: any user, the token as the password.
  auto basic = [](std::string_view user_pass) { return "Basic " + pki::base64_encode(user_pass); };
  EXPECT_TRUE(status_token_accepted(basic("ops:0123456789abcdef"), token));
  EXPECT_TRUE(status_token_accepted(basic(":0123456789abcdef"), token));
  EXPECT_FALSE(status_token_accepted(basic("0123456789abcdef"), token));  // no colon
  EXPECT_FALSE(status_token_accepted(basic("ops:0123456789abcdeX"), token));
  EXPECT_FALSE(status_token_accepted("Basic 0123456789abcdef", token));  // not base64 of u:p
  EXPECT_FALSE(status_token_accepted("Basic !!!", token));
  EXPECT_FALSE(status_token_accepted("Digest 0123456789abcdef", token));
}

}  // namespace
}  // namespace certherd::controller
