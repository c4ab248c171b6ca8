// The subcommands of the emp-telemetry CLI. main.cpp parses the command line
// with CLI11 and calls one of these; each returns the process exit code
// (0 success, 1 failure such as an invalid configuration) and writes its
// results to stdout and its problems to stderr.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "emp/telemetry/config.hpp"

namespace emp::telemetry::cli {

// Options shared by every command.
struct GlobalArgs {
  // --preset: the service preset whose defaults apply (none when unset).
  std::optional<Preset> preset;
};

struct ConfigArgs {
  bool json = false;   // --json: one JSON object instead of a table
  bool check = false;  // --check: only validate; problems on stderr
};

struct EnvArgs {
  bool markdown = false;  // --markdown: the table docs/ENVIRONMENT.md is made of
  bool json = false;      // --json: one JSON array
};

struct DemoArgs {
  std::uint32_t jobs = 12;        // --jobs: how many jobs the simulated queue holds
  std::uint32_t slow_ms = 1500;   // --slow-ms: duration of the one slow job
  std::optional<std::string> log_dir;  // --log-dir: overrides LOG_DIR
};

int run_config(const GlobalArgs& global, const ConfigArgs& args);
int run_env(const GlobalArgs& global, const EnvArgs& args);
int run_demo(const GlobalArgs& global, const DemoArgs& args);

}  // namespace emp::telemetry::cli
