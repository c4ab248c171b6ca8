// The dotenv format of EMP_ENV_FILE, and finalize() reading such a file
// below the real environment, with the file as the origin, errors naming
// file and line, and secrets from the file redacted like any other.
#include "config/dotenv.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "emp/telemetry/config.hpp"

namespace emp::telemetry {
namespace {

using config::parse_dotenv;
namespace fs = std::filesystem;

std::map<std::string, std::string> vars(std::string_view text) {
  auto r = parse_dotenv(text);
  EXPECT_TRUE(r.ok()) << "line " << r.error_line << ": " << r.error;
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : r.variables) out[k] = v;  // a later line wins
  return out;
}

TEST(Dotenv, CommentsQuotesExportAndNoExpansion) {
  const auto v = vars(
      "\xEF\xBB\xBF# comment\r\n"
      "\n"
      "export SERVICE_NAME=api\r\n"
      "  LOG_LEVEL = debug   # trailing comment\n"
      "A=x#not-a-comment\n"
      "B='single $HOME \\n # kept'\n"
      "C=\"tab\\there \\\"q\\\" \\$HOME $HOME\"  # c\n"
      "EMPTY=\n"
      "A=later wins\n");
  EXPECT_EQ(v.at("SERVICE_NAME"), "api");
  EXPECT_EQ(v.at("LOG_LEVEL"), "debug");
  EXPECT_EQ(v.at("A"), "later wins");
  EXPECT_EQ(v.at("B"), "single $HOME \\n # kept");
  EXPECT_EQ(v.at("C"), "tab\there \"q\" $HOME $HOME");
  EXPECT_EQ(v.at("EMPTY"), "");
}

TEST(Dotenv, MalformedLinesNameTheLineNotTheValue) {
  struct Case {
    std::string_view text;
    std::size_t line;
  };
  for (const Case& c : {Case{"A=1\nnot a line\n", 2}, Case{"1A=x\n", 1},
                        Case{"A=1\nB='secret-value\n", 2}, Case{"A=\"secret-value\n", 1},
                        Case{"A=\"secret-value\" junk\n", 1}, Case{"A=\"\\q secret-value\"\n", 1},
                        Case{"A=sec\x01ret-value\n", 1}, Case{"export\n", 1}}) {
    const auto r = parse_dotenv(c.text);
    EXPECT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error_line, c.line) << c.text << " -> " << r.error;
    EXPECT_EQ(r.error.find("secret-value"), std::string::npos) << r.error;
    EXPECT_TRUE(r.variables.empty());
  }
}

class EnvFile : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / ("emp-dotenv-" + std::to_string(::getpid()) + ".env");
  }
  void TearDown() override { fs::remove(path_); }
  void write(std::string_view text) { std::ofstream(path_) << text; }
  Expected<Config> finalize_with(std::map<std::string, std::string> env) {
    Options o;
    env["EMP_ENV_FILE"] = path_.string();
    o.env = [env](std::string_view k) -> std::optional<std::string> {
      auto it = env.find(std::string(k));
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    o.env_names = [env] {
      std::vector<std::string> names;
      for (const auto& [k, v] : env) names.push_back(k);
      return names;
    };
    return finalize(o);
  }
  fs::path path_;
};

const Setting& setting(const Config& c, std::string_view name) {
  for (const Setting& s : c.settings) {
    if (s.name == name) return s;
  }
  static const Setting kMissing{};
  ADD_FAILURE() << "no setting " << name;
  return kMissing;
}

TEST_F(EnvFile, FileValuesApplyBelowTheRealEnvironmentWithTheFileAsOrigin) {
  write(
      "SERVICE_NAME=from-file\nLOG_LEVEL=debug\nDASH0_API_KEY=auth_FILESECRET99\n"
      "EMP_LOG_LEVLE=x\n");
  auto c = finalize_with({{"LOG_LEVEL", "error"}});
  ASSERT_TRUE(c) << c.errors().front().to_string();
  EXPECT_EQ(c->service_name, "from-file");
  EXPECT_EQ(setting(*c, "SERVICE_NAME").origin, Origin::kEnvFile);
  EXPECT_EQ(setting(*c, "SERVICE_NAME").from, path_.string());
  EXPECT_EQ(c->log_level, Level::kError);  // the real environment wins
  EXPECT_EQ(setting(*c, "LOG_LEVEL").origin, Origin::kEnvironment);
  EXPECT_EQ(c->dash0_api_key, "auth_FILESECRET99");
  EXPECT_EQ(setting(*c, "DASH0_API_KEY").display, "***");
  bool warned = false;
  for (const auto& n : c->notices) warned = warned || n.find("EMP_LOG_LEVLE") != std::string::npos;
  EXPECT_TRUE(warned) << "unknown names in the file are warned about too";
}

