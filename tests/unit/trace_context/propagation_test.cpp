// W3C traceparent/tracestate parsing and formatting, and the header and job
// payload carriers. Job payloads are checked with nlohmann::json as an
// independent reader of what the injector wrote.
#include "emp/telemetry/propagation.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "emp/telemetry/trace_context.hpp"

namespace emp::telemetry {
namespace {

constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr std::string_view kTraceHex = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kSpanHex = "00f067aa0ba902b7";

SpanContext make_context(std::uint8_t flags = 0x01) {
  SpanContext c;
  c.trace_id = *TraceId::from_hex(kTraceHex);
  c.span_id = *SpanId::from_hex(kSpanHex);
  c.flags = TraceFlags(flags);
  return c;
}

std::string with_char(std::string_view base, std::size_t at, char c) {
  std::string s(base);
  s[at] = c;
  return s;
}

// ---- ids and flags -----------------------------------------------------------

TEST(TraceIds, HexRoundTripAndValidity) {
  const auto t = TraceId::from_hex(kTraceHex);
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->is_valid());
  EXPECT_EQ(t->to_hex(), kTraceHex);
  EXPECT_EQ(t->bytes()[0], 0x4b);
  EXPECT_EQ(t->bytes()[15], 0x36);

  const auto zero = TraceId::from_hex(std::string(32, '0'));
  ASSERT_TRUE(zero);
  EXPECT_FALSE(zero->is_valid());
  EXPECT_FALSE(TraceId().is_valid());
  EXPECT_FALSE(SpanId().is_valid());

  EXPECT_FALSE(TraceId::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736"));  // uppercase
  EXPECT_FALSE(TraceId::from_hex(kTraceHex.substr(1)));                 // 31 chars
  EXPECT_FALSE(TraceId::from_hex(std::string(kTraceHex) + "0"));        // 33 chars
  EXPECT_FALSE(SpanId::from_hex("00f067aa0ba902bg"));
  EXPECT_EQ(SpanId::from_hex(kSpanHex)->to_hex(), kSpanHex);

  char buf[16];
  SpanId::from_hex(kSpanHex)->to_hex(buf);
  EXPECT_EQ(std::string_view(buf, 16), kSpanHex);
  EXPECT_NE(std::hash<TraceId>{}(*t), std::hash<TraceId>{}(TraceId()));
}

TEST(TraceFlagsTest, Bits) {
  TraceFlags f;
  EXPECT_FALSE(f.sampled());
  f = f.with_sampled(true).with_random(true);
  EXPECT_EQ(f.value(), 0x03);
  EXPECT_TRUE(f.sampled());
  EXPECT_TRUE(f.random());
  EXPECT_EQ(f.with_sampled(false).value(), 0x02);
}

// ---- traceparent: accepted ---------------------------------------------------

TEST(Traceparent, ParsesValidVersion00) {
  const ParseResult r = parse_traceparent(kValid);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.error, PropagationError::kNone);
  EXPECT_EQ(r.context->trace_id.to_hex(), kTraceHex);
  EXPECT_EQ(r.context->span_id.to_hex(), kSpanHex);
  EXPECT_TRUE(r.context->sampled());
  EXPECT_TRUE(r.context->remote);
  EXPECT_TRUE(r.context->is_valid());
  EXPECT_TRUE(r.context->trace_state.empty());
  EXPECT_EQ(format_traceparent(*r.context), kValid);
}

TEST(Traceparent, NotSampledFlag) {
  const ParseResult r = parse_traceparent(with_char(kValid, 54, '0'));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.context->sampled());
  EXPECT_EQ(format_traceparent(*r.context).substr(53), "00");
}

TEST(Traceparent, KeepsSampledAndRandomBitsAndZeroesOthersOnSend) {
  struct Case {
    const char* flags;
    const char* sent;
  };
  for (const Case& c : {Case{"ff", "03"}, Case{"09", "01"}, Case{"02", "02"}, Case{"03", "03"},
                        Case{"fc", "00"}, Case{"80", "00"}}) {
    std::string tp(kValid);
    tp.replace(53, 2, c.flags);
    const ParseResult r = parse_traceparent(tp);
    ASSERT_TRUE(r.ok()) << c.flags;
    EXPECT_EQ(format_traceparent(*r.context).substr(53), c.sent) << c.flags;
  }
  // Also when a context built in code carries unknown bits.
  EXPECT_EQ(format_traceparent(make_context(0xfd)).substr(53), "01");
}

