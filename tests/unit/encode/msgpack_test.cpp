// MessagePack writer and bounded reader: every integer width at its
// boundaries, floats, str repair, bin, ext/EventTime, truncation at every
// byte (kNeedMore), 0xc1 and limits (kMalformed), and JSON rendering.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "encode/msgpack_reader.hpp"
#include "encode/msgpack_writer.hpp"

namespace emp::telemetry::encode::msgpack {
namespace {

TEST(Msgpack, IntegersRoundTripInTheSmallestForm) {
  const std::int64_t values[] = {0,
                                 1,
                                 127,
                                 128,
                                 255,
                                 256,
                                 65535,
                                 65536,
                                 4294967295LL,
                                 4294967296LL,
                                 -1,
                                 -32,
                                 -33,
                                 -128,
                                 -129,
                                 -32768,
                                 -32769,
                                 INT32_MIN,
                                 static_cast<std::int64_t>(INT32_MIN) - 1,
                                 std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max()};
  const std::size_t sizes[] = {1, 1, 1, 2, 2, 3, 3, 5, 5, 9, 1, 1, 2, 2, 3, 3, 5, 5, 9, 9, 9};
  for (std::size_t i = 0; i < std::size(values); ++i) {
    std::string out;
    Writer(out).integer(values[i]);
    EXPECT_EQ(out.size(), sizes[i]) << values[i];
    Reader r(out);
    Item it;
    ASSERT_EQ(r.read(it), Status::kOk);
    std::int64_t v = 0;
    ASSERT_TRUE(it.as_int64(v));
    EXPECT_EQ(v, values[i]);
    EXPECT_TRUE(r.at_end());
  }
  std::string big;
  Writer(big).uinteger(std::numeric_limits<std::uint64_t>::max());
  Item it;
  ASSERT_EQ(Reader(big).read(it), Status::kOk);
  EXPECT_EQ(it.u, std::numeric_limits<std::uint64_t>::max());
  std::int64_t v;
  EXPECT_FALSE(it.as_int64(v));
}

TEST(Msgpack, StringsAreRepairedAndCutAtCharacterBoundaries) {
  std::string out;
  Writer w(out);
  w.str("ok \xff end");
  w.str("\xc3\xa9\xc3\xa9", 3);  // cut inside the second character
  EXPECT_EQ(w.invalid_utf8_strings(), 1u);
  EXPECT_EQ(w.truncated_strings(), 1u);
  Reader r(out);
  Item a, b;
  ASSERT_EQ(r.read(a), Status::kOk);
  EXPECT_EQ(a.bytes, "ok \xef\xbf\xbd end");
  ASSERT_EQ(r.read(b), Status::kOk);
  EXPECT_EQ(b.bytes, "\xc3\xa9");
  std::string long_str(70000, 'a');
  out.clear();
  Writer(out).str(long_str);
  EXPECT_EQ(static_cast<unsigned char>(out[0]), 0xdb);
}

TEST(Msgpack, EventTimeKeepsNanoseconds) {
  std::string out;
  Writer(out).event_time(1700000000123456789);
  ASSERT_EQ(out.size(), 10u);
  Item it;
  ASSERT_EQ(Reader(out).read(it), Status::kOk);
  EXPECT_EQ(it.type, Type::kExt);
  EXPECT_EQ(it.ext_type, kEventTimeExt);
  std::int64_t ns = 0;
  ASSERT_TRUE(event_time_nanos(it.bytes, ns));
  EXPECT_EQ(ns, 1700000000123456789);
}

TEST(Msgpack, EveryTruncationNeedsMoreAndNothingIsReadPastTheEnd) {
  std::string out;
  Writer w(out);
  w.array_header(4);
  w.map_header(1);
  w.str("k");
  w.float64(0.5);
  w.bin(std::string(300, '\x01'));
  w.ext(7, "abc");
  w.array_header(0);
  std::size_t size = 0;
  ASSERT_EQ(complete_value(out, size), Status::kOk);
  EXPECT_EQ(size, out.size());
  for (std::size_t n = 0; n < out.size(); ++n) {
    EXPECT_EQ(complete_value(std::string_view(out).substr(0, n), size), Status::kNeedMore) << n;
  }
}

TEST(Msgpack, LimitsAndReservedBytesAreMalformed) {
  std::size_t size = 0;
  EXPECT_EQ(complete_value("\xc1", size), Status::kMalformed);
  std::string deep(100, '\x91');  // 100 nested one-element arrays
  deep.push_back('\x00');
  EXPECT_EQ(complete_value(deep, size), Status::kMalformed);
  Limits small;
  small.max_container = 10;
  std::string wide;
  Writer(wide).array_header(11);
  EXPECT_EQ(complete_value(wide, size, small), Status::kMalformed);
  std::string ok_depth(10, '\x91');
  ok_depth.push_back('\x00');
  EXPECT_EQ(complete_value(ok_depth, size), Status::kOk);
}

TEST(Msgpack, JsonRendering) {
  std::string v;
  Writer w(v);
  w.map_header(5);
  w.str("s");
  w.str("a\"b");
  w.str("n");
  w.array_header(3);
  w.integer(-3);
  w.nil();
  w.boolean(true);
  w.integer(7);  // a non-string key
  w.float64(std::numeric_limits<double>::infinity());
  w.str("t");
  w.event_time(1500000000000000001);
  w.str("b");
  w.bin("\x01\xff");
  std::string json;
  ASSERT_EQ(to_json(v, json), Status::kOk);
  EXPECT_EQ(json,
            "{\"s\":\"a\\\"b\",\"n\":[-3,null,true],\"7\":\"Infinity\","
            "\"t\":{\"$time\":1500000000.000000001},\"b\":{\"$bin\":\"01ff\"}}");
  std::string trailing = v + "x";
  json.clear();
  EXPECT_EQ(to_json(trailing, json), Status::kMalformed);
}

}  // namespace
}  // namespace emp::telemetry::encode::msgpack
