// Entry point of the emp-telemetry CLI: parses the command line and dispatches
// to the subcommands declared in commands.hpp.
//
//   emp-telemetry [--preset api|webhook|machine|worker] [--env-file FILE] COMMAND ...
//   emp-telemetry --version
//   emp-telemetry config [--json] [--check] [FILTER...]
//   emp-telemetry env [--markdown | --json]
//   emp-telemetry demo [--jobs N] [--slow-ms MS] [--log-dir DIR] [--viewer]
//   emp-telemetry gen [--spans N] [--logs N] [--metrics N] [--events N] [--rate R] [--threads T]
//                     [--duration S] [--flush-timeout S] [--json]
//   emp-telemetry health [--dir DIR] [--json]
//   emp-telemetry crash [--signal SEGV|BUS|ILL|FPE|ABRT|terminate] [--dir DIR]
//   emp-telemetry serve [--port P] [--forward-port F] [--host H] [--db PATH] [--max-mb N]
//                       [--max-age-hours H]
//   emp-telemetry query job <job_id> | trace <trace_id> [--db PATH] [--json]
//   emp-telemetry simulate [--clients N] [--rate R] [--capacity C] [--outage S] [--outage-at S]
//                          [--duration S] [--second-endpoint] [--json] [--plot FILE] ...
//   emp-telemetry tail PATH_OR_GLOB... [--tag TAG] [--duration S]
//   emp-telemetry generate fluent-bit|fluentd|otel-collector [--out DIR]
//                          [--format classic|yaml] [--file PATH_OR_GLOB[=TAG]]...
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <set>
#include <string>
#include <string_view>

#include "commands.hpp"
#include "emp/telemetry/config.hpp"

namespace cli = emp::telemetry::cli;
namespace et = emp::telemetry;

