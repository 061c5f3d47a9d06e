// Untrusted JSON (issue 9, defect 12): deep nesting is refused before it reaches a recursive
// parser or walker, by the shared parser and by every decoder that reads outside input.
#include "clients/acme/resources.hpp"
#include "clients/json/parse.hpp"
#include "clients/rancher/resources.hpp"
#include "stores/certificate_store.hpp"

#include <gtest/gtest.h>

#include <string>

namespace certherd {
namespace {

std::string nested(std::size_t levels, char open = '[', char close = ']') {
  return std::string(levels, open) + std::string(levels, close);
}

TEST(Json, DepthIsCountedOutsideStringsOnly) {
  EXPECT_EQ(json::too_deep_at(nested(64)), std::nullopt);
  EXPECT_EQ(json::too_deep_at(nested(65)), 64u);
  EXPECT_EQ(json::too_deep_at(
                R"({"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})"),
            std::nullopt);
  // An escaped quote does not end the string; the brackets after it are still inside it.
  EXPECT_EQ(json::too_deep_at(R"(["\"[[[[["])", 2), std::nullopt);
  EXPECT_EQ(json::too_deep_at(R"(["\\",[[[]]]])", 3), 8u);
  // Closers without openers never wrap the count.
  EXPECT_EQ(json::too_deep_at("]]]]]]" + nested(3), 3), std::nullopt);
}

TEST(Json, AMillionBracketsIsAClearErrorNotACrash) {
  rapidjson::Document doc;
  auto why = json::parse(doc, std::string(1'000'000, '['));
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "nested deeper than 64 levels at offset 64");
  why = json::parse(doc, nested(1'000'000, '{', '}'));
  ASSERT_TRUE(why);
}

TEST(Json, ParsesOrdinaryDocumentsAndNamesSyntaxErrors) {
  rapidjson::Document doc;
  EXPECT_EQ(json::parse(doc, R"({"a":[1,{"b":"x"}]})"), std::nullopt);
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc["a"][1]["b"].GetString(), std::string("x"));
  EXPECT_EQ(json::parse(doc, nested(64)), std::nullopt);
  auto why = json::parse(doc, R"({"a":})");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("offset 5"), std::string::npos) << *why;
  EXPECT_TRUE(json::parse(doc, "{} trailing"));
  EXPECT_EQ(json::parse(doc, "{} trailing", /*stop_when_done=*/true), std::nullopt);
}

TEST(Json, EveryDecoderRefusesDeepInput) {
  std::string deep = R"({"status":"valid","x":)" + nested(100'000) + "}";
  EXPECT_FALSE(acme::parse_directory(deep));
  EXPECT_FALSE(acme::parse_order(deep));
  EXPECT_FALSE(acme::parse_authorization(deep));
  EXPECT_FALSE(acme::parse_account(deep));
  EXPECT_FALSE(acme::parse_problem(deep));
  EXPECT_FALSE(rancher::decode_certificate(deep));
  EXPECT_FALSE(rancher::decode_certificates(deep));
  EXPECT_FALSE(rancher::decode_service(deep));
  EXPECT_FALSE(rancher::decode_services(deep));
  EXPECT_FALSE(rancher::decode_project_id(deep));
  EXPECT_FALSE(rancher::decode_event(deep));
  auto e = rancher::decode_error(500, deep);
  EXPECT_TRUE(e.code.empty());
  auto stored = stores::from_json(deep);
  ASSERT_FALSE(stored);
  EXPECT_NE(stored.error().message.find("deeper than 64"), std::string::npos)
      << stored.error().message;
  // A service whose user-written metadata nests deeply is still read; deeper than Rancher's cap
  // it is not.
  std::string metadata = R"({"id":"1s1","name":"web","metadata":)" + nested(200) + "}";
  EXPECT_TRUE(rancher::decode_service(metadata));
  auto order = acme::parse_order(deep);
  EXPECT_NE(order.error().detail.find("deeper than 64"), std::string::npos) << order.error().detail;
}

}  // namespace
}  // namespace certherd
