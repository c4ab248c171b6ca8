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
#include <utility>
#include <vector>

#include "emp/telemetry/expected.hpp"

namespace emp::telemetry {

enum class Preset : std::uint8_t { kNone, kApi, kWebhook, kMachine, kWorker };
enum class DeploymentEnv : std::uint8_t { kDevelopment, kStaging, kProduction };
enum class Level : std::uint8_t {
  kTrace = 0,
  kDebug = 1,
  kInfo = 2,
  kWarn = 3,
  kError = 4,
  kCritical = 5
};
// kEnvFile: from the dotenv file of EMP_ENV_FILE (below the real environment).
enum class Origin : std::uint8_t { kDefault, kPreset, kEnvFile, kEnvironment, kCode };
// What a telemetry call does when its queue is full.
enum class QueueFullPolicy : std::uint8_t { kDrop, kBlock };

std::string_view to_string(Preset) noexcept;         // "api", "worker", ... ("" for kNone)
std::string_view to_string(DeploymentEnv) noexcept;  // "development", ...
std::string_view to_string(
    Level) noexcept;  // "trace", "debug", "info", "warn", "error", "critical"
std::string_view to_string(Origin) noexcept;  // "default", "preset", "env-file", "env", "code"
std::optional<Preset> parse_preset(std::string_view) noexcept;

// Wire protocol of an OTLP exporter (OTEL_EXPORTER_OTLP_*PROTOCOL). grpc is
// recognised but not built in, so a finalized Config never holds kGrpc.
enum class OtlpProtocol : std::uint8_t { kHttpProtobuf, kHttpJson, kGrpc };
// OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE.
enum class Temporality : std::uint8_t { kCumulative, kDelta, kLowMemory };
// OTEL_TRACES_SAMPLER.
enum class SamplerKind : std::uint8_t {
  kAlwaysOn,
  kAlwaysOff,
  kTraceIdRatio,
  kParentBasedAlwaysOn,
  kParentBasedAlwaysOff,
  kParentBasedTraceIdRatio,
};

// OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER, OTEL_LOGS_EXPORTER.
enum class ExporterKind : std::uint8_t { kOtlp, kConsole, kNone };
std::string_view to_string(ExporterKind) noexcept;  // "otlp", "console", "none"

std::string_view to_string(QueueFullPolicy) noexcept;  // "drop", "block"
std::string_view to_string(OtlpProtocol) noexcept;     // "http/protobuf", "http/json", "grpc"
std::string_view to_string(Temporality) noexcept;      // "cumulative", "delta", "lowmemory"
std::string_view to_string(SamplerKind) noexcept;      // "parentbased_always_on", ...

// Ordered key/value pairs, e.g. decoded OTEL_RESOURCE_ATTRIBUTES or headers.
using KeyValues = std::vector<std::pair<std::string, std::string>>;

// One OTLP/HTTP destination, resolved for one signal. Signal-specific
// variables win over the generic ones (docs/otlp.md, "Environment rules").
struct OtlpExport {
  // Full URL to POST to. Empty when OTel is off (OTEL_ENABLED=false or
  // OTEL_SDK_DISABLED) or no endpoint is configured for this signal.
  // Resolution order: OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT (as is), then
  // OTEL_COLLECTOR_<SIGNAL>_ENDPOINT (as is; traces and metrics only), then
  // OTEL_EXPORTER_OTLP_ENDPOINT + "v1/<signal>", then DASH0_OTLP_BASE_URL +
  // "v1/<signal>" (which adds the Dash0 Authorization and Dash0-Dataset headers).
  std::string url;
  std::string url_from;                      // the variable that supplied `url`
  KeyValues headers;                         // values are secret: never log them
  std::chrono::milliseconds timeout{10000};  // 0 = no limit
  OtlpProtocol protocol = OtlpProtocol::kHttpProtobuf;
  bool gzip = false;
  int gzip_level = 1;              // EMP_COMPRESSION_LEVEL (Config::compression_level)
  std::string certificate;         // PEM file of trusted CAs; empty = system store
  std::string client_key;          // PEM private key for mTLS; empty = none
  std::string client_certificate;  // PEM certificate for mTLS; empty = none
  // EMP_OTLP_FAILOVER_ENDPOINTS resolved for this signal (base + "v1/<signal>"),
  // in order of preference; empty when none or when `url` is empty. Every
  // other setting above applies to them too.
  std::vector<std::string> failover_urls;
};

// One Fluentd forward input (FLUENTD_FAILOVER_HOSTS).
struct ForwardEndpoint {
  std::string host;
  std::uint16_t port = 24224;
};

// Batch processor settings (OTEL_BSP_* for spans, OTEL_BLRP_* for log records).
struct BatchSettings {
  std::chrono::milliseconds schedule_delay{5000};
  std::chrono::milliseconds export_timeout{30000};  // 0 = no limit
  std::uint32_t max_queue_size = 2048;
  std::uint32_t max_export_batch_size = 512;  // always <= max_queue_size
};

// Retry of failed deliveries (EMP_RETRY_*): exponential backoff with full
// jitter, honouring the server's Retry-After. See src/deliver/retry.hpp.
struct RetrySettings {
  bool enabled = true;                               // EMP_RETRY_ENABLED
  std::chrono::milliseconds initial_interval{1000};  // EMP_RETRY_INITIAL_INTERVAL
  double multiplier = 1.5;                           // growth per retry (set in code only; >= 1)
  std::chrono::milliseconds max_interval{30000};     // EMP_RETRY_MAX_INTERVAL (>= initial)
  std::chrono::milliseconds max_elapsed{300000};     // EMP_RETRY_MAX_ELAPSED_TIME; 0 = no limit
  std::chrono::milliseconds retry_after_max{60000};  // EMP_RETRY_AFTER_MAX; 0 ignores Retry-After
};

// Circuit breaker of one destination (EMP_CIRCUIT_*): after this many
// consecutive failures the destination is not tried for `cooldown`, then one
// probe decides. See src/deliver/circuit_breaker.hpp.
struct CircuitSettings {
  std::uint32_t failure_threshold = 5;        // EMP_CIRCUIT_FAILURE_THRESHOLD; 0 = never opens
  std::chrono::milliseconds cooldown{30000};  // EMP_CIRCUIT_COOLDOWN
  // After a failure, the backlog is replayed with a send rate that starts at
  // the rate batches arrive and doubles every `recovery_ramp` while answers
  // are good, up to 1.75 times that rate (slow start); 0 sends it as fast
  // as the destination answers.
  std::chrono::milliseconds recovery_ramp{1000};  // EMP_CIRCUIT_RECOVERY_RAMP
};

// One EMP_TRACES_SAMPLER_RULES entry: root spans whose name matches the glob
// `pattern` ('*' any run, '?' one character) are kept with probability `ratio`.
struct SamplerRule {
  std::string pattern;
  double ratio = 1.0;
};

// Values a service sets in code. Each field names the environment variable it
// overrides; an unset field lets the environment (then preset, then default)
// decide. `raw` sets any registry variable by name with its textual form and
// is validated exactly like the environment, e.g. raw["FLUENTD_PORT"]="24224".
struct Options {
  Preset preset = Preset::kNone;               // preset, see Client::for_worker()
  std::optional<std::string> service_name;     // SERVICE_NAME (or OTEL_SERVICE_NAME)
  std::optional<std::string> service_version;  // SERVICE_VERSION
  std::optional<std::string> machine_id;       // MACHINE_ID
  std::optional<std::string> worker_id;        // WORKER_ID
  std::optional<DeploymentEnv> environment;    // TELEMETRY_ENV
  std::optional<Level> log_level;              // LOG_LEVEL
  std::optional<std::string> log_dir;          // LOG_DIR
  std::map<std::string, std::string> raw;      // any registry variable, by name

