// encode::append_json_masked: compact output in the payload's own order,
// scalars under secret keys masked, containers under them walked; parsing
// the result gives what masking the parsed payload gives.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "encode/json_mask.hpp"
#include "encode/json_validate.hpp"

namespace emp::telemetry::encode {
namespace {

bool secret(std::string_view key) noexcept {
  return key.find("token") != std::string_view::npos ||
         key.find("password") != std::string_view::npos;
}

std::string masked(std::string_view text) {
  std::string out;
  append_json_masked(text, secret, "\"***\"", out);
  return out;
}

// The document-based masking the rewriter stands in for.
void mask(nlohmann::json& j) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (secret(it.key()) && !it.value().is_structured())
        it.value() = "***";
      else
        mask(it.value());
    }
  } else if (j.is_array()) {
    for (auto& v : j) mask(v);
  }
}

TEST(JsonMask, DropsWhitespaceAndKeepsOrderAndSpelling) {
  EXPECT_EQ(masked(" { \"b\" : 1.50 ,\n\t\"a\": [ 1 , 2, {\"x\" : null} ], \"c\":\"\\u00e9 \\/\" } "),
            "{\"b\":1.50,\"a\":[1,2,{\"x\":null}],\"c\":\"\\u00e9 \\/\"}");
  EXPECT_EQ(masked("\xef\xbb\xbf[true, false]"), "[true,false]");
  EXPECT_EQ(masked(" \"token\" "), "\"token\"");  // a string, not a key
  EXPECT_EQ(masked("-0.5e+3"), "-0.5e+3");
  EXPECT_EQ(masked("{}"), "{}");
  EXPECT_EQ(masked("[[],{}]"), "[[],{}]");
}

TEST(JsonMask, MasksScalarsUnderSecretKeysAtAnyDepth) {
  EXPECT_EQ(masked(R"({"api_token":"t-1","prompt":"a cat","n":{"password":5,"ok":true}})"),
            R"({"api_token":"***","prompt":"a cat","n":{"password":"***","ok":true}})");
  EXPECT_EQ(masked(R"({"token":null,"password":false,"x":[{"token":-1e3}]})"),
            R"({"token":"***","password":"***","x":[{"token":"***"}]})");
  // A container under a secret key is walked: its own secret members are
  // masked, the rest stays readable.
  EXPECT_EQ(masked(R"({"token":{"a":1,"password":"p"},"password":["p",2]})"),
            R"({"token":{"a":1,"password":"***"},"password":["p",2]})");
  // Escaped keys are compared unescaped.
  EXPECT_EQ(masked(R"({"pass\u0077ord":"p","a\"token":"q"})"),
            R"({"pass\u0077ord":"***","a\"token":"***"})");
  // Quotes, braces and commas inside strings are data.
  EXPECT_EQ(masked(R"({"a":"x\"}, {\"token\":1","token":"y\\"})"),
            R"({"a":"x\"}, {\"token\":1","token":"***"})");
  // A secret key's value that is a string equal to a key name is masked,
  // the next key is read as a key again.
  EXPECT_EQ(masked(R"({"token":"password","password":"token","z":"token"})"),
            R"({"token":"***","password":"***","z":"token"})");
}

TEST(JsonMask, ParsesToWhatMaskingTheParsedPayloadGives) {
  const char* cases[] = {
      R"({"token":"t","a":[1,{"password":"p","b":[{"token":[1,2]}]}],"c":{"d":{"token":0}}})",
      R"([{"token":1},{"token":{"token":2}},"token",["password"]])",
      R"({"dup":1,"dup":{"token":"x"},"token":"a","token":{"b":1}})",
      R"({"e":"\ud83d\ude00","f":1E-7,"token":"\u0000"})",
  };
  for (const char* c : cases) {
    ASSERT_TRUE(json_valid(c)) << c;
    const std::string out = masked(c);
    ASSERT_TRUE(json_valid(out)) << out;
    nlohmann::json expected = nlohmann::json::parse(c);
    mask(expected);
    EXPECT_EQ(nlohmann::json::parse(out), expected) << c << " -> " << out;
  }
}

}  // namespace
}  // namespace emp::telemetry::encode