TEST(Traceparent, TrimsSurroundingWhitespaceLikeAnHttpFieldValue) {
  for (std::string s : {" " + std::string(kValid), std::string(kValid) + "\t",
                        "\t  " + std::string(kValid) + "  "}) {
    const ParseResult r = parse_traceparent(s);
    ASSERT_TRUE(r.ok()) << "[" << s << "] " << r.describe();
    EXPECT_EQ(format_traceparent(*r.context), kValid);
  }
}

TEST(Traceparent, LaterVersionReadsTheFourKnownFields) {
  std::string v01(kValid);
  v01[1] = '1';
  for (const std::string& s : {v01, v01 + "-", v01 + "-extra-data", v01 + "-xyz-UPPER"}) {
    const ParseResult r = parse_traceparent(s);
    ASSERT_TRUE(r.ok()) << s << ": " << r.describe();
    EXPECT_EQ(r.context->trace_id.to_hex(), kTraceHex);
    EXPECT_EQ(r.context->span_id.to_hex(), kSpanHex);
    EXPECT_TRUE(r.context->sampled());
    // We only speak version 00.
    EXPECT_EQ(format_traceparent(*r.context), kValid);
  }
  std::string vfe(kValid);
  vfe.replace(0, 2, "fe");
  EXPECT_TRUE(parse_traceparent(vfe + "-more").ok());
}

// ---- traceparent: rejected (the full list) ------------------------------------

struct Bad {
  std::string name;
  std::string value;
  PropagationError error;
  std::size_t offset;
};

std::vector<Bad> bad_traceparents() {
  const std::string v(kValid);
  std::string v01 = v;
  v01[1] = '1';
  std::vector<Bad> b = {
      {"empty", "", PropagationError::kLength, 0},
      {"only spaces", "   ", PropagationError::kLength, 0},
      {"too short by one", v.substr(0, 54), PropagationError::kLength, 54},
      {"flags one digit", v.substr(0, 53) + "1", PropagationError::kLength, 54},
      {"too long by one", v + "0", PropagationError::kTrailingData, 55},
      {"version 00 with -data", v + "-data", PropagationError::kTrailingData, 55},
      {"version 00 with dash only", v + "-", PropagationError::kTrailingData, 55},
      {"version 01 data without dash", v01 + "data", PropagationError::kTrailingData, 55},
      {"version 01 shorter", v01.substr(0, 54), PropagationError::kLength, 54},
      {"version ff", "ff" + v.substr(2), PropagationError::kForbiddenVersion, 0},
      {"version ff long", "ff" + v.substr(2) + "-x", PropagationError::kForbiddenVersion, 0},
      {"version uppercase", "0A" + v.substr(2), PropagationError::kVersion, 1},
      {"version FF uppercase", "FF" + v.substr(2), PropagationError::kVersion, 0},
      {"version non-hex", "0g" + v.substr(2), PropagationError::kVersion, 1},
      {"trace id uppercase", with_char(v, 4, 'B'), PropagationError::kTraceIdNotHex, 4},
      {"trace id all uppercase", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
       PropagationError::kTraceIdNotHex, 4},
      {"trace id non-hex first", with_char(v, 3, 'x'), PropagationError::kTraceIdNotHex, 3},
      {"trace id non-hex last", with_char(v, 34, 'z'), PropagationError::kTraceIdNotHex, 34},
      {"trace id inner space", with_char(v, 10, ' '), PropagationError::kTraceIdNotHex, 10},
      {"trace id NUL", with_char(v, 12, '\0'), PropagationError::kTraceIdNotHex, 12},
      {"trace id high byte", with_char(v, 20, '\xff'), PropagationError::kTraceIdNotHex, 20},
      {"parent id uppercase", with_char(v, 37, 'F'), PropagationError::kParentIdNotHex, 37},
      {"parent id non-hex", with_char(v, 51, '-'), PropagationError::kParentIdNotHex, 51},
      {"flags uppercase", with_char(v, 54, 'A'), PropagationError::kFlagsNotHex, 54},
      {"flags non-hex", with_char(v, 53, 'x'), PropagationError::kFlagsNotHex, 53},
      {"separator 1", with_char(v, 2, '_'), PropagationError::kSeparator, 2},
      {"separator 2", with_char(v, 35, '.'), PropagationError::kSeparator, 35},
      {"separator 3", with_char(v, 52, ' '), PropagationError::kSeparator, 52},
      {"all-zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
       PropagationError::kTraceIdZero, 3},
      {"all-zero parent id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
       PropagationError::kParentIdZero, 36},
      {"both zero", "00-00000000000000000000000000000000-0000000000000000-00",
       PropagationError::kTraceIdZero, 3},
      {"shifted fields", "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
       PropagationError::kTraceIdNotHex, 34},
      {"missing fields", "00-4bf92f3577b34da6a3ce929d0e0e4736", PropagationError::kLength, 35},
  };
  // A non-hex character at every hex position of every field.
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '-') continue;
    PropagationError e = i < 2    ? PropagationError::kVersion
                         : i < 35 ? PropagationError::kTraceIdNotHex
                         : i < 52 ? PropagationError::kParentIdNotHex
                                  : PropagationError::kFlagsNotHex;
    b.push_back({"non-hex at " + std::to_string(i), with_char(v, i, 'q'), e, i});
  }
  return b;
}

