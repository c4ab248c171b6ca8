// Configurations for the log agents that run beside a service, written from
// its configuration: Fluent Bit (tails the service's log file and every file
// given, adds the service's metadata, forwards to FLUENTD_HOST), Fluentd
// (forward input, the environment's fields, HTTP output to Dash0) and the
// OpenTelemetry Collector (OTLP in, resource and batch processors, OTLP out
// to Dash0). Secrets are never written: the files refer to DASH0_API_KEY,
// FLUENTD_SHARED_KEY and FLUENTD_PASSWORD in the environment of the agent.
// `emp-telemetry generate` and Client::generate_agent_config call this.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "emp/telemetry/config.hpp"
#include "emp/telemetry/expected.hpp"

namespace emp::telemetry {

enum class Agent { kFluentBit, kFluentd, kOtelCollector };
// Fluent Bit reads both; Fluentd and the Collector have one format each.
enum class AgentFormat { kClassic, kYaml };

// "fluent-bit", "fluentd", "otel-collector"; false for anything else.
bool parse_agent(std::string_view name, Agent& out) noexcept;

struct AgentFile {
  std::string path;  // a path or glob
  std::string tag;   // empty: "<service_type>.logs.<file name>"
};

// Where the configurations go unless told otherwise.
inline constexpr const char* kDefaultAgentConfigDir = "/tmp/telemetry";

// Writes the configuration for `agent` into `dir` (created when missing)
// and returns the path written; or what was wrong, and nothing written. The
// service's own log file (when the log track writes one) is tailed besides
// `files`.
Expected<std::string> write_agent_config(Agent agent, AgentFormat format, const Config& config,
                                         const std::vector<AgentFile>& files,
                                         const std::string& dir = kDefaultAgentConfigDir) noexcept;

}  // namespace emp::telemetry