  // Where environment values come from; defaults to the process environment.
  // Tests inject a map here instead of calling setenv().
  std::function<std::optional<std::string>(std::string_view)> env;
  // The names `env` knows, for the warnings about variables that look meant
  // for this client but are not read by it (misspellings, unsupported
  // OpenTelemetry variables). Defaults to the process environment's names
  // when `env` is unset; an injected `env` without names skips the check.
  std::function<std::vector<std::string>()> env_names;
};

// One resolved setting, for dumps. `display` is already redacted for secrets.
struct Setting {
  std::string name;     // the environment variable name
  std::string display;  // value as text; "***" (or partially masked) for secrets
  Origin origin = Origin::kDefault;
  bool secret = false;
  bool set = false;  // false when no source gave a value and there is no default
  // Set when another variable supplied this value, e.g. SERVICE_NAME taken
  // from OTEL_SERVICE_NAME or from service.name in OTEL_RESOURCE_ATTRIBUTES.
  std::string from;
};

// The finalized, validated configuration. Only finalize() makes one, so a
// Config in hand is known to be valid.
struct Config {
  // identity
  Preset preset = Preset::kNone;
  std::string service_name;
  std::string service_version;
  std::string service_type;  // "api", "webhook", "machine", "worker" or SERVICE_TYPE
  std::string machine_id;
  std::string worker_id;  // empty when unset
  DeploymentEnv environment = DeploymentEnv::kDevelopment;
  std::string environment_name;  // SENTRY_ENVIRONMENT else to_string(environment)

