// `certherd issue` end to end against the real Pebble, pebble-challtestsrv and nginx started by
// tests/harness/start-servers: every key type, several names, webroot and built-in responder,
// 50 % nonce rejection, External Account Binding, and each bad input with its clear error.
#include "pki/certificate.hpp"
#include "support.hpp"

#include <fmt/format.h>
#include <fstream>

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tuple>

namespace certherd::testing {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> with(std::vector<std::string> args, std::vector<std::string> more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// The four files are there, consistent, the key private, and the chain leads to `root`.
void expect_issued(const temp_dir& tmp, const std::vector<std::string>& names,
                   const std::string& root) {
  auto out = tmp / "out";
  std::string cert = slurp(out / "cert.pem"), chain = slurp(out / "chain.pem");
  EXPECT_EQ(slurp(out / "fullchain.pem"), cert + chain);
  struct stat st {};
  ASSERT_EQ(::stat((out / "privkey.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the private key is readable by its owner only";
  auto key = pki::private_key::from_pem(slurp(out / "privkey.pem"));
  ASSERT_TRUE(key);
  auto leaf = pki::parse_pem_chain(cert);
  ASSERT_TRUE(leaf);
  EXPECT_TRUE(leaf->front().matches(*key));
  auto sans = leaf->front().subject_alt_names();
  for (const auto& n : names)
    EXPECT_NE(std::find(sans.begin(), sans.end(), n), sans.end()) << n;
  EXPECT_EQ(verify_against(cert, chain, root), "");
}

// Every key type, with one name and with two, through the webroot (nginx) and through the
// built-in responder.
using issue_case = std::tuple<std::string, bool, int>;  // key type, responder, name count

class IssueMatrix : public ::testing::TestWithParam<issue_case> {};

TEST_P(IssueMatrix, IssuesAndVerifies) {
  auto [key_type, responder, count] = GetParam();
  temp_dir tmp;
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i)
    names.push_back(unique_name(fmt::format("m-{}-{}", key_type, i)));
  auto directory =
      harness(responder ? "CERTHERD_TEST_RESPONDER_DIRECTORY" : "CERTHERD_TEST_DIRECTORY");
  // The self-check looks where the responder Pebble validates: at the responder.
  auto proof = responder ? std::vector<std::string>{"--challenge-listen",
                                                    harness("CERTHERD_TEST_RESPONDER_LISTEN"),
                                                    "--self-check-address",
                                                    harness("CERTHERD_TEST_RESPONDER_LISTEN")}
                         : std::vector<std::string>{"--webroot", harness("CERTHERD_TEST_WEBROOT")};
  auto args = with(issue_args(directory, tmp, names), proof);
  auto r = run_certherd(with(args, {"--key-type", key_type}));
  ASSERT_EQ(r.code, 0) << r.output;
  expect_issued(tmp, names,
                harness(responder ? "CERTHERD_TEST_RESPONDER_ROOT" : "CERTHERD_TEST_ROOT"));
  auto key = pki::private_key::from_pem(slurp(tmp / "out" / "privkey.pem"));
  ASSERT_TRUE(key);
  EXPECT_EQ(pki::to_string(key->type()), key_type);
}

INSTANTIATE_TEST_SUITE_P(All, IssueMatrix,
                         ::testing::Combine(::testing::Values("ec256", "ec384", "rsa2048",
                                                              "rsa3072", "rsa4096"),
                                            ::testing::Bool(), ::testing::Values(1, 2)),
                         [](const ::testing::TestParamInfo<issue_case>& info) {
                           return fmt::format("{}_{}_{}names", std::get<0>(info.param),
                                              std::get<1>(info.param) ? "responder" : "webroot",
                                              std::get<2>(info.param));
                         });

TEST(Issue, SeveralNamesViaWebroot) {
  temp_dir tmp;
  std::vector<std::string> names{unique_name("multi-a"), unique_name("multi-b"),
                                 unique_name("multi-c")};
  auto r = run_certherd(with(issue_args(harness("CERTHERD_TEST_DIRECTORY"), tmp, names),
                             {"--webroot", harness("CERTHERD_TEST_WEBROOT")}));
  ASSERT_EQ(r.code, 0) << r.output;
  expect_issued(tmp, names, harness("CERTHERD_TEST_ROOT"));
}

TEST(Issue, SucceedsWithHalfOfAllNoncesRejected) {
  temp_dir tmp;
  std::vector<std::string> names{unique_name("noisy-a"), unique_name("noisy-b"),
                                 unique_name("noisy-c")};
  for (int round = 0; round < 2; ++round) {
    auto r = run_certherd(with(issue_args(harness("CERTHERD_TEST_NOISY_DIRECTORY"), tmp, names),
                               {"--webroot", harness("CERTHERD_TEST_WEBROOT")}));
    ASSERT_EQ(r.code, 0) << r.output;
    expect_issued(tmp, names, harness("CERTHERD_TEST_NOISY_ROOT"));
  }
}

TEST(Issue, ExternalAccountBinding) {
  temp_dir tmp;
  std::vector<std::string> names{unique_name("eab")};
  auto base = with(issue_args(harness("CERTHERD_TEST_EAB_DIRECTORY"), tmp, names),
                   {"--webroot", harness("CERTHERD_TEST_WEBROOT")});
  auto without = run_certherd(base);
  EXPECT_EQ(without.code, 1) << without.output;
  EXPECT_NE(without.output.find("External Account Binding"), std::string::npos) << without.output;
  // The HMAC key from a file (a flag would show in every process listing).
  { std::ofstream(tmp / "eab-hmac") << harness("CERTHERD_TEST_EAB_HMAC") << "\n"; }
  auto r = run_certherd(with(base, {"--eab-kid", harness("CERTHERD_TEST_EAB_KID"),
                                    "--eab-hmac-file", (tmp / "eab-hmac").string()}));
  ASSERT_EQ(r.code, 0) << r.output;
  expect_issued(tmp, names, harness("CERTHERD_TEST_EAB_ROOT"));
  EXPECT_EQ(r.output.find(harness("CERTHERD_TEST_EAB_HMAC")), std::string::npos)
      << "the HMAC key never reaches the output";
}

TEST(Issue, AccountKeyIsKeptAndReused) {
  temp_dir tmp;
  auto args = with(issue_args(harness("CERTHERD_TEST_DIRECTORY"), tmp, {unique_name("reuse")}),
                   {"--webroot", harness("CERTHERD_TEST_WEBROOT")});
  ASSERT_EQ(run_certherd(args).code, 0);
  fs::path key_file;
  for (const auto& e : fs::recursive_directory_iterator(tmp / "state")) {
    if (e.path().filename() == "account-key.pem") key_file = e.path();
  }
  ASSERT_FALSE(key_file.empty());
  std::string first = slurp(key_file);
  std::string account_json = slurp(key_file.parent_path() / "account.json");
  EXPECT_NE(account_json.find("my-account"), std::string::npos) << account_json;
  auto second = run_certherd(args);
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_EQ(slurp(key_file), first);
  EXPECT_EQ(slurp(key_file.parent_path() / "account.json"), account_json) << "same account";
}

// ---- bad input: a clear error, within the deadline, and nothing half-written ----

TEST(IssueFails, UnreachableDirectory) {
  temp_dir tmp;
  auto r = run_certherd(
      with(issue_args("https://127.0.0.1:" + harness("CERTHERD_TEST_FREE_PORT") + "/dir", tmp,
                      {"x.example.com"}),
           {"--webroot", harness("CERTHERD_TEST_WEBROOT")}));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("Connection refused"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(tmp / "out" / "cert.pem"));
}

// A loopback socket that listens and never accepts: the kernel completes the TCP handshake,
// then silence. port is 0 when none could be made.
struct silent_listener {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  unsigned short port = 0;
  silent_listener() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::listen(fd, 16) == 0 && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
      port = ntohs(addr.sin_port);
  }
  ~silent_listener() {
    if (fd >= 0) ::close(fd);
  }
  silent_listener(const silent_listener&) = delete;
  silent_listener& operator=(const silent_listener&) = delete;
};

TEST(IssueFails, DirectoryThatNeverAnswers) {
  // A listening socket nobody accepts on: the kernel completes the TCP handshake, then silence.
  silent_listener silent;
  ASSERT_TRUE(silent.port) << "no loopback socket to listen on";
  temp_dir tmp;
  auto args =
      issue_args(fmt::format("https://127.0.0.1:{}/dir", silent.port), tmp, {"x.example.com"});
  *(std::find(args.begin(), args.end(), "--timeout") + 1) = "3";
  auto started = std::chrono::steady_clock::now();
  auto r = run_certherd(with(args, {"--webroot", harness("CERTHERD_TEST_WEBROOT")}));
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("timed out"), std::string::npos) << r.output;
  // The step's own deadline, with what it was waiting for, not the command's backstop.
  EXPECT_NE(r.output.find("no answer from the ACME server"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("(--timeout)"), std::string::npos) << r.output;
  // Functional bound, not a speed figure: the command honoured its deadline.
  EXPECT_LT(took, std::chrono::seconds(30));
}

TEST(IssueFails, UntrustedTlsCertificate) {
  temp_dir tmp;
  auto args = issue_args(harness("CERTHERD_TEST_DIRECTORY"), tmp, {"x.example.com"});
  args.erase(args.begin() + 3, args.begin() + 5);  // drop --ca-bundle: the system store
  auto r = run_certherd(with(args, {"--webroot", harness("CERTHERD_TEST_WEBROOT")}));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("certificate verify failed"), std::string::npos) << r.output;
}

TEST(IssueFails, InvalidNames) {
  for (std::string bad :
       {"*.example.com", "under_score.example.com", "10.1.2.3", "nodots", "a..example.com"}) {
    temp_dir tmp;
    auto r = run_certherd(
        with(issue_args(harness("CERTHERD_TEST_DIRECTORY"), tmp, {"ok.example.com", bad}),
             {"--webroot", harness("CERTHERD_TEST_WEBROOT")}));
    EXPECT_EQ(r.code, 2) << bad << ": " << r.output;
    EXPECT_NE(r.output.find(bad), std::string::npos)
        << "the message names the bad name: " << r.output;
    EXPECT_FALSE(fs::exists(tmp / "out")) << "nothing written for bad input";
    EXPECT_FALSE(fs::exists(tmp / "state"));
  }
}

TEST(IssueFails, ChallengeNotServedLeavesOldFilesAlone) {
  // The responder Pebble validates on a port where nothing serves the webroot.
  temp_dir tmp;
  fs::create_directories(tmp / "out");
  { std::ofstream(tmp / "out" / "privkey.pem") << "previous key"; }
  auto r = run_certherd(
      with(issue_args(harness("CERTHERD_TEST_RESPONDER_DIRECTORY"), tmp, {unique_name("unserved")}),
           {"--webroot", harness("CERTHERD_TEST_WEBROOT")}));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("authorization failed"), std::string::npos) << r.output;
  EXPECT_EQ(slurp(tmp / "out" / "privkey.pem"), "previous key");
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp / "out"), {}), 1);
}

