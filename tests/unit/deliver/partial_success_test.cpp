// Readers of OTLP response bodies: partial success and error messages.
#include "deliver/partial_success.hpp"

#include <gtest/gtest.h>

#include <string>

namespace emp::telemetry::deliver {
namespace {

void varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

std::string len_field(int field, const std::string& bytes) {
  std::string out;
  varint(out, (static_cast<std::uint64_t>(field) << 3) | 2);
  varint(out, bytes.size());
  return out + bytes;
}

std::string partial_proto(std::uint64_t rejected, const std::string& message) {
  std::string inner;
  varint(inner, (1 << 3) | 0);
  varint(inner, rejected);
  inner += len_field(2, message);
  return len_field(1, inner);
}

TEST(PartialSuccessProto, ReadsRejectedCountAndMessage) {
  const auto ps = parse_partial_success_proto(partial_proto(7, "bad spans"));
  ASSERT_TRUE(ps);
  EXPECT_EQ(ps->rejected, 7u);
  EXPECT_EQ(ps->error_message, "bad spans");
}

TEST(PartialSuccessProto, EmptyBodyIsAnEmptyResponse) {
  const auto ps = parse_partial_success_proto("");
  ASSERT_TRUE(ps);
  EXPECT_EQ(ps->rejected, 0u);
  EXPECT_TRUE(ps->error_message.empty());
}

TEST(PartialSuccessProto, UnknownFieldsAreSkipped) {
  std::string body;
  varint(body, (5 << 3) | 0);  // unknown varint field
  varint(body, 99);
  body += len_field(9, "unknown bytes");
  body += std::string("\x3d\x01\x02\x03\x04", 5);                  // field 7 fixed32
  body += std::string("\x41\x01\x02\x03\x04\x05\x06\x07\x08", 9);  // field 8 fixed64
  body += partial_proto(3, "m");
  const auto ps = parse_partial_success_proto(body);
  ASSERT_TRUE(ps);
  EXPECT_EQ(ps->rejected, 3u);
}

TEST(PartialSuccessProto, NegativeCountReadsAsZero) {
  const auto ps = parse_partial_success_proto(
      partial_proto(static_cast<std::uint64_t>(std::int64_t{-4}), "neg"));
  ASSERT_TRUE(ps);
  EXPECT_EQ(ps->rejected, 0u);
}

TEST(PartialSuccessProto, MalformedBodiesAreRejectedNotCrashing) {
  const std::string good = partial_proto(5, "hello world");
  // Every truncation of a valid body except the full one is malformed.
  for (std::size_t n = 1; n < good.size(); ++n) {
    EXPECT_FALSE(parse_partial_success_proto(good.substr(0, n))) << n;
  }
  EXPECT_FALSE(
      parse_partial_success_proto(std::string("\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11)));
  EXPECT_FALSE(parse_partial_success_proto(std::string("\x0b", 1)));      // group start
  EXPECT_FALSE(parse_partial_success_proto(std::string("\x00\x00", 2)));  // field 0
}

TEST(PartialSuccessJson, ReadsCamelAndSnakeCaseStringOrNumber) {
  auto ps = parse_partial_success_json(
      R"({"partialSuccess":{"rejectedSpans":"12","errorMessage":"dropped"}})");
  ASSERT_TRUE(ps);
  EXPECT_EQ(ps->rejected, 12u);
  EXPECT_EQ(ps->error_message, "dropped");
  ps = parse_partial_success_json(R"({"partial_success":{"rejected_log_records":4}})");
  ASSERT_TRUE(ps);
  EXPECT_EQ(ps->rejected, 4u);
  ps = parse_partial_success_json(
      R"({"partialSuccess":{"rejectedDataPoints":"99999999999999999999"}})");
  EXPECT_FALSE(ps);  // beyond int64
}

TEST(PartialSuccessJson, EmptyAndAbsentMeanNothingRejected) {
  for (const char* body :
       {"", "  \n", "{}", R"({"partialSuccess":{}})", R"({"partialSuccess":null})"}) {
    const auto ps = parse_partial_success_json(body);
    ASSERT_TRUE(ps) << body;
    EXPECT_EQ(ps->rejected, 0u) << body;
  }
}

TEST(PartialSuccessJson, MalformedIsNullopt) {
  for (const char* body :
       {"{", "[1]", R"({"partialSuccess":5})", R"({"partialSuccess":{"rejectedSpans":"x"}})",
        R"({"partialSuccess":{"rejectedSpans":true}})"}) {
    EXPECT_FALSE(parse_partial_success_json(body)) << body;
  }
}

TEST(StatusMessage, ProtoAndJson) {
  std::string status;
  varint(status, (1 << 3) | 0);
  varint(status, 3);
  status += len_field(2, "invalid trace id");
  EXPECT_EQ(parse_status_message_proto(status), "invalid trace id");
  EXPECT_FALSE(parse_status_message_proto("not protobuf at all \xff"));
  EXPECT_EQ(parse_status_message_json(R"({"code":3,"message":"bad json"})"), "bad json");
  EXPECT_FALSE(parse_status_message_json("[]"));
}

TEST(PrintableExcerpt, ReplacesControlBytesAndCuts) {
  EXPECT_EQ(printable_excerpt("a\nb\x01\xff", 100), "a?b??");
  EXPECT_EQ(printable_excerpt(std::string(600, 'x'), 512), std::string(512, 'x') + "...");
}

}  // namespace
}  // namespace emp::telemetry::deliver
