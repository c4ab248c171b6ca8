// Readers of the google.rpc.Status message in OTLP/HTTP error responses.
#include <gtest/gtest.h>

#include <string>

#include "encode/otlp_response.hpp"

namespace emp::telemetry::encode::otlp {
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

TEST(StatusMessage, SkipsOtherFieldsAndRejectsMalformedBodies) {
  std::string status;
  varint(status, (1 << 3) | 0);
  varint(status, 14);
  status += len_field(3, len_field(1, "type.googleapis.com/x") + len_field(2, "detail"));
  status += len_field(2, "unavailable");
  EXPECT_EQ(parse_status_message_proto(status), "unavailable");
  // Every strict prefix that cuts a field is malformed (or has no message yet).
  for (std::size_t n = 0; n < status.size(); ++n) {
    EXPECT_FALSE(parse_status_message_proto(status.substr(0, n))) << n;
  }
  EXPECT_FALSE(parse_status_message_proto(len_field(2, "")));        // empty message
  EXPECT_FALSE(parse_status_message_proto(std::string("\x0b", 1)));  // group
  EXPECT_FALSE(parse_status_message_json(R"({"message":""})"));
  EXPECT_FALSE(parse_status_message_json(R"({"message":5})"));
  EXPECT_FALSE(parse_status_message_json("{"));
}

}  // namespace
}  // namespace emp::telemetry::encode::otlp
