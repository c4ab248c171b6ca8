// Wire primitives: varint sizes and bytes at every length boundary, the
// bounds-checked Reader on truncated and over-long input, and UTF-8
// replacement of ill-formed subparts.
#include "encode/proto_wire.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace wire = emp::telemetry::encode::wire;

namespace {

std::vector<std::uint8_t> varint_bytes(std::uint64_t v) {
  std::uint8_t buf[16];
  std::uint8_t* end = wire::put_varint(buf, v);
  return {buf, end};
}

std::string sanitize(std::string_view s, bool* replaced) {
  std::string out(wire::utf8_sanitized_size(s), '\0');
  std::uint8_t* end =
      wire::put_utf8_sanitized(reinterpret_cast<std::uint8_t*>(out.data()), s, replaced);
  EXPECT_EQ(static_cast<std::size_t>(end - reinterpret_cast<std::uint8_t*>(out.data())),
            out.size());
  return out;
}

TEST(ProtoWire, VarintSizeAtEveryBoundary) {
  EXPECT_EQ(wire::varint_size(0), 1u);
  for (int bytes = 1; bytes <= 9; ++bytes) {
    const std::uint64_t last = (std::uint64_t{1} << (7 * bytes)) - 1;
    EXPECT_EQ(wire::varint_size(last), static_cast<std::size_t>(bytes)) << last;
    EXPECT_EQ(wire::varint_size(last + 1), static_cast<std::size_t>(bytes + 1)) << last + 1;
    EXPECT_EQ(varint_bytes(last).size(), static_cast<std::size_t>(bytes));
    EXPECT_EQ(varint_bytes(last + 1).size(), static_cast<std::size_t>(bytes + 1));
  }
  EXPECT_EQ(wire::varint_size(std::numeric_limits<std::uint64_t>::max()), 10u);
  EXPECT_EQ(wire::int64_varint_size(-1), 10u);
  EXPECT_EQ(wire::int64_varint_size(std::numeric_limits<std::int64_t>::min()), 10u);
}

TEST(ProtoWire, VarintBytesMatchTheSpecExamples) {
  // From the protobuf encoding guide: 1 -> 01, 150 -> 96 01, 300 -> ac 02.
  EXPECT_EQ(varint_bytes(1), (std::vector<std::uint8_t>{0x01}));
  EXPECT_EQ(varint_bytes(150), (std::vector<std::uint8_t>{0x96, 0x01}));
  EXPECT_EQ(varint_bytes(300), (std::vector<std::uint8_t>{0xAC, 0x02}));
  EXPECT_EQ(
      varint_bytes(static_cast<std::uint64_t>(std::int64_t{-1})),
      (std::vector<std::uint8_t>{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}));
}

TEST(ProtoWire, ReaderRoundTripsVarintsAndFixed) {
  const std::uint64_t values[] = {
      0, 1, 127, 128, 16383, 16384, (1ull << 35) + 7, std::numeric_limits<std::uint64_t>::max()};
  std::string buf;
  for (std::uint64_t v : values) {
    auto b = varint_bytes(v);
    buf.append(b.begin(), b.end());
  }
  std::uint8_t fixed[12];
  wire::put_fixed32(fixed, 0x01020304u);
  wire::put_fixed64(fixed + 4, 0x1122334455667788ull);
  EXPECT_EQ(fixed[0], 0x04);  // little-endian
  EXPECT_EQ(fixed[4], 0x88);
  buf.append(reinterpret_cast<char*>(fixed), 12);

  wire::Reader r(buf);
  for (std::uint64_t v : values) {
    std::uint64_t got = 0;
    ASSERT_TRUE(r.read_varint(&got));
    EXPECT_EQ(got, v);
  }
  std::uint32_t f32 = 0;
  std::uint64_t f64 = 0;
  ASSERT_TRUE(r.read_fixed32(&f32));
  ASSERT_TRUE(r.read_fixed64(&f64));
  EXPECT_EQ(f32, 0x01020304u);
  EXPECT_EQ(f64, 0x1122334455667788ull);
  EXPECT_TRUE(r.done());
}

TEST(ProtoWire, ReaderRefusesMalformedVarints) {
  std::uint64_t v;
  {
    wire::Reader r(std::string_view("\x80\x80", 2));  // truncated
    EXPECT_FALSE(r.read_varint(&v));
  }
  {
    wire::Reader r(std::string_view("", 0));
    EXPECT_FALSE(r.read_varint(&v));
  }
  {
    const std::string eleven = std::string(10, '\x80') + "\x01";  // 11 bytes
    wire::Reader r(eleven);
    EXPECT_FALSE(r.read_varint(&v));
  }
  {
    // Tenth byte may only carry bit 63.
    const std::string bad = std::string(9, '\xFF') + "\x02";
    const std::string good = std::string(9, '\xFF') + "\x01";
    wire::Reader r(bad);
    EXPECT_FALSE(r.read_varint(&v));
    wire::Reader ok(good);
    ASSERT_TRUE(ok.read_varint(&v));
    EXPECT_EQ(v, std::numeric_limits<std::uint64_t>::max());
  }
  {
    wire::Reader r(std::string_view("\x01\x02\x03", 3));
    std::uint32_t f;
    EXPECT_FALSE(r.read_fixed32(&f));
  }
}

TEST(ProtoWire, ReaderRefusesLengthsPastTheEndAndGroups) {
  std::string_view s;
  {
    wire::Reader r(
        std::string_view("\x05"
                         "abcd",
                         5));
    EXPECT_FALSE(r.read_len(&s));
  }
  {
    // 2^63 as a length.
    std::string huge(8, '\x80');
    huge += "\x80\x01";
    wire::Reader r(huge);
    EXPECT_FALSE(r.read_len(&s));
  }
  {
    wire::Reader r(
        std::string_view("\x04"
                         "abcd",
                         5));
    ASSERT_TRUE(r.read_len(&s));
    EXPECT_EQ(s, "abcd");
  }
  for (auto type : {wire::WireType::kStartGroup, wire::WireType::kEndGroup,
                    static_cast<wire::WireType>(6), static_cast<wire::WireType>(7)}) {
    wire::Reader r(std::string_view("\x00\x00\x00\x00\x00\x00\x00\x00", 8));
    EXPECT_FALSE(r.skip(type)) << static_cast<int>(type);
  }
  {
    std::uint32_t field;
    wire::WireType type;
    wire::Reader zero(std::string_view("\x00", 1));  // field number 0 is invalid
    EXPECT_FALSE(zero.read_tag(&field, &type));
    wire::Reader flags(std::string_view("\x85\x01", 2));
    ASSERT_TRUE(flags.read_tag(&field, &type));
    EXPECT_EQ(field, 16u);
    EXPECT_EQ(type, wire::WireType::kFixed32);
  }
}

TEST(ProtoWire, Utf8ValidTextIsKept) {
  bool replaced = false;
  const std::string text =
      "plain ascii, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x98\x80, \xF4\x8F\xBF\xBF";
  EXPECT_EQ(sanitize(text, &replaced), text);
  EXPECT_FALSE(replaced);
  EXPECT_TRUE(wire::is_ascii("0123456789abcdefXYZ"));
  EXPECT_FALSE(wire::is_ascii("0123456789abcdef\xC3\xA9"));
  EXPECT_FALSE(wire::is_ascii("\x80"));
}

TEST(ProtoWire, Utf8IllFormedSubpartsBecomeOneReplacementEach) {
  const std::string r = "\xEF\xBF\xBD";
  struct Case {
    std::string in, want;
  } cases[] = {
      {"a\xFF"
       "b",
       "a" + r + "b"},
      {"\xC0\xAF", r + r},          // overlong: C0 is never valid
      {"\xE0\x80\xAF", r + r + r},  // E0 needs A0..BF next
      {"\xED\xA0\x80", r + r + r},  // surrogate
      {"\xF0\x9F\x98", r},          // truncated 4-byte sequence at the end
      {"\xF0\x9F\x98"
       "x",
       r + "x"},                            // truncated in the middle
      {"\xF4\x90\x80\x80", r + r + r + r},  // above U+10FFFF
      {"\xE2\x82", r},                      // truncated 3-byte
      {"\x80\x80", r + r},                  // lone continuation bytes
  };
  for (const Case& c : cases) {
    bool replaced = false;
    EXPECT_EQ(sanitize(c.in, &replaced), c.want);
    EXPECT_TRUE(replaced);
  }
}

}  // namespace
