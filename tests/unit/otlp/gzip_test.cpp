// gzip round trips at every level, the gzip header, and the decompressor's
// refusals: corrupt, truncated, trailing bytes, not gzip, over the limit.
#include "encode/gzip.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace enc = emp::telemetry::encode;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(Gzip, RoundTripsAtEveryLevel) {
  const std::string inputs[] = {
      "", "a", std::string(1 << 20, 'x'), random_bytes(300000, 1),
      std::string("{\"resourceSpans\":[") + std::string(5000, 'y') + "]}"};
  for (int level = -1; level <= 9; ++level) {
    for (const std::string& in : inputs) {
      std::string z, back;
      ASSERT_TRUE(enc::gzip_compress(in, z, level)) << level;
      ASSERT_GE(z.size(), 18u);
      EXPECT_EQ(static_cast<unsigned char>(z[0]), 0x1F);  // gzip magic
      EXPECT_EQ(static_cast<unsigned char>(z[1]), 0x8B);
      EXPECT_EQ(z[2], 8);  // deflate
      std::string error;
      ASSERT_TRUE(enc::gzip_decompress(z, back, in.size(), &error)) << error;
      EXPECT_EQ(back, in);
    }
  }
}

TEST(Gzip, CompressesRepetitiveData) {
  std::string z;
  ASSERT_TRUE(enc::gzip_compress(std::string(1 << 20, 'x'), z));
  EXPECT_LT(z.size(), 4096u);
}

TEST(Gzip, RejectsBadLevels) {
  std::string z = "junk";
  EXPECT_FALSE(enc::gzip_compress("abc", z, 10));
  EXPECT_TRUE(z.empty());
  EXPECT_FALSE(enc::gzip_compress("abc", z, -2));
}

TEST(Gzip, DecompressionIsBounded) {
  std::string z, back, error;
  ASSERT_TRUE(enc::gzip_compress(std::string(10 << 20, '\0'), z, 9));
  EXPECT_FALSE(enc::gzip_decompress(z, back, 1 << 20, &error));
  EXPECT_NE(error.find("exceeds"), std::string::npos) << error;
  EXPECT_TRUE(back.empty());
  EXPECT_TRUE(enc::gzip_decompress(z, back, 10 << 20, &error)) << error;  // exactly the limit
  EXPECT_EQ(back.size(), std::size_t{10} << 20);
}

TEST(Gzip, RefusesDamagedInput) {
  const std::string in = random_bytes(5000, 2);
  std::string z, back, error;
  ASSERT_TRUE(enc::gzip_compress(in, z));

  EXPECT_FALSE(enc::gzip_decompress(z.substr(0, z.size() - 5), back, 1 << 20, &error));
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;

  std::string bad_crc = z;
  bad_crc[bad_crc.size() - 6] ^= 0x55;
  EXPECT_FALSE(enc::gzip_decompress(bad_crc, back, 1 << 20, &error));

  EXPECT_FALSE(enc::gzip_decompress(z + "trailing", back, 1 << 20, &error));
  EXPECT_NE(error.find("after"), std::string::npos) << error;

  EXPECT_FALSE(enc::gzip_decompress("plain text, not gzip", back, 1 << 20, &error));
  EXPECT_FALSE(enc::gzip_decompress("", back, 1 << 20, &error));

  // Random garbage after a valid header never crashes.
  for (unsigned seed = 0; seed < 200; ++seed) {
    std::string g = z.substr(0, 10) + random_bytes(1 + seed * 7, seed + 10);
    enc::gzip_decompress(g, back, 1 << 16, &error);
  }
}

}  // namespace