namespace {

constexpr const char* kFooter =
    "Global options (--preset, --env-file) may also follow the command name.\n"
    "Exit codes: 0 success; 1 failure (invalid configuration, records not delivered or\n"
    "rejected, no status file for health; doctor: something degraded); 2 health: a\n"
    "running process is not healthy, doctor: a destination fails; 64 usage error\n"
    "(unknown command or option, bad argument).";

// The first argument that is not an option (or an option's value): the
// command the user asked for, or empty.
std::string first_command(int argc, char** argv) {
  static const std::set<std::string_view> kWithValue = {"--preset", "--env-file"};
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") return i + 1 < argc ? argv[i + 1] : "";
    if (!arg.empty() && arg.front() == '-') {
      if (kWithValue.count(arg) != 0) ++i;  // "--preset=x" carries its own value
      continue;
    }
    return std::string(arg);
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CLI::App app{
        "emp-telemetry: inspect the configuration of the emp telemetry client, list the\n"
        "environment variables it reads, run a demo worker that writes real telemetry,\n"
        "generate load through the library, and show the health of running services."};
    app.name("emp-telemetry");  // usage lines never show this machine's path to the binary
    app.require_subcommand(1);
    app.fallthrough();  // global options may also follow the subcommand name
    app.footer(kFooter);
#ifdef EMP_TELEMETRY_VERSION
    app.set_version_flag("--version", std::string("emp-telemetry ") + EMP_TELEMETRY_VERSION,
                         "Print the version and exit");
#endif

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
    std::string env_file;
    app.add_option("--env-file", env_file,
                   "Read variables from this dotenv file (like EMP_ENV_FILE); the real\n"
                   "environment wins over it");

    cli::ConfigArgs config_args;
    auto* config = app.add_subcommand(
        "config",
        "Print the finalized configuration: every variable with its value (secrets\n"
        "redacted) and its origin (code, env, preset, default). Exits 1 and lists every\n"
        "problem when the configuration is invalid.");
    config->add_flag("--json", config_args.json, "Print one JSON object instead of a table");
    config->add_flag("--check", config_args.check,
                     "Only validate: exit 0 when valid, else 1 with every problem on stderr;\n"
                     "warnings (unknown or unsupported variables) go to stderr too");
    config->add_option("FILTER", config_args.filters,
                       "Show only variables whose name contains FILTER (any case), or of a\n"
                       "group: identity, logs, traces, metrics, otlp, delivery, prometheus,\n"
                       "dash0, fluentd, sentry");

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
    demo->add_flag("--viewer", demo_args.viewer,
                   "Send traces and metrics (OTLP), logs and events (Fluentd forward) and errors\n"
                   "(Sentry) to a local viewer started in the process, its database\n"
                   "<log dir>/viewer.db, then print a failed job's timeline from it");

    // Counts: digits only, so "-3" is an error rather than a huge unsigned.
    const CLI::Validator count(
        [](std::string& value) -> std::string {
          if (!value.empty() && value.size() <= 19 &&
              value.find_first_not_of("0123456789") == std::string::npos) {
            return {};
          }
          return "expected a count (a non-negative integer), got '" + value + "'";
        },
        "COUNT");
    cli::GenArgs gen_args;
    auto* gen = app.add_subcommand(
        "gen",
        "Generate load through the library (spans of job lifecycles, log records, metric\n"
        "measurements) to the destinations of the environment, flush, and print what was\n"
        "generated, delivered, spooled and dropped. Exits 0 only when everything generated\n"
        "was delivered. Without --duration the counts are generated exactly; with\n"
        "--duration the counts cap their tracks, and with no count spans, logs and metrics\n"
        "run.");
    gen->add_option("--spans", gen_args.spans, "Spans to generate (5 per job trace)")->check(count);
    gen->add_option("--logs", gen_args.logs, "Log records to generate")->check(count);
    gen->add_option("--events", gen_args.events,
                    "Operational events to generate (job_received, job_started, job_progress,\n"
                    "job_completed or job_failed per job)")
        ->check(count);
    gen->add_option("--metrics", gen_args.metrics,
                    "Metric measurements to generate (over a counter, a gauge and a histogram,\n"
                    "20 attribute sets each)")
        ->check(count);
    gen->add_option("--errors", gen_args.errors,
                    "Captured exceptions to generate (a failed job's nested exception, with\n"
                    "its tags, stack trace and trace link; to SENTRY_DSN when set)")
        ->check(count);
    gen->add_option("--rate", gen_args.rate,
                    "Records per second over all threads and tracks (0 = as fast as possible)")
        ->check(CLI::Range(0.0, 1e9))
        ->capture_default_str();
    gen->add_option("--threads", gen_args.threads, "Generating threads")
        ->check(CLI::Range(1u, 256u))
        ->capture_default_str();
    gen->add_option("--duration", gen_args.duration, "Generate for this many seconds")
        ->check(CLI::Range(0.001, 86400.0));
    gen->add_option("--flush-timeout", gen_args.flush_timeout,
                    "Seconds to wait for delivery after generating")
        ->check(CLI::Range(0.0, 86400.0))
        ->capture_default_str();
    gen->add_flag("--json", gen_args.json, "Print the summary as one JSON object");
    gen->add_flag("--progress", gen_args.progress,
                  "A progress line a second on stderr (the default when stderr is a terminal)");
    gen->add_flag("--no-progress", gen_args.no_progress, "No progress lines");

    cli::SimulateArgs sim_args;
    auto* simulate = app.add_subcommand(
        "simulate",
        "Simulate a fleet of clients (the library's real delivery workers, with this\n"
        "environment's EMP_RETRY_*, EMP_CIRCUIT_* and EMP_DELIVERY_MEMORY_CAP) sending to one\n"
        "collector that goes down and comes back, in simulated time. Prints requests/s per\n"
        "second, the peak after recovery against the steady rate, the time to drain every\n"
        "backlog, records lost and memory per client. Exits 0 when the peak is at most twice\n"
        "the steady rate, every backlog drained and nothing was lost.");
    simulate->add_option("--clients", sim_args.clients, "Clients in the fleet")
        ->check(CLI::Range(1u, 1000000u))
        ->capture_default_str();
    simulate->add_option("--rate", sim_args.rate, "Records per second each client makes")
        ->check(CLI::Range(0.001, 1e6))
        ->capture_default_str();
    simulate->add_option("--batch-size", sim_args.batch_size, "Most records in one request")
        ->check(CLI::Range(1u, 1000000u))
        ->capture_default_str();
    simulate
        ->add_option("--batch-interval", sim_args.batch_interval,
                     "Seconds between a client's batches")
        ->check(CLI::Range(0.01, 3600.0))
        ->capture_default_str();
    simulate->add_option("--record-bytes", sim_args.record_bytes, "Encoded bytes of one record")
        ->check(CLI::Range(1u, 1u << 24))
        ->capture_default_str();
    simulate
        ->add_option("--capacity", sim_args.capacity,
                     "Requests per second the collector takes (0 = 2 x the steady rate)")
        ->check(CLI::Range(0.0, 1e9))
        ->capture_default_str();
    simulate
        ->add_option("--overload", sim_args.overload,
                     "The collector's answer over capacity: 503, 429 or timeout")
        ->check(CLI::IsMember({"503", "429", "timeout"}))
        ->capture_default_str();
    simulate
        ->add_option("--retry-after", sim_args.retry_after,
                     "Retry-After seconds sent with 503/429 (0 = none)")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    simulate->add_option("--outage", sim_args.outage, "Seconds the collector is down")
        ->check(CLI::Range(0.0, 86400.0))
        ->capture_default_str();
    simulate->add_option("--outage-at", sim_args.outage_at, "When the outage starts (s)")
        ->check(CLI::Range(0.0, 86400.0))
        ->capture_default_str();
    simulate
        ->add_option("--outage-mode", sim_args.outage_mode,
                     "Down means: refused (connections refused) or timeout")
        ->check(CLI::IsMember({"refused", "timeout"}))
        ->capture_default_str();
    simulate
        ->add_option("--duration", sim_args.duration,
                     "Simulated seconds (default: outage end + max(120, 3 x outage))")
        ->check(CLI::Range(0.0, 864000.0));
    simulate->add_option("--latency-ms", sim_args.latency_ms, "The collector's answer time")
        ->check(CLI::Range(0.0, 60000.0))
        ->capture_default_str();
    simulate
        ->add_option("--byte-scale", sim_args.byte_scale,
                     "Divide every byte size (batches, memory cap) by this to save memory; "
                     "reported bytes are scaled back (0 = automatic)")
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 30))
        ->capture_default_str();
    simulate->add_option("--seed", sim_args.seed, "Seed of the clients' jitter and phases")
        ->check(CLI::Range(std::uint64_t{1}, ~std::uint64_t{0}))
        ->capture_default_str();
    simulate->add_flag("--json", sim_args.json,
                       "Print one JSON object, with the per-second series");
    simulate->add_flag("--second-endpoint", sim_args.second_endpoint,
                       "Give every client a failover endpoint: a second collector that stays "
                       "up (like EMP_OTLP_FAILOVER_ENDPOINTS)");
    simulate
        ->add_option("--second-capacity", sim_args.second_capacity,
                     "The second collector's requests/s (0 = as --capacity)")
        ->check(CLI::Range(0.0, 1e9));
    simulate->add_option("--plot", sim_args.plot,
                         "Draw requests/s over time into this PNG file (gnuplot; without it, "
                         "FILE.csv)");

    cli::TailArgs tail_args;
    auto* tail = app.add_subcommand(
        "tail",
        "Ship log files to FLUENTD_HOST like Fluent Bit's tail input (the tailer of\n"
        "Client::add_file): globs re-expanded, rotation followed, positions kept in\n"
        "<LOG_DIR>/tail-positions.db so a restart neither loses nor repeats a line. Runs\n"
        "until --duration passes or SIGINT/SIGTERM; exits 0 when every line was delivered.");
    tail->add_option("paths", tail_args.paths, "Files or globs to ship")->required();
    tail->add_option("--tag", tail_args.tag,
                     "Fluentd tag of every line (default: <service_type>.logs.<file name>)");
    tail->add_option("--duration", tail_args.duration, "Stop after this many seconds")
        ->check(CLI::Range(0.001, 31536000.0));

    cli::GenerateArgs generate_args;
    auto* generate = app.add_subcommand(
        "generate",
        "Write a log agent's configuration for this service: fluent-bit (tail inputs for\n"
        "the service's log file and each --file, its metadata, forward output to\n"
        "FLUENTD_HOST), fluentd (forward input, HTTP output to Dash0) or otel-collector\n"
        "(OTLP in, OTLP out to Dash0). Secrets are written as environment references.\n"
        "(Not `gen`, which generates load.)");
    generate->add_option("agent", generate_args.agent, "fluent-bit, fluentd or otel-collector")
        ->required()
        ->check(CLI::IsMember({"fluent-bit", "fluentd", "otel-collector"}));
    generate->add_option("--out", generate_args.out, "Directory to write into")
        ->capture_default_str();
    auto* format_opt =
        generate
            ->add_option("--format", generate_args.format, "Fluent Bit's format: classic or yaml")
            ->check(CLI::IsMember({"classic", "yaml"}))
            ->capture_default_str();
    generate->add_option("--file", generate_args.files,
                         "Another file or glob to tail, optionally =TAG (repeatable)");

    cli::HealthArgs health_args;
    auto* health = app.add_subcommand(
        "health",
        "Show the health of the processes writing under a log directory, from their status\n"
        "files (<LOG_DIR>/status/*.json, written every EMP_STATUS_INTERVAL). Exits 0 when\n"
        "every running process is healthy, 1 when there is no status file, 2 when a running\n"
        "process has a degraded or circuit_open destination or a stale status.");
    health->add_option("--dir", health_args.dir,
                       "Log directory to read (default: LOG_DIR of the configuration)");
    health->add_flag("--json", health_args.json, "Print the status files as one JSON array");

    cli::DoctorArgs doctor_args;
    auto* doctor = app.add_subcommand(
        "doctor",
        "Test the whole pipeline of the configuration in the environment: probe every\n"
        "destination with its own protocol (OTLP, Fluentd forward, Sentry, Dash0), timing\n"
        "each hop, then send one marker record through every track and flush it. Exits 0\n"
        "when everything is healthy, 1 when something is degraded, 2 when a destination\n"
        "fails.");
    doctor->add_flag("--json", doctor_args.json, "Print the report as one JSON object");
    doctor->add_flag("--verbose", doctor_args.verbose,
                     "Show each probe's request and answer (credentials as ***)");
    doctor->add_option("--timeout", doctor_args.timeout_s, "Seconds allowed to each probe")
        ->check(CLI::Range(0.1, 600.0))
        ->capture_default_str();
    doctor
        ->add_option("--only", doctor_args.only,
                     "Only these checks: otel, dash0, fluentd, sentry, end-to-end")
        ->delimiter(',')
        ->check(CLI::IsMember({"otel", "dash0", "fluentd", "sentry", "end-to-end"}));
    doctor->add_flag("--no-end-to-end", doctor_args.no_end_to_end,
                     "Probe the destinations only; send no marker records");

    cli::CrashArgs crash_args;
    auto* crash = app.add_subcommand(
        "crash",
        "Install the crash handler and crash on purpose, to prove crash capture on this\n"
        "host: the process dies by the signal (terminate: an uncaught exception, then\n"
        "SIGABRT) after writing a crash record under --dir.");
    crash->add_option("--signal", crash_args.signal, "How to crash")
        ->check(CLI::IsMember({"SEGV", "BUS", "ILL", "FPE", "ABRT", "terminate"}))
        ->capture_default_str();
    crash->add_option("--dir", crash_args.dir,
                      "Crash record directory (default: <EMP_SPOOL_DIR>/crash)");

    cli::ServeArgs serve_args;
    auto* serve = app.add_subcommand(
        "serve",
        "Run the local viewer: receive OTLP/HTTP traces, metrics and logs (protobuf or JSON,\n"
        "gzip), Sentry envelopes and (with --forward-port) Fluentd forward records, store\n"
        "them in SQLite, and serve a web page and a JSON API that show one job across all of\n"
        "them. Prints one line with the bound addresses; stops cleanly on SIGINT or SIGTERM.");
    serve->add_option("--port", serve_args.port, "TCP port (0 = any free port)")
        ->capture_default_str();
    serve
        ->add_option("--forward-port", serve_args.forward_port,
                     "Also receive the Fluentd forward protocol (plain TCP, acks) on this port\n"
                     "(0 = any free port; 24224 is Fluentd's own)")
        ->check(CLI::Range(0, 65535));
    serve
        ->add_option("--host", serve_args.host,
                     "Address to listen on (loopback by default; another address exposes the\n"
                     "viewer to the network)")
        ->capture_default_str();
    serve->add_option("--db", serve_args.db, "SQLite database file")->capture_default_str();
    serve
        ->add_option("--max-mb", serve_args.max_mb,
                     "Database size limit in MiB; the oldest data goes first (0 = none)")
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{1} << 30))
        ->capture_default_str();
    serve
        ->add_option("--max-age-hours", serve_args.max_age_hours,
                     "Delete data received longer ago than this (0 = no limit)")
        ->check(CLI::Range(0.0, 1e6))
        ->capture_default_str();

    cli::QueryArgs query_args;
    auto* query = app.add_subcommand(
        "query", "Read the viewer's database: a job's correlated timeline or a trace's span tree.");
    query->require_subcommand(1);
    auto* query_job =
        query->add_subcommand("job", "Print one job's timeline (spans, logs, events, errors)");
    query_job->add_option("job_id", query_args.id, "The job id")->required();
    auto* query_trace = query->add_subcommand("trace", "Print one trace as an indented span tree");
    query_trace->add_option("trace_id", query_args.id, "The trace id (32 hex digits)")->required();
    for (auto* sub : {query_job, query_trace}) {
      sub->add_option("--db", query_args.db, "SQLite database file of `serve`")
          ->capture_default_str();
      sub->add_flag("--json", query_args.json, "Print the API's JSON document instead");
    }

    // CLI11 would answer "A subcommand is required" for a misspelt command.
    if (const std::string command = first_command(argc, argv); !command.empty()) {
      bool known = false;
      for (const auto* sub : app.get_subcommands({})) known = known || sub->get_name() == command;
      if (!known) {
        std::string names;
        for (const auto* sub : app.get_subcommands({}))
          names += (names.empty() ? "" : ", ") + sub->get_name();
        std::cerr << "emp-telemetry: unknown command '" << command << "' (commands: " << names
                  << "; see emp-telemetry --help)\n";
        return cli::kUsageExit;
      }
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      // --help and --version print and exit 0; a usage error exits
      // kUsageExit, kept apart from the codes of a command's result.
      return app.exit(e) == 0 ? 0 : cli::kUsageExit;
    }

    if (!preset_name.empty()) global.preset = et::parse_preset(preset_name);
    if (!env_file.empty()) global.env_file = env_file;

    if (config->parsed()) return cli::run_config(global, config_args);
    if (env->parsed()) return cli::run_env(global, env_args);
    if (demo->parsed()) return cli::run_demo(global, demo_args);
    if (gen->parsed()) return cli::run_gen(global, gen_args);
    if (health->parsed()) return cli::run_health(global, health_args);
    if (doctor->parsed()) return cli::run_doctor(global, doctor_args);
    if (tail->parsed()) return cli::run_tail(global, tail_args);
    if (simulate->parsed()) return cli::run_simulate(global, sim_args);
    if (generate->parsed()) {
      generate_args.format_given = format_opt->count() > 0;
      return cli::run_generate(global, generate_args);
    }
    if (crash->parsed()) return cli::run_crash(global, crash_args);
    if (serve->parsed()) return cli::run_serve(global, serve_args);
    if (query->parsed()) {
      query_args.kind =
          query_trace->parsed() ? cli::QueryArgs::Kind::kTrace : cli::QueryArgs::Kind::kJob;
      return cli::run_query(global, query_args);
    }
    std::cerr << app.help();
    return cli::kUsageExit;
  } catch (const std::exception& e) {
    std::cerr << "emp-telemetry: " << e.what() << "\n";
    return 1;
  }
}