TEST(Traceparent, RejectsEveryMalformedForm) {
  for (const Bad& b : bad_traceparents()) {
    const ParseResult r = parse_traceparent(b.value);
    EXPECT_FALSE(r.ok()) << b.name;
    EXPECT_FALSE(r.context.has_value()) << b.name;
    EXPECT_EQ(r.error, b.error) << b.name << ": got " << to_string(r.error);
    EXPECT_EQ(r.offset, b.offset) << b.name;
    EXPECT_FALSE(r.describe().empty());
  }
}

TEST(Traceparent, DescribeNamesFieldCharacterAndOffset) {
  const ParseResult r = parse_traceparent(with_char(kValid, 4, 'B'));
  const std::string d = r.describe();
  EXPECT_NE(d.find("trace-id"), std::string::npos) << d;
  EXPECT_NE(d.find("'B'"), std::string::npos) << d;
  EXPECT_NE(d.find("offset 4"), std::string::npos) << d;

  const std::string nul = parse_traceparent(with_char(kValid, 40, '\x01')).describe();
  EXPECT_NE(nul.find("'\\x01'"), std::string::npos) << nul;
  EXPECT_NE(nul.find("parent-id"), std::string::npos) << nul;

  EXPECT_NE(parse_traceparent("abc").describe().find("got 3"), std::string::npos);
  EXPECT_EQ(to_string(PropagationError::kTraceIdZero), "trace_id_zero");
}

TEST(Traceparent, FormatOfInvalidContextIsEmpty) {
  SpanContext c = make_context();
  c.span_id = SpanId();
  EXPECT_EQ(format_traceparent(c), "");
  EXPECT_EQ(format_traceparent(SpanContext{}), "");
}

// ---- tracestate -----------------------------------------------------------------

std::vector<std::pair<std::string, std::string>> members_of(const TraceState& s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& m : s.members()) out.emplace_back(m.key, m.value);
  return out;
}

using KV = std::vector<std::pair<std::string, std::string>>;

TEST(Tracestate, EmptyAndBlankMembersAreSkippedNotCounted) {
  for (std::string_view s : {"", " ", ",", " , ,, \t", ",,a=1,,"}) {
    const auto r = parse_tracestate(s);
    EXPECT_EQ(r.dropped(), 0u) << "[" << s << "]";
    EXPECT_LE(r.state.size(), 1u);
  }
  EXPECT_EQ(members_of(parse_tracestate(",,a=1,,").state), (KV{{"a", "1"}}));
}