  // log track
  Level log_level = Level::kInfo;
  std::string log_dir;                             // LOG_DIR; default "./telemetry-out"
  std::string log_file = "service.log";            // EMP_LOG_FILE, relative to log_dir
  std::uint64_t log_max_file_bytes = 64ull << 20;  // EMP_LOG_MAX_FILE_SIZE (size with units)
  std::uint32_t log_max_files = 5;                 // EMP_LOG_MAX_FILES (rotated files kept)
  std::uint32_t max_message_bytes = 16 * 1024;     // EMP_LOG_MAX_MESSAGE_BYTES
  std::uint32_t max_field_bytes = 4 * 1024;        // EMP_LOG_MAX_FIELD_BYTES
  bool log_to_stderr = false;                      // EMP_LOG_STDERR: also echo lines to stderr

  // core queues
  std::uint32_t queue_bytes_per_thread = 512 * 1024;           // EMP_QUEUE_SIZE (size with units)
  QueueFullPolicy queue_full_policy = QueueFullPolicy::kDrop;  // EMP_QUEUE_FULL_POLICY
  std::chrono::milliseconds queue_block_timeout{5};            // EMP_QUEUE_BLOCK_TIMEOUT (duration)
  std::chrono::milliseconds flush_interval{200};               // EMP_FLUSH_INTERVAL (duration)
  bool clock_tsc = true;  // EMP_CLOCK_TSC: timestamps from the TSC where the kernel uses it
  std::chrono::milliseconds shutdown_timeout{5000};            // EMP_SHUTDOWN_TIMEOUT (duration)
  std::chrono::milliseconds status_interval{5000};  // EMP_STATUS_INTERVAL (duration; 0 = off)

