// JSON-lines encoder tests. Every produced line is read back with nlohmann::json,
// a parser written independently of the encoder, so "the consumer sees what the
// service logged" is checked rather than the encoder's own idea of its output.
#include "encode/json_lines.hpp"

#include <gtest/gtest.h>
#include <time.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace emp::telemetry::encode {
namespace {

using nlohmann::ordered_json;

constexpr std::size_t kNoLimit = SIZE_MAX;
const std::string kEllipsis = "\xE2\x80\xA6";
const std::string kReplacement = "\xEF\xBF\xBD";

LineContext default_ctx() {
  LineContext ctx;
  ctx.service_name = "emp-api";
  ctx.service_type = "api";
  ctx.machine_id = "machine-7";
  ctx.environment = "production";
  return ctx;
}

std::string encode_line(const LogRecordView& r, const LineContext& ctx,
                        const LineLimits& limits = {}, LineStats* stats_out = nullptr) {
  std::string out;
  LineStats stats;
  append_log_line(out, r, ctx, limits, stats);
  if (stats_out) *stats_out = stats;
  return out;
}

// A line must be exactly one line: one '\n', at the end.
void expect_single_line(const std::string& line) {
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  EXPECT_EQ(line.find('\r'), std::string::npos) << line;
}

ordered_json parse_line(const std::string& line) {
  expect_single_line(line);
  return ordered_json::parse(line);  // throws (fails the test) on invalid JSON or UTF-8
}

std::vector<std::string> keys_of(const ordered_json& j) {
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  return keys;
}

// Encodes `s` as a JSON string and decodes it with nlohmann.
std::string round_trip(std::string_view s, std::size_t limit = kNoLimit,
                       LineStats* stats_out = nullptr, std::string* raw = nullptr) {
  std::string out;
  LineStats stats;
  append_json_string(out, s, limit, stats);
  if (stats_out) *stats_out = stats;
  if (raw) *raw = out;
  return nlohmann::json::parse(out).get<std::string>();
}

std::size_t count_of(const std::string& hay, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

bool has_raw_control(const std::string& s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 && c != '\n') return true;  // the line's own terminator is allowed
    if (c == 0x7f) return true;
    if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xa0 &&
        static_cast<unsigned char>(s[i + 1]) >= 0x80)
      return true;
  }
  return false;
}

TEST(JsonLines, WritesEveryStandardKeyInOrderWithCallerFieldsLast) {
  const std::vector<Field> fields = {{"job_id", "job-123"}, {"ms", 12},        {"ok", true},
                                     {"ratio", 0.25},       {"none", nullptr}, {"no", false}};
  LogRecordView r;
  r.time_unix_nano = 1795593369123456789;  // 2026-11-25T07:56:09.123456789Z
  r.level = Level::kWarn;
  r.message = "job finished";
  r.fields = fields;
  r.log_file_path = "/var/log/emp/api.log";
  const std::string line = encode_line(r, default_ctx());
  const ordered_json j = parse_line(line);

  const std::vector<std::string> expected_keys = {"timestamp",
                                                  "level",
                                                  "message",
                                                  "service_name",
                                                  "service_type",
                                                  "machine_id",
                                                  "environment",
                                                  "log_file_path",
                                                  "source_identification",
                                                  "job_id",
                                                  "ms",
                                                  "ok",
                                                  "ratio",
                                                  "none",
                                                  "no"};
  EXPECT_EQ(keys_of(j), expected_keys);
  EXPECT_EQ(j["timestamp"], "2026-11-25T07:56:09.123Z");
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["message"], "job finished");
  EXPECT_EQ(j["service_name"], "emp-api");
  EXPECT_EQ(j["service_type"], "api");
  EXPECT_EQ(j["machine_id"], "machine-7");
  EXPECT_EQ(j["environment"], "production");
  EXPECT_EQ(j["log_file_path"], "/var/log/emp/api.log");
  EXPECT_EQ(j["source_identification"], "emp-api:machine-7:/var/log/emp/api.log");
  EXPECT_EQ(j["job_id"], "job-123");
  EXPECT_TRUE(j["ms"].is_number_integer());
  EXPECT_EQ(j["ms"].get<std::int64_t>(), 12);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["no"], false);
  EXPECT_TRUE(j["ratio"].is_number_float());
  EXPECT_EQ(j["ratio"].get<double>(), 0.25);
  EXPECT_TRUE(j["none"].is_null());
}

