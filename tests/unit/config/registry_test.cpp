// The registry is complete, consistent and self-validating: every required
// variable is declared once, secrets are flagged, and every default parses.
#include "config/registry.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "config/parse.hpp"
#include "emp/telemetry/config.hpp"
#include "encode/gzip.hpp"

namespace emp::telemetry::config {
namespace {

TEST(Registry, NamesAreUniqueAndDocumented) {
  std::set<std::string_view> names;
  for (const VarSpec& s : specs()) {
    EXPECT_TRUE(names.insert(s.name).second) << "declared twice: " << s.name;
    EXPECT_FALSE(s.description.empty()) << s.name;
    EXPECT_FALSE(s.presets.empty()) << s.name;
    EXPECT_FALSE(type_text(s.type).empty()) << s.name;
    EXPECT_EQ(&spec(s.id), &s);
    EXPECT_EQ(find_spec(s.name), &s);
    for (char c : s.name) EXPECT_TRUE((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  }
  EXPECT_EQ(find_spec("NOT_A_VARIABLE"), nullptr);
  EXPECT_EQ(find_spec("fluentd_port"), nullptr);
}

// EMP_COMPRESSION_LEVEL is handed to encode::gzip_compress as is: its range
// and default must be the compressor's.
TEST(Registry, CompressionLevelMatchesTheCompressor) {
  const VarSpec* s = find_spec("EMP_COMPRESSION_LEVEL");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->lo, encode::kGzipMinLevel);
  EXPECT_EQ(s->hi, encode::kGzipMaxLevel);
  EXPECT_EQ(s->default_text, std::to_string(encode::kGzipDefaultLevel));
  EXPECT_EQ(Config{}.compression_level, encode::kGzipDefaultLevel);
  EXPECT_EQ(OtlpExport{}.gzip_level, encode::kGzipDefaultLevel);
}

TEST(Registry, DeclaresEveryRequiredVariable) {
  const char* required[] = {"DASH0_API_KEY",
                            "DASH0_DATASET",
                            "DASH0_OTLP_BASE_URL",
                            "DASH0_API_BASE_URL",
                            "OTEL_ENABLED",
                            "SERVICE_NAME",
                            "SERVICE_VERSION",
                            "SERVICE_TYPE",
                            "MACHINE_ID",
                            "WORKER_ID",
                            "FLUENTD_HOST",
                            "FLUENTD_PORT",
                            "FLUENTD_SECURE",
                            "OTEL_COLLECTOR_TRACES_ENDPOINT",
                            "OTEL_COLLECTOR_METRICS_ENDPOINT",
                            "SENTRY_DSN",
                            "SENTRY_ENVIRONMENT",
                            "SENTRY_SAMPLE_RATE",
                            "LOG_LEVEL",
                            "LOG_DIR",
                            "TELEMETRY_ENV",
                            "EMP_LOG_FILE",
                            "EMP_LOG_MAX_FILE_SIZE",
                            "EMP_LOG_MAX_FILES",
                            "EMP_LOG_MAX_MESSAGE_BYTES",
                            "EMP_LOG_MAX_FIELD_BYTES",
                            "EMP_LOG_STDERR",
                            "EMP_QUEUE_SIZE",
                            "EMP_QUEUE_FULL_POLICY",
                            "EMP_QUEUE_BLOCK_TIMEOUT",
                            "EMP_FLUSH_INTERVAL",
                            "EMP_SHUTDOWN_TIMEOUT",
                            "OTEL_SDK_DISABLED",
                            "OTEL_SERVICE_NAME",
                            "OTEL_RESOURCE_ATTRIBUTES",
                            "OTEL_TRACES_SAMPLER",
                            "OTEL_TRACES_SAMPLER_ARG",
                            "OTEL_PROPAGATORS",
                            "OTEL_BSP_SCHEDULE_DELAY",
                            "OTEL_BSP_EXPORT_TIMEOUT",
                            "OTEL_BSP_MAX_QUEUE_SIZE",
                            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                            "OTEL_BLRP_SCHEDULE_DELAY",
                            "OTEL_BLRP_EXPORT_TIMEOUT",
                            "OTEL_BLRP_MAX_QUEUE_SIZE",
                            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
                            "OTEL_METRIC_EXPORT_INTERVAL",
                            "OTEL_METRIC_EXPORT_TIMEOUT",
                            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                            "OTEL_ATTRIBUTE_COUNT_LIMIT",
                            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
                            "OTEL_SPAN_EVENT_COUNT_LIMIT",
                            "OTEL_SPAN_LINK_COUNT_LIMIT",
                            "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                            "EMP_TRACES_SAMPLER_RULES",
                            "EMP_TRACES_EXPORT_ERRORS"};
  for (const char* name : required) EXPECT_NE(find_spec(name), nullptr) << name;
  for (const char* signal : {"", "TRACES_", "METRICS_", "LOGS_"}) {
    for (const char* option : {"ENDPOINT", "TIMEOUT", "PROTOCOL", "HEADERS", "COMPRESSION",
                               "CERTIFICATE", "CLIENT_KEY", "CLIENT_CERTIFICATE"}) {
      const std::string name = std::string("OTEL_EXPORTER_OTLP_") + signal + option;
      const VarSpec* s = find_spec(name);
      ASSERT_NE(s, nullptr) << name;
      EXPECT_EQ(s->secret, std::string(option) == "HEADERS") << name;
    }
  }
}

TEST(Registry, SecretsAreFlagged) {
  std::set<std::string_view> secrets;
  for (const VarSpec& s : specs()) {
    if (s.secret) secrets.insert(s.name);
  }
  const std::set<std::string_view> expected = {"DASH0_API_KEY",
                                               "SENTRY_DSN",
                                               "OTEL_EXPORTER_OTLP_HEADERS",
                                               "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                                               "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                                               "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
                                               "FLUENTD_SHARED_KEY",
                                               "FLUENTD_PASSWORD"};
  EXPECT_EQ(secrets, expected);
}

TEST(Registry, SpecDefaults) {
  // Defaults the protocol documents require.
  auto def = [](const char* name) { return std::string(find_spec(name)->default_text); };
  EXPECT_EQ(def("TELEMETRY_ENV"), "development");
  EXPECT_EQ(def("OTEL_BSP_SCHEDULE_DELAY"), "5000");
  EXPECT_EQ(def("OTEL_BSP_EXPORT_TIMEOUT"), "30000");
  EXPECT_EQ(def("OTEL_BSP_MAX_QUEUE_SIZE"), "2048");
  EXPECT_EQ(def("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"), "512");
  EXPECT_EQ(def("OTEL_BLRP_SCHEDULE_DELAY"), "1000");
  EXPECT_EQ(def("OTEL_METRIC_EXPORT_INTERVAL"), "60000");
  EXPECT_EQ(def("OTEL_METRIC_EXPORT_TIMEOUT"), "30000");
  EXPECT_EQ(def("OTEL_EXPORTER_OTLP_TIMEOUT"), "10000");
  EXPECT_EQ(def("OTEL_EXPORTER_OTLP_PROTOCOL"), "http/protobuf");
  EXPECT_EQ(def("OTEL_TRACES_SAMPLER"), "parentbased_always_on");
  EXPECT_EQ(def("OTEL_PROPAGATORS"), "tracecontext,baggage");
  EXPECT_EQ(def("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"), "cumulative");
  EXPECT_EQ(def("OTEL_ATTRIBUTE_COUNT_LIMIT"), "128");
  EXPECT_EQ(def("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"), "");
  EXPECT_EQ(def("FLUENTD_PORT"), "24224");
  EXPECT_EQ(def("EMP_TRACES_EXPORT_ERRORS"), "true");
  EXPECT_EQ(find_spec("WORKER_ID")->presets, "worker");
}

TEST(Registry, PublicViewMatches) {
  const auto& vars = variables();
  ASSERT_EQ(vars.size(), kVarCount);
  for (std::size_t i = 0; i < vars.size(); ++i) {
    const VarSpec& s = specs()[i];
    EXPECT_EQ(vars[i].name, s.name);
    EXPECT_EQ(vars[i].default_text, s.default_text);
    EXPECT_EQ(vars[i].secret, s.secret);
    EXPECT_EQ(vars[i].description, s.description);
    EXPECT_EQ(vars[i].presets, s.presets);
    EXPECT_EQ(vars[i].type, type_text(s.type));
  }
  EXPECT_EQ(&variables(), &vars);  // built once
}

TEST(Registry, EveryDefaultIsValid) {
  // finalize() validates each default with the same parser as user input;
  // a default that does not parse would make every start-up fail.
  Options options;
  options.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  auto config = finalize(options);
  ASSERT_TRUE(config) << config.errors().front().to_string();
  for (const VarSpec& s : specs()) {
    if (s.default_text.empty() || is_computed_default(s)) continue;
    EXPECT_EQ(config->raw(s.name), std::string(s.default_text)) << s.name;
  }
}

}  // namespace
}  // namespace emp::telemetry::config
