// A collector that is down for 60 s while a service makes 1000 spans a
// second, with the defaults a new user has (no disk spool, the default
// memory cap): every span waits in memory and is delivered, once, when the
// collector comes back. Plain build only: a minute of wall time is enough.
#include <gtest/gtest.h>

#include "fault_support.hpp"

namespace emp::telemetry::faults {
namespace {

using testing::LoopbackCollector;
using testing::Response;

TEST(LongOutage, SixtySecondsAtAThousandSpansASecondWithoutSpoolLosesNothing) {
  const fs::path dir = temp_dir("long-outage");
  LoopbackCollector collector;
  collector.stop();
  AcceptedSpans accepted;
  accepted.rejecting = false;
  accepted.install(collector, Response::ok());
  auto env = fast_delivery_env(collector.base_url());
  // The user-facing defaults for everything that decides the outcome.
  env.erase("EMP_RETRY_INITIAL_INTERVAL");
  env.erase("EMP_RETRY_MAX_INTERVAL");
  env.erase("EMP_RETRY_MAX_ELAPSED_TIME");
  env.erase("EMP_CIRCUIT_FAILURE_THRESHOLD");
  env.erase("EMP_CIRCUIT_COOLDOWN");
  env["EMP_SPOOL_ENABLED"] = "false";
  env["EMP_SPOOL_DIR"] = (dir / "spool").string();
  auto made = make_client(dir, env);
  ASSERT_TRUE(made.ok());
  Client c = std::move(made).value();
  int seq = produce(c, 0, 1000, 60s);
  auto during = c.health().track(Track::kTraces);
  EXPECT_EQ(during.written, 0u);
  EXPECT_EQ(during.dropped_total(), 0u);
  ASSERT_TRUE(collector.restart());
  ASSERT_TRUE(c.flush(90s));
  auto h = c.health().track(Track::kTraces);
  EXPECT_EQ(h.offered, static_cast<std::uint64_t>(seq));
  EXPECT_EQ(h.written, static_cast<std::uint64_t>(seq));
  EXPECT_EQ(h.dropped_total(), 0u);
  EXPECT_EQ(accepted.total(), static_cast<std::size_t>(seq));
  EXPECT_EQ(accepted.unique(), static_cast<std::size_t>(seq));
  c.shutdown(1s);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace emp::telemetry::faults
