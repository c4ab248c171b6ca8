// gzip round trips at every level (compressed by libdeflate, inflated by
// zlib), the gzip header, the per-thread compressor cache, and the
// decompressor's refusals: corrupt, truncated, trailing bytes, not gzip, over
// the limit.
#include "encode/gzip.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

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
  for (int level = enc::kGzipMinLevel; level <= enc::kGzipMaxLevel; ++level) {
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

// zlib's own one-shot gzip reader (inflateInit2 with gzip framing), apart
// from gzip_decompress, so a fault shared by both of ours cannot hide.
std::string zlib_inflate(const std::string& z, std::size_t expected) {
  std::string back(expected + 1, '\0');
  z_stream zs{};
  EXPECT_EQ(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(z.data()));
  zs.avail_in = static_cast<uInt>(z.size());
  zs.next_out = reinterpret_cast<Bytef*>(back.data());
  zs.avail_out = static_cast<uInt>(back.size());
  EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END);
  back.resize(back.size() - zs.avail_out);
  EXPECT_EQ(zs.avail_in, 0u);  // one member, nothing after it
  inflateEnd(&zs);
  return back;
}

TEST(Gzip, ZlibInflatesEveryLevel) {
  const std::string inputs[] = {"", random_bytes(70000, 3),
                                std::string(100000, 'a') + random_bytes(1000, 4)};
  for (int level = enc::kGzipMinLevel; level <= enc::kGzipMaxLevel; ++level) {
    for (const std::string& in : inputs) {
      std::string z;
      ASSERT_TRUE(enc::gzip_compress(in, z, level)) << level;
      EXPECT_EQ(zlib_inflate(z, in.size()), in)
          << "level " << level << ", " << in.size() << " bytes";
    }
  }
}

TEST(Gzip, HigherLevelsAreNotLarger) {
  std::string text;
  for (int i = 0; i < 3000; ++i)
    text += "{\"job.id\":\"job-" + std::to_string(i * 7919 % 1000) + "\"},";
  std::string fast, small;
  ASSERT_TRUE(enc::gzip_compress(text, fast, 1));
  ASSERT_TRUE(enc::gzip_compress(text, small, 12));
  EXPECT_LE(small.size(), fast.size());
  EXPECT_LT(fast.size(), text.size() / 4);
}

// The thread's cached compressor follows level changes: output at a level is
// the same whatever level ran before it, and threads do not share state.
TEST(Gzip, CachedCompressorFollowsTheLevel) {
  const std::string in = random_bytes(20000, 5) + std::string(20000, 'q');
  std::string first, again, other;
  ASSERT_TRUE(enc::gzip_compress(in, first, 9));
  ASSERT_TRUE(enc::gzip_compress(in, other, 1));
  ASSERT_TRUE(enc::gzip_compress(in, again, 9));
  EXPECT_EQ(first, again);
  EXPECT_NE(first, other);

  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      std::string z;
      for (int round = 0; round < 20; ++round) {
        if (!enc::gzip_compress(in, z, t % 2 == 0 ? 9 : 1)) return;
      }
      results[t] = z;
    });
  }
  for (auto& th : threads) th.join();
  for (std::size_t t = 0; t < results.size(); ++t) {
    EXPECT_EQ(results[t], t % 2 == 0 ? first : other) << t;
  }
}

TEST(Gzip, CompressesRepetitiveData) {
  std::string z;
  ASSERT_TRUE(enc::gzip_compress(std::string(1 << 20, 'x'), z));
  EXPECT_LT(z.size(), 4096u);
}

TEST(Gzip, RejectsBadLevels) {
  std::string z = "junk";
  EXPECT_FALSE(enc::gzip_compress("abc", z, enc::kGzipMaxLevel + 1));
  EXPECT_TRUE(z.empty());
  EXPECT_FALSE(enc::gzip_compress("abc", z, -1));
  EXPECT_TRUE(enc::gzip_compress("abc", z, enc::kGzipMaxLevel));
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
