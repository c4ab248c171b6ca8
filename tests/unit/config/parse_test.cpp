// Every value parser: accepted spellings, boundaries, overflow, and that each
// error names the rule and (for non-secrets) the offending value.
#include "config/parse.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace emp::telemetry::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseBool, AcceptsTheBooleanSetInAnyCase) {
  for (const char* t :
       {"true", "TRUE", "True", "1", "yes", "YES", "on", "On", " true ", "\ttrue"}) {
    auto r = parse_bool(t);
    ASSERT_TRUE(r) << t;
    EXPECT_TRUE(r.value()) << t;
  }
  for (const char* f : {"false", "FALSE", "0", "no", "No", "off", "OFF", " off "}) {
    auto r = parse_bool(f);
    ASSERT_TRUE(r) << f;
    EXPECT_FALSE(r.value()) << f;
  }
}

TEST(ParseBool, RejectsAnythingElseNamingTheValue) {
  for (const char* bad : {"maybe", "", "2", "tru", "true1", "y", "n", "enabled", "-1"}) {
    auto r = parse_bool(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("boolean"), std::string::npos);
    EXPECT_NE(r.error().message.find('"' + std::string(bad) + '"'), std::string::npos);
  }
}

TEST(ParsePort, Boundaries) {
  EXPECT_FALSE(parse_port("0"));
  ASSERT_TRUE(parse_port("1"));
  EXPECT_EQ(parse_port("1").value(), 1);
  ASSERT_TRUE(parse_port("65535"));
  EXPECT_EQ(parse_port("65535").value(), 65535);
  EXPECT_FALSE(parse_port("65536"));
  EXPECT_EQ(parse_port(" 24224 ").value(), 24224);
  for (const char* bad :
       {"", "-1", "+80", "80a", "8 0", "0x50", "99999999999999999999999", "port"}) {
    auto r = parse_port(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("1..65535"), std::string::npos) << r.error().message;
  }
  EXPECT_NE(parse_port("65536").error().message.find("\"65536\""), std::string::npos);
}

TEST(ParseUint, RangeAndOverflow) {
  EXPECT_EQ(parse_uint("18446744073709551615").value(), UINT64_MAX);
  auto over = parse_uint("18446744073709551616");
  ASSERT_FALSE(over);
  EXPECT_NE(over.error().message.find("too large"), std::string::npos);
  EXPECT_FALSE(parse_uint("5", 6, 10));
  EXPECT_TRUE(parse_uint("6", 6, 10));
  EXPECT_TRUE(parse_uint("10", 6, 10));
  EXPECT_FALSE(parse_uint("11", 6, 10));
  EXPECT_NE(parse_uint("11", 6, 10).error().rule.find("6..10"), std::string::npos);
  EXPECT_FALSE(parse_uint("-1"));
  EXPECT_FALSE(parse_uint("1.0"));
  EXPECT_FALSE(parse_uint(""));
  EXPECT_EQ(parse_uint("007").value(), 7u);
}

TEST(ParseRate, Boundaries) {
  EXPECT_FALSE(parse_rate("-0.1"));
  ASSERT_TRUE(parse_rate("0"));
  EXPECT_EQ(parse_rate("0").value(), 0.0);
  EXPECT_EQ(parse_rate("1").value(), 1.0);
  EXPECT_EQ(parse_rate("1.0").value(), 1.0);
  EXPECT_FALSE(parse_rate("1.0001"));
  EXPECT_DOUBLE_EQ(parse_rate("0.25").value(), 0.25);
  EXPECT_DOUBLE_EQ(parse_rate(".5").value(), 0.5);
  EXPECT_DOUBLE_EQ(parse_rate("1e-1").value(), 0.1);
  auto neg_zero = parse_rate("-0");
  ASSERT_TRUE(neg_zero);
  EXPECT_FALSE(std::signbit(neg_zero.value()));
}

