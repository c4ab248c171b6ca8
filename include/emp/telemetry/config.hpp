// Configuration: what a service sets in code (Options), what the environment
// adds, and the validated result (Config) that a Client is built from.
//
//   Options (code) -> environment overlay -> preset -> defaults -> finalize()
//
// finalize() returns either a Config or *every* problem it found, each naming
// the variable, the rule it broke and the offending value (secrets as "***").
// Precedence is code > environment > preset > default, and every value keeps
// its origin so `emp-telemetry config` can show where it came from.
//
// Every environment variable is declared exactly once, in the registry in
// src/config/registry.cpp; `emp-telemetry env` prints that registry.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emp/telemetry/expected.hpp"

namespace emp::telemetry {

enum class Preset : std::uint8_t { kNone, kApi, kWebhook, kMachine, kWorker };
enum class DeploymentEnv : std::uint8_t { kDevelopment, kStaging, kProduction };
enum class Level : std::uint8_t { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Origin : std::uint8_t { kDefault, kPreset, kEnvironment, kCode };
// What a telemetry call does when its queue is full.
enum class QueueFullPolicy : std::uint8_t { kDrop, kBlock };

std::string_view to_string(Preset) noexcept;         // "api", "worker", ... ("" for kNone)
std::string_view to_string(DeploymentEnv) noexcept;  // "development", ...
std::string_view to_string(Level) noexcept;          // "debug", "info", "warn", "error"
std::string_view to_string(Origin) noexcept;         // "default", "preset", "env", "code"
std::optional<Preset> parse_preset(std::string_view) noexcept;

// Values a service sets in code. Each field names the environment variable it
// overrides; an unset field lets the environment (then preset, then default)
// decide. `raw` sets any registry variable by name with its textual form and
// is validated exactly like the environment, e.g. raw["FLUENTD_PORT"]="24224".
struct Options {
  Preset preset = Preset::kNone;                   // preset, see Client::for_worker()
  std::optional<std::string> service_name;         // SERVICE_NAME (or OTEL_SERVICE_NAME)
  std::optional<std::string> service_version;      // SERVICE_VERSION
  std::optional<std::string> machine_id;           // MACHINE_ID
  std::optional<std::string> worker_id;            // WORKER_ID
  std::optional<DeploymentEnv> environment;        // TELEMETRY_ENV
  std::optional<Level> log_level;                  // LOG_LEVEL
  std::optional<std::string> log_dir;              // LOG_DIR
  std::map<std::string, std::string> raw;          // any registry variable, by name

  // Where environment values come from; defaults to the process environment.
  // Tests inject a map here instead of calling setenv().
  std::function<std::optional<std::string>(std::string_view)> env;
};

// One resolved setting, for dumps. `display` is already redacted for secrets.
struct Setting {
  std::string name;      // the environment variable name
  std::string display;   // value as text; "***" (or partially masked) for secrets
  Origin origin = Origin::kDefault;
  bool secret = false;
  bool set = false;      // false when no source gave a value and there is no default
};

// The finalized, validated configuration. Only finalize() makes one, so a
// Config in hand is known to be valid.
struct Config {
  // identity
  Preset preset = Preset::kNone;
  std::string service_name;
  std::string service_version;
  std::string service_type;   // "api", "webhook", "machine", "worker" or SERVICE_TYPE
  std::string machine_id;
  std::string worker_id;      // empty when unset
  DeploymentEnv environment = DeploymentEnv::kDevelopment;
  std::string environment_name;  // SENTRY_ENVIRONMENT else to_string(environment)

  // log track
  Level log_level = Level::kInfo;
  std::string log_dir;                         // LOG_DIR; default "./telemetry-out"
  std::string log_file = "service.log";        // EMP_LOG_FILE, relative to log_dir
  std::uint64_t log_max_file_bytes = 64ull << 20;  // EMP_LOG_MAX_FILE_SIZE (size with units)
  std::uint32_t log_max_files = 5;             // EMP_LOG_MAX_FILES (rotated files kept)
  std::uint32_t max_message_bytes = 16 * 1024; // EMP_LOG_MAX_MESSAGE_BYTES
  std::uint32_t max_field_bytes = 4 * 1024;    // EMP_LOG_MAX_FIELD_BYTES
  bool log_to_stderr = false;                  // EMP_LOG_STDERR: also echo lines to stderr

  // core queues
  std::uint32_t queue_bytes_per_thread = 256 * 1024;  // EMP_QUEUE_SIZE (size with units)
  QueueFullPolicy queue_full_policy = QueueFullPolicy::kDrop;  // EMP_QUEUE_FULL_POLICY
  std::chrono::milliseconds queue_block_timeout{5};   // EMP_QUEUE_BLOCK_TIMEOUT (duration)
  std::chrono::milliseconds flush_interval{200};      // EMP_FLUSH_INTERVAL (duration)
  std::chrono::milliseconds shutdown_timeout{5000};   // EMP_SHUTDOWN_TIMEOUT (duration)

  // destinations (later tracks consume these; declared now so the registry is whole)
  bool otel_enabled = true;                   // OTEL_ENABLED
  bool sdk_disabled = false;                  // OTEL_SDK_DISABLED
  std::string dash0_api_key;                  // DASH0_API_KEY (secret)
  std::string dash0_dataset;                  // DASH0_DATASET
  std::string dash0_otlp_base_url;            // DASH0_OTLP_BASE_URL
  std::string dash0_api_base_url;             // DASH0_API_BASE_URL
  std::string otlp_endpoint;                  // OTEL_EXPORTER_OTLP_ENDPOINT
  std::string otlp_traces_endpoint;           // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_COLLECTOR_TRACES_ENDPOINT
  std::string otlp_metrics_endpoint;          // OTEL_EXPORTER_OTLP_METRICS_ENDPOINT / OTEL_COLLECTOR_METRICS_ENDPOINT
  std::string otlp_logs_endpoint;             // OTEL_EXPORTER_OTLP_LOGS_ENDPOINT
  std::string fluentd_host;                   // FLUENTD_HOST
  std::uint16_t fluentd_port = 24224;         // FLUENTD_PORT
  bool fluentd_secure = false;                // FLUENTD_SECURE
  std::string sentry_dsn;                     // SENTRY_DSN (secret key part)
  double sentry_sample_rate = 1.0;            // SENTRY_SAMPLE_RATE

  // true when development had no remote destination and fell back to files.
  bool local_fallback = false;

  // Every registry variable with its resolved value and origin, in registry
  // order. Secrets are redacted here; the typed fields above hold real values.
  std::vector<Setting> settings;
  // Informational notes produced while finalizing (e.g. the development
  // fallback to local files). Printed once by the client.
  std::vector<std::string> notices;

  // Resolved raw text of any registry variable (nullopt when unset), for
  // tracks that read their own variables. Secrets are returned unredacted.
  std::optional<std::string> raw(std::string_view name) const;

 private:
  friend Expected<Config> finalize(const Options&);
  std::map<std::string, std::string, std::less<>> raw_;
};

// Validates options + environment + preset + defaults. Never throws.
Expected<Config> finalize(const Options& options);

// A registry entry, as `emp-telemetry env` shows it.
struct VariableInfo {
  std::string_view name;
  std::string_view type;         // "string", "bool", "port", "url", "rate", "level", "duration", "size", ...
  std::string_view default_text; // "" when none
  bool secret;
  std::string_view description;
  std::string_view presets;      // "all" or a comma list such as "machine,worker"
};
const std::vector<VariableInfo>& variables() noexcept;

}  // namespace emp::telemetry
