// `emp-telemetry gen --events N` against a loopback OTLP collector: each
// request body is decoded by the official OTLP schema
// (tests/conformance/otlp/decode.js) and the collector's own count of
// distinct events must equal what gen says it generated and delivered.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "integration/cli_gen/cli_process.hpp"
#include "support/loopback_collector.hpp"
#include "support/otlp_decoder.hpp"

namespace emp::telemetry::cli_test {
namespace {

using nlohmann::json;
using testing::LoopbackCollector;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

json decode_logs(const std::string& bytes) { return testing::decode_otlp("logs", bytes); }

TEST(CliGenEvents, TenThousandEventsArriveAsOtlpEventsTheOfficialSchemaAccepts) {
  LoopbackCollector collector;
  TempDir dir;
  TempDir scratch;
  const Result r = run_cli({"gen", "--events", "10000", "--json"},
                           {{"LOG_DIR", dir.path().string()},
                            {"SERVICE_NAME", "gen-events"},
                            {"OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url()}},
                           120s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json s = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(s.is_object()) << describe(r);
  EXPECT_TRUE(s.value("delivered", false)) << s.dump(2);
  EXPECT_EQ(s["tracks"]["events"].value("generated", 0u), 10000u) << s.dump(2);
  EXPECT_EQ(s["tracks"]["events"].value("written", 0u), 10000u);

  const std::set<std::string> vocabulary{"job_received", "job_started", "job_progress",
                                         "job_completed", "job_failed"};
  std::set<std::pair<std::string, std::string>> distinct;  // (job_id, event name)
  std::size_t records = 0;
  for (const auto& req : collector.requests()) {
    if (req.target != "/v1/logs") continue;
    const json d = decode_logs(req.body);
    ASSERT_TRUE(d.is_object());
    for (const auto& rl : d["resourceLogs"])
      for (const auto& sl : rl["scopeLogs"])
        for (const auto& rec : sl["logRecords"]) {
          const std::string name = rec["eventName"];
          if (name.empty()) continue;  // a log line, not an event
          ++records;
          EXPECT_TRUE(vocabulary.count(name)) << name;
          std::string job_id, attr_name;
          for (const auto& a : rec["attributes"]) {
            if (a["key"] == "job_id") job_id = a["value"]["stringValue"];
            if (a["key"] == "event.name") attr_name = a["value"]["stringValue"];
          }
          EXPECT_EQ(attr_name, name);
          EXPECT_EQ(job_id.rfind("job-", 0), 0u) << rec.dump();
          distinct.emplace(job_id, name);
        }
  }
  EXPECT_EQ(records, 10000u);
  EXPECT_EQ(distinct.size(), 10000u) << "every event arrived exactly once";
  // The JSON-lines events file has them too.
  std::ifstream in(dir.path() / "events.jsonl");
  std::size_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 10000u);
}

}  // namespace
}  // namespace emp::telemetry::cli_test