TEST(ParseRate, RejectsNonFiniteAndGarbage) {
  for (const char* bad : {"nan", "NaN", "inf", "-inf", "infinity", "0.5x", "x0.5", "", "+0.5",
                          "0x0.8p0", "1e400", "0.5 0.5", "1,0", "--0"}) {
    auto r = parse_rate(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("between 0 and 1"), std::string::npos);
  }
}

TEST(ParseLevel, NamesInAnyCase) {
  EXPECT_EQ(parse_level("debug").value(), Level::kDebug);
  EXPECT_EQ(parse_level("INFO").value(), Level::kInfo);
  EXPECT_EQ(parse_level("warn").value(), Level::kWarn);
  EXPECT_EQ(parse_level("Warning").value(), Level::kWarn);
  EXPECT_EQ(parse_level(" error ").value(), Level::kError);
  EXPECT_EQ(parse_level("trace").value(), Level::kTrace);
  EXPECT_EQ(parse_level("Critical").value(), Level::kCritical);
  EXPECT_EQ(parse_level("fatal").value(), Level::kCritical);
  for (const char* bad : {"verbose", "", "3", "err"}) {
    auto r = parse_level(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("trace, debug, info, warn"), std::string::npos);
  }
}

TEST(ParseDuration, UnitsAndPlainMilliseconds) {
  EXPECT_EQ(parse_duration("250ms").value(), milliseconds(250));
  EXPECT_EQ(parse_duration("5s").value(), milliseconds(5000));
  EXPECT_EQ(parse_duration("2m").value(), milliseconds(120000));
  EXPECT_EQ(parse_duration("1h").value(), milliseconds(3600000));
  EXPECT_EQ(parse_duration("100").value(), milliseconds(100));
  EXPECT_EQ(parse_duration("0").value(), milliseconds(0));
  EXPECT_EQ(parse_duration("5 s").value(), milliseconds(5000));
  EXPECT_EQ(parse_duration("5S").value(), milliseconds(5000));
  EXPECT_EQ(parse_duration("30MS").value(), milliseconds(30));
}

