// Head samplers: ratio statistics and determinism, the parent-based decision
// table, per-operation rules and the errors of make_sampler().
#include "trace/sampler.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "trace/ids.hpp"

namespace emp::telemetry::trace {
namespace {

SamplerConfig must(Expected<SamplerConfig> e) {
  if (!e.ok()) {
    for (const Error& err : e.errors()) ADD_FAILURE() << err.to_string();
    return SamplerConfig();
  }
  return std::move(e).value();
}

SamplerConfig sampler(std::string_view name, std::optional<std::string_view> arg = std::nullopt,
                      std::string_view rules = "", bool export_errors = true) {
  return must(make_sampler(name, arg, rules, export_errors));
}

// A trace id whose ratio randomness (bytes 8..15, big-endian) is `r`; the
// first 8 bytes are set to 0xff to show they play no part.
TraceId id_with_randomness(std::uint64_t r) {
  TraceId::Bytes b{};
  for (int i = 0; i < 8; ++i) b[i] = 0xff;
  for (int i = 15; i >= 8; --i) {
    b[i] = static_cast<std::uint8_t>(r & 0xff);
    r >>= 8;
  }
  return TraceId(b);
}

SpanContext parent(bool sampled, bool remote) {
  SpanContext c;
  c.trace_id = new_trace_id();
  c.span_id = new_span_id();
  c.flags = TraceFlags(sampled ? TraceFlags::kSampled : 0);
  c.remote = remote;
  return c;
}

double sampled_fraction(const SamplerConfig& s, const SpanContext* p, std::string_view name,
                        int n) {
  int kept = 0;
  for (int i = 0; i < n; ++i) {
    kept += s.sampled(p, new_trace_id(), name) ? 1 : 0;
  }
  return kept / double(n);
}

TEST(Sampler, RandomnessIsBigEndianBytes8To15) {
  EXPECT_EQ(trace_id_randomness(id_with_randomness(0x0102030405060708ull)), 0x0102030405060708ull);
  TraceId::Bytes b{};
  b[15] = 1;
  EXPECT_EQ(trace_id_randomness(TraceId(b)), 1u);
  b[8] = 0x80;
  EXPECT_EQ(trace_id_randomness(TraceId(b)), 0x8000000000000001ull);
}

TEST(Sampler, TraceIdRatioMatchesTheRatioOverManyIds) {
  const SamplerConfig s = sampler("traceidratio", "0.25");
  // 200k draws: one standard deviation is ~0.001, so ±0.01 is ten.
  EXPECT_NEAR(sampled_fraction(s, nullptr, "any", 200'000), 0.25, 0.01);
}

TEST(Sampler, TraceIdRatioThresholdIsExact) {
  const SamplerConfig half = sampler("traceidratio", "0.5");
  EXPECT_TRUE(half.sampled(nullptr, id_with_randomness(0x7fffffffffffffffull), "x"));
  EXPECT_FALSE(half.sampled(nullptr, id_with_randomness(0x8000000000000000ull), "x"));

  const SamplerConfig zero = sampler("traceidratio", "0");
  EXPECT_FALSE(zero.sampled(nullptr, id_with_randomness(0), "x"));
  const SamplerConfig one = sampler("traceidratio", "1");
  EXPECT_TRUE(one.sampled(nullptr, id_with_randomness(~0ull), "x"));
  EXPECT_EQ(sampled_fraction(zero, nullptr, "x", 10'000), 0.0);
  EXPECT_EQ(sampled_fraction(one, nullptr, "x", 10'000), 1.0);
}

TEST(Sampler, SameTraceIdSameDecisionEverywhere) {
  // Two separately built samplers stand for two services.
  const SamplerConfig a = sampler("traceidratio", "0.3");
  const SamplerConfig b = sampler("parentbased_traceidratio", "0.3");
  for (int i = 0; i < 10'000; ++i) {
    const TraceId id = new_trace_id();
    const bool first = a.sampled(nullptr, id, "job.submit");
    EXPECT_EQ(a.sampled(nullptr, id, "job.submit"), first);
    EXPECT_EQ(b.sampled(nullptr, id, "other"), first);
  }
}

TEST(Sampler, RatiosNest) {
  // A trace kept at a low ratio is kept at every higher ratio.
  const SamplerConfig low = sampler("traceidratio", "0.1");
  const SamplerConfig high = sampler("traceidratio", "0.6");
  for (int i = 0; i < 10'000; ++i) {
    const TraceId id = new_trace_id();
    if (low.sampled(nullptr, id, "x")) {
      EXPECT_TRUE(high.sampled(nullptr, id, "x"));
    }
  }
}

TEST(Sampler, ParentBasedDecisionTable) {
  enum Parent { kNone, kInvalid, kRemoteSampled, kRemoteNot, kLocalSampled, kLocalNot };
  struct Row {
    const char* sampler;
    Parent parent;
    bool sampled;
  };
  const std::vector<Row> rows = {
      {"parentbased_always_on", kNone, true},
      {"parentbased_always_on", kInvalid, true},
      {"parentbased_always_on", kRemoteSampled, true},
      {"parentbased_always_on", kRemoteNot, false},
      {"parentbased_always_on", kLocalSampled, true},
      {"parentbased_always_on", kLocalNot, false},
      {"parentbased_always_off", kNone, false},
      {"parentbased_always_off", kInvalid, false},
      {"parentbased_always_off", kRemoteSampled, true},
      {"parentbased_always_off", kRemoteNot, false},
      {"parentbased_always_off", kLocalSampled, true},
      {"parentbased_always_off", kLocalNot, false},
      {"always_on", kNone, true},
      {"always_on", kRemoteNot, true},
      {"always_on", kLocalNot, true},
      {"always_off", kNone, false},
      {"always_off", kRemoteSampled, false},
      {"always_off", kLocalSampled, false},
  };
  for (const Row& row : rows) {
    const SamplerConfig s = sampler(row.sampler);
    SpanContext p;
    const SpanContext* pp = nullptr;
    switch (row.parent) {
      case kNone:
        break;
      case kInvalid:
        pp = &p;
        p.flags = TraceFlags(TraceFlags::kSampled);
        break;
      case kRemoteSampled:
        p = parent(true, true);
        pp = &p;
        break;
      case kRemoteNot:
        p = parent(false, true);
        pp = &p;
        break;
      case kLocalSampled:
        p = parent(true, false);
        pp = &p;
        break;
      case kLocalNot:
        p = parent(false, false);
        pp = &p;
        break;
    }
    const TraceId tid = pp && p.is_valid() ? p.trace_id : new_trace_id();
    EXPECT_EQ(s.sampled(pp, tid, "op"), row.sampled)
        << row.sampler << " parent case " << row.parent;
  }
}

TEST(Sampler, ParentBasedRatioUsesRatioOnlyForRoots) {
  const SamplerConfig s = sampler("parentbased_traceidratio", "0.25");
  EXPECT_NEAR(sampled_fraction(s, nullptr, "root", 100'000), 0.25, 0.015);
  const SpanContext yes = parent(true, true);
  const SpanContext no = parent(false, true);
  EXPECT_EQ(sampled_fraction(s, &yes, "child", 2'000), 1.0);
  EXPECT_EQ(sampled_fraction(s, &no, "child", 2'000), 0.0);
}

TEST(Sampler, GlobMatching) {
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
  };
  for (const Case& c : std::vector<Case>{
           {"job.*", "job.submit", true},
           {"job.*", "job.", true},
           {"job.*", "jobs.submit", false},
           {"job.*", "job", false},
           {"*", "", true},
           {"*", "anything at all", true},
           {"process.ws_progress", "process.ws_progress", true},
           {"process.ws_progress", "process.ws_progress2", false},
           {"process.ws_?rogress", "process.ws_progress", true},
           {"process.ws_?rogress", "process.ws_rogress", false},
           {"*progress", "process.ws_progress", true},
           {"a*b*c", "aXXbYYc", true},
           {"a*b*c", "aXXbYY", false},
           {"machine.startup.*", "machine.startup.download", true},
           {"*.complete", "workflow.complete", true},
           {"**", "x", true},
           {"", "", true},
           {"", "x", false},
       }) {
    EXPECT_EQ(span_name_matches(c.pattern, c.name), c.match) << c.pattern << " vs " << c.name;
  }
  // Adversarial: many stars and a long non-matching name finish quickly.
  EXPECT_FALSE(span_name_matches("*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST(Sampler, RuleMatchingAgreesWithTheGlobForEveryPatternForm) {
  // Exact names and "prefix*" take fast paths; they must decide as the glob does.
  const std::vector<std::string> patterns = {
      "job.submit", "job.*", "*", "j*", "job.submit*", "*.submit", "job.?ubmit", "a*b", "job."};
  const std::vector<std::string> names = {
      "",         "j",  "job", "job.", "job.submit", "job.submitted", "jobs.submit",
      "x.submit", "ab", "aXb"};
  for (const std::string& p : patterns) {
    const SamplerConfig s = sampler("always_off", std::nullopt, p + "=1");
    for (const std::string& n : names) {
      EXPECT_EQ(s.sampled(nullptr, new_trace_id(), n), span_name_matches(p, n)) << p << " vs " << n;
    }
  }
}

TEST(Sampler, RulesFirstMatchWins) {
  const SamplerConfig s = sampler("parentbased_always_on", std::nullopt, "job.claim=0, job.*=1.0");
  ASSERT_EQ(s.rules().size(), 2u);
  EXPECT_FALSE(s.sampled(nullptr, new_trace_id(), "job.claim"));
  EXPECT_TRUE(s.sampled(nullptr, new_trace_id(), "job.submit"));
  EXPECT_TRUE(s.sampled(nullptr, new_trace_id(), "workflow.start"));
}

TEST(Sampler, RulesOverrideTheRootSampler) {
  const SamplerConfig s = sampler("parentbased_always_off", std::nullopt, "job.*=1.0");
  EXPECT_TRUE(s.sampled(nullptr, new_trace_id(), "job.submit"));
  EXPECT_FALSE(s.sampled(nullptr, new_trace_id(), "webhook.delivery"));
}

TEST(Sampler, RulesThinChildrenOfSampledParentsButNeverReviveUnsampledOnes) {
  const SamplerConfig s =
      sampler("parentbased_always_on", std::nullopt, "process.ws_progress=0.1,job.*=1");
  const SpanContext yes = parent(true, false);
  const SpanContext no = parent(false, false);
  // Each draw uses a fresh trace id, standing for a different sampled trace.
  EXPECT_NEAR(sampled_fraction(s, &yes, "process.ws_progress", 100'000), 0.1, 0.01);
  EXPECT_EQ(sampled_fraction(s, &yes, "process.image_upload", 1'000), 1.0);
  EXPECT_EQ(sampled_fraction(s, &no, "job.process", 1'000), 0.0);
  EXPECT_EQ(sampled_fraction(s, &no, "process.ws_progress", 1'000), 0.0);
  // Within one trace the decision is the same for every matching span.
  const bool first = s.sampled(&yes, yes.trace_id, "process.ws_progress");
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(s.sampled(&yes, yes.trace_id, "process.ws_progress"), first);
  }
}

TEST(Sampler, NonParentBasedSamplersApplyRulesToEverySpan) {
  const SamplerConfig s = sampler("always_on", std::nullopt, "process.ws_progress=0");
  const SpanContext no = parent(false, true);
  EXPECT_TRUE(s.sampled(&no, no.trace_id, "job.process"));
  EXPECT_FALSE(s.sampled(&no, no.trace_id, "process.ws_progress"));
}

TEST(Sampler, NamesAreCaseInsensitiveAndDefaultIsParentBasedAlwaysOn) {
  EXPECT_EQ(sampler("").kind(), SamplerKind::kParentBasedAlwaysOn);
  EXPECT_EQ(sampler("  ").kind(), SamplerKind::kParentBasedAlwaysOn);
  EXPECT_EQ(sampler(" Always_On ").kind(), SamplerKind::kAlwaysOn);
  EXPECT_EQ(sampler("ALWAYS_OFF").kind(), SamplerKind::kAlwaysOff);
  EXPECT_EQ(sampler("ParentBased_TraceIdRatio", "0.5").kind(),
            SamplerKind::kParentBasedTraceIdRatio);
  EXPECT_EQ(sampler("parentbased_always_off").kind(), SamplerKind::kParentBasedAlwaysOff);
}

TEST(Sampler, RatioArgument) {
  EXPECT_EQ(sampler("traceidratio").ratio(), 1.0);  // OpenTelemetry default
  EXPECT_EQ(sampler("traceidratio", "").ratio(), 1.0);
  EXPECT_EQ(sampler("traceidratio", " 0.25 ").ratio(), 0.25);
  EXPECT_EQ(sampler("traceidratio", "1e-3").ratio(), 0.001);
  EXPECT_EQ(sampler("traceidratio", "-0").ratio(), 0.0);
  // Other samplers ignore the argument, even a malformed one.
  EXPECT_TRUE(make_sampler("always_on", "abc", "", true).ok());
}

TEST(Sampler, ErrorsNameTheVariableAndTheValue) {
  {
    const auto e = make_sampler("bogus", std::nullopt, "", true);
    ASSERT_FALSE(e.ok());
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_EQ(e.errors()[0].subject, "OTEL_TRACES_SAMPLER");
    EXPECT_NE(e.errors()[0].message.find("\"bogus\""), std::string::npos);
    EXPECT_NE(e.errors()[0].message.find("parentbased_traceidratio"), std::string::npos);
  }
  {
    const auto e = make_sampler("xray", std::nullopt, "", true);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.errors()[0].message.find("not supported"), std::string::npos)
        << e.errors()[0].message;
  }
  for (const char* bad : {"abc", "1.5", "-0.1", "nan", "inf", "+0.5", "0x1", "0.5x", "0,5"}) {
    const auto e = make_sampler("traceidratio", bad, "", true);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.errors()[0].subject, "OTEL_TRACES_SAMPLER_ARG") << bad;
    EXPECT_NE(e.errors()[0].message.find("\"" + std::string(bad) + "\""), std::string::npos)
        << e.errors()[0].message;
  }
  {
    const auto e = make_sampler("traceidratio", "\x01\x02", "", true);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.errors()[0].message.find("\\x01\\x02"), std::string::npos);
  }
}

TEST(Sampler, RuleErrorsNameTheBadRule) {
  struct Case {
    const char* rules;
    const char* expect;  // must appear in the message
  };
  for (const Case& c : std::vector<Case>{
           {"job.*=1.0,process.ws_progress=abc", "rule 2 \"process.ws_progress=abc\""},
           {"job.*=1.0,process.ws_progress=abc", "ratio \"abc\""},
           {"job.*", "rule 1 \"job.*\": expected glob=ratio"},
           {"=0.5", "pattern before '=' is empty"},
           {"a b=0.5", "must not contain spaces"},
           {"job.*=1.5", "ratio \"1.5\" is not a number in [0, 1]"},
           {"a=1,,b=0.2,c", "rule 4 \"c\""},  // empty entries still count positions
       }) {
    const auto e = make_sampler("", std::nullopt, c.rules, true);
    ASSERT_FALSE(e.ok()) << c.rules;
    EXPECT_EQ(e.errors()[0].subject, "EMP_TRACES_SAMPLER_RULES");
    EXPECT_NE(e.errors()[0].message.find(c.expect), std::string::npos)
        << c.rules << " -> " << e.errors()[0].message;
  }
  // Every problem is reported at once.
  const auto e = make_sampler("nope", "x", "a=2,b=x", true);
  EXPECT_EQ(e.errors().size(), 3u);
  // Empty entries and surrounding spaces are fine.
  const SamplerConfig ok = sampler("", std::nullopt, " job.*=1 ,, process.ws_progress = 0.01 ,");
  ASSERT_EQ(ok.rules().size(), 2u);
  EXPECT_EQ(ok.rules()[1].pattern, "process.ws_progress");
  EXPECT_EQ(ok.rules()[1].threshold.ratio(), 0.01);
}

TEST(Sampler, TypedConstructionValidates) {
  EXPECT_TRUE(make_sampler(SamplerKind::kTraceIdRatio, 0.5, {{"job.*", 1.0}}, true).ok());
  const auto bad_ratio = make_sampler(SamplerKind::kTraceIdRatio, 1.5, {}, true);
  ASSERT_FALSE(bad_ratio.ok());
  EXPECT_EQ(bad_ratio.errors()[0].subject, "OTEL_TRACES_SAMPLER_ARG");
  const auto bad_rule = make_sampler(SamplerKind::kAlwaysOn, 1.0, {{"", 0.5}, {"x", -1}}, true);
  EXPECT_EQ(bad_rule.errors().size(), 2u);
}

TEST(Sampler, ExportErrorsFlagAndDescription) {
  EXPECT_TRUE(sampler("always_on", std::nullopt, "", true).always_export_errors());
  EXPECT_FALSE(sampler("always_on", std::nullopt, "", false).always_export_errors());
  EXPECT_TRUE(SamplerConfig().always_export_errors());
  EXPECT_EQ(SamplerConfig().kind(), SamplerKind::kParentBasedAlwaysOn);
  EXPECT_EQ(sampler("parentbased_traceidratio", "0.25", "job.*=1,x=0.5", false).description(),
            "ParentBased{root=TraceIdRatioBased{0.25}} rules=[job.*=1,x=0.5] export_errors=false");
  EXPECT_EQ(sampler("always_off").description(), "AlwaysOffSampler export_errors=true");
}

}  // namespace
}  // namespace emp::telemetry::trace