TEST_F(EnvFile, MalformedLineIsAConfigurationErrorNamingFileAndLine) {
  write("SERVICE_NAME=ok\nDASH0_API_KEY='auth_SECRET_unterminated\n");
  auto c = finalize_with({});
  ASSERT_FALSE(c);
  const std::string text = c.errors().front().to_string();
  EXPECT_EQ(c.errors().front().subject, "EMP_ENV_FILE");
  EXPECT_NE(text.find(path_.string()), std::string::npos) << text;
  EXPECT_NE(text.find("line 2"), std::string::npos) << text;
  EXPECT_EQ(text.find("auth_SECRET"), std::string::npos) << text;
}

TEST_F(EnvFile, MissingFileIsAnError) {
  auto c = finalize_with({});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.errors().front().subject, "EMP_ENV_FILE");
}

TEST(UnknownVariables, MisspellingsAndUnsupportedStandardVariablesAreNamed) {
  const std::map<std::string, std::string> env = {
      {"OTEL_EXPORTER_OTLP_ENDPIONT", "http://c:4318"},
      {"EMP_LOG_LEVLE", "debug"},
      {"OTEL_EXPORTER_OTLP_INSECURE", "true"},
      {"OTEL_PYTHON_LOG_CORRELATION", "true"},  // another SDK's: not ours, no warning
      {"PATH", "/usr/bin"},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/v1/traces"}};
  Options o;
  o.env = [env](std::string_view k) -> std::optional<std::string> {
    auto it = env.find(std::string(k));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  o.env_names = [env] {
    std::vector<std::string> names;
    for (const auto& [k, v] : env) names.push_back(k);
    return names;
  };
  auto c = finalize(o);
  ASSERT_TRUE(c) << c.errors().front().to_string();
  std::string all;
  for (const auto& n : c->notices) all += n + "\n";
  EXPECT_NE(all.find("OTEL_EXPORTER_OTLP_ENDPIONT\" is not a variable this client reads; did you "
                     "mean OTEL_EXPORTER_OTLP_ENDPOINT?"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("did you mean LOG_LEVEL?"), std::string::npos) << all;
  EXPECT_NE(all.find("OTEL_EXPORTER_OTLP_INSECURE is a standard OpenTelemetry variable"),
            std::string::npos)
      << all;
  EXPECT_EQ(all.find("OTEL_PYTHON"), std::string::npos) << all;
  EXPECT_EQ(all.find("PATH"), std::string::npos) << all;
  EXPECT_NE(all.find("ends in /v1/traces"), std::string::npos) << all;
}

TEST(Outputs, ExportersPrometheusAliasesAndRoutes) {
  const std::map<std::string, std::string> env = {{"OTEL_TRACES_EXPORTER", "none"},
                                                  {"OTEL_METRICS_EXPORTER", "console"},
                                                  {"OTEL_LOG_LEVEL", "debug"},
                                                  {"OTEL_EXPORTER_PROMETHEUS_PORT", "9464"},
                                                  {"OTEL_EXPORTER_PROMETHEUS_HOST", "::1"},
                                                  {"EMP_LOG_STDOUT", "true"},
                                                  {"EMP_LOG_FILES", "false"},
                                                  {"FLUENTD_HOST", "fluentd"}};
  Options o;
  o.env = [env](std::string_view k) -> std::optional<std::string> {
    auto it = env.find(std::string(k));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto c = finalize(o);
  ASSERT_TRUE(c) << c.errors().front().to_string();
  EXPECT_EQ(c->traces_exporter, ExporterKind::kNone);
  EXPECT_EQ(c->metrics_exporter, ExporterKind::kConsole);
  EXPECT_EQ(c->diagnostics_level, Level::kDebug);
  EXPECT_EQ(c->prometheus_port, 9464);
  EXPECT_EQ(c->prometheus_host, "::1");
  EXPECT_TRUE(c->log_to_stdout);
  EXPECT_FALSE(c->log_files);
  const auto routes = describe_routes(*c);
  ASSERT_GE(routes.size(), 4u);
  EXPECT_EQ(routes[0], "logs:    stdout (JSON lines)");
  EXPECT_EQ(routes[1], "traces:  off, because OTEL_TRACES_EXPORTER=none");
  EXPECT_NE(routes[2].find("stdout"), std::string::npos) << routes[2];
  EXPECT_NE(routes[2].find("Prometheus http://::1:9464/metrics"), std::string::npos) << routes[2];
  EXPECT_NE(routes[3].find("fluentd: forward protocol to "), std::string::npos) << routes[3];

  auto bad = finalize([&] {
    Options b;
    b.env = [](std::string_view k) -> std::optional<std::string> {
      if (k == "OTEL_TRACES_EXPORTER") return std::string("otlp,console");
      return std::nullopt;
    };
    return b;
  }());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.errors().front().subject, "OTEL_TRACES_EXPORTER");
}

}  // namespace
}  // namespace emp::telemetry
