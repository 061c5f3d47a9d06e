// The etcd store's sealing of private keys and account keys (AES-256-GCM, the record's name as
// associated data, STORE_KEY_FILE's ring of keys).
#include "stores/sealing.hpp"

#include "pki/encoding.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace certherd::stores {
namespace {

const std::string kKeyA(32, 'a');
const std::string kKeyB = std::string(31, 'b') + "c";
const std::string kSecret =
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n";

key_ring ring_of(std::vector<std::string> keys) {
  auto r = key_ring::of(keys);
  EXPECT_TRUE(r);
  return std::move(*r);
}

TEST(Sealing, SealedValuesOpenOnlyUnderTheirNameAndNeverShowThePlaintext) {
  auto ring = ring_of({kKeyA});
  auto sealed = ring.seal(kSecret, "certificates/shop");
  ASSERT_TRUE(sealed);
  EXPECT_TRUE(is_sealed(*sealed));
  EXPECT_EQ(sealed->find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(sealed->find("MIGHAgEA"), std::string::npos);
  auto opened = ring.open(*sealed, "certificates/shop");
  ASSERT_TRUE(opened) << opened.error();
  EXPECT_EQ(*opened, kSecret);

  // Each seal has its own nonce: the same secret twice is two different values.
  EXPECT_NE(*ring.seal(kSecret, "certificates/shop"), *sealed);

  // Moved to another record, it does not open.
  auto moved = ring.open(*sealed, "certificates/blog");
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().kind, failure_kind::store_io);
  EXPECT_NE(moved.error().message.find("does not authenticate"), std::string::npos);
  EXPECT_EQ(moved.error().message.find("PRIVATE"), std::string::npos);
}

TEST(Sealing, EveryAlteredByteIsRefused) {
  auto ring = ring_of({kKeyA});
  auto sealed = *ring.seal("secret", "n");
  std::string head = sealed.substr(0, kSealedPrefix.size() + 17);  // prefix, key id, '.'
  auto raw = pki::base64url_decode(sealed.substr(head.size()));
  ASSERT_TRUE(raw);
  for (std::size_t i = 0; i < raw->size(); ++i) {  // nonce, ciphertext, tag
    std::string altered = *raw;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    auto opened = ring.open(head + pki::base64url_encode(altered), "n");
    EXPECT_FALSE(opened) << "byte " << i;
  }
  EXPECT_FALSE(ring.open(sealed.substr(0, sealed.size() - 4), "n"));
  EXPECT_FALSE(ring.open("plain text", "n"));
  EXPECT_FALSE(ring.open(std::string(kSealedPrefix) + "nokeyid", "n"));
}

TEST(Sealing, ARingSealsWithItsFirstKeyAndOpensWithAny) {
  auto old_ring = ring_of({kKeyA});
  auto old_value = *old_ring.seal("secret", "n");

  auto rotated = ring_of({kKeyB, kKeyA});
  EXPECT_FALSE(rotated.sealed_by_current(old_value));  // the next write re-seals it
  ASSERT_TRUE(rotated.open(old_value, "n"));
  auto new_value = *rotated.seal("secret", "n");
  EXPECT_TRUE(rotated.sealed_by_current(new_value));

  // The old key alone cannot open the new value, and says which key it needs.
  auto refused = old_ring.open(new_value, "n");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find(rotated.current_id()), std::string::npos);
  EXPECT_NE(rotated.current_id(), old_ring.current_id());
  EXPECT_EQ(rotated.current_id().size(), 16u);
}

TEST(Sealing, KeyFilesAreThirtyTwoBytesAndTheErrorsNameTheFileNotItsContents) {
  auto dir =
      std::filesystem::temp_directory_path() / ("certherd-sealing-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const char* name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return (dir / name).string();
  };
  std::string a = write("a.key", kKeyA);
  std::string b = write("b.key", kKeyB);
  std::string short_key = write("short.key", "hunter2-the-secret");
  std::string long_key = write("long.key", std::string(64, 'z'));

  auto ring = key_ring::load(b + ", " + a);
  ASSERT_TRUE(ring) << ring.error();
  EXPECT_EQ(ring->size(), 2u);
  EXPECT_EQ(ring->current_id(), ring_of({kKeyB}).current_id());

  auto s = key_ring::load(short_key);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, failure_kind::configuration);
  EXPECT_NE(s.error().message.find("short.key"), std::string::npos);
  EXPECT_NE(s.error().message.find("18 bytes"), std::string::npos);
  EXPECT_EQ(s.error().message.find("hunter2"), std::string::npos);

  auto l = key_ring::load(long_key);
  ASSERT_FALSE(l);
  EXPECT_NE(l.error().message.find("more than 32"), std::string::npos);

  auto missing = key_ring::load((dir / "absent.key").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("absent.key"), std::string::npos);

  EXPECT_FALSE(key_ring::load(""));
  EXPECT_FALSE(key_ring::load(a + "," + a));   // one key named twice
  EXPECT_FALSE(key_ring::load(dir.string()));  // a folder
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace certherd::stores
