// The subcommands of the emp-telemetry CLI. main.cpp parses the command line
// with CLI11 and calls one of these; each returns the process exit code
// (0 success, 1 failure such as an invalid configuration, 2 only from
// `health`: something is not healthy, kUsageExit a usage error) and writes
// its results to stdout and its problems to stderr.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "emp/telemetry/config.hpp"

namespace emp::telemetry::cli {

// Exit code of every usage error (unknown command or option, bad argument):
// EX_USAGE of sysexits.h, apart from the codes a command's result uses.
inline constexpr int kUsageExit = 64;

// Options shared by every command.
struct GlobalArgs {
  // --preset: the service preset whose defaults apply (none when unset).
  std::optional<Preset> preset;
  // --env-file: a dotenv file read under the real environment (EMP_ENV_FILE).
  std::optional<std::string> env_file;
};

// The Options every command starts from: the global preset and env file.
inline Options base_options(const GlobalArgs& global) {
  Options options;
  if (global.preset) options.preset = *global.preset;
  if (global.env_file) options.raw["EMP_ENV_FILE"] = *global.env_file;
  return options;
}

struct ConfigArgs {
  bool json = false;   // --json: one JSON object instead of a table
  bool check = false;  // --check: only validate; problems on stderr
  // Positional: show only variables whose name contains one of these (any
  // case), or that belong to a group named here (see config_command.cpp).
  std::vector<std::string> filters;
};

struct EnvArgs {
  bool markdown = false;  // --markdown: the table docs/ENVIRONMENT.md is made of
  bool json = false;      // --json: one JSON array
};

struct DemoArgs {
  std::uint32_t jobs = 12;             // --jobs: how many jobs the simulated queue holds
  std::uint32_t slow_ms = 1500;        // --slow-ms: duration of the one slow job
  std::optional<std::string> log_dir;  // --log-dir: overrides LOG_DIR
  bool viewer = false;                 // --viewer: through an in-process viewer
};

// `gen`: how counts and --duration combine is described in gen.cpp.
struct GenArgs {
  std::optional<std::uint64_t> spans;    // --spans N
  std::optional<std::uint64_t> logs;     // --logs N
  std::optional<std::uint64_t> metrics;  // --metrics N (measurements)
  std::optional<std::uint64_t> errors;   // --errors N (captured exceptions)
  std::optional<std::uint64_t> events;   // --events N (operational events)
  double rate = 0;                       // --rate: records/s over all threads; 0 = no limit
  std::uint32_t threads = 1;             // --threads
  std::optional<double> duration;        // --duration SECONDS
  double flush_timeout = 60;             // --flush-timeout SECONDS for the final flush
  bool json = false;                     // --json: one JSON object
  bool progress = false;                 // --progress: a line a second on stderr
  bool no_progress = false;              // --no-progress (the default off a terminal)
};

struct HealthArgs {
  std::optional<std::string> dir;  // --dir: LOG_DIR of the processes (default: the config's)
  bool json = false;               // --json: the status files as one JSON array
};

struct CrashArgs {
  std::string signal = "SEGV";     // --signal: SEGV, BUS, ILL, FPE, ABRT or terminate
  std::optional<std::string> dir;  // --dir: crash record directory (default <spool>/crash)
};

struct ServeArgs {
  std::string host = "127.0.0.1";    // --host: loopback unless asked
  std::uint16_t port = 4318;         // --port: 0 = any free port
  int forward_port = -1;             // --forward-port: -1 = none, 0 = any free port
  std::string db = "emp-viewer.db";  // --db: the SQLite file
  std::uint64_t max_mb = 1024;       // --max-mb: database size limit (0 = none)
  double max_age_hours = 168;        // --max-age-hours: oldest data kept (0 = no limit)
};

struct QueryArgs {
  enum class Kind { kJob, kTrace };
  Kind kind = Kind::kJob;
  std::string id;                    // the job id or trace id
  std::string db = "emp-viewer.db";  // --db
  bool json = false;                 // --json: the API's JSON document
};

// `tail`: ships files to FLUENTD_HOST like Client::add_file.
struct TailArgs {
  std::vector<std::string> paths;  // paths or globs
  std::string tag;                 // --tag; empty: per file
  std::optional<double> duration;  // --duration S; unset: until SIGINT/SIGTERM
};

// `generate`: a log agent's configuration.
struct GenerateArgs {
  std::string agent;                   // fluent-bit, fluentd, otel-collector
  std::string out = "/tmp/telemetry";  // --out DIR
  std::string format = "classic";      // --format classic|yaml (Fluent Bit)
  bool format_given = false;
  std::vector<std::string> files;  // --file PATH_OR_GLOB[=TAG]
};

// `simulate`: a fleet of real delivery workers against a simulated collector
// that goes down and comes back (simulate_command.cpp).
struct SimulateArgs {
  std::uint32_t clients = 1000;         // --clients
  double rate = 20;                     // --rate: records/s per client
  std::uint32_t batch_size = 512;       // --batch-size: most records in one request
  double batch_interval = 1;            // --batch-interval S: a client sends every S seconds
  std::uint32_t record_bytes = 250;     // --record-bytes: encoded size of one record
  double capacity = 0;                  // --capacity: collector requests/s; 0 = 2 x steady
  std::string overload = "503";         // --overload 503|429|timeout: answer over capacity
  double retry_after = 1;               // --retry-after S with 503/429; 0 = none
  double outage = 60;                   // --outage S
  double outage_at = 30;                // --outage-at S
  std::string outage_mode = "refused";  // --outage-mode refused|timeout
  double duration = 0;                  // --duration S; 0 = outage end + max(120, 3 x outage)
  double latency_ms = 20;               // --latency-ms: collector answer time
  std::uint64_t byte_scale = 0;         // --byte-scale: divide byte sizes; 0 = automatic
  std::uint64_t seed = 1;               // --seed
  bool json = false;                    // --json
  std::optional<std::string> plot;      // --plot FILE (PNG through gnuplot)
  // --second-endpoint: every client also has a failover endpoint (a second
  // collector that stays up) of --second-capacity requests/s (0 = --capacity).
  bool second_endpoint = false;
  double second_capacity = 0;
};

int run_tail(const GlobalArgs& global, const TailArgs& args);
// Exit 0 when the fleet recovered well (peak <= 2 x steady, every backlog
// delivered, nothing lost), 1 otherwise.
int run_simulate(const GlobalArgs& global, const SimulateArgs& args);
int run_generate(const GlobalArgs& global, const GenerateArgs& args);
int run_config(const GlobalArgs& global, const ConfigArgs& args);
int run_env(const GlobalArgs& global, const EnvArgs& args);
int run_demo(const GlobalArgs& global, const DemoArgs& args);
// Exit 0 when every generated record was delivered, 1 otherwise.
int run_gen(const GlobalArgs& global, const GenArgs& args);
// Exit 0 all running processes healthy, 1 no status file, 2 something degraded.
int run_health(const GlobalArgs& global, const HealthArgs& args);

struct DoctorArgs {
  bool json = false;
  bool verbose = false;
  double timeout_s = 5;
  std::vector<std::string> only;  // empty: every check
  bool no_end_to_end = false;
};
// Exit 0 healthy, 1 degraded, 2 a destination fails (or the configuration is
// invalid: nothing can be probed).
int run_doctor(const GlobalArgs& global, const DoctorArgs& args);
// Does not return when crash capture works: the process dies by the signal.
int run_crash(const GlobalArgs& global, const CrashArgs& args);
// Runs until SIGINT/SIGTERM; exit 0 after a clean stop, 1 when it cannot start.
int run_serve(const GlobalArgs& global, const ServeArgs& args);
// Exit 0 printed, 1 no such job/trace or no database.
int run_query(const GlobalArgs& global, const QueryArgs& args);

}  // namespace emp::telemetry::cli