  // destinations (later tracks consume these; declared now so the registry is whole)
  bool otel_enabled = true;         // OTEL_ENABLED
  bool sdk_disabled = false;        // OTEL_SDK_DISABLED
  std::string dash0_api_key;        // DASH0_API_KEY (secret)
  std::string dash0_dataset;        // DASH0_DATASET
  std::string dash0_otlp_base_url;  // DASH0_OTLP_BASE_URL
  std::string dash0_api_base_url;   // DASH0_API_BASE_URL
  std::string otlp_endpoint;        // OTEL_EXPORTER_OTLP_ENDPOINT
  std::string
      otlp_traces_endpoint;  // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_COLLECTOR_TRACES_ENDPOINT
  std::string otlp_metrics_endpoint;                 // OTEL_EXPORTER_OTLP_METRICS_ENDPOINT /
                                                     // OTEL_COLLECTOR_METRICS_ENDPOINT
  std::string otlp_logs_endpoint;                    // OTEL_EXPORTER_OTLP_LOGS_ENDPOINT
  std::string fluentd_host;                          // FLUENTD_HOST
  std::uint16_t fluentd_port = 24224;                // FLUENTD_PORT
  bool fluentd_secure = false;                       // FLUENTD_SECURE
  bool fluentd_compress = false;                     // FLUENTD_COMPRESS
  std::string fluentd_ca_file;                       // FLUENTD_CA_FILE
  bool fluentd_tls_verify = true;                    // FLUENTD_TLS_VERIFY
  std::string fluentd_shared_key;                    // FLUENTD_SHARED_KEY (secret)
  std::string fluentd_username;                      // FLUENTD_USERNAME
  std::string fluentd_password;                      // FLUENTD_PASSWORD (secret)
  std::chrono::milliseconds fluentd_timeout{10000};  // FLUENTD_TIMEOUT
  // FLUENTD_FAILOVER_HOSTS, in order of preference (a port not given there
  // is fluentd_port).
  std::vector<ForwardEndpoint> fluentd_failover;
  // EMP_OTLP_FAILOVER_ENDPOINTS as given (base URLs); each OtlpExport holds
  // them resolved for its signal.
  std::vector<std::string> otlp_failover_endpoints;
  std::string sentry_dsn;                            // SENTRY_DSN (secret key part)
  double sentry_sample_rate = 1.0;                   // SENTRY_SAMPLE_RATE
  double sentry_traces_sample_rate = 0.0;            // SENTRY_TRACES_SAMPLE_RATE

  // OpenTelemetry SDK settings (the standard OTEL_* variables).
  // OTEL_RESOURCE_ATTRIBUTES, decoded, in the given order. The identity fields
  // above (service_name, service_version, ...) win over the same keys here.
  KeyValues resource_attributes;
  OtlpExport otlp_traces;  // resolved exporter per signal, see OtlpExport
  OtlpExport otlp_metrics;
  OtlpExport otlp_logs;
  SamplerKind sampler = SamplerKind::kParentBasedAlwaysOn;  // OTEL_TRACES_SAMPLER
  double sampler_ratio = 1.0;              // OTEL_TRACES_SAMPLER_ARG (ratio samplers)
  std::vector<SamplerRule> sampler_rules;  // EMP_TRACES_SAMPLER_RULES, first match wins
  bool export_error_spans = true;          // EMP_TRACES_EXPORT_ERRORS
  // OTEL_PROPAGATORS, lowercase, without duplicates; empty for "none".
  std::vector<std::string> propagators{"tracecontext", "baggage"};
  BatchSettings span_batch;  // OTEL_BSP_*
  BatchSettings log_batch{std::chrono::milliseconds{1000}, std::chrono::milliseconds{30000}, 2048,
                          512};                             // OTEL_BLRP_*
  std::chrono::milliseconds metric_export_interval{60000};  // OTEL_METRIC_EXPORT_INTERVAL
  std::chrono::milliseconds metric_export_timeout{30000};   // OTEL_METRIC_EXPORT_TIMEOUT
  Temporality metrics_temporality = Temporality::kCumulative;
  // metrics track
  std::uint32_t metrics_cardinality_limit = 2000;            // EMP_METRICS_CARDINALITY_LIMIT
  std::chrono::milliseconds metrics_callback_timeout{1000};  // EMP_METRICS_CALLBACK_TIMEOUT
  bool metrics_self = true;                                  // EMP_METRICS_SELF
  bool machine_metrics = false;  // EMP_MACHINE_METRICS (unset: true for machine, worker)
  std::optional<std::uint16_t> prometheus_port;  // EMP_PROMETHEUS_PORT (nullopt: off; 0: any port)
  std::string prometheus_host = "127.0.0.1";     // EMP_PROMETHEUS_HOST
  // Attribute limits; the span-specific ones default to the general ones.
  std::uint32_t attribute_count_limit = 128;                  // OTEL_ATTRIBUTE_COUNT_LIMIT
  std::optional<std::uint32_t> attribute_value_length_limit;  // nullopt = no limit
  std::uint32_t span_attribute_count_limit = 128;             // OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT
  std::optional<std::uint32_t> span_attribute_value_length_limit;  // nullopt = no limit
  std::uint32_t span_event_count_limit = 128;                      // OTEL_SPAN_EVENT_COUNT_LIMIT
  std::uint32_t span_link_count_limit = 128;                       // OTEL_SPAN_LINK_COUNT_LIMIT

