// Partial-success parsing of OTLP export responses: good bodies in both
// encodings, and hostile ones (truncated, over-long, wrong types, deep
// nesting, random bytes) that must give a clear error and never crash.
#include "encode/otlp_response.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace otlp = emp::telemetry::encode::otlp;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// ExportTraceServiceResponse{partial_success{rejected_spans: 5, error_message: "full"}}
const std::string kPartial = bytes({0x0A, 0x08, 0x08, 0x05, 0x12, 0x04}) + "full";

TEST(OtlpResponseProto, EmptyBodyIsFullSuccess) {
  auto r = otlp::parse_partial_success_proto("");
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.rejected, 0);
  EXPECT_TRUE(r.message.empty());
  auto e = otlp::parse_partial_success_proto(bytes({0x0A, 0x00}));  // empty partial_success
  EXPECT_TRUE(e.ok) << e.error;
  EXPECT_EQ(e.rejected, 0);
}

TEST(OtlpResponseProto, PartialSuccess) {
  auto r = otlp::parse_partial_success_proto(kPartial);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.rejected, 5);
  EXPECT_EQ(r.message, "full");
}

TEST(OtlpResponseProto, UnknownFieldsAreSkippedAndLastValueWins) {
  std::string body = bytes({0x10, 0x96, 0x01,                     // field 2 varint (unknown)
                            0x19, 1,    2,    3,  4, 5, 6, 7, 8,  // field 3 fixed64
                            0x25, 1,    2,    3,  4,              // field 4 fixed32
                            0x2A, 0x02, 'h',  'i'}) +             // field 5 bytes
                     kPartial +
                     bytes({0x0A, 0x05, 0x08, 0x07, 0x38, 0x01, 0x00});  // rejected 7 + unknown 7
  body.pop_back();               // the unknown inner field 7 is a 1-byte varint: 0x38 0x01
  body[body.size() - 5] = 0x04;  // fix the inner length to 4
  auto r = otlp::parse_partial_success_proto(body);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.rejected, 7);
  EXPECT_EQ(r.message, "full");  // merged from the first occurrence
}

TEST(OtlpResponseProto, HostileBodiesGiveErrors) {
  struct Case {
    std::string body;
    std::string error_part;
  } cases[] = {
      {bytes({0x0A}), "length past the end"},
      {bytes({0x0A, 0x05, 0x08}), "length past the end"},
      {bytes({0x0A, 0x02, 0x08, 0x80}), "truncated or over-long varint"},
      {bytes({0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F}), "length past the end"},
      {bytes({0x08, 0x01}), "wire type 0"},  // partial_success as varint
      {bytes({0x0A, 0x02, 0x0A, 0x00}), "rejected (field 1): wire type 2"},
      {bytes({0x0A, 0x02, 0x10, 0x01}), "error_message (field 2): wire type 0"},
      {bytes({0x0A, 0x02, 0x12, 0x05}), "length past the end"},
      {bytes({0x0B, 0x0C}), "wire type 3"},  // group
      {bytes({0x0F}), "wire type 7"},
      {bytes({0x00}), "tag"},  // field 0
      {bytes({0x80}), "tag"},  // truncated tag
      {bytes({0x0A, 0x0B, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}),
       "negative"},
      {bytes({0x0A, 0x0B, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}),
       "over-long"},
  };
  for (const Case& c : cases) {
    auto r = otlp::parse_partial_success_proto(c.body);
    EXPECT_FALSE(r.ok) << "body of " << c.body.size() << " bytes";
    EXPECT_NE(r.error.find(c.error_part), std::string::npos)
        << "error \"" << r.error << "\" lacks \"" << c.error_part << "\"";
  }
}

TEST(OtlpResponseProto, MessageIsCutAndRepaired) {
  std::string msg(5000, 'm');
  msg[1023] = '\xC3';  // a two-byte sequence straddling the cut
  msg[1024] = '\xA9';
  std::string inner = bytes({0x12, 0x88, 0x27}) + msg;   // 5000 = 0x1388
  std::string body = bytes({0x0A, 0x8B, 0x27}) + inner;  // 5003 = 0x138B
  auto r = otlp::parse_partial_success_proto(body);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.message.size(), 1023u);

  auto bad = otlp::parse_partial_success_proto(bytes({0x0A, 0x04, 0x12, 0x02, 'a', 0xFF}));
  ASSERT_TRUE(bad.ok) << bad.error;
  EXPECT_EQ(bad.message, "a\xEF\xBF\xBD");
}

