// Logs (issue 9, defect 5): values cannot forge lines or fields, and every line is valid UTF-8.
#include "controller/logging.hpp"
#include "clients/log/log.hpp"

#include <gtest/gtest.h>

namespace certherd::controller {
namespace {

// Issue 9, defect 5: log lines cannot be forged from label values.
TEST(Logging, ValuesAreEscapedInTextAndFieldsStayFieldsInJson) {
  std::string label = "web\ntime=2026-01-01T00:00:00Z level=error event=issued cert=evil.com";
  auto text = log::render_text("label_problem", {{"problem", label}, {"service", "a b"}});
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  EXPECT_EQ(text,
            "event=label_problem problem=\"web\\ntime=2026-01-01T00:00:00Z level=error "
            "event=issued cert=evil.com\" service=\"a b\"");
  EXPECT_EQ(log::render_text("x", {{"v", "say \"hi\" \\ \x01"}}),
            "event=x v=\"say \\\"hi\\\" \\\\ \\x01\"");
  EXPECT_EQ(log::render_text("x", {{"n", 42}, {"empty", ""}, {"plain", "a.example.com"}}),
            "event=x n=42 empty=\"\" plain=a.example.com");

  // JSON: one member per field, whatever the value holds; reserved keys are never repeated.
  auto json =
      "{" +
      log::render_json("issued",
                       {{"cert", "a\" ,\"level\":\"x"}, {"level", "forged"}, {"failures", 3}}) +
      "}";
  EXPECT_EQ(json, R"({"event":"issued","cert":"a\" ,\"level\":\"x","field_level":"forged",)"
                  R"("failures":3})");
}

TEST(Logging, TextIsMadeValidUtf8) {
  EXPECT_EQ(valid_utf8("plain"), "plain");
  EXPECT_EQ(valid_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(valid_utf8("bad\xff\xfe!"), "bad\xef\xbf\xbd\xef\xbf\xbd!");
  EXPECT_EQ(valid_utf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");  // overlong '/'
  EXPECT_EQ(valid_utf8("ab\xc3\xa9", 3), "ab");                   // never cut inside a character
  EXPECT_EQ(valid_utf8("truncated \xe2\x82"), "truncated \xef\xbf\xbd\xef\xbf\xbd");
}

}  // namespace
}  // namespace certherd::controller
