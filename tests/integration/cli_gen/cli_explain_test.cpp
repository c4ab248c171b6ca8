// The CLI explains itself and tells the truth, run as the real binary:
// `health` does not pass a status file's escape sequences to the terminal
// and refuses oversized files; counted nouns agree ("1 problem"); an
// unusable LOG_DIR fails `config --check`; the demo shows a spooled column
// and fails when a destination rejected its data, naming the server's answer.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "integration/cli_gen/cli_process.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry::cli_test {
namespace {

using nlohmann::json;
using testing::LoopbackCollector;
using testing::Response;
using namespace std::chrono_literals;

bool has_byte(const std::string& s, char c) { return s.find(c) != std::string::npos; }

TEST(CliHealthInput, EscapeSequencesInStatusFilesAreShownEscaped) {
  TempDir dir;
  fs::create_directories(dir.path() / "status");
  json doc = {{"service_name", "svc\x1b[31mRED"},
              {"service_type", "api"},
              {"machine_id",
               "m\x9b"
               "1"},
              {"pid", 1},
              {"written_at_unix_ms", 1},
              {"status_interval_ms", 0},
              {"last_error", "boom\x1b]0;owned\x07"},
              {"tracks", {{"logs\x1b[2J", {{"offered", 1}, {"written", 1}}}}},
              {"destinations",
               {{{"name",
                  "otlp \xe2\x80\xae"
                  "evil"},
                 {"track", "logs"},
                 {"state", "healthy"}}}}};
  std::ofstream(dir.path() / "status" / "svc-1.json")
      << doc.dump(-1, ' ', false, json::error_handler_t::replace);
  const Result r = run_cli({"health", "--dir", dir.path().string()}, {}, 60s);
  EXPECT_FALSE(has_byte(r.out, '\x1b')) << describe(r);
  EXPECT_FALSE(has_byte(r.out, '\x07')) << describe(r);
  EXPECT_EQ(r.out.find("\xe2\x80\xae"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("svc\\x1b[31mRED"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("boom\\x1b]0;owned\\x07"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("1 process:"), std::string::npos) << describe(r);
}

TEST(CliFailover, DoctorAndHealthShowTheActiveEndpointAndWhy) {
  LoopbackCollector backup;
  ASSERT_TRUE(backup.start());
  LoopbackCollector gone;  // a port where nothing listens any more
  ASSERT_TRUE(gone.start());
  const std::string primary = gone.base_url();
  gone.stop();
  TempDir dir;
  const std::map<std::string, std::string> env{
      {"LOG_DIR", dir.path().string()},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", primary},
      {"EMP_OTLP_FAILOVER_ENDPOINTS", backup.base_url()},
      {"EMP_CIRCUIT_FAILURE_THRESHOLD", "1"},
      {"EMP_RETRY_INITIAL_INTERVAL", "20ms"}};
  const Result r = run_cli({"doctor"}, env, 60s);
  // The primary's own probe fails; the marker still arrives, through the backup.
  EXPECT_EQ(r.exit_code, 2) << describe(r);
  EXPECT_NE(r.out.find("delivered through the failover endpoint otlp-http " +
                       backup.url("/v1/traces")),
            std::string::npos)
      << describe(r);
  EXPECT_NE(r.out.find("active endpoint otlp-http " + backup.url("/v1/traces") +
                       ": failover: the primary endpoint's circuit is open"),
            std::string::npos)
      << describe(r);
  EXPECT_GT(backup.request_count(), 0u);

  // A status file with the same state, read by `health`: failover is shown,
  // not reported as a problem (data flows).
  json doc = {{"service_name", "svc"},
              {"pid", 1},
              {"destinations",
               {{{"name", "otlp-http " + primary + "/v1/traces"},
                 {"track", "traces"},
                 {"state", "failover"},
                 {"active_endpoint", "otlp-http " + backup.url("/v1/traces")},
                 {"active_reason", "failover: the primary endpoint's circuit is open"},
                 {"endpoints",
                  {{{"name", "otlp-http " + primary + "/v1/traces"},
                    {"state", "circuit_open"},
                    {"active", false},
                    {"requests", 3}},
                   {{"name", "otlp-http " + backup.url("/v1/traces")},
                    {"state", "healthy"},
                    {"active", true},
                    {"requests", 9},
                    {"delivered", 90}}}}}}}};
  fs::create_directories(dir.path() / "status");
  std::ofstream(dir.path() / "status" / "svc-1.json") << doc.dump();
  const Result h = run_cli({"health", "--dir", dir.path().string()}, {}, 60s);
  EXPECT_NE(h.out.find("active endpoint otlp-http " + backup.url("/v1/traces") + ": failover"),
            std::string::npos)
      << describe(h);
  EXPECT_NE(h.out.find("* otlp-http " + backup.url("/v1/traces")), std::string::npos)
      << describe(h);
}

TEST(CliHealthInput, OversizedStatusFileIsSkippedNotRead) {
  TempDir dir;
  fs::create_directories(dir.path() / "status");
  {
    std::ofstream out(dir.path() / "status" / "huge-1.json");
    out << "{\"service_name\":\"" << std::string(3u << 20, 'x') << "\"}";
  }
  const Result r = run_cli({"health", "--dir", dir.path().string()}, {}, 60s);
  EXPECT_EQ(r.exit_code, 1) << describe(r);  // no (usable) status file
  EXPECT_NE(r.err.find("not a status file"), std::string::npos) << describe(r);
  EXPECT_EQ(r.out.find("xxxxxxxx"), std::string::npos);
}

TEST(CliConfigTruth, OneProblemIsSingularAndAnUnusableLogDirFailsTheCheck) {
  TempDir dir;
  const Result one = run_cli({"gen", "--spans", "1"}, {{"EMP_FLUSH_INTERVAL", "banana"}}, 60s);
  EXPECT_EQ(one.exit_code, 1) << describe(one);
  EXPECT_NE(one.err.find("(1 problem)"), std::string::npos) << describe(one);

  std::ofstream(dir.path() / "plain-file") << "x";
  const Result bad =
      run_cli({"config", "--check"}, {{"LOG_DIR", (dir.path() / "plain-file" / "logs").string()}});
  EXPECT_EQ(bad.exit_code, 1) << describe(bad);
  EXPECT_NE(bad.err.find("LOG_DIR"), std::string::npos) << describe(bad);
  EXPECT_NE(bad.err.find("not a directory"), std::string::npos) << describe(bad);

  const Result good = run_cli({"config", "--check"}, {{"LOG_DIR", (dir.path() / "new").string()}});
  EXPECT_EQ(good.exit_code, 0) << describe(good);
}

TEST(CliDemoTruth, SpooledColumnAndRejectionsFailTheDemo) {
  LoopbackCollector collector;
  collector.set_default(Response::with_status(400, "invalid span: trace_id must be 16 bytes"));
  TempDir dir;
  const Result r = run_cli({"demo", "--jobs", "2", "--slow-ms", "10"},
                           {{"LOG_DIR", dir.path().string()},
                            {"OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url()},
                            {"EMP_SHUTDOWN_TIMEOUT", "10s"}},
                           120s);
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.out.find("spooled"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("rejected"), std::string::npos) << describe(r);
  EXPECT_NE(r.out.find("trace_id must be 16 bytes"), std::string::npos) << describe(r);
}

TEST(CliExplains, VersionUnknownCommandUsageAndHelp) {
  const Result version = run_cli({"--version"});
  EXPECT_EQ(version.exit_code, 0) << describe(version);
  EXPECT_EQ(version.out.rfind("emp-telemetry 0.", 0), 0u) << describe(version);

  const Result bogus = run_cli({"bogus"});
  EXPECT_EQ(bogus.exit_code, 64) << describe(bogus);
  EXPECT_NE(bogus.err.find("unknown command 'bogus'"), std::string::npos) << describe(bogus);

  const Result help = run_cli({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("Usage: emp-telemetry "), std::string::npos) << describe(help);
  EXPECT_EQ(help.out.find(cli_path()), std::string::npos) << "usage shows this machine's path";
  EXPECT_NE(help.out.find("Global options"), std::string::npos) << describe(help);
  EXPECT_NE(help.out.find("64 usage error"), std::string::npos) << describe(help);
  const Result sub = run_cli({"config", "--help"});
  EXPECT_EQ(sub.out.find(cli_path()), std::string::npos) << describe(sub);
}

TEST(CliConfigTruth, WarnsAboutMisspellingsAndShowsRoutesFirst) {
  TempDir dir;
  const Result check =
      run_cli({"config", "--check"}, {{"LOG_DIR", dir.path().string()},
                                      {"OTEL_EXPORTER_OTLP_ENDPIONT", "http://127.0.0.1:4318"},
                                      {"OTEL_TRACES_EXPORTER", "none"}});
  EXPECT_EQ(check.exit_code, 0) << describe(check);
  EXPECT_NE(check.err.find("did you mean OTEL_EXPORTER_OTLP_ENDPOINT?"), std::string::npos)
      << describe(check);

  const Result table = run_cli({"config", "traces"}, {{"LOG_DIR", dir.path().string()},
                                                      {"OTEL_TRACES_EXPORTER", "none"},
                                                      {"OTEL_SDK_DISABLED", "false"}});
  EXPECT_EQ(table.exit_code, 0) << describe(table);
  const auto routes = table.out.find("where each track goes:");
  const auto variables = table.out.find("VARIABLE");
  ASSERT_NE(routes, std::string::npos) << describe(table);
  EXPECT_LT(routes, variables);
  EXPECT_NE(table.out.find("traces:  off, because OTEL_TRACES_EXPORTER=none"), std::string::npos)
      << describe(table);
  EXPECT_NE(table.out.find("OTEL_BSP_MAX_QUEUE_SIZE"), std::string::npos) << describe(table);
  EXPECT_EQ(table.out.find("FLUENTD_PORT"), std::string::npos) << "filter: traces only";
}

TEST(CliEnvFile, EveryCommandReadsItAndTheRealEnvironmentWins) {
  TempDir dir;
  const fs::path file = dir.path() / "service.env";
  std::ofstream(file) << "# service settings\nexport SERVICE_NAME=from-file\n"
                         "DASH0_API_KEY='auth_DOTENVSECRET'\nLOG_LEVEL=\"debug\"\n";
  const Result json_out = run_cli({"--env-file", file.string(), "config", "--json"},
                                  {{"LOG_DIR", dir.path().string()}, {"LOG_LEVEL", "error"}});
  ASSERT_EQ(json_out.exit_code, 0) << describe(json_out);
  EXPECT_EQ(json_out.out.find("auth_DOTENVSECRET"), std::string::npos);
  const json doc = json::parse(json_out.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << describe(json_out);
  for (const auto& s : doc["settings"]) {
    if (s["name"] == "SERVICE_NAME") {
      EXPECT_EQ(s["value"], "from-file");
      EXPECT_EQ(s["origin"], "env-file");
      EXPECT_EQ(s["file"], file.string());
    }
    if (s["name"] == "LOG_LEVEL") {
      EXPECT_EQ(s["value"], "error");  // the environment wins
    }
  }
  // The same through EMP_ENV_FILE, for another command.
  const Result gen = run_cli({"gen", "--logs", "1", "--json"},
                             {{"EMP_ENV_FILE", file.string()}, {"LOG_DIR", dir.path().string()}});
  EXPECT_EQ(gen.exit_code, 0) << describe(gen);

  std::ofstream(file) << "SERVICE_NAME=ok\nthis line is wrong\n";
  const Result bad = run_cli({"--env-file", file.string(), "config", "--check"});
  EXPECT_EQ(bad.exit_code, 1) << describe(bad);
  EXPECT_NE(bad.err.find(file.string()), std::string::npos) << describe(bad);
  EXPECT_NE(bad.err.find("line 2"), std::string::npos) << describe(bad);
}

}  // namespace
}  // namespace emp::telemetry::cli_test