TEST(OtlpResponseProto, RandomBytesNeverCrash) {
  std::mt19937 rng(7);
  int ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string body(rng() % 40, '\0');
    for (char& c : body) c = static_cast<char>(rng() % 4 == 0 ? 0x0A : rng());
    auto r = otlp::parse_partial_success_proto(body);
    if (r.ok) {
      ++ok;
      EXPECT_GE(r.rejected, 0);
    } else {
      EXPECT_FALSE(r.error.empty());
    }
  }
  EXPECT_GT(ok, 0);
}

TEST(OtlpResponseJson, GoodBodies) {
  struct Case {
    const char* body;
    std::int64_t rejected;
    const char* message;
  } cases[] = {
      {"", 0, ""},
      {"  \n", 0, ""},
      {"{}", 0, ""},
      {"{\"partialSuccess\":{}}", 0, ""},
      {"{\"partialSuccess\":null}", 0, ""},
      {"{\"partialSuccess\":{\"rejectedSpans\":\"5\",\"errorMessage\":\"bad span\"}}", 5,
       "bad span"},
      {"{\"partialSuccess\":{\"rejectedLogRecords\":12}}", 12, ""},
      {"{\"partialSuccess\":{\"rejectedDataPoints\":3.0}}", 3, ""},
      {"{\"partial_success\":{\"rejected_spans\":\"9223372036854775807\",\"error_message\":\"x\"}}",
       INT64_MAX, "x"},
      {"{\"other\":{\"rejectedSpans\":99},\"partialSuccess\":{\"unknown\":[1,{\"a\":2}],"
       "\"rejectedSpans\":1,\"errorMessage\":null}}",
       1, ""},
      {"{\"partialSuccess\":{\"errorMessage\":\"caf\\u00e9\"}}", 0, "caf\xC3\xA9"},
  };
  for (const Case& c : cases) {
    auto r = otlp::parse_partial_success_json(c.body);
    EXPECT_TRUE(r.ok) << c.body << ": " << r.error;
    EXPECT_EQ(r.rejected, c.rejected) << c.body;
    EXPECT_EQ(r.message, c.message) << c.body;
  }
}

TEST(OtlpResponseJson, HostileBodies) {
  struct Case {
    std::string body;
    std::string error_part;
  } cases[] = {
      {"{", "invalid JSON"},
      {"{\"partialSuccess\":{\"rejectedSpans\":\"5\"", "invalid JSON"},
      {"[]", "array"},
      {"42", "scalar"},
      {"\"x\"", "scalar"},
      {"{\"partialSuccess\":[]}", "array"},
      {"{\"partialSuccess\":5}", "not an object"},
      {"{\"partialSuccess\":{\"rejectedSpans\":\"5x\"}}", "decimal"},
      {"{\"partialSuccess\":{\"rejectedSpans\":\"\"}}", "not an integer"},
      {"{\"partialSuccess\":{\"rejectedSpans\":\"-3\"}}", "negative"},
      {"{\"partialSuccess\":{\"rejectedSpans\":-3}}", "negative"},
      {"{\"partialSuccess\":{\"rejectedSpans\":1.5}}", "not an integer"},
      {"{\"partialSuccess\":{\"rejectedSpans\":true}}", "not a number"},
      {"{\"partialSuccess\":{\"rejectedSpans\":{}}}", "object or array"},
      {"{\"partialSuccess\":{\"rejectedSpans\":\"99999999999999999999\"}}", "out of range"},
      {"{\"partialSuccess\":{\"rejectedSpans\":18446744073709551615}}", "out of range"},
      {"{\"partialSuccess\":{\"errorMessage\":7}}", "not a string"},
      {"{\"a\":\"\xFF\"}", "invalid JSON"},
      {std::string(100000, '['), "array"},
      {"{\"a\":" + std::string(100000, '['), "nested deeper"},
      {"{\"partialSuccess\":{\"x\":" + std::string(70, '[') + std::string(70, ']') + "}}",
       "nested deeper"},
      {"{} trailing", "invalid JSON"},
  };
  for (const Case& c : cases) {
    auto r = otlp::parse_partial_success_json(c.body);
    EXPECT_FALSE(r.ok) << c.body.substr(0, 80);
    EXPECT_NE(r.error.find(c.error_part), std::string::npos)
        << c.body.substr(0, 80) << " -> \"" << r.error << "\" lacks \"" << c.error_part << "\"";
  }
}

TEST(OtlpResponseJson, RandomTextNeverCrashes) {
  std::mt19937 rng(11);
  const std::string alphabet = "{}[]\":,0123456789-.eE nulltrue\\partialSuccessrejectedSpans";
  for (int i = 0; i < 20000; ++i) {
    std::string body(rng() % 60, ' ');
    for (char& c : body) c = alphabet[rng() % alphabet.size()];
    auto r = otlp::parse_partial_success_json(body);
    if (!r.ok) {
      EXPECT_FALSE(r.error.empty());
    }
  }
}

}  // namespace
