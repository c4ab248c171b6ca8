// fork(): a child must not talk on the parent's kept-alive connection, and
// must not disturb it. After after_fork_child() the child connects afresh
// and the parent keeps reusing its own connection.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "otlp/otlp_http_destination.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry::deliver {
namespace {

using otlp::ExporterSettings;
using otlp::OtlpHttpDestination;
using std::chrono::milliseconds;
using testing::LoopbackCollector;

Payload payload(std::string bytes) {
  Payload p;
  p.bytes = std::move(bytes);
  p.items = 1;
  return p;
}

TEST(HttpFork, ChildReconnectsAndParentKeepsItsConnection) {
  LoopbackCollector c;
  ExporterSettings settings;
  settings.none_configured = false;
  settings.url = c.url("/v1/traces");
  settings.timeout = milliseconds(5000);
  OtlpHttpDestination d(settings);
  ASSERT_EQ(d.deliver(payload("parent-1"), Deadline::none()).outcome, Outcome::kDelivered);

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: only async-signal-safe exits, no gtest assertions.
    d.after_fork_child();
    const auto r = d.deliver(payload("child"), Deadline::after(milliseconds(5000)));
    const bool ok = r.outcome == Outcome::kDelivered && d.transport_stats().connections_opened == 2;
    ::_exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);  // bounded by the child's 5 s deadline
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);

  const auto r = d.deliver(payload("parent-2"), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kDelivered) << r.message;
  EXPECT_EQ(d.stats().connections_opened, 1u);  // the parent's connection survived

  ASSERT_TRUE(c.wait_for_requests(3, milliseconds(5000)));
  std::uint64_t parent1 = 0, parent2 = 0, child = 0;
  for (const auto& req : c.requests()) {
    if (req.body == "parent-1") parent1 = req.connection_id;
    if (req.body == "parent-2") parent2 = req.connection_id;
    if (req.body == "child") child = req.connection_id;
  }
  EXPECT_NE(parent1, 0u);
  EXPECT_EQ(parent1, parent2);
  EXPECT_NE(child, 0u);
  EXPECT_NE(child, parent1);
}

}  // namespace
}  // namespace emp::telemetry::deliver
