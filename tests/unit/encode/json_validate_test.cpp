// encode::json_valid: the verdicts nlohmann::json::accept gives, on the
// inputs where a hand-written validator usually goes wrong (numbers,
// escapes, surrogates, UTF-8, nesting, trailing bytes).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "encode/json_validate.hpp"

namespace emp::telemetry::encode {
namespace {

void same_as_nlohmann(const std::string& text) {
  EXPECT_EQ(json_valid(text), nlohmann::json::accept(text)) << "input: " << text;
}

TEST(JsonValidate, AgreesWithNlohmannOnTrickyInputs) {
  const char* cases[] = {
      "", " ", "{}", "[]", " { } ", "{\"a\":1}", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1,]",
      "[,1]", "[1 2]", "\"x\"", "'x'", "true", "tru", "truex", "nul", "null ", "-", "-0",
      "01", "1.", ".5", "1.5", "1e", "1e+", "1E-7", "-1.5e+300", "1e400", "-1e400", "1e-400",
      "123456789012345678901234567890", "18446744073709551616", "[1]x", "{}{}", "{\"a\":[}",
      "\"\\u00e9\"", "\"\\u00g9\"", "\"\\ud83d\\ude00\"", "\"\\ud83d\"", "\"\\ude00\"",
      "\"\\ud83d\\u0041\"", "\"\\x\"", "\"\\/\"", "\"a\tb\"", "\"a\x7f b\"", "\"\xc3\xa9\"",
      "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe0\x80\xaf\"",
      "\xef\xbb\xbf{}", "\xef\xbb{}", "[[[[[[[[[[]]]]]]]]]]", "[[[[[[[[[[]]]]]]]]]",
      "{\"a\":{\"b\":{\"c\":[1,{\"d\":null}]}}}", "{\"a\":1 , \"b\" : [ true , false ] }",
  };
  for (const char* c : cases) same_as_nlohmann(c);
  same_as_nlohmann(std::string("\"a\0b\"", 5));
  // The one deliberate difference: nlohmann's lexer takes a NUL byte for the
  // end of the input, so it accepts "{}" followed by NUL and anything; a
  // payload with bytes after its JSON is not JSON here.
  EXPECT_TRUE(nlohmann::json::accept(std::string("{}\0garbage", 10)));
  EXPECT_FALSE(json_valid(std::string("{}\0garbage", 10)));
  same_as_nlohmann(std::string(100000, '[') + std::string(100000, ']'));
  same_as_nlohmann(std::string(100000, '[') + std::string(99999, ']'));
}

TEST(JsonValidate, AcceptsAJobPayload) {
  EXPECT_TRUE(json_valid(
      "{\"job_id\":\"j1\",\"input\":{\"prompt\":\"a cat\",\"steps\":20,\"cfg\":7.5},"
      "\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"}"));
}

// Strings are skipped sixteen bytes at a time up to the first byte that needs
// a look: put each kind of such byte at every offset of a word.
TEST(JsonValidate, FindsTheFirstSpecialByteAtEveryOffset) {
  const std::string specials[] = {"\"", "\\n", "\\u00e9", "\\x", "\x01", "\x1f", "\x7f",
                                  " ", "\xc3\xa9", "\xc3", "\xff", "\xe2\x82\xac", "\xe2\x82"};
  for (std::size_t at = 0; at < 36; ++at) {
    for (const std::string& sp : specials) {
      for (std::size_t tail : {0, 3, 9}) {
        same_as_nlohmann("\"" + std::string(at, 'a') + sp + std::string(tail, 'b') + "\"");
        same_as_nlohmann("[\"" + std::string(at, 'a') + "\"," + "\"" + sp + std::string(tail, '~') +
                         "\"]");
      }
    }
  }
}

}  // namespace
}  // namespace emp::telemetry::encode