TEST(ParseDuration, RejectsGarbageNegativeFractionsAndOverflow) {
  for (const char* bad : {"", "s", "-1s", "1.5s", "5d", "5us", "5 ms ms", "ms5", "1e3"}) {
    auto r = parse_duration(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("duration"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(parse_duration("9223372036854775807"));
  EXPECT_FALSE(parse_duration("9223372036854775808"));
  EXPECT_FALSE(parse_duration("9223372036854775807s"));
  EXPECT_FALSE(parse_duration("99999999999999999999999h"));
}

TEST(ParseDuration, Range) {
  auto r = parse_duration("0", milliseconds(1), milliseconds(3600000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rule, "must be between 1ms and 1h");
  EXPECT_TRUE(parse_duration("1h", milliseconds(1), milliseconds(3600000)));
  EXPECT_FALSE(parse_duration("61m", milliseconds(1), milliseconds(3600000)));
}

TEST(ParseSize, BinaryAndDecimalUnits) {
  EXPECT_EQ(parse_size("512").value(), 512u);
  EXPECT_EQ(parse_size("512B").value(), 512u);
  EXPECT_EQ(parse_size("64KiB").value(), 65536u);
  EXPECT_EQ(parse_size("64K").value(), 65536u);
  EXPECT_EQ(parse_size("64KB").value(), 64000u);
  EXPECT_EQ(parse_size("1MiB").value(), 1048576u);
  EXPECT_EQ(parse_size("1M").value(), 1048576u);
  EXPECT_EQ(parse_size("1MB").value(), 1000000u);
  EXPECT_EQ(parse_size("1G").value(), 1073741824u);
  EXPECT_EQ(parse_size("1GB").value(), 1000000000u);
  EXPECT_EQ(parse_size("1TiB").value(), 1ull << 40);
  EXPECT_EQ(parse_size("2 kib").value(), 2048u);
  EXPECT_EQ(parse_size("16777215T").value(), 16777215ull << 40);
}

TEST(ParseSize, RejectsGarbageAndOverflow) {
  for (const char* bad : {"", "K", "1.5M", "-1", "1Ki", "1KiBs", "1P", "1 2"}) {
    auto r = parse_size(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("size"), std::string::npos);
  }
  EXPECT_FALSE(parse_size("16777216T"));  // 2^64
  EXPECT_FALSE(parse_size("18446744073709551616"));
  auto small = parse_size("1K", 4096, 1ull << 30);
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().rule, "must be between 4KiB and 1GiB");
}

TEST(Format, DurationsAndSizes) {
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_duration(milliseconds(5000)), "5s");
  EXPECT_EQ(format_duration(milliseconds(120000)), "2m");
  EXPECT_EQ(format_duration(milliseconds(0)), "0ms");
  EXPECT_EQ(format_size(512), "512B");
  EXPECT_EQ(format_size(65536), "64KiB");
  EXPECT_EQ(format_size(1000), "1000B");
}

TEST(ParseUrl, Components) {
  auto r = parse_url("https://collector.example.com:4318/v1/traces?x=1");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value().scheme, "https");
  EXPECT_EQ(r.value().host, "collector.example.com");
  EXPECT_EQ(r.value().port, 4318);
  EXPECT_TRUE(r.value().port_explicit);
  EXPECT_EQ(r.value().path, "/v1/traces?x=1");

  auto d = parse_url(" HTTP://Host ");
  ASSERT_TRUE(d);
  EXPECT_EQ(d.value().scheme, "http");
  EXPECT_EQ(d.value().port, 80);
  EXPECT_FALSE(d.value().port_explicit);
  EXPECT_EQ(d.value().path, "");
  EXPECT_EQ(d.value().text, "HTTP://Host");
  EXPECT_EQ(parse_url("https://h").value().port, 443);

  auto v6 = parse_url("http://[::1]:4318/x");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6.value().host, "::1");
  EXPECT_EQ(v6.value().port, 4318);
}

TEST(ParseUrl, Rejects) {
  for (const char* bad :
       {"", "host:4318", "ftp://h", "http://", "http://:80", "http://h:0", "http://h:65536",
        "http://h:", "http://h:x", "http://::1:4318", "http://h h", "http://h\n", "http://[::1",
        "http://[zz]", "//h", "http://-h"}) {
    auto r = parse_url(bad);
    EXPECT_FALSE(r) << bad;
  }
  EXPECT_NE(parse_url("ftp://h").error().message.find("http or https"), std::string::npos);
}

TEST(ParseUrl, CredentialsAreRejectedAndNeverEchoed) {
  auto r = parse_url("https://user:s3cretPass@collector:4318");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("credentials"), std::string::npos);
  EXPECT_EQ(r.error().message.find("s3cretPass"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("***@collector"), std::string::npos) << r.error().message;
}

TEST(JoinUrl, ExactlyOneSlash) {
  EXPECT_EQ(join_url("http://h:4318", "v1/traces"), "http://h:4318/v1/traces");
  EXPECT_EQ(join_url("http://h:4318/", "v1/traces"), "http://h:4318/v1/traces");
  EXPECT_EQ(join_url("http://h:4318/x/", "v1/traces"), "http://h:4318/x/v1/traces");
  EXPECT_EQ(join_url("http://h:4318/x", "/v1/logs"), "http://h:4318/x/v1/logs");
  EXPECT_EQ(join_url("http://h:4318/x///", "v1/logs"), "http://h:4318/x/v1/logs");
}

TEST(JoinUrl, QueryAndFragmentOfTheBaseStayAtTheEnd) {
  EXPECT_EQ(join_url("http://h:4318/base?tenant=a", "v1/traces"),
            "http://h:4318/base/v1/traces?tenant=a");
  EXPECT_EQ(join_url("http://h/a#f", "v1/logs"), "http://h/a/v1/logs#f");
  EXPECT_EQ(join_url("http://h?t=1", "v1/logs"), "http://h/v1/logs?t=1");
}

