// `emp-telemetry generate fluent-bit|fluentd|otel-collector`: writes the
// agent's configuration for the service of this environment (see
// emp/telemetry/generate.hpp) and prints its path. Secrets stay references.
#include <iostream>

#include "commands.hpp"
#include "emp/telemetry/generate.hpp"

namespace emp::telemetry::cli {

int run_generate(const GlobalArgs& global, const GenerateArgs& args) {
  Agent agent{};
  if (!parse_agent(args.agent, agent)) {
    std::cerr << "emp-telemetry generate: unknown agent '" << args.agent
              << "' (fluent-bit, fluentd or otel-collector)\n";
    return kUsageExit;
  }
  auto cfg = finalize(base_options(global));
  if (!cfg) {
    for (const auto& e : cfg.errors()) std::cerr << e.to_string() << "\n";
    std::cerr << "emp-telemetry generate: invalid configuration; nothing was written\n";
    return 1;
  }
  std::vector<AgentFile> files;
  for (const std::string& f : args.files) {
    // PATH_OR_GLOB=TAG; a '=' inside the path is kept when no tag follows.
    const auto eq = f.rfind('=');
    if (eq == std::string::npos || eq + 1 == f.size())
      files.push_back({f, ""});
    else
      files.push_back({f.substr(0, eq), f.substr(eq + 1)});
  }
  const AgentFormat format = args.format == "yaml" ? AgentFormat::kYaml : AgentFormat::kClassic;
  // Fluentd has only its own format, the Collector only YAML.
  if (args.format_given && ((agent == Agent::kFluentd && format == AgentFormat::kYaml) ||
                            (agent == Agent::kOtelCollector && format == AgentFormat::kClassic))) {
    std::cerr << "emp-telemetry generate: " << args.agent << " has no " << args.format
              << " format (--format chooses between Fluent Bit's two)\n";
    return kUsageExit;
  }
  auto written = write_agent_config(agent, format, cfg.value(), files, args.out);
  if (!written) {
    for (const auto& e : written.errors()) std::cerr << "emp-telemetry " << e.to_string() << "\n";
    return 1;
  }
  std::cout << written.value() << "\n";
  return 0;
}

}  // namespace emp::telemetry::cli