TEST(Cli, WrongUsage) {
  struct usage_case {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<usage_case> cases{
      {{}, "subcommand is required"},
      {{"issue", "--directory", "https://x/dir", "-d", "a.example.com", "--webroot", "/tmp"},
       "--out"},
      {{"issue", "--directory", "https://x/dir", "-d", "a.example.com", "--out", "/tmp/x"},
       "exactly one of --webroot"},
      {{"issue", "--directory", "https://x/dir", "-d", "a.example.com", "--out", "/tmp/x",
        "--webroot", "/tmp", "--challenge-listen", ":80"},
       "exactly one of --webroot"},
      {{"issue", "--directory", "https://x/dir", "-d", "a.example.com", "--out", "/tmp/x",
        "--webroot", "/tmp", "--key-type", "dsa"},
       "--key-type 'dsa'"},
      {{"issue", "--directory", "https://x/dir", "-d", "a.example.com", "--out", "/tmp/x",
        "--webroot", "/tmp", "--timeout", "0"},
       "--timeout"},
      {{"frobnicate"}, "frobnicate"},
      {{"--log-level", "loud", "version"}, "log level 'loud'"},
      {{"issue", "--directory", "https://x/dir", "-d", "a.example.com", "--out", "/tmp/x",
        "--webroot", "/tmp", "--eab-kid", "k"},
       "needs both --eab-kid and the HMAC key"},
      // Issue 9, defect 11: no secret on the command line, none in a URL, none echoed.
      {{"issue", "--directory", "https://x/dir", "-d", "a.example.com", "--out", "/tmp/x",
        "--webroot", "/tmp", "--eab-kid", "k", "--eab-hmac", "secret-hmac"},
       "--eab-hmac"},
      {{"issue", "--directory", "HTTPS://user:hunter2@ca.example/dir", "-d", "a.example.com",
        "--out", "/tmp/x", "--webroot", "/tmp"},
       "must not hold credentials"},
  };
  for (const auto& c : cases) {
    auto r = run_certherd(c.args);
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("hunter2"), std::string::npos) << "a password was echoed";
    EXPECT_EQ(r.output.find("secret-hmac"), std::string::npos) << "a key was echoed";
  }
  auto v = run_certherd({"version"});
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.output.find("certherd "), std::string::npos);
  auto help = run_certherd({"issue", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("--challenge-listen"), std::string::npos);
}

TEST(IssueFails, ChallengePortInUseIsAFailureNotWrongUsage) {
  // A port another process holds: the challenge cannot be served (1); an address that is not
  // one is wrong usage (2).
  silent_listener silent;
  ASSERT_TRUE(silent.port) << "no loopback socket to listen on";
  temp_dir tmp;
  std::vector<std::string> args{"issue",
                                "--directory",
                                "https://127.0.0.1:1/dir",
                                "-d",
                                "x.example.com",
                                "--out",
                                (tmp / "out").string(),
                                "--state-dir",
                                (tmp / "state").string(),
                                "--challenge-listen"};
  auto in_use = args;
  in_use.push_back(fmt::format("127.0.0.1:{}", silent.port));
  auto r = run_certherd(in_use);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(std::to_string(silent.port)), std::string::npos) << r.output;
  auto malformed = args;
  malformed.push_back("not-an-address");
  auto m = run_certherd(malformed);
  EXPECT_EQ(m.code, 2) << m.output;
  EXPECT_NE(m.output.find("not-an-address"), std::string::npos) << m.output;
}

}  // namespace
}  // namespace certherd::testing