TEST(JsonLines, AppendsToExistingBufferWithoutTouchingIt) {
  std::string out = "previous line\n";
  LogRecordView r;
  r.message = "x";
  LineStats stats;
  append_log_line(out, r, default_ctx(), {}, stats);
  append_log_line(out, r, default_ctx(), {}, stats);
  ASSERT_EQ(out.rfind("previous line\n", 0), 0u);
  const std::string rest = out.substr(14);
  const std::size_t nl = rest.find('\n');
  ASSERT_NE(nl, std::string::npos);
  EXPECT_EQ(ordered_json::parse(rest.substr(0, nl))["message"], "x");
  EXPECT_EQ(ordered_json::parse(rest.substr(nl + 1))["message"], "x");
  EXPECT_FALSE(stats.invalid_utf8);
  EXPECT_FALSE(stats.truncated);
}

TEST(JsonLines, LevelNames) {
  const std::pair<Level, const char*> cases[] = {{Level::kDebug, "debug"},
                                                 {Level::kInfo, "info"},
                                                 {Level::kWarn, "warn"},
                                                 {Level::kError, "error"}};
  for (const auto& [level, name] : cases) {
    LogRecordView r;
    r.level = level;
    EXPECT_EQ(parse_line(encode_line(r, default_ctx()))["level"], name);
  }
}

