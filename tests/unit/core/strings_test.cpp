// The shared ASCII string helpers (src/core/strings.hpp): what counts as
// space, case-insensitive means ASCII only, and messages stay one safe line.
#include "core/strings.hpp"

#include <gtest/gtest.h>

#include <string>

namespace emp::telemetry::core {
namespace {

TEST(Strings, TrimRemovesSpacesAndTabsOnly) {
  EXPECT_EQ(trim(" \t a b \t "), "a b");
  EXPECT_EQ(trim("\na\r"), "\na\r");
  EXPECT_EQ(trim("   "), "");
  EXPECT_EQ(trim_whitespace("\r\n\t value \r\n"), "value");
}

TEST(Strings, CaseInsensitiveComparisonIsAsciiOnly) {
  EXPECT_TRUE(iequals("Content-Type", "content-TYPE"));
  EXPECT_FALSE(iequals("Content-Type", "Content-Typ"));
  EXPECT_FALSE(iequals("\xc3\x84", "\xc3\xa4"));  // Ä vs ä: bytes differ, not ASCII letters
  EXPECT_TRUE(istarts_with("Retry-After: 5", "retry-after:"));
  EXPECT_FALSE(istarts_with("Retry", "retry-after:"));
  EXPECT_EQ(to_lower("HTTP/JSON-\xc3\x84"), "http/json-\xc3\x84");
  EXPECT_EQ(to_upper("traces_1"), "TRACES_1");
}

TEST(Strings, ControlCharacters) {
  EXPECT_TRUE(has_control(std::string("a\0b", 3)));
  EXPECT_TRUE(has_control("a\x7f"));
  EXPECT_TRUE(has_control("tab\there"));  // a tab is a C0 control too
  EXPECT_FALSE(has_control("plain text, UTF-8 \xc3\xa9"));
}

TEST(Strings, QuoteEscapesAndCuts) {
  EXPECT_EQ(quote("a\"b\\c\n"), R"("a\"b\\c\x0a")");
  EXPECT_EQ(quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(quote(std::string(10, 'x'), 4), "\"xxxx\"... (10 bytes)");
  // Never cut inside a UTF-8 sequence.
  EXPECT_EQ(quote("ab\xc3\xa9", 3), "\"ab\"... (4 bytes)");
}

TEST(Strings, PrintableExcerptReplacesControlBytesAndCuts) {
  EXPECT_EQ(printable_excerpt("a\nb\x01\xff", 100), "a?b??");
  EXPECT_EQ(printable_excerpt(std::string(600, 'x'), 512), std::string(512, 'x') + "...");
}

}  // namespace
}  // namespace emp::telemetry::core
