// Endpoint, header and option resolution for OTLP exporters
// (PROTOCOLS.md section 1, "Endpoint resolution").
#include "deliver/otlp_endpoint.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace emp::telemetry::deliver {
namespace {

using Env = std::map<std::string, std::string, std::less<>>;

EnvLookup lookup_of(const Env& env) {
  return [&env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

ExporterSettings resolve_ok(Signal signal, const Env& env) {
  auto result = resolve_exporter_settings(signal, lookup_of(env));
  std::string problems;
  for (const auto& e : result.errors()) problems += e.to_string() + "\n";
  EXPECT_TRUE(result.ok()) << problems;
  if (!result.ok()) return {};
  return result.value();
}

Errors resolve_errors(Signal signal, const Env& env) {
  auto result = resolve_exporter_settings(signal, lookup_of(env));
  EXPECT_FALSE(result.ok());
  return result.errors();
}

std::string all_text(const Errors& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

std::optional<std::string> header(const ExporterSettings& s, std::string_view name) {
  for (const auto& [n, v] : s.headers) {
    if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return std::nullopt;
}

TEST(OtlpEndpoint, NothingSetMeansNoneConfiguredWithSpecDefaults) {
  const auto s = resolve_ok(Signal::kTraces, {});
  EXPECT_TRUE(s.none_configured);
  EXPECT_TRUE(s.url.empty());
  EXPECT_EQ(s.timeout, std::chrono::milliseconds(10000));
  EXPECT_FALSE(s.gzip);
  EXPECT_EQ(s.content_type, ContentType::kProtobuf);
  EXPECT_TRUE(s.headers.empty());
}

struct BaseCase {
  std::string base;
  Signal signal;
  std::string expected;
};

TEST(OtlpEndpoint, GenericBaseGetsSignalPathWithExactlyOneSlash) {
  const std::vector<BaseCase> cases = {
      {"http://h:4318", Signal::kTraces, "http://h:4318/v1/traces"},
      {"http://h:4318/", Signal::kTraces, "http://h:4318/v1/traces"},
      {"http://h:4318/x/", Signal::kTraces, "http://h:4318/x/v1/traces"},
      {"http://h:4318/x", Signal::kMetrics, "http://h:4318/x/v1/metrics"},
      {"http://h:4318/x///", Signal::kLogs, "http://h:4318/x/v1/logs"},
      {"https://collector.example", Signal::kLogs, "https://collector.example/v1/logs"},
      {"http://[::1]:4318", Signal::kMetrics, "http://[::1]:4318/v1/metrics"},
      {"http://h:4318/base?tenant=a", Signal::kTraces, "http://h:4318/base/v1/traces?tenant=a"},
      {"  http://h:4318/  ", Signal::kTraces, "http://h:4318/v1/traces"},
  };
  for (const auto& c : cases) {
    const auto s = resolve_ok(c.signal, {{"OTEL_EXPORTER_OTLP_ENDPOINT", c.base}});
    EXPECT_FALSE(s.none_configured) << c.base;
    EXPECT_EQ(s.url, c.expected) << c.base;
    EXPECT_EQ(s.endpoint_variable, "OTEL_EXPORTER_OTLP_ENDPOINT");
  }
}

TEST(OtlpEndpoint, SignalSpecificEndpointIsUsedAsIsWithRootForEmptyPath) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://h:4318", "http://h:4318/"},
      {"http://h:4318/", "http://h:4318/"},
      {"http://h:4318/custom/path", "http://h:4318/custom/path"},
      {"http://h:4318/v1/traces/", "http://h:4318/v1/traces/"},
      {"http://h:4318?x=1", "http://h:4318/?x=1"},
      {"HTTPS://H", "HTTPS://H/"},
  };
  for (const auto& [in, out] : cases) {
    const auto s = resolve_ok(Signal::kTraces, {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", in}});
    EXPECT_EQ(s.url, out) << in;
  }
}

TEST(OtlpEndpoint, PrecedenceSpecificThenCollectorThenGenericThenDash0) {
  Env env = {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://specific:1/t"},
             {"OTEL_COLLECTOR_TRACES_ENDPOINT", "http://collector:2/t"},
             {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:3"},
             {"DASH0_OTLP_BASE_URL", "https://dash0.example"}};
  EXPECT_EQ(resolve_ok(Signal::kTraces, env).url, "http://specific:1/t");
  env.erase("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  EXPECT_EQ(resolve_ok(Signal::kTraces, env).url, "http://collector:2/t");
  EXPECT_EQ(resolve_ok(Signal::kTraces, env).endpoint_variable, "OTEL_COLLECTOR_TRACES_ENDPOINT");
  env.erase("OTEL_COLLECTOR_TRACES_ENDPOINT");
  EXPECT_EQ(resolve_ok(Signal::kTraces, env).url, "http://generic:3/v1/traces");
  env.erase("OTEL_EXPORTER_OTLP_ENDPOINT");
  const auto dash0 = resolve_ok(Signal::kTraces, env);
  EXPECT_EQ(dash0.url, "https://dash0.example/v1/traces");
  EXPECT_TRUE(dash0.dash0);
}

TEST(OtlpEndpoint, CollectorVariablesOnlyServeTheirOwnSignal) {
  const Env env = {{"OTEL_COLLECTOR_TRACES_ENDPOINT", "http://c:4318/v1/traces"},
                   {"OTEL_COLLECTOR_METRICS_ENDPOINT", "http://c:4318/v1/metrics"},
                   {"OTEL_COLLECTOR_LOGS_ENDPOINT", "http://c:4318/v1/logs"}};
  EXPECT_EQ(resolve_ok(Signal::kTraces, env).url, "http://c:4318/v1/traces");
  EXPECT_EQ(resolve_ok(Signal::kMetrics, env).url, "http://c:4318/v1/metrics");
  // There is no OTEL_COLLECTOR_LOGS_ENDPOINT in the original services.
  EXPECT_TRUE(resolve_ok(Signal::kLogs, env).none_configured);
}

TEST(OtlpEndpoint, EmptyValueCountsAsUnset) {
  const Env env = {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""},
                   {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://g:4318"},
                   {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "  "},
                   {"OTEL_EXPORTER_OTLP_TIMEOUT", "250"}};
  const auto s = resolve_ok(Signal::kTraces, env);
  EXPECT_EQ(s.url, "http://g:4318/v1/traces");
  EXPECT_EQ(s.timeout, std::chrono::milliseconds(250));
}

TEST(OtlpEndpoint, HeadersMergeKeyByKeySignalSpecificWinning) {
  const Env env = {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://g:4318"},
                   {"OTEL_EXPORTER_OTLP_HEADERS", "a=1, X-Key = generic ,b=2"},
                   {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-key=specific,c=3"}};
  const auto traces = resolve_ok(Signal::kTraces, env);
  EXPECT_EQ(header(traces, "a"), "1");
  EXPECT_EQ(header(traces, "b"), "2");
  EXPECT_EQ(header(traces, "c"), "3");
  EXPECT_EQ(header(traces, "x-key"), "specific");
  EXPECT_EQ(traces.headers.size(), 4u);  // x-key appears once
  const auto logs = resolve_ok(Signal::kLogs, env);
  EXPECT_EQ(header(logs, "x-key"), "generic");
  EXPECT_FALSE(header(logs, "c"));
}

TEST(OtlpEndpoint, HeaderKeysAndValuesArePercentDecoded) {
  const Env env = {{"OTEL_EXPORTER_OTLP_HEADERS",
                    "Authorization=Bearer%20abc%3D%3D,x%2Dtenant=t%2C1,empty=,plus=a+b,,"}};
  const auto s = resolve_ok(Signal::kMetrics, env);
  EXPECT_EQ(header(s, "authorization"), "Bearer abc==");
  EXPECT_EQ(header(s, "x-tenant"), "t,1");
  EXPECT_EQ(header(s, "empty"), "");
  EXPECT_EQ(header(s, "plus"), "a+b");
  EXPECT_EQ(s.headers.size(), 4u);
}

TEST(OtlpEndpoint, BadHeaderListsNameTheVariableButNeverTheValue) {
  const std::vector<std::string> bad = {
      "token-without-equals-SECRETVALUE", "k=SECRETVALUE%zz",    "=SECRETVALUE",
      "k=SECRETVALUE%0D%0AInjected: yes", "bad key=SECRETVALUE", "k=SECRETVALUE%4"};
  for (const auto& value : bad) {
    const auto errors =
        resolve_errors(Signal::kTraces, {{"OTEL_EXPORTER_OTLP_TRACES_HEADERS", value}});
    ASSERT_EQ(errors.size(), 1u) << value;
    EXPECT_EQ(errors[0].subject, "OTEL_EXPORTER_OTLP_TRACES_HEADERS");
    EXPECT_EQ(all_text(errors).find("SECRETVALUE"), std::string::npos) << all_text(errors);
  }
}

TEST(OtlpEndpoint, Dash0BaseAddsBearerAndDatasetHeaders) {
  const Env env = {{"DASH0_OTLP_BASE_URL", "https://ingress.eu-west-1.aws.dash0.com/"},
                   {"DASH0_API_KEY", "auth_s3cr3t"},
                   {"DASH0_DATASET", "production"}};
  const auto s = resolve_ok(Signal::kLogs, env);
  EXPECT_EQ(s.url, "https://ingress.eu-west-1.aws.dash0.com/v1/logs");
  EXPECT_TRUE(s.dash0);
  EXPECT_EQ(header(s, "Authorization"), "Bearer auth_s3cr3t");
  EXPECT_EQ(header(s, "Dash0-Dataset"), "production");
}

TEST(OtlpEndpoint, Dash0KeyIsNotSentToOtherEndpoints) {
  const Env env = {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"},
                   {"DASH0_OTLP_BASE_URL", "https://dash0.example"},
                   {"DASH0_API_KEY", "auth_s3cr3t"},
                   {"DASH0_DATASET", "production"}};
  const auto s = resolve_ok(Signal::kTraces, env);
  EXPECT_FALSE(s.dash0);
  EXPECT_FALSE(header(s, "authorization"));
  EXPECT_FALSE(header(s, "dash0-dataset"));
}

TEST(OtlpEndpoint, ExplicitHeadersWinOverDash0Headers) {
  const Env env = {{"DASH0_OTLP_BASE_URL", "https://dash0.example"},
                   {"DASH0_API_KEY", "auth_s3cr3t"},
                   {"DASH0_DATASET", "production"},
                   {"OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer other,dash0-dataset=dev"}};
  const auto s = resolve_ok(Signal::kTraces, env);
  EXPECT_EQ(header(s, "authorization"), "Bearer other");
  EXPECT_EQ(header(s, "dash0-dataset"), "dev");
  EXPECT_EQ(s.headers.size(), 2u);
}

TEST(OtlpEndpoint, BadDash0KeyIsReportedWithoutShowingIt) {
  const auto errors = resolve_errors(
      Signal::kTraces,
      {{"DASH0_OTLP_BASE_URL", "https://d.example"}, {"DASH0_API_KEY", "auth_s3cr3t with space"}});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].subject, "DASH0_API_KEY");
  EXPECT_EQ(all_text(errors).find("s3cr3t"), std::string::npos);
}

TEST(OtlpEndpoint, OptionsSignalSpecificWinsOverGeneric) {
  const Env env = {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://g:4318"},
                   {"OTEL_EXPORTER_OTLP_TIMEOUT", "3000"},
                   {"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "0"},
                   {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"},
                   {"OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "none"},
                   {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"},
                   {"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "HTTP/JSON"},
                   {"OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"},
                   {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/etc/traces-ca.pem"},
                   {"OTEL_EXPORTER_OTLP_CLIENT_KEY", "/etc/key.pem"},
                   {"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/etc/cert.pem"}};
  const auto traces = resolve_ok(Signal::kTraces, env);
  EXPECT_EQ(traces.timeout, std::chrono::milliseconds(3000));
  EXPECT_TRUE(traces.gzip);
  EXPECT_EQ(traces.content_type, ContentType::kProtobuf);
  EXPECT_EQ(traces.ca_file, "/etc/traces-ca.pem");
  EXPECT_EQ(traces.client_key_file, "/etc/key.pem");
  EXPECT_EQ(traces.client_cert_file, "/etc/cert.pem");
  const auto metrics = resolve_ok(Signal::kMetrics, env);
  EXPECT_EQ(metrics.timeout, std::chrono::milliseconds(0));  // 0 = no limit
  EXPECT_EQ(metrics.ca_file, "/etc/ca.pem");
  const auto logs = resolve_ok(Signal::kLogs, env);
  EXPECT_FALSE(logs.gzip);
  EXPECT_EQ(logs.content_type, ContentType::kJson);
}

TEST(OtlpEndpoint, TimeoutAcceptsUnits) {
  EXPECT_EQ(resolve_ok(Signal::kTraces, {{"OTEL_EXPORTER_OTLP_TIMEOUT", "5s"}}).timeout,
            std::chrono::milliseconds(5000));
  EXPECT_EQ(resolve_ok(Signal::kTraces, {{"OTEL_EXPORTER_OTLP_TIMEOUT", "250ms"}}).timeout,
            std::chrono::milliseconds(250));
}

TEST(OtlpEndpoint, InvalidOptionsAreErrorsNamingTheVariable) {
  const Env env = {{"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-5"},
                   {"OTEL_EXPORTER_OTLP_COMPRESSION", "brotli"},
                   {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"},
                   {"OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"}};
  const auto errors = resolve_errors(Signal::kTraces, env);
  std::vector<std::string> subjects;
  for (const auto& e : errors) subjects.push_back(e.subject);
  EXPECT_EQ(subjects, (std::vector<std::string>{
                          "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                          "OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"}));
  const std::string text = all_text(errors);
  EXPECT_NE(text.find("\"-5\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"brotli\""), std::string::npos) << text;
  EXPECT_NE(text.find("grpc is not supported"), std::string::npos) << text;
}

TEST(OtlpEndpoint, InvalidUrlsAreRejected) {
  const std::vector<std::string> bad = {
      "ftp://h:21",    "localhost:4318", "http://",         "http://:4318", "http://h:99999",
      "http://h:port", "http://h:0/x",   "http://h 1:4318", "http://[::1",  "http://h:4318/a b"};
  for (const auto& url : bad) {
    const auto errors =
        resolve_errors(Signal::kMetrics, {{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", url}});
    ASSERT_EQ(errors.size(), 1u) << url;
    EXPECT_EQ(errors[0].subject, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
  }
}

TEST(OtlpEndpoint, CredentialsInUrlAreRejectedWithoutEchoingThem) {
  const auto errors = resolve_errors(
      Signal::kTraces, {{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://user:hunter2pw@h:4318/?key=qk"}});
  ASSERT_EQ(errors.size(), 1u);
  const auto text = all_text(errors);
  EXPECT_EQ(text.find("hunter2pw"), std::string::npos) << text;
  EXPECT_EQ(text.find("qk"), std::string::npos) << text;
  EXPECT_NE(text.find("credentials"), std::string::npos) << text;
}

TEST(OtlpEndpoint, UrlHelpers) {
  EXPECT_EQ(join_base_url("http://h", "v1/logs"), "http://h/v1/logs");
  EXPECT_EQ(join_base_url("http://h/", "/v1/logs"), "http://h/v1/logs");
  EXPECT_EQ(join_base_url("http://h/a#f", "v1/logs"), "http://h/a/v1/logs#f");
  EXPECT_EQ(with_root_path("http://h:1"), "http://h:1/");
  EXPECT_EQ(with_root_path("http://h:1#x"), "http://h:1/#x");
  EXPECT_EQ(with_root_path("http://h:1/p"), "http://h:1/p");
}

TEST(OtlpEndpoint, ProcessEnvironmentLookup) {
  ::setenv("EMP_DELIVER_TEST_VARIABLE", "value-1", 1);
  const auto lookup = process_env_lookup();
  EXPECT_EQ(lookup("EMP_DELIVER_TEST_VARIABLE"), "value-1");
  ::unsetenv("EMP_DELIVER_TEST_VARIABLE");
  EXPECT_FALSE(lookup("EMP_DELIVER_TEST_VARIABLE"));
}

}  // namespace
}  // namespace emp::telemetry::deliver