TEST(WithRootPath, EmptyPathBecomesSlash) {
  EXPECT_EQ(with_root_path("http://h:1"), "http://h:1/");
  EXPECT_EQ(with_root_path("http://h:1#x"), "http://h:1/#x");
  EXPECT_EQ(with_root_path("http://h:4318?x=1"), "http://h:4318/?x=1");
  EXPECT_EQ(with_root_path("http://h:1/p"), "http://h:1/p");
  EXPECT_EQ(with_root_path("HTTPS://H"), "HTTPS://H/");
}

TEST(ParseEndpointLists, UrlsInOrderWithTheBadEntryNamed) {
  auto ok = parse_url_list(" http://b:4318 ,https://c.example/otlp,, ");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.value(), (std::vector<std::string>{"http://b:4318", "https://c.example/otlp"}));
  auto bad = parse_url_list("http://b:4318,ftp://c");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("entry 2 (\"ftp://c\")"), std::string::npos)
      << bad.error().message;
  auto creds = parse_url_list("http://user:secret@b:4318");
  ASSERT_FALSE(creds);
  EXPECT_EQ(creds.error().message.find("secret"), std::string::npos) << "credentials never echoed";
  EXPECT_NE(parse_url_list("http://b,http://b").error().message.find("listed twice"),
            std::string::npos);
  EXPECT_NE(parse_url_list(" , ").error().message.find("at least one"), std::string::npos);
  std::string nine;
  for (int i = 0; i < 9; ++i) nine += "http://h" + std::to_string(i) + ",";
  EXPECT_NE(parse_url_list(nine).error().message.find("at most 8"), std::string::npos);
}

TEST(ParseEndpointLists, HostsWithAndWithoutPorts) {
  auto ok = parse_host_port_list("agg-2, agg-3:24225,127.0.0.7:1,[::1]:24226,0:0:0:0:0:0:0:1");
  ASSERT_TRUE(ok) << ok.error().message;
  const std::vector<HostPort> want{
      {"agg-2", 0}, {"agg-3", 24225}, {"127.0.0.7", 1}, {"::1", 24226}, {"0:0:0:0:0:0:0:1", 0}};
  EXPECT_EQ(ok.value(), want);
  for (const char* bad : {"agg:0", "agg:70000", "agg:", "tcp://agg:24224", "[::1", "[::1]x",
                          "a b", "agg,agg"}) {
    auto r = parse_host_port_list(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message.find("entry"), std::string::npos) << r.error().message;
    }
  }
}

TEST(ParseHost, NamesAndAddresses) {
  EXPECT_EQ(parse_host("fluentd").value(), "fluentd");
  EXPECT_EQ(parse_host(" fluent-bit.logging.svc ").value(), "fluent-bit.logging.svc");
  EXPECT_EQ(parse_host("127.0.0.1").value(), "127.0.0.1");
  EXPECT_EQ(parse_host("::1").value(), "::1");
  EXPECT_EQ(parse_host("[fe80::1]").value(), "fe80::1");
  auto port = parse_host("fluentd:24224");
  ASSERT_FALSE(port);
  EXPECT_NE(port.error().message.find("without a port"), std::string::npos);
  auto url = parse_host("tcp://fluentd");
  ASSERT_FALSE(url);
  EXPECT_NE(url.error().message.find("not a URL"), std::string::npos);
  EXPECT_FALSE(parse_host(""));
  EXPECT_FALSE(parse_host("bad host"));
  EXPECT_FALSE(parse_host("host/x"));
}