TEST(Tracestate, KeepsOrderAndTrimsOptionalWhitespace) {
  const auto r = parse_tracestate(" rojo=00f067aa0ba902b7 ,\tcongo=t61rcWkgMzE\t, x= lead");
  EXPECT_EQ(r.dropped(), 0u);
  EXPECT_EQ(members_of(r.state),
            (KV{{"rojo", "00f067aa0ba902b7"}, {"congo", "t61rcWkgMzE"}, {"x", " lead"}}));
  EXPECT_EQ(r.state.to_header(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,x= lead");
}

TEST(Tracestate, ThirtyThreeMembersKeepTheFirstThirtyTwo) {
  std::string h;
  for (int i = 0; i < 33; ++i) h += (i ? "," : "") + ("k" + std::to_string(i)) + "=v";
  const auto r = parse_tracestate(h);
  EXPECT_EQ(r.state.size(), 32u);
  EXPECT_EQ(r.dropped_over_limit, 1u);
  EXPECT_EQ(r.dropped(), 1u);
  EXPECT_TRUE(r.state.get("k31"));
  EXPECT_FALSE(r.state.get("k32"));
}

TEST(Tracestate, InvalidMembersAreDroppedAndCountedIndividually) {
  const auto r = parse_tracestate(
      "good=1,Upper=1,_under=1,novalue,k=,k2=a=b,sp ace=1,ok2=x,k3=tab\there,k4=\x7f,last=z");
  EXPECT_EQ(members_of(r.state), (KV{{"good", "1"}, {"ok2", "x"}, {"last", "z"}}));
  EXPECT_EQ(r.dropped_invalid, 8u);
  EXPECT_EQ(r.dropped_duplicate, 0u);
}

TEST(Tracestate, KeyGrammar) {
  const std::string k256 = "a" + std::string(255, 'b');
  const std::string k257 = k256 + "c";
  for (const std::string& k :
       {std::string("a"), std::string("0digitstart"), std::string("a_-*/9"), k256,
        std::string("tenant@system"), std::string("7t@s"),
        std::string(241, 't') + "@" + std::string(14, 's'), std::string("t@s-_*/0")}) {
    EXPECT_TRUE(TraceState::is_valid_key(k)) << k;
    EXPECT_EQ(parse_tracestate(k + "=v").state.size(), 1u) << k;
  }
  for (const std::string& k :
       {std::string(""), std::string("A"), std::string("_a"), std::string("-a"), std::string("*a"),
        std::string("a.b"), std::string("a b"), k257, std::string("@sys"), std::string("t@"),
        std::string("t@1sys"), std::string("t@_s"), std::string("a@b@c"),
        std::string(242, 't') + "@s", "t@" + std::string(15, 's'), std::string("t@S")}) {
    EXPECT_FALSE(TraceState::is_valid_key(k)) << k;
    EXPECT_EQ(parse_tracestate(k + "=v").dropped_invalid, 1u) << k;
  }
}

TEST(Tracestate, ValueGrammar) {
  EXPECT_TRUE(TraceState::is_valid_value("v"));
  EXPECT_TRUE(TraceState::is_valid_value(" leading space ok"));
  EXPECT_TRUE(TraceState::is_valid_value("!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~"));
  EXPECT_TRUE(TraceState::is_valid_value(std::string(256, 'v')));
  EXPECT_FALSE(TraceState::is_valid_value(""));
  EXPECT_FALSE(TraceState::is_valid_value("trailing "));
  EXPECT_FALSE(TraceState::is_valid_value(std::string(257, 'v')));
  EXPECT_FALSE(TraceState::is_valid_value("a,b"));
  EXPECT_FALSE(TraceState::is_valid_value("a=b"));
  EXPECT_FALSE(TraceState::is_valid_value("a\tb"));
  EXPECT_FALSE(TraceState::is_valid_value("caf\xc3\xa9"));

  EXPECT_EQ(parse_tracestate("k=" + std::string(257, 'v')).dropped_invalid, 1u);
  EXPECT_EQ(parse_tracestate("k=" + std::string(256, 'v')).state.size(), 1u);
  // A space before the comma is optional whitespace, not part of the value.
  const auto r = parse_tracestate("k=v ,m=w");
  EXPECT_EQ(members_of(r.state), (KV{{"k", "v"}, {"m", "w"}}));
}

TEST(Tracestate, DuplicateKeysKeepTheFirst) {
  const auto r = parse_tracestate("a=1,b=2,a=3,b=4,c=5");
  EXPECT_EQ(members_of(r.state), (KV{{"a", "1"}, {"b", "2"}, {"c", "5"}}));
  EXPECT_EQ(r.dropped_duplicate, 2u);
}

TEST(Tracestate, MutationFollowsW3cRules) {
  TraceState s = parse_tracestate("a=1,b=2,c=3").state;
  EXPECT_TRUE(s.set("b", "20"));  // updated member moves to the front
  EXPECT_EQ(s.to_header(), "b=20,a=1,c=3");
  EXPECT_TRUE(s.set("d", "4"));  // new member goes first
  EXPECT_EQ(s.to_header(), "d=4,b=20,a=1,c=3");
  EXPECT_FALSE(s.set("Bad", "1"));
  EXPECT_FALSE(s.set("ok", "trailing "));
  EXPECT_FALSE(s.set("ok", ""));
  EXPECT_EQ(s.size(), 4u);
  EXPECT_EQ(s.get("a"), std::optional<std::string_view>("1"));
  EXPECT_FALSE(s.get("zz"));
  EXPECT_TRUE(s.erase("a"));
  EXPECT_FALSE(s.erase("a"));
  EXPECT_EQ(s.to_header(), "d=4,b=20,c=3");

  TraceState full;
  for (int i = 0; i < 32; ++i) ASSERT_TRUE(full.set("k" + std::to_string(i), "v"));
  EXPECT_EQ(full.members().back().key, "k0");
  EXPECT_TRUE(full.set("new", "v"));  // the rightmost (oldest) member makes room
  EXPECT_EQ(full.size(), 32u);
  EXPECT_EQ(full.members().front().key, "new");
  EXPECT_FALSE(full.get("k0"));
  EXPECT_TRUE(full.set("k5", "again"));  // an update never drops anything
  EXPECT_EQ(full.size(), 32u);
}

TEST(Tracestate, HeaderRoundTrip) {
  const std::string h = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,t@sys=a b!c";
  const auto r = parse_tracestate(h);
  EXPECT_EQ(r.state.to_header(), h);
  EXPECT_EQ(parse_tracestate(r.state.to_header()).state, r.state);
}

// ---- HTTP header carriers -------------------------------------------------------

TEST(Headers, InjectExtractRoundTrip) {
  SpanContext c = make_context(0x03);
  ASSERT_TRUE(c.trace_state.set("vendor", "opaque-1"));
  ASSERT_TRUE(c.trace_state.set("t@sys", "x"));
  std::map<std::string, std::string> h{{"content-type", "application/json"}};
  ASSERT_TRUE(inject_headers(c, h));
  EXPECT_EQ(h.at("traceparent"), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
  EXPECT_EQ(h.at("tracestate"), "t@sys=x,vendor=opaque-1");
  EXPECT_EQ(h.at("content-type"), "application/json");

  const ExtractResult r = extract_headers(h);
  ASSERT_TRUE(r.ok()) << r.describe();
  SpanContext expected = c;
  expected.remote = true;
  EXPECT_EQ(*r.context, expected);
  EXPECT_EQ(r.tracestate_dropped, 0u);
  EXPECT_FALSE(r.rejected());
}

TEST(Headers, NoTracestateHeaderWhenEmpty) {
  std::map<std::string, std::string> h;
  ASSERT_TRUE(inject_headers(make_context(), h));
  EXPECT_EQ(h.size(), 1u);
  EXPECT_EQ(h.count("tracestate"), 0u);
}

TEST(Headers, InjectReplacesStaleHeadersOfAnyCase) {
  std::map<std::string, std::string> h{
      {"Traceparent", "00-old"}, {"TRACESTATE", "old=1"}, {"x-other", "1"}};
  ASSERT_TRUE(inject_headers(make_context(), h));
  EXPECT_EQ(h, (std::map<std::string, std::string>{{"traceparent", std::string(kValid)},
                                                   {"x-other", "1"}}));
}

TEST(Headers, InjectOfInvalidContextChangesNothing) {
  std::map<std::string, std::string> h{{"traceparent", "keep"}};
  EXPECT_FALSE(inject_headers(SpanContext{}, h));
  EXPECT_EQ(h.at("traceparent"), "keep");
  int calls = 0;
  EXPECT_FALSE(inject_headers(SpanContext{}, [&](std::string_view, std::string_view) { ++calls; }));
  EXPECT_EQ(calls, 0);
}

TEST(Headers, ExtractMatchesNamesCaseInsensitively) {
  for (const char* name : {"traceparent", "Traceparent", "TRACEPARENT", "TraceParent"}) {
    std::map<std::string, std::string> h{{name, std::string(kValid)}, {"TraceState", "a=1"}};
    const ExtractResult r = extract_headers(h);
    ASSERT_TRUE(r.ok()) << name;
    EXPECT_EQ(r.context->trace_state.to_header(), "a=1") << name;
  }
}

TEST(Headers, MissingIsNotARejection) {
  const ExtractResult r =
      extract_headers(std::map<std::string, std::string>{{"tracestate", "a=1"}});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, PropagationError::kMissing);
  EXPECT_FALSE(r.rejected());
}

TEST(Headers, MalformedTraceparentIsRejectedWithReasonAndTracestateIgnored) {
  std::map<std::string, std::string> h{{"traceparent", with_char(kValid, 4, 'B')},
                                       {"tracestate", "a=1"}};
  const ExtractResult r = extract_headers(h);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.rejected());
  EXPECT_EQ(r.error, PropagationError::kTraceIdNotHex);
  EXPECT_NE(r.describe().find("offset 4"), std::string::npos) << r.describe();
}

TEST(Headers, TwoTraceparentsAreRejected) {
  std::map<std::string, std::string> h{{"traceparent", std::string(kValid)},
                                       {"Traceparent", std::string(kValid)}};
  const ExtractResult r = extract_headers(h);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, PropagationError::kDuplicate);
  EXPECT_TRUE(r.rejected());
}

