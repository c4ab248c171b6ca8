// The delivery settings as finalize() resolves them: defaults, the spool's
// production-only default for traces and logs, the spool directory under
// LOG_DIR, explicit values with units, and the errors for bad values.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/registry.hpp"
#include "emp/telemetry/config.hpp"

namespace emp::telemetry {
namespace {

using Env = std::map<std::string, std::string>;
using namespace std::chrono_literals;

Options with_env(Env env) {
  Options o;
  o.env = [env = std::move(env)](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return o;
}

Env production(Env extra = {}) {
  Env env = {
      {"TELEMETRY_ENV", "production"},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"},
      {"FLUENTD_HOST", "fluentd"},
      {"SENTRY_DSN", "https://pubkey@sentry.example.com/42"},
  };
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

const Error* find_error(const Expected<Config>& r, std::string_view subject) {
  for (const Error& e : r.errors()) {
    if (e.subject == subject) return &e;
  }
  return nullptr;
}

TEST(DeliveryConfig, Defaults) {
  auto r = finalize(with_env({}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  const Config& c = *r;
  EXPECT_TRUE(c.retry.enabled);
  EXPECT_EQ(c.retry.initial_interval, 1s);
  EXPECT_EQ(c.retry.multiplier, 1.5);
  EXPECT_EQ(c.retry.max_interval, 30s);
  EXPECT_EQ(c.retry.max_elapsed, 300s);
  EXPECT_EQ(c.retry.retry_after_max, 60s);
  EXPECT_EQ(c.circuit.failure_threshold, 5u);
  EXPECT_EQ(c.circuit.cooldown, 30s);
  EXPECT_FALSE(c.spool_enabled);  // development
  EXPECT_FALSE(c.spool_metrics);
  EXPECT_EQ(c.spool_dir, "./telemetry-out/spool");
  EXPECT_EQ(c.spool_max_bytes, 256ull << 20);
  EXPECT_EQ(c.delivery_memory_cap, 32ull << 20);
}

TEST(DeliveryConfig, SpoolIsOnByDefaultInProductionForTracesAndLogsOnly) {
  auto r = finalize(with_env(production({{"LOG_DIR", "/var/log/emp/"}})));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  EXPECT_TRUE(r->spool_enabled);
  EXPECT_FALSE(r->spool_metrics);
  EXPECT_EQ(r->spool_dir, "/var/log/emp/spool");

  auto staging = finalize(with_env({{"TELEMETRY_ENV", "staging"}}));
  ASSERT_TRUE(staging);
  EXPECT_FALSE(staging->spool_enabled);

  auto off = finalize(with_env(production({{"EMP_SPOOL_ENABLED", "false"}})));
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->spool_enabled);
  EXPECT_FALSE(off->spool_metrics);

  auto on = finalize(with_env({{"EMP_SPOOL_ENABLED", "true"}}));
  ASSERT_TRUE(on);
  EXPECT_TRUE(on->spool_enabled);
  EXPECT_TRUE(on->spool_metrics);
}

TEST(DeliveryConfig, ExplicitValuesWithUnits) {
  auto r = finalize(with_env({{"EMP_RETRY_ENABLED", "false"},
                              {"EMP_RETRY_INITIAL_INTERVAL", "250ms"},
                              {"EMP_RETRY_MAX_INTERVAL", "2m"},
                              {"EMP_RETRY_MAX_ELAPSED_TIME", "0"},
                              {"EMP_RETRY_AFTER_MAX", "10s"},
                              {"EMP_CIRCUIT_FAILURE_THRESHOLD", "0"},
                              {"EMP_CIRCUIT_COOLDOWN", "5s"},
                              {"EMP_SPOOL_DIR", "/data/spool"},
                              {"EMP_SPOOL_MAX_SIZE", "1GiB"},
                              {"EMP_DELIVERY_MEMORY_CAP", "4MiB"}}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  const Config& c = *r;
  EXPECT_FALSE(c.retry.enabled);
  EXPECT_EQ(c.retry.initial_interval, 250ms);
  EXPECT_EQ(c.retry.max_interval, 120s);
  EXPECT_EQ(c.retry.max_elapsed, 0ms);
  EXPECT_EQ(c.retry.retry_after_max, 10s);
  EXPECT_EQ(c.circuit.failure_threshold, 0u);
  EXPECT_EQ(c.circuit.cooldown, 5s);
  EXPECT_EQ(c.spool_dir, "/data/spool");
  EXPECT_EQ(c.spool_max_bytes, 1ull << 30);
  EXPECT_EQ(c.delivery_memory_cap, 4ull << 20);
  for (const char* name : {"EMP_SPOOL_DIR", "EMP_SPOOL_MAX_SIZE", "EMP_RETRY_INITIAL_INTERVAL"}) {
    bool found = false;
    for (const Setting& s : c.settings) {
      if (s.name == name) {
        found = true;
        EXPECT_EQ(s.origin, Origin::kEnvironment) << name;
      }
    }
    EXPECT_TRUE(found) << name;
  }
}

TEST(DeliveryConfig, BadValuesNameTheVariable) {
  auto r = finalize(with_env({{"EMP_RETRY_INITIAL_INTERVAL", "soon"},
                              {"EMP_CIRCUIT_COOLDOWN", "0"},
                              {"EMP_SPOOL_MAX_SIZE", "10KiB"},
                              {"EMP_SPOOL_ENABLED", "maybe"},
                              {"EMP_DELIVERY_MEMORY_CAP", "-1"}}));
  ASSERT_FALSE(r);
  for (const char* name : {"EMP_RETRY_INITIAL_INTERVAL", "EMP_CIRCUIT_COOLDOWN",
                           "EMP_SPOOL_MAX_SIZE", "EMP_SPOOL_ENABLED", "EMP_DELIVERY_MEMORY_CAP"}) {
    EXPECT_NE(find_error(r, name), nullptr) << name;
  }
  const Error* e = find_error(r, "EMP_RETRY_INITIAL_INTERVAL");
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("soon"), std::string::npos) << e->message;
}

TEST(DeliveryConfig, MaxIntervalMustNotBeBelowInitial) {
  auto r =
      finalize(with_env({{"EMP_RETRY_INITIAL_INTERVAL", "10s"}, {"EMP_RETRY_MAX_INTERVAL", "2s"}}));
  ASSERT_FALSE(r);
  const Error* e = find_error(r, "EMP_RETRY_MAX_INTERVAL");
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("EMP_RETRY_INITIAL_INTERVAL"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("2s"), std::string::npos) << e->message;
  EXPECT_NE(e->message.find("10s"), std::string::npos) << e->message;
}

TEST(DeliveryConfig, RegistryDescribesEveryDeliveryVariable) {
  for (const char* name :
       {"EMP_RETRY_ENABLED", "EMP_RETRY_INITIAL_INTERVAL", "EMP_RETRY_MAX_INTERVAL",
        "EMP_RETRY_MAX_ELAPSED_TIME", "EMP_RETRY_AFTER_MAX", "EMP_CIRCUIT_FAILURE_THRESHOLD",
        "EMP_CIRCUIT_COOLDOWN", "EMP_SPOOL_ENABLED", "EMP_SPOOL_DIR", "EMP_SPOOL_MAX_SIZE",
        "EMP_DELIVERY_MEMORY_CAP"}) {
    const config::VarSpec* s = config::find_spec(name);
    ASSERT_NE(s, nullptr) << name;
    EXPECT_FALSE(s->secret) << name;
    EXPECT_GT(s->description.size(), 20u) << name;
  }
}

}  // namespace
}  // namespace emp::telemetry
