// Configurations for the log agents next to a service, generated from its
// finalized configuration: Fluent Bit (classic or YAML: a tail input per
// file, the service's metadata added by record_modifier, a forward output to
// FLUENTD_HOST), Fluentd (forward input, record_transformer, HTTP output to
// Dash0) and the OpenTelemetry Collector (OTLP receivers, resource and batch
// processors, OTLP/HTTP exporter to Dash0). docs/generate.md explains each
// choice and cites the agents' documentation.
//
// Secrets never appear: DASH0_API_KEY, FLUENTD_SHARED_KEY and
// FLUENTD_PASSWORD are written as references to the environment in each
// agent's own syntax (${VAR} for Fluent Bit, "#{ENV['VAR']}" for Fluentd,
// ${env:VAR} for the Collector), whatever their value here.
//
// Pure; emp::telemetry::write_agent_config (generate.hpp) writes the result.
#pragma once

#include <string>
#include <vector>

#include "emp/telemetry/config.hpp"
#include "emp/telemetry/expected.hpp"
#include "emp/telemetry/generate.hpp"

namespace emp::telemetry::generate {

struct GeneratedFile {
  std::string name;  // file name inside the output directory
  std::string content;
};

// The service's own log file (when the log track writes one) followed by
// `extra` (the files added with add_file or --file).
std::vector<AgentFile> files_to_tail(const Config& c, const std::vector<AgentFile>& extra);

// The configuration for `agent`; an error when a value cannot be written
// safely (a control character or a space in a path or tag) or no file is
// there to tail. `out_dir` is where it will live (Fluent Bit keeps its tail
// positions there).
Expected<GeneratedFile> render_agent_config(Agent agent, AgentFormat format, const Config& c,
                                            const std::vector<AgentFile>& files,
                                            const std::string& out_dir);

}  // namespace emp::telemetry::generate