TEST(JsonLines, WorkerAndTraceIdsOnlyWhenSet) {
  LogRecordView r;
  r.message = "m";
  LineContext ctx = default_ctx();
  ordered_json j = parse_line(encode_line(r, ctx));
  EXPECT_FALSE(j.contains("worker_id"));
  EXPECT_FALSE(j.contains("trace_id"));
  EXPECT_FALSE(j.contains("span_id"));
  EXPECT_EQ(j.size(), 9u);

  const std::uint8_t trace[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                  0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
  const std::uint8_t span[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
  ctx.worker_id = "machine-7-worker-0";
  r.trace_id = trace;
  r.span_id = span;
  j = parse_line(encode_line(r, ctx));
  const std::vector<std::string> expected_keys = {
      "timestamp",  "level",       "message",       "service_name",          "service_type",
      "machine_id", "environment", "log_file_path", "source_identification", "worker_id",
      "trace_id",   "span_id"};
  EXPECT_EQ(keys_of(j), expected_keys);
  EXPECT_EQ(j["worker_id"], "machine-7-worker-0");
  EXPECT_EQ(j["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(j["span_id"], "00f067aa0ba902b7");

  // Each optional key is independent of the others.
  r.trace_id = nullptr;
  ctx.worker_id = {};
  j = parse_line(encode_line(r, ctx));
  EXPECT_FALSE(j.contains("worker_id"));
  EXPECT_FALSE(j.contains("trace_id"));
  EXPECT_EQ(j["span_id"], "00f067aa0ba902b7");
}

TEST(JsonLines, CallerKeysThatCollideWithStandardKeysArePrefixed) {
  const std::vector<Field> fields = {{"message", "caller message"},
                                     {"level", "fatal"},
                                     {"timestamp", 1},
                                     {"service_name", "x"},
                                     {"service_type", "x"},
                                     {"machine_id", "x"},
                                     {"environment", "x"},
                                     {"log_file_path", "x"},
                                     {"source_identification", "x"},
                                     {"worker_id", "w-caller"},
                                     {"trace_id", "t-caller"},
                                     {"span_id", "s-caller"},
                                     {"Message", "case differs: kept"},
                                     {"messages", "kept"}};
  LogRecordView r;
  r.message = "real message";
  r.fields = fields;
  LineContext ctx = default_ctx();

  // No worker/trace/span on the line: the caller's own ids keep their names.
  ordered_json j = parse_line(encode_line(r, ctx));
  std::vector<std::string> expected = {"timestamp",
                                       "level",
                                       "message",
                                       "service_name",
                                       "service_type",
                                       "machine_id",
                                       "environment",
                                       "log_file_path",
                                       "source_identification",
                                       "field.message",
                                       "field.level",
                                       "field.timestamp",
                                       "field.service_name",
                                       "field.service_type",
                                       "field.machine_id",
                                       "field.environment",
                                       "field.log_file_path",
                                       "field.source_identification",
                                       "worker_id",
                                       "trace_id",
                                       "span_id",
                                       "Message",
                                       "messages"};
  EXPECT_EQ(keys_of(j), expected);  // equal lists also prove no key was written twice
  EXPECT_EQ(j["message"], "real message");
  EXPECT_EQ(j["field.message"], "caller message");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["field.level"], "fatal");
  EXPECT_EQ(j["worker_id"], "w-caller");

  // With them on the line, the caller's copies are prefixed.
  const std::uint8_t trace[16] = {1};
  const std::uint8_t span[8] = {2};
  r.trace_id = trace;
  r.span_id = span;
  ctx.worker_id = "w-ctx";
  j = parse_line(encode_line(r, ctx));
  EXPECT_EQ(j["worker_id"], "w-ctx");
  EXPECT_EQ(j["field.worker_id"], "w-caller");
  EXPECT_EQ(j["trace_id"], "01000000000000000000000000000000");
  EXPECT_EQ(j["field.trace_id"], "t-caller");
  EXPECT_EQ(j["span_id"], "0200000000000000");
  EXPECT_EQ(j["field.span_id"], "s-caller");
  EXPECT_EQ(j.size(), fields.size() + 12);
}

TEST(JsonLines, CallerKeysAreEscaped) {
  const std::string nasty_key = std::string("a\"b\\c\n\x01") + "\xE2\x80\xA8";
  const std::vector<Field> fields = {{nasty_key, 1}, {"", "empty key"}};
  LogRecordView r;
  r.fields = fields;
  const std::string line = encode_line(r, default_ctx());
  const ordered_json j = parse_line(line);
  EXPECT_EQ(j[nasty_key], 1);
  EXPECT_EQ(j[""], "empty key");
}

TEST(JsonEscape, EveryAsciiControlByteIsEscapedAndRoundTrips) {
  for (int c = 0; c < 0x20; ++c) {
    const std::string in = std::string("a") + static_cast<char>(c) + "b";
    std::string raw;
    EXPECT_EQ(round_trip(in, kNoLimit, nullptr, &raw), in) << "byte " << c;
    EXPECT_FALSE(has_raw_control(raw)) << "byte " << c;
    EXPECT_EQ(raw.find('\n'), std::string::npos);
  }
  const std::string in = "\x7f";
  std::string raw;
  EXPECT_EQ(round_trip(in, kNoLimit, nullptr, &raw), in);
  EXPECT_EQ(raw, "\"\\u007f\"");

  const std::pair<std::string, std::string> forms[] = {
      {"\n", "\"\\n\""},       {"\r", "\"\\r\""},
      {"\t", "\"\\t\""},       {"\b", "\"\\b\""},
      {"\f", "\"\\f\""},       {"\"", "\"\\\"\""},
      {"\\", "\"\\\\\""},      {std::string(1, '\0'), "\"\\u0000\""},
      {"\x1f", "\"\\u001f\""}, {"\x0b", "\"\\u000b\""},
      {"/", "\"/\""}};
  for (const auto& [input, expected] : forms) {
    std::string out;
    LineStats stats;
    append_json_string(out, input, kNoLimit, stats);
    EXPECT_EQ(out, expected);
  }
}

TEST(JsonEscape, C1ControlsAndLineSeparatorsAreEscaped) {
  for (int c = 0x80; c <= 0x9f; ++c) {
    const std::string in = std::string("x\xC2") + static_cast<char>(c) + "y";
    std::string raw;
    LineStats stats;
    EXPECT_EQ(round_trip(in, kNoLimit, &stats, &raw), in);
    EXPECT_FALSE(has_raw_control(raw));
    char expected[16];
    std::snprintf(expected, sizeof expected, "\\u00%02x", c);
    EXPECT_NE(raw.find(expected), std::string::npos) << raw;
    EXPECT_FALSE(stats.invalid_utf8);
  }
  // U+00A0 is the first character after the C1 block: copied as is.
  EXPECT_EQ(round_trip("\xC2\xA0"), "\xC2\xA0");

  std::string raw;
  const std::string seps =
      "a\xE2\x80\xA8"
      "b\xE2\x80\xA9"
      "c";
  EXPECT_EQ(round_trip(seps, kNoLimit, nullptr, &raw), seps);
  EXPECT_EQ(raw, "\"a\\u2028b\\u2029c\"");
  // Neighbours of U+2028/2029 are not escaped.
  EXPECT_EQ(round_trip("\xE2\x80\xA7\xE2\x80\xAA", kNoLimit, nullptr, &raw),
            "\xE2\x80\xA7\xE2\x80\xAA");
  EXPECT_EQ(raw, "\"\xE2\x80\xA7\xE2\x80\xAA\"");
}

TEST(JsonEscape, ValidMultiByteTextPassesUnchanged) {
  const std::string samples[] = {
      "h\xC3\xA9llo",                          // é
      "\xE2\x82\xAC 100",                      // €
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",  // 日本語
      "\xF0\x9F\x8E\x89 party",                // 🎉
      "\xF4\x8F\xBF\xBF",                      // U+10FFFF, the last code point
      "\xED\x9F\xBF\xEE\x80\x80",              // U+D7FF and U+E000 around the surrogates
      "\xEF\xBF\xBF\xEF\xBF\xBD",              // U+FFFF, U+FFFD
      "\xE0\xA0\x80\xF0\x90\x80\x80",          // U+0800, U+10000: smallest 3/4-byte forms
      "\xDF\xBF",                              // U+07FF
  };
  for (const std::string& s : samples) {
    std::string raw;
    LineStats stats;
    EXPECT_EQ(round_trip(s, kNoLimit, &stats, &raw), s);
    EXPECT_EQ(raw, "\"" + s + "\"");
    EXPECT_FALSE(stats.invalid_utf8) << s;
    EXPECT_FALSE(stats.truncated);
  }
}

struct InvalidCase {
  const char* name;
  std::string input;
  std::string expected;  // after repair
};

TEST(JsonEscape, InvalidUtf8IsReplacedPerMaximalSubpart) {
  const std::string R = kReplacement;
  std::vector<InvalidCase> cases = {
      {"lone continuation", "\x80", R},
      {"lone continuation BF",
       "a\xBF"
       "b",
       "a" + R + "b"},
      {"two lone continuations", "\x80\xBF", R + R},
      {"truncated 2-byte at end", "a\xC3", "a" + R},
      {"truncated 2-byte before ASCII",
       "\xC3"
       "A",
       R + "A"},
      {"truncated 3-byte at end", "\xE2\x82", R},
      {"truncated 3-byte before ASCII",
       "\xE2\x82"
       "A",
       R + "A"},
      {"truncated 3-byte, one byte", "\xE2", R},
      {"truncated 4-byte at end", "\xF0\x9F\x98", R},
      {"truncated 4-byte before ASCII",
       "\xF0\x9F\x98"
       "A",
       R + "A"},
      {"overlong C0 80", "\xC0\x80", R + R},
      {"overlong C1 BF", "\xC1\xBF", R + R},
      {"overlong E0 80 80", "\xE0\x80\x80", R + R + R},
      {"overlong E0 9F BF", "\xE0\x9F\xBF", R + R + R},
      {"overlong F0 80 80 80", "\xF0\x80\x80\x80", R + R + R + R},
      {"surrogate ED A0 80", "\xED\xA0\x80", R + R + R},
      {"surrogate ED BF BF", "\xED\xBF\xBF", R + R + R},
      {"above U+10FFFF F4 90 80 80", "\xF4\x90\x80\x80", R + R + R + R},
      {"5-byte form", "\xF8\x88\x80\x80\x80", R + R + R + R + R},
      {"lead followed by lead", "\xE2\xE2\x82\xAC", R + "\xE2\x82\xAC"},
      // The example of the Unicode Standard, section 3.9 (U+FFFD substitution).
      {"unicode example", "\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
       "a" + R + R + R + "b" + R + "c" + R + R + "d"},
  };
  for (int b = 0xF5; b <= 0xFF; ++b) {
    cases.push_back({"F5..FF", std::string(1, static_cast<char>(b)) + "z", R + "z"});
  }
  for (const InvalidCase& c : cases) {
    std::string raw;
    LineStats stats;
    EXPECT_EQ(round_trip(c.input, kNoLimit, &stats, &raw), c.expected) << c.name;
    EXPECT_TRUE(stats.invalid_utf8) << c.name;
    EXPECT_FALSE(stats.truncated) << c.name;
    EXPECT_EQ(count_of(raw, R), count_of(c.expected, R)) << c.name;
  }
}

TEST(JsonEscape, InvalidUtf8InLineValuesKeepsTheLineParseable) {
  const std::vector<Field> fields = {{"k\xFF", "v\xC0\x80"}};
  LogRecordView r;
  r.message = "bad \xED\xA0\x80 bytes";
  r.fields = fields;
  r.log_file_path = "/tmp/\xFE.log";
  LineStats stats;
  const ordered_json j = parse_line(encode_line(r, default_ctx(), {}, &stats));
  EXPECT_TRUE(stats.invalid_utf8);
  EXPECT_EQ(j["message"], "bad " + kReplacement + kReplacement + kReplacement + " bytes");
  EXPECT_EQ(j["k" + kReplacement], "v" + kReplacement + kReplacement);
  EXPECT_EQ(j["log_file_path"], "/tmp/" + kReplacement + ".log");
  EXPECT_EQ(j["source_identification"], "emp-api:machine-7:/tmp/" + kReplacement + ".log");
}

std::string marker(std::size_t n) {
  return kEllipsis + "[truncated " + std::to_string(n) + " bytes]";
}

TEST(JsonEscape, TruncationCutsAtCharacterBoundariesAndShowsMarker) {
  LineStats stats;
  EXPECT_EQ(round_trip("abcdefghij", 4, &stats), "abcd" + marker(6));
  EXPECT_TRUE(stats.truncated);
  EXPECT_EQ(round_trip("abcdefghij", 10, &stats), "abcdefghij");
  EXPECT_FALSE(stats.truncated);
  EXPECT_EQ(round_trip("abc", 0, &stats), marker(3));
  EXPECT_TRUE(stats.truncated);
  EXPECT_EQ(round_trip("", 0, &stats), "");
  EXPECT_FALSE(stats.truncated);

  // a (1 byte) é (2) € (3) 🎉 (4): boundaries at 0, 1, 3, 6, 10.
  const std::string s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x8E\x89";
  const std::size_t boundaries[] = {0, 1, 3, 6, 10};
  for (std::size_t limit = 0; limit <= s.size() + 2; ++limit) {
    std::size_t cut = 0;
    for (std::size_t b : boundaries)
      if (b <= limit) cut = b;
    const std::string got = round_trip(s, limit, &stats);
    if (limit >= s.size()) {
      EXPECT_EQ(got, s);
      EXPECT_FALSE(stats.truncated);
    } else {
      EXPECT_EQ(got, s.substr(0, cut) + marker(s.size() - cut)) << "limit " << limit;
      EXPECT_TRUE(stats.truncated);
    }
    EXPECT_FALSE(stats.invalid_utf8) << "a cut must not create a broken character";
  }

  // Escapes expand the output but the limit counts input bytes.
  EXPECT_EQ(round_trip("\n\n\n\n", 4, &stats), "\n\n\n\n");
  EXPECT_FALSE(stats.truncated);
  EXPECT_EQ(round_trip("\n\n\n\n\n", 4, &stats), "\n\n\n\n" + marker(1));
}

TEST(JsonEscape, TruncationDoesNotSplitIllFormedSubparts) {
  LineStats stats;
  // "ab" + truncated 3-byte subpart E2 82 + "c": the subpart is cut as a whole.
  const std::string s =
      "ab\xE2\x82"
      "c";
  EXPECT_EQ(round_trip(s, 3, &stats), "ab" + marker(3));
  EXPECT_TRUE(stats.truncated);
  EXPECT_FALSE(stats.invalid_utf8);  // the ill-formed part was cut, not written
  EXPECT_EQ(round_trip(s, 4, &stats), "ab" + kReplacement + marker(1));
  EXPECT_TRUE(stats.invalid_utf8);
}

TEST(JsonLines, MessageAndFieldLimitsApply) {
  const std::string long_message(100, 'm');
  const std::string long_value = "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC";  // 9 bytes
  const std::vector<Field> fields = {{"v", long_value}, {"short", "ok"}};
  LogRecordView r;
  r.message = long_message;
  r.fields = fields;
  LineLimits limits;
  limits.max_message_bytes = 10;
  limits.max_field_bytes = 5;
  LineStats stats;
  const ordered_json j = parse_line(encode_line(r, default_ctx(), limits, &stats));
  EXPECT_TRUE(stats.truncated);
  EXPECT_EQ(j["message"], std::string(10, 'm') + marker(90));
  EXPECT_EQ(j["v"], "\xE2\x82\xAC" + marker(6));
  EXPECT_EQ(j["short"], "ok");
  // Standard values are not subject to the field limit.
  EXPECT_EQ(j["source_identification"], "emp-api:machine-7:");
}

TEST(JsonLines, DoublesReadBackExactly) {
  const double values[] = {0.1,
                           -2.5,
                           1e300,
                           -1e-300,
                           5e-324,
                           DBL_MAX,
                           -DBL_MAX,
                           DBL_MIN,
                           1.0 / 3.0,
                           123456789.125,
                           9007199254740993.0,
                           0.0,
                           3.0,
                           -7.0,
                           1e21};
  for (double v : values) {
    const std::vector<Field> fields = {{"d", v}};
    LogRecordView r;
    r.fields = fields;
    const ordered_json j = parse_line(encode_line(r, default_ctx()));
    ASSERT_TRUE(j["d"].is_number_float()) << v << " " << j["d"].dump();
    EXPECT_EQ(j["d"].get<double>(), v);
  }
  // Negative zero keeps its sign.
  const std::vector<Field> fields = {{"z", -0.0}};
  LogRecordView r;
  r.fields = fields;
  const ordered_json j = parse_line(encode_line(r, default_ctx()));
  EXPECT_TRUE(std::signbit(j["z"].get<double>()));
}

TEST(JsonLines, NonFiniteDoublesBecomeStrings) {
  const std::vector<Field> fields = {{"nan", std::numeric_limits<double>::quiet_NaN()},
                                     {"inf", std::numeric_limits<double>::infinity()},
                                     {"ninf", -std::numeric_limits<double>::infinity()},
                                     {"f", 1.5f}};
  LogRecordView r;
  r.fields = fields;
  const ordered_json j = parse_line(encode_line(r, default_ctx()));
  EXPECT_EQ(j["nan"], "NaN");
  EXPECT_EQ(j["inf"], "Infinity");
  EXPECT_EQ(j["ninf"], "-Infinity");
  EXPECT_EQ(j["f"].get<double>(), 1.5);
}

TEST(JsonLines, Int64Extremes) {
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  const std::vector<Field> fields = {{"min", lo}, {"max", hi}, {"zero", 0}, {"neg", -1}};
  LogRecordView r;
  r.fields = fields;
  const std::string line = encode_line(r, default_ctx());
  EXPECT_NE(line.find("\"min\":-9223372036854775808"), std::string::npos) << line;
  EXPECT_NE(line.find("\"max\":9223372036854775807"), std::string::npos) << line;
  const ordered_json j = parse_line(line);
  EXPECT_EQ(j["min"].get<std::int64_t>(), lo);
  EXPECT_EQ(j["max"].get<std::int64_t>(), hi);
  EXPECT_EQ(j["zero"].get<std::int64_t>(), 0);
  EXPECT_EQ(j["neg"].get<std::int64_t>(), -1);
}

std::string ts(std::int64_t ns) {
  std::string out;
  append_rfc3339_millis(out, ns);
  return out;
}

constexpr std::int64_t kNs = 1000000000;

TEST(Rfc3339, KnownInstants) {
  EXPECT_EQ(ts(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(ts(1795593369 * kNs + 123456789), "2026-11-25T07:56:09.123Z");
  EXPECT_EQ(ts(951782400 * kNs), "2000-02-29T00:00:00.000Z");  // leap day, year % 400
  EXPECT_EQ(ts(1709208000 * kNs + 5000000), "2024-02-29T12:00:00.005Z");
  EXPECT_EQ(ts(4107542399 * kNs + 999000000), "2100-02-28T23:59:59.999Z");  // 2100: no leap
  EXPECT_EQ(ts(4107542400 * kNs), "2100-03-01T00:00:00.000Z");
  EXPECT_EQ(ts(2147483647 * kNs), "2038-01-19T03:14:07.000Z");
  EXPECT_EQ(ts(2147483648 * kNs), "2038-01-19T03:14:08.000Z");  // past 32-bit time_t
  EXPECT_EQ(ts(4102444800 * kNs), "2100-01-01T00:00:00.000Z");
  EXPECT_EQ(ts(std::numeric_limits<std::int64_t>::max()), "2262-04-11T23:47:16.854Z");
  EXPECT_EQ(ts(std::numeric_limits<std::int64_t>::min()), "1677-09-21T00:12:43.145Z");
  EXPECT_EQ(ts(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(ts(-kNs - 1), "1969-12-31T23:59:58.999Z");
  EXPECT_EQ(ts(-31536000 * kNs), "1969-01-01T00:00:00.000Z");
}

TEST(Rfc3339, MillisecondsAreTruncatedNotRounded) {
  const std::int64_t base = 1795593369 * kNs;
  EXPECT_EQ(ts(base + 999999999), "2026-11-25T07:56:09.999Z");
  EXPECT_EQ(ts(base + 999999), "2026-11-25T07:56:09.000Z");
  EXPECT_EQ(ts(base + 1000000), "2026-11-25T07:56:09.001Z");
  EXPECT_EQ(ts(base + 1999999), "2026-11-25T07:56:09.001Z");
  EXPECT_EQ(ts(base + 10000000), "2026-11-25T07:56:09.010Z");
  EXPECT_EQ(ts(base + 100000000), "2026-11-25T07:56:09.100Z");
  EXPECT_EQ(ts(base + 500000000), "2026-11-25T07:56:09.500Z");
}

TEST(Rfc3339, CacheFollowsSecondBoundariesBothWays) {
  const std::int64_t base = 1795593369 * kNs;
  EXPECT_EQ(ts(base + 998000000), "2026-11-25T07:56:09.998Z");
  EXPECT_EQ(ts(base + 999999999), "2026-11-25T07:56:09.999Z");
  EXPECT_EQ(ts(base + kNs), "2026-11-25T07:56:10.000Z");
  EXPECT_EQ(ts(base + kNs + 1000000), "2026-11-25T07:56:10.001Z");
  EXPECT_EQ(ts(base + 999000000), "2026-11-25T07:56:09.999Z");  // clock stepped back
  EXPECT_EQ(ts(base + 60 * kNs), "2026-11-25T07:57:09.000Z");
  EXPECT_EQ(ts(base + 86400 * kNs), "2026-11-26T07:56:09.000Z");
  EXPECT_EQ(ts(base), "2026-11-25T07:56:09.000Z");
  // Midnight of New Year crossed second by second.
  const std::int64_t ny = 1798761599 * kNs;  // 2026-12-31T23:59:59Z
  EXPECT_EQ(ts(ny + 999000000), "2026-12-31T23:59:59.999Z");
  EXPECT_EQ(ts(ny + kNs), "2027-01-01T00:00:00.000Z");
}

TEST(Rfc3339, AgreesWithGmtimeOverManyInstants) {
  std::mt19937_64 rng(20261125);
  // Seconds between 1678 and 2261, i.e. inside the int64 nanosecond range.
  std::uniform_int_distribution<std::int64_t> secs(-9200000000LL, 9200000000LL);
  std::uniform_int_distribution<std::int64_t> sub(0, kNs - 1);
  for (int i = 0; i < 20000; ++i) {
    // Half the draws stay near the previous one to exercise cache hits.
    static std::int64_t prev = 0;
    const std::int64_t sec = (i % 2 == 0) ? secs(rng) : prev + (i % 3) - 1;
    prev = sec;
    const std::int64_t frac = sub(rng);
    const time_t t = static_cast<time_t>(sec);
    struct tm tm;
    ASSERT_NE(gmtime_r(&t, &tm), nullptr);
    char expected[96];
    std::snprintf(expected, sizeof expected, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(frac / 1000000));
    ASSERT_EQ(ts(sec * kNs + frac), expected) << "sec " << sec;
  }
}

TEST(Hex, LowercaseTwoDigitsPerByte) {
  const std::uint8_t bytes[] = {0x00, 0x01, 0xab, 0xff, 0x10, 0x9c};
  std::string out = "x";
  append_hex(out, bytes, sizeof bytes);
  EXPECT_EQ(out, "x0001abff109c");
  append_hex(out, bytes, 0);
  EXPECT_EQ(out, "x0001abff109c");
}

// A deliberately simple scalar model of the repair rules, to compare the fast
// (eight-bytes-at-a-time) path against on random inputs.
std::string reference_repair(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    const unsigned c = byte(i);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    int need = 0;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
      need = 1;
    else if (c == 0xe0)
      need = 2, lo = 0xa0;
    else if (c >= 0xe1 && c <= 0xec)
      need = 2;
    else if (c == 0xed)
      need = 2, hi = 0x9f;
    else if (c >= 0xee && c <= 0xef)
      need = 2;
    else if (c == 0xf0)
      need = 3, lo = 0x90;
    else if (c >= 0xf1 && c <= 0xf3)
      need = 3;
    else if (c == 0xf4)
      need = 3, hi = 0x8f;
    std::size_t j = i + 1;
    bool ok = need > 0;
    for (int k = 0; ok && k < need; ++k, ++j) {
      const unsigned l = k == 0 ? lo : 0x80, h = k == 0 ? hi : 0xbf;
      if (j >= s.size() || byte(j) < l || byte(j) > h) ok = false;
      if (!ok) break;
    }
    if (ok) {
      out.append(s.substr(i, j - i));
    } else {
      out += kReplacement;
    }
    i = std::max(j, i + 1);
  }
  return out;
}

TEST(JsonEscape, RandomInputsMatchTheReferenceModel) {
  std::mt19937 rng(42);
  // Bytes weighted toward the interesting ones so that every path is taken.
  const unsigned char interesting[] = {'a',  'Z',  ' ',  '"',  '\\', '\n', 0x00, 0x1f, 0x7f,
                                       0x80, 0x9f, 0xa0, 0xa8, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0,
                                       0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s(rng() % 64, '\0');
    for (char& ch : s) {
      ch = static_cast<char>(rng() % 3 == 0 ? interesting[rng() % sizeof interesting]
                                            : (rng() % 2 ? 'a' + rng() % 26 : rng() % 256));
    }
    std::string raw;
    LineStats stats;
    const std::string got = round_trip(s, kNoLimit, &stats, &raw);
    const std::string want = reference_repair(s);
    ASSERT_EQ(got, want) << "iteration " << iter;
    EXPECT_EQ(stats.invalid_utf8, want != s);
    EXPECT_FALSE(has_raw_control(raw));
    EXPECT_EQ(raw.find("\xE2\x80\xA8"), std::string::npos);
    EXPECT_EQ(raw.find("\xE2\x80\xA9"), std::string::npos);
  }
}

TEST(JsonEscape, SpecialByteAtEveryOffsetOfALongRun) {
  // The plain-ASCII fast path works on eight bytes at a time; put the one byte
  // that needs escaping at every position relative to those blocks.
  const char specials[] = {'"', '\\', '\n', '\x01', '\x7f'};
  for (char special : specials) {
    for (std::size_t pos = 0; pos < 40; ++pos) {
      std::string s(40, 'x');
      s[pos] = special;
      ASSERT_EQ(round_trip(s), s) << "pos " << pos;
      for (std::size_t limit = pos; limit <= pos + 1; ++limit) {
        LineStats stats;
        const std::string got = round_trip(s, limit, &stats);
        EXPECT_EQ(got, limit >= s.size() ? s : s.substr(0, limit) + marker(s.size() - limit));
        EXPECT_EQ(stats.truncated, limit < s.size());
      }
    }
  }
  // Non-ASCII (valid and not) at every offset as well.
  for (std::size_t pos = 0; pos < 40; ++pos) {
    std::string valid(40, 'x');
    valid.replace(pos, 2, "\xC3\xA9");
    ASSERT_EQ(round_trip(valid), valid) << "pos " << pos;
    std::string invalid(40, 'x');
    invalid[pos] = '\xFF';
    std::string repaired = invalid;
    repaired.replace(pos, 1, kReplacement);
    ASSERT_EQ(round_trip(invalid), repaired) << "pos " << pos;
  }
  // Several kilobytes of plain text go through in one piece.
  const std::string big(10000, 'q');
  EXPECT_EQ(round_trip(big), big);
}

}  // namespace
}  // namespace emp::telemetry::encode