TEST(Headers, BadTracestateNeverInvalidatesTraceparent) {
  std::map<std::string, std::string> h{{"traceparent", std::string(kValid)},
                                       {"tracestate", "ok=1,BAD KEY=2,=,x=y=z,ok2=2"}};
  const ExtractResult r = extract_headers(h);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.context->trace_state.to_header(), "ok=1,ok2=2");
  EXPECT_EQ(r.tracestate_dropped, 3u);
}

TEST(Headers, RepeatedTracestateFieldsAreJoined) {
  std::map<std::string, std::string> h{
      {"traceparent", std::string(kValid)}, {"Tracestate", "b=2"}, {"tracestate", "a=1"}};
  const ExtractResult r = extract_headers(h);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.context->trace_state.size(), 2u);
  EXPECT_TRUE(r.context->trace_state.get("a"));
  EXPECT_TRUE(r.context->trace_state.get("b"));
}

TEST(Headers, GetterAndSetterCarrier) {
  // A carrier that folds case itself, as HTTP libraries do.
  std::map<std::string, std::string> store;
  auto fold = [](std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  SpanContext c = make_context(0x00);
  ASSERT_TRUE(c.trace_state.set("k", "v"));
  std::vector<std::string> names;
  ASSERT_TRUE(inject_headers(c, [&](std::string_view n, std::string_view v) {
    names.emplace_back(n);
    store[fold(n)] = std::string(v);
  }));
  EXPECT_EQ(names, (std::vector<std::string>{"traceparent", "tracestate"}));
  const ExtractResult r = extract_headers([&](std::string_view n) -> std::optional<std::string> {
    auto it = store.find(fold(n));
    if (it == store.end()) return std::nullopt;
    return it->second;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.context->sampled());
  EXPECT_EQ(r.context->trace_state.to_header(), "k=v");

  EXPECT_EQ(extract_headers(HeaderGetter{}).error, PropagationError::kMissing);
  const ExtractResult thrown = extract_headers([](std::string_view) -> std::optional<std::string> {
    throw std::runtime_error("carrier failed");
  });
  EXPECT_FALSE(thrown.ok());
  EXPECT_EQ(thrown.error, PropagationError::kMissing);
  EXPECT_FALSE(inject_headers(
      c, [](std::string_view, std::string_view) { throw std::runtime_error("carrier failed"); }));
}

// ---- job payloads ---------------------------------------------------------------

TEST(JobPayload, InjectKeepsEveryOtherMemberByteForByte) {
  const std::string payload =
      R"({"job_id":"job-1","big":123456789012345678901234567890,"f":1.10,)"
      R"("nested":{"a":[1,2,{"b":"c\"}"}],"traceparent":"inner is not top-level"},"u":"\u00e9"})";
  SpanContext c = make_context();
  ASSERT_TRUE(c.trace_state.set("vendor", "q\"uote\\back"));
  PropagationError err = PropagationError::kMissing;
  const std::string out = inject_into_job_payload(payload, c, &err);
  EXPECT_EQ(err, PropagationError::kNone);
  // Untouched members keep their exact text (the big number would not
  // survive a double round trip, 1.10 would become 1.1).
  EXPECT_EQ(out.substr(0, payload.size() - 1), payload.substr(0, payload.size() - 1));

  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("traceparent"), std::string(kValid));
  EXPECT_EQ(j.at("tracestate"), "vendor=q\"uote\\back");
  EXPECT_EQ(j.at("job_id"), "job-1");
  EXPECT_EQ(j.at("nested").at("traceparent"), "inner is not top-level");
  EXPECT_EQ(j.size(), 7u);

  const ExtractResult r = extract_from_job_payload(out);
  ASSERT_TRUE(r.ok()) << r.describe();
  SpanContext expected = c;
  expected.remote = true;
  EXPECT_EQ(*r.context, expected);
}