TEST(ParseEnum, CaseInsensitiveWithChoicesInMessage) {
  EXPECT_EQ(parse_enum("BLOCK", {"drop", "block"}).value(), 1u);
  auto r = parse_enum("wait", {"drop", "block"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "must be one of drop or block (got \"wait\")");
  EXPECT_EQ(parse_queue_full_policy("Drop").value(), QueueFullPolicy::kDrop);
  EXPECT_EQ(parse_deployment_env("PRODUCTION").value(), DeploymentEnv::kProduction);
  EXPECT_FALSE(parse_deployment_env("prod"));
  EXPECT_EQ(parse_temporality("LowMemory").value(), Temporality::kLowMemory);
  EXPECT_FALSE(parse_temporality("both"));
  EXPECT_EQ(parse_otlp_protocol("http/json").value(), OtlpProtocol::kHttpJson);
  EXPECT_EQ(parse_otlp_protocol("grpc").value(), OtlpProtocol::kGrpc);
  EXPECT_FALSE(parse_otlp_protocol("http"));
  EXPECT_TRUE(parse_compression("gzip").value());
  EXPECT_FALSE(parse_compression("none").value());
  EXPECT_FALSE(parse_compression("zstd"));
}

TEST(ParseSampler, KnownSamplers) {
  EXPECT_EQ(parse_sampler("always_on").value(), SamplerKind::kAlwaysOn);
  EXPECT_EQ(parse_sampler("parentbased_traceidratio").value(),
            SamplerKind::kParentBasedTraceIdRatio);
  auto jaeger = parse_sampler("jaeger_remote");
  ASSERT_FALSE(jaeger);
  EXPECT_NE(jaeger.error().message.find("not supported"), std::string::npos);
  EXPECT_FALSE(parse_sampler("sometimes"));
}

TEST(ParsePropagators, ListsNoneAndUnsupported) {
  EXPECT_EQ(parse_propagators("tracecontext,baggage").value(),
            (std::vector<std::string>{"tracecontext", "baggage"}));
  EXPECT_EQ(parse_propagators(" Baggage , tracecontext,baggage ").value(),
            (std::vector<std::string>{"baggage", "tracecontext"}));
  EXPECT_TRUE(parse_propagators("none").value().empty());
  auto b3 = parse_propagators("tracecontext,b3");
  ASSERT_FALSE(b3);
  EXPECT_NE(b3.error().message.find("not supported by this build"), std::string::npos);
  auto unknown = parse_propagators("w3c");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown"), std::string::npos);
  EXPECT_FALSE(parse_propagators("none,baggage"));
  EXPECT_FALSE(parse_propagators(" , "));
}

TEST(KeyValueList, ParsesTrimsAndDecodes) {
  auto r = parse_key_value_list(" a = 1 , b=2,,c=x%20y%2C%3Dz%25, d=e=f ,");
  ASSERT_TRUE(r) << r.error().message;
  const KeyValues expected = {{"a", "1"}, {"b", "2"}, {"c", "x y,=z%"}, {"d", "e=f"}};
  EXPECT_EQ(r.value(), expected);
  EXPECT_TRUE(parse_key_value_list("").value().empty());
  EXPECT_EQ(parse_key_value_list("k=").value(), (KeyValues{{"k", ""}}));
  EXPECT_EQ(parse_key_value_list("k=a+b").value(), (KeyValues{{"k", "a+b"}}));
}

TEST(KeyValueList, Rejects) {
  struct Case {
    const char* text;
    const char* rule_part;
  };
  for (const Case& c :
       {Case{"a", "not key=value"}, Case{"=v", "empty key"}, Case{"k=%zz", "percent-encoding"},
        Case{"k=%4", "percent-encoding"}, Case{"k=%", "percent-encoding"},
        Case{"k%=v", "percent-encoding"}, Case{"k=a%0Ab", "control"}, Case{"a=1,b", "member 2"}}) {
    auto r = parse_key_value_list(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_NE(r.error().message.find(c.rule_part), std::string::npos) << r.error().message;
  }
}

TEST(KeyValueList, HeaderModeChecksNamesAndNeverShowsValues) {
  const KeyValueOptions headers{.secret_values = true, .header_names = true};
  auto ok = parse_key_value_list("Authorization=Bearer%20abc,X-Team=core", headers);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.value(), (KeyValues{{"Authorization", "Bearer abc"}, {"X-Team", "core"}}));

  auto bad_name = parse_key_value_list("Bad Key=topsecretvalue", headers);
  ASSERT_FALSE(bad_name);
  EXPECT_NE(bad_name.error().message.find("header name"), std::string::npos);
  EXPECT_EQ(bad_name.error().message.find("topsecretvalue"), std::string::npos);
  EXPECT_EQ(bad_name.error().message.find("Bad Key"), std::string::npos);

  auto injection = parse_key_value_list("X-A=topsecret%0D%0AHost: evil", headers);
  ASSERT_FALSE(injection);
  EXPECT_NE(injection.error().message.find("control"), std::string::npos);
  EXPECT_EQ(injection.error().message.find("topsecret"), std::string::npos);
  EXPECT_NE(injection.error().message.find("X-A"), std::string::npos);

  auto escape = parse_key_value_list("Authorization=Bearer%zztopsecret", headers);
  ASSERT_FALSE(escape);
  EXPECT_EQ(escape.error().message.find("topsecret"), std::string::npos);
  EXPECT_NE(escape.error().message.find("Authorization"), std::string::npos);
}

TEST(SentryDsn, Parts) {
  auto r = parse_sentry_dsn("https://abc123@o1.ingest.sentry.io/42");
  ASSERT_TRUE(r) << r.error().message;
  const SentryDsn& d = r.value();
  EXPECT_EQ(d.scheme, "https");
  EXPECT_EQ(d.public_key, "abc123");
  EXPECT_EQ(d.secret_key, "");
  EXPECT_EQ(d.host, "o1.ingest.sentry.io");
  EXPECT_FALSE(d.port.has_value());
  EXPECT_EQ(d.path_prefix, "");
  EXPECT_EQ(d.project_id, "42");
  EXPECT_EQ(d.envelope_url(), "https://o1.ingest.sentry.io/api/42/envelope/");
  EXPECT_EQ(d.redacted(), "https://***@o1.ingest.sentry.io/42");

  auto full = parse_sentry_dsn("http://pub:sec@127.0.0.1:9000/sub/path/7");
  ASSERT_TRUE(full) << full.error().message;
  EXPECT_EQ(full.value().public_key, "pub");
  EXPECT_EQ(full.value().secret_key, "sec");
  EXPECT_EQ(full.value().port, 9000);
  EXPECT_EQ(full.value().path_prefix, "/sub/path");
  EXPECT_EQ(full.value().envelope_url(), "http://127.0.0.1:9000/sub/path/api/7/envelope/");
  EXPECT_EQ(full.value().redacted(), "http://***@127.0.0.1:9000/sub/path/7");

  auto v6 = parse_sentry_dsn("http://k@[::1]:9000/3");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6.value().envelope_url(), "http://[::1]:9000/api/3/envelope/");
}

