// The pure half of the HAProxy runtime-API client: reading `show ssl cert` answers as HAProxy
// 2.6 prints them, recognising success, and building the payload command.
#include "clients/haproxy/runtime_api.hpp"

#include <gtest/gtest.h>

namespace certherd::haproxy {
namespace {

TEST(HaproxyApi, ReadsShowSslCert) {
  auto info = parse_cert_info(R"(Filename: /etc/haproxy/certs/a.example.pem
Status: Used
Serial: 53A31AB62F35F892BE8F93DF46C174BDFC0CED05
notBefore: Nov 28 03:48:50 2026 GMT
notAfter: Dec 28 03:48:50 2026 GMT
Subject Alternative Name: DNS:a.example
Algorithm: EC256
SHA1 FingerPrint: 9B6DAB8451A36D45A2AC4254353439F3F7A367B3
Subject: /CN=a.example
Issuer: /CN=Pebble Intermediate CA

)");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->sha1, "9b6dab8451a36d45a2ac4254353439f3f7a367b3");
  EXPECT_EQ(info->serial, "53A31AB62F35F892BE8F93DF46C174BDFC0CED05");
  EXPECT_EQ(info->not_after, "Dec 28 03:48:50 2026 GMT");
  EXPECT_FALSE(parse_cert_info(
      "Can't display the certificate: Not found or the certificate is a bundle!\n"));
  EXPECT_FALSE(parse_cert_info(""));
}

TEST(HaproxyApi, Success) {
  EXPECT_TRUE(is_success("Committing /x.pem\nSuccess!\n\n"));
  EXPECT_TRUE(is_success("Transaction created for certificate /x.pem!\n"));
  EXPECT_TRUE(is_success("New empty certificate store '/x.pem'!\n"));
  EXPECT_FALSE(is_success("Can't update /x.pem!\nunable to load certificate\n"));
  EXPECT_FALSE(is_success("Unknown command. Please enter one of the following commands only :"));
}

TEST(HaproxyApi, LocksAndListings) {
  EXPECT_TRUE(is_locked("Can't show!\nOperations on certificates are currently locked!\n"));
  EXPECT_FALSE(is_locked("Committing /x.pem\nSuccess!\n"));
  std::string listing =
      "# /etc/haproxy/crt-list.txt\n/c/a.example.pem\n/c/b.example.pem [alpn h2]\n";
  EXPECT_TRUE(crt_list_has(listing, "/c/a.example.pem"));
  EXPECT_TRUE(crt_list_has(listing, "/c/b.example.pem"));
  EXPECT_FALSE(crt_list_has(listing, "/c/a.example"));
  EXPECT_FALSE(crt_list_has(listing, "/c/c.example.pem"));
}

TEST(HaproxyApi, PayloadCommand) {
  auto cmd = set_cert_command("/c/a.pem",
                              "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n\n");
  ASSERT_TRUE(cmd);
  EXPECT_EQ(
      *cmd,
      "set ssl cert /c/a.pem <<\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n\n");
  EXPECT_FALSE(set_cert_command("/c/a.pem", "line\n\nline\n"))
      << "an empty line would end the payload";
  EXPECT_FALSE(set_cert_command("/c/a.pem", "line\r\n\r\nline\n")) << "so would a line of \\r";
  EXPECT_FALSE(set_cert_command("/c/a.pem", "\nline\n")) << "or an empty first line";
  EXPECT_TRUE(set_cert_command("/c/a.pem", "line\r\nline\r\n"));
}

TEST(HaproxyApi, FileNamesAreOneWordOfTheCli) {
  EXPECT_TRUE(is_cli_word("/etc/haproxy/certherd/a.example.com.pem"));
  for (std::string_view bad :
       {"", "/c/a b.pem", "/c/a.pem\nshow info", "/c/a.pem;shutdown sessions", "/c/a\\b", "/c/#a",
        "/c/a\tb", "/c/a\x7f"}) {
    EXPECT_FALSE(is_cli_word(bad)) << bad;
    EXPECT_FALSE(set_cert_command(bad, "line\n")) << bad;
  }
}

}  // namespace
}  // namespace certherd::haproxy