TEST(JobPayload, InjectReplacesExistingContextMembers) {
  const std::string payload =
      R"({"traceparent":"00-11111111111111111111111111111111-2222222222222222-00",)"
      R"( "job":"x", "trace\u0070arent":"dup", "tracestate":"old=1", "n":[1, 2]})";
  const std::string out = inject_into_job_payload(payload, make_context());
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("traceparent"), std::string(kValid));
  EXPECT_FALSE(j.contains("tracestate"));  // the old state belonged to the old context
  EXPECT_EQ(j.at("job"), "x");
  EXPECT_EQ(j.at("n"), nlohmann::json::parse("[1,2]"));
  EXPECT_EQ(out.find("trace\\u0070arent"), std::string::npos) << out;
  EXPECT_NE(out.find("[1, 2]"), std::string::npos) << out;

  const ExtractResult r = extract_from_job_payload(out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.context->trace_id.to_hex(), kTraceHex);
}

TEST(JobPayload, InjectIntoEmptyAndPrettyObjects) {
  EXPECT_EQ(inject_into_job_payload("{}", make_context()),
            "{\"traceparent\":\"" + std::string(kValid) + "\"}");
  EXPECT_EQ(inject_into_job_payload(" { \n } \n", make_context()),
            " {\"traceparent\":\"" + std::string(kValid) + "\" \n } \n");
  const std::string pretty = "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ]\n}\n";
  const std::string out = inject_into_job_payload(pretty, make_context());
  EXPECT_EQ(out, "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ],\"traceparent\":\"" +
                     std::string(kValid) + "\"\n}\n");
  EXPECT_TRUE(nlohmann::json::accept(out));
}

