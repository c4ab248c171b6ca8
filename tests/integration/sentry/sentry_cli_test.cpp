// The errors track through the CLI and across processes: `emp-telemetry
// crash` dies by each signal (and std::terminate) in a child process, then a
// client in this process finds the record and delivers one fatal event with
// the crashing stack; `emp-telemetry gen --errors N` delivers N events the
// official parser accepts, and against a rate limit sends one request and
// then a client report.
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "integration/cli_gen/cli_process.hpp"
#include "sentry_support.hpp"

namespace emp::telemetry::sentry_test {
namespace {

using testing::LoopbackCollector;
using testing::Response;
using namespace std::chrono_literals;

struct CrashCase {
  const char* signal;       // --signal
  const char* type;         // exception.values[0].type
  const char* crash_frame;  // a function the stack must name
};

class CrashThenStart : public ::testing::TestWithParam<CrashCase> {};

TEST_P(CrashThenStart, NextClientDeliversOneFatalEventWithTheCrashingStack) {
  const CrashCase& c = GetParam();
  Dir dir;
  const cli_test::Result crashed =
      cli_test::run_cli({"crash", "--signal", c.signal}, {{"LOG_DIR", dir.path().string()}}, 60s);
  ASSERT_NE(crashed.exit_code, 0) << cli_test::describe(crashed);
  std::size_t records = 0;
  for (const auto& f : fs::directory_iterator(dir.path() / "spool" / "crash"))
    records += f.path().extension() == ".emcr";
  ASSERT_EQ(records, 1u) << cli_test::describe(crashed);

  LoopbackCollector sentry;
  {
    auto client = make_client(dir.path(), dsn_for(sentry));
    ASSERT_TRUE(client);
    ASSERT_TRUE(client.value().flush(20s));
  }
  const auto events = items_of(parse_envelopes(sentry.requests(), dir.path()), "event");
  ASSERT_EQ(events.size(), 1u);
  const json& e = events[0];
  EXPECT_EQ(e["level"], "fatal");
  EXPECT_EQ(e["release"], "1.2.3");
  EXPECT_EQ(e["tags"]["service_name"], "sentry-test");
  EXPECT_EQ(e["event_id"].get<std::string>().size(), 32u);
  const json& ex = e["exception"]["values"][0];
  EXPECT_EQ(ex["type"], c.type) << ex.dump();
  EXPECT_EQ(ex["mechanism"]["handled"], false);
  bool named = false;
  for (const json& f : ex["stacktrace"]["frames"])
    named = named || f.value("function", "").find(c.crash_frame) != std::string::npos;
  EXPECT_TRUE(named) << ex["stacktrace"].dump(1);
  EXPECT_FALSE(e["debug_meta"]["images"].empty());
  EXPECT_EQ(e["contexts"]["crashed_process"]["command"], "crash");
  // Sent once: the record is gone, a second start sends nothing.
  sentry.clear();
  {
    auto client = make_client(dir.path(), dsn_for(sentry));
    ASSERT_TRUE(client);
    ASSERT_TRUE(client.value().flush(10s));
  }
  EXPECT_EQ(sentry.request_count(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Signals, CrashThenStart,
                         ::testing::Values(CrashCase{"SEGV", "SIGSEGV", "deliberate_segv"},
                                           CrashCase{"BUS", "SIGBUS", "deliberate_bus"},
                                           CrashCase{"ILL", "SIGILL", "deliberate_ill"},
                                           CrashCase{"FPE", "SIGFPE", "deliberate_fpe"},
                                           CrashCase{"ABRT", "SIGABRT", "deliberate_abort"},
                                           CrashCase{"terminate", "std::runtime_error",
                                                     "deliberate_terminate"}),
                         [](const auto& info) { return std::string(info.param.signal); });

TEST(GenErrors, DeliversEveryEventWithStackAndTraceLink) {
  Dir dir;
  LoopbackCollector sentry;
  const cli_test::Result r =
      cli_test::run_cli({"gen", "--errors", "200"},
                        {{"SENTRY_DSN", dsn_for(sentry)}, {"LOG_DIR", dir.path().string()}}, 120s);
  ASSERT_EQ(r.exit_code, 0) << cli_test::describe(r);
  const auto envelopes = parse_envelopes(sentry.requests(), dir.path());
  const auto events = items_of(envelopes, "event");
  ASSERT_EQ(events.size(), 200u);
  std::set<std::string> ids;
  for (const json& e : events) {
    ids.insert(e["event_id"].get<std::string>());
    const json& values = e["exception"]["values"];
    ASSERT_EQ(values.size(), 2u) << e.dump();
    EXPECT_EQ(values[0]["value"], "inference server answered HTTP 500");
    EXPECT_EQ(values[1]["type"], "std::runtime_error");
    EXPECT_FALSE(values[1]["stacktrace"]["frames"].empty());
    EXPECT_EQ(e["contexts"]["trace"]["trace_id"].get<std::string>().size(), 32u);
    EXPECT_EQ(e["contexts"]["trace"]["span_id"].get<std::string>().size(), 16u);
    EXPECT_EQ(e["tags"]["job_id"].get<std::string>().rfind("job-", 0), 0u);
  }
  EXPECT_EQ(ids.size(), 200u);
}

TEST(GenErrors, RateLimitedEndpointGetsNoRetriesAndThenAClientReport) {
  Dir dir;
  LoopbackCollector sentry;
  Response limited = Response::with_status(429, "{}", "application/json");
  limited.headers.emplace_back("X-Sentry-Rate-Limits", "60:error:organization");
  sentry.enqueue(limited);
  const cli_test::Result r =
      cli_test::run_cli({"gen", "--errors", "20"},
                        {{"SENTRY_DSN", dsn_for(sentry)}, {"LOG_DIR", dir.path().string()}}, 120s);
  EXPECT_NE(r.exit_code, 0) << cli_test::describe(r);  // not everything was delivered
  const auto requests = sentry.requests();
  const auto envelopes = parse_envelopes(requests, dir.path());
  EXPECT_EQ(items_of(envelopes, "event").size(), 1u);  // the one the server refused
  ASSERT_GE(requests.size(), 2u);
  const auto reports = items_of(envelopes, "client_report");
  std::uint64_t backoff = 0;
  for (const json& rep : reports) backoff += discarded(rep, "ratelimit_backoff", "error");
  EXPECT_EQ(backoff, 19u);
  EXPECT_NE(r.out.find("rate_limited=20"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace emp::telemetry::sentry_test