  // delivery: retry, circuit breaker, disk spool and memory cap of each
  // OTLP destination.
  RetrySettings retry;      // EMP_RETRY_*
  CircuitSettings circuit;  // EMP_CIRCUIT_*
  // EMP_SPOOL_ENABLED for the traces and logs destinations. Unset: true in
  // production, false otherwise; true/false as set.
  bool spool_enabled = false;
  // The metrics destination spools only when EMP_SPOOL_ENABLED=true is set
  // explicitly (cumulative metrics are re-sent whole at the next export).
  bool spool_metrics = false;
  // EMP_SPOOL_DIR, else <log_dir>/spool. Each destination uses its own
  // subdirectory (deliver::spool_directory()).
  std::string spool_dir;
  std::uint64_t spool_max_bytes = 256ull << 20;     // EMP_SPOOL_MAX_SIZE, per destination
  std::uint64_t delivery_memory_cap = 32ull << 20;  // EMP_DELIVERY_MEMORY_CAP, per destination
  // EMP_COMPRESSION_LEVEL: gzip level 0..12 of every compressed request body
  // (OTLP with gzip, Sentry, Fluentd with FLUENTD_COMPRESS). Copied into each
  // OtlpExport::gzip_level.
  int compression_level = 1;

  // true when development had no remote destination and fell back to files.
  bool local_fallback = false;

  // Exporters and outputs (OTEL_*_EXPORTER, EMP_LOG_STDOUT, EMP_LOG_FILES).
  // kNone: the signal is not exported at all (not even to a local file);
  // kConsole: OTLP/JSON lines on stdout instead of a collector or file.
  ExporterKind traces_exporter = ExporterKind::kOtlp;
  ExporterKind metrics_exporter = ExporterKind::kOtlp;
  ExporterKind logs_exporter = ExporterKind::kOtlp;
  bool log_to_stdout = false;              // EMP_LOG_STDOUT: log records as JSON lines on stdout
  bool log_files = true;                   // EMP_LOG_FILES: the JSON-lines log file under log_dir
  bool log_source_location = false;        // EMP_LOG_SOURCE_LOCATION: code.* fields on log records
  Level diagnostics_level = Level::kInfo;  // OTEL_LOG_LEVEL: the client's own stderr notes

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
//
// Rules worth knowing (the registry descriptions have the rest):
//  - An empty value, in code or in the environment, counts as unset.
//  - The service name is the first of: SERVICE_NAME, OTEL_SERVICE_NAME,
//    service.name in OTEL_RESOURCE_ATTRIBUTES, the preset default, the
//    default; a value from a higher origin (code > environment) wins first.
//  - TELEMETRY_ENV=production fails when a destination or credential it needs
//    is missing; staging reports the same findings as notices; development
//    (and staging) with no remote destination sets local_fallback and says so.
// Thread-safe: reads the environment (or Options::env) and nothing else.
Expected<Config> finalize(const Options& options);

// Where each track goes, one line per track, for people: "logs: file
// /srv/out/service.log, OTLP http://c:4318/v1/logs" or "traces: off, because
// OTEL_SDK_DISABLED=true". Contains no secrets.
std::vector<std::string> describe_routes(const Config& config);

// A registry entry, as `emp-telemetry env` shows it.
struct VariableInfo {
  std::string_view name;
  std::string_view
      type;  // "string", "bool", "port", "url", "rate", "level", "duration", "size", ...
  std::string_view default_text;  // "" when none
  bool secret;
  std::string_view description;
  std::string_view presets;  // "all" or a comma list such as "machine,worker"
};
const std::vector<VariableInfo>& variables() noexcept;

}  // namespace emp::telemetry