TEST(JobPayload, NonObjectPayloadsAreReturnedUnchangedWithReason) {
  struct Case {
    std::string payload;
    PropagationError error;
  };
  for (const Case& c : std::vector<Case>{{"", PropagationError::kPayloadNotJson},
                                         {"   ", PropagationError::kPayloadNotJson},
                                         {"not json", PropagationError::kPayloadNotJson},
                                         {"{", PropagationError::kPayloadNotJson},
                                         {"{\"a\":1} trailing", PropagationError::kPayloadNotJson},
                                         {"{\"a\":1,}", PropagationError::kPayloadNotJson},
                                         {"{'a':1}", PropagationError::kPayloadNotJson},
                                         {"{\"a\":\"\xff\"}", PropagationError::kPayloadNotJson},
                                         {"[1,2]", PropagationError::kPayloadNotObject},
                                         {"\"text\"", PropagationError::kPayloadNotObject},
                                         {"42", PropagationError::kPayloadNotObject},
                                         {"null", PropagationError::kPayloadNotObject}}) {
    PropagationError err = PropagationError::kNone;
    EXPECT_EQ(inject_into_job_payload(c.payload, make_context(), &err), c.payload);
    EXPECT_EQ(err, c.error) << c.payload;
    const ExtractResult r = extract_from_job_payload(c.payload);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error, c.error) << c.payload;
    EXPECT_TRUE(r.rejected());
  }
}