TEST(SentryDsn, RejectsWithoutShowingKeys) {
  for (const char* bad :
       {"https://o1.ingest.sentry.io/42", "https://@host/42", "https://KEYSECRET@host/abc",
        "ftp://KEYSECRET@host/42", "https://KEYSECRET@host/", "https://KEYSECRET@host",
        "https://KEYSECRET@host/42?x=1", "KEYSECRET@host/42", "https://KEYSECRET:SEC2@:9/1",
        "https://KEYSECRET@host:99999/1", "https://KEY SECRET@host/1", ""}) {
    auto r = parse_sentry_dsn(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("Sentry DSN"), std::string::npos);
    EXPECT_EQ(r.error().message.find("KEYSECRET"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("SECRET@"), std::string::npos) << r.error().message;
  }
  EXPECT_NE(parse_sentry_dsn("https://KEYSECRET@host/abc")
                .error()
                .message.find("\"https://***@host/abc\""),
            std::string::npos);
}

TEST(SamplerRules, ParsesAndRejects) {
  auto r = parse_sampler_rules("job.*=1.0, process.ws_progress=0.01");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r.value().size(), 2u);
  EXPECT_EQ(r.value()[0].pattern, "job.*");
  EXPECT_EQ(r.value()[0].ratio, 1.0);
  EXPECT_EQ(r.value()[1].pattern, "process.ws_progress");
  EXPECT_DOUBLE_EQ(r.value()[1].ratio, 0.01);
  EXPECT_TRUE(parse_sampler_rules("").value().empty());
  for (const char* bad : {"job.*", "job.*=2", "=0.5", "a b=1", "x=nan", "x=0.5,y"}) {
    auto e = parse_sampler_rules(bad);
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(e.error().message.find("rule "), std::string::npos);
  }
}

