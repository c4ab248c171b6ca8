// Entry point of the emp-telemetry CLI: parses the command line and dispatches
// to the subcommands declared in commands.hpp.
//
//   emp-telemetry [--preset api|webhook|machine|worker] config [--json] [--check]
//   emp-telemetry env [--markdown | --json]
//   emp-telemetry demo [--jobs N] [--slow-ms MS] [--log-dir DIR]
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "emp/telemetry/config.hpp"

namespace cli = emp::telemetry::cli;
namespace et = emp::telemetry;

int main(int argc, char** argv) {
  try {
    CLI::App app{
        "emp-telemetry: inspect the configuration of the emp telemetry client, list the\n"
        "environment variables it reads, and run a demo worker that writes real telemetry."};
    app.require_subcommand(1);
    app.fallthrough();  // global options may also follow the subcommand name

    cli::GlobalArgs global;
    std::string preset_name;
    app.add_option("--preset", preset_name,
                   "Service preset whose defaults apply: api, webhook, machine or worker")
        ->check(CLI::Validator(
            [](std::string& value) -> std::string {
              if (et::parse_preset(value)) return {};
              return "unknown preset '" + value + "' (expected api, webhook, machine or worker)";
            },
            "PRESET"));

    cli::ConfigArgs config_args;
    auto* config = app.add_subcommand(
        "config",
        "Print the finalized configuration: every variable with its value (secrets\n"
        "redacted) and its origin (code, env, preset, default). Exits 1 and lists every\n"
        "problem when the configuration is invalid.");
    config->add_flag("--json", config_args.json, "Print one JSON object instead of a table");
    config->add_flag("--check", config_args.check,
                     "Only validate: exit 0 when valid, else 1 with every problem on stderr");

    cli::EnvArgs env_args;
    auto* env = app.add_subcommand(
        "env", "List every environment variable the client reads, from its registry.");
    auto* md = env->add_flag("--markdown", env_args.markdown,
                             "Print the Markdown table that docs/ENVIRONMENT.md is made of");
    auto* js = env->add_flag("--json", env_args.json, "Print one JSON array");
    md->excludes(js);

    cli::DemoArgs demo_args;
    auto* demo = app.add_subcommand(
        "demo",
        "Run a simulated worker service (preset worker) that processes jobs and writes\n"
        "its logs under LOG_DIR (default ./telemetry-out), then print where every record went.");
    demo->add_option("--jobs", demo_args.jobs, "Number of jobs to process")
        ->check(CLI::Range(1u, 1000u))
        ->capture_default_str();
    demo->add_option("--slow-ms", demo_args.slow_ms, "Duration of the one slow job, in ms")
        ->check(CLI::Range(0u, 60000u))
        ->capture_default_str();
    demo->add_option("--log-dir", demo_args.log_dir,
                     "Directory for the log files (overrides LOG_DIR)");

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      // --help prints and exits 0; a usage error exits 2, kept apart from the
      // 1 that means "the configuration is invalid".
      return app.exit(e) == 0 ? 0 : 2;
    }

    if (!preset_name.empty()) global.preset = et::parse_preset(preset_name);

    if (config->parsed()) return cli::run_config(global, config_args);
    if (env->parsed()) return cli::run_env(global, env_args);
    if (demo->parsed()) return cli::run_demo(global, demo_args);
    std::cerr << app.help();
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "emp-telemetry: " << e.what() << "\n";
    return 1;
  }
}