TEST(JobPayload, InvalidContextLeavesPayloadAlone) {
  PropagationError err = PropagationError::kNone;
  EXPECT_EQ(inject_into_job_payload("{\"a\":1}", SpanContext{}, &err), "{\"a\":1}");
  EXPECT_EQ(err, PropagationError::kInvalidContext);
}

TEST(JobPayload, ExtractRejections) {
  struct Case {
    std::string payload;
    PropagationError error;
  };
  const std::string tp(kValid);
  for (const Case& c : std::vector<Case>{
           {R"({"job":1})", PropagationError::kMissing},
           {R"({"traceparent":123})", PropagationError::kNotString},
           {R"({"traceparent":null})", PropagationError::kNotString},
           {R"({"traceparent":{"v":"x"}})", PropagationError::kNotString},
           {R"({"traceparent":["00"]})", PropagationError::kNotString},
           {R"({"traceparent":"garbage"})", PropagationError::kLength},
           {R"({"traceparent":")" + with_char(tp, 3, 'G') + "\"}",
            PropagationError::kTraceIdNotHex},
           {R"({"traceparent":")" + tp + R"(","traceparent":")" + tp + "\"}",
            PropagationError::kDuplicate},
       }) {
    const ExtractResult r = extract_from_job_payload(c.payload);
    EXPECT_FALSE(r.ok()) << c.payload;
    EXPECT_EQ(r.error, c.error) << c.payload << ": " << to_string(r.error);
    EXPECT_EQ(r.rejected(), c.error != PropagationError::kMissing);
  }
}

TEST(JobPayload, ExtractDecodesEscapesAndToleratesBadTracestate) {
  // \u002d is '-': the decoded string is what gets parsed.
  const std::string p = R"({"traceparent":"00\u002d4bf92f3577b34da6a3ce929d0e0e4736-)"
                        R"(00f067aa0ba902b7-01","tracestate":42})";
  const ExtractResult r = extract_from_job_payload(p);
  ASSERT_TRUE(r.ok()) << r.describe();
  EXPECT_TRUE(r.context->trace_state.empty());
  EXPECT_EQ(r.tracestate_dropped, 1u);

  const ExtractResult s = extract_from_job_payload(
      "{\"tracestate\":\"a=1,B=2\",\"traceparent\":\"" + std::string(kValid) + "\"}");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.context->trace_state.to_header(), "a=1");
  EXPECT_EQ(s.tracestate_dropped, 1u);
}

TEST(JobPayload, DeepNestingDoesNotExhaustTheStack) {
  const int depth = 200000;
  std::string deep = "{\"a\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  const std::string out = inject_into_job_payload(deep, make_context());
  EXPECT_EQ(out.size(), deep.size() + 15 + kValid.size() + 2);
  EXPECT_TRUE(extract_from_job_payload(out).ok());
  const std::string arr = std::string(depth, '[') + std::string(depth, ']');
  EXPECT_EQ(extract_from_job_payload(arr).error, PropagationError::kPayloadNotObject);
  const std::string unclosed = "{\"a\":" + std::string(depth, '[');
  EXPECT_EQ(extract_from_job_payload(unclosed).error, PropagationError::kPayloadNotJson);
}

}  // namespace
}  // namespace emp::telemetry