TEST(GlobMatch, Wildcards) {
  EXPECT_TRUE(glob_match("job.*", "job.submit"));
  EXPECT_TRUE(glob_match("job.*", "job."));
  EXPECT_FALSE(glob_match("job.*", "job"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("process.ws_?rogress", "process.ws_progress"));
  EXPECT_TRUE(glob_match("*.timeout", "workflow.timeout"));
  EXPECT_TRUE(glob_match("a*b*c", "axxbyyc"));
  EXPECT_FALSE(glob_match("a*b*c", "axxbyy"));
  EXPECT_TRUE(glob_match("exact", "exact"));
  EXPECT_FALSE(glob_match("exact", "exactly"));
  // A '*' in the text is ordinary; the pattern's '*' still matches any run
  // (found by fuzz_env_values).
  EXPECT_TRUE(glob_match("*", "*jo[b."));
  EXPECT_TRUE(glob_match("a*", "a*b"));
  EXPECT_TRUE(glob_match("*b", "**b"));
  // Hostile pattern: terminates quickly instead of exploding.
  const std::string text(5000, 'a');
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*a*a*b", text));
}

TEST(Strings, NameTokenPathRelativeFile) {
  EXPECT_EQ(parse_name(" emp-worker ").value(), "emp-worker");
  EXPECT_FALSE(parse_name(""));
  EXPECT_FALSE(
      parse_name("a\x01"
                 "b"));
  EXPECT_FALSE(parse_name(std::string(257, 'x')));
  EXPECT_TRUE(parse_name(std::string(256, 'x')));

  auto token = parse_token("tok en-VALUE");
  ASSERT_FALSE(token);
  EXPECT_EQ(token.error().message.find("VALUE"), std::string::npos);
  EXPECT_NE(token.error().message.find("***"), std::string::npos);
  EXPECT_EQ(parse_token("auth_abc").value(), "auth_abc");

  EXPECT_EQ(parse_path("/var/log/emp").value(), "/var/log/emp");
  EXPECT_FALSE(parse_path("a\nb"));
  EXPECT_EQ(parse_relative_file("logs/worker.log").value(), "logs/worker.log");
  for (const char* bad : {"/etc/passwd", "../x.log", "a/../../x", "dir/", ""}) {
    EXPECT_FALSE(parse_relative_file(bad)) << bad;
  }
  EXPECT_TRUE(parse_relative_file("..x.log"));
}

TEST(Quote, EscapesAndShortens) {
  EXPECT_EQ(quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\x0a\"");
  const std::string long_value(500, 'z');
  const std::string q = quote(long_value);
  EXPECT_LT(q.size(), 200u);
  EXPECT_NE(q.find("(500 bytes)"), std::string::npos);
  // Never cut inside a UTF-8 sequence.
  std::string utf8(119, 'a');
  utf8 += "\xC3\xA9tail";
  const std::string qu = quote(utf8);
  EXPECT_EQ(qu.find("\xC3\""), std::string::npos);
}

}  // namespace
}  // namespace emp::telemetry::config
