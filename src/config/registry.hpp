// The registry: every environment variable emp-telemetry reads, declared once
// in EMP_CONFIG_VARIABLES below with its name, type, default, secrecy, range,
// the presets that use it and a description. finalize() walks it in order,
// `emp-telemetry env` prints it (through variables()), and redaction asks it
// which names are secret, so documentation, validation and dumps cannot drift.
//
// Adding a variable: add one X(...) line here, then read it in finalize.cpp
// (through its Var id). Defaults are text and are validated by the same
// parser as user input (a unit test checks every default parses).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace emp::telemetry::config {

// How a variable's text is validated (see parse.hpp for each syntax).
enum class Type : std::uint8_t {
  kName,          // free identifier text, 1..256 bytes, no control characters
  kToken,         // secret token, no whitespace
  kHost,          // host name or IP, no port
  kPath,          // filesystem path
  kRelativeFile,  // path relative to LOG_DIR
  kFile,          // existing readable file (PEM)
  kBool,
  kPort,
  kUrl,
  kRate,  // [0, 1]
  kLevel,
  kDuration,     // EMP_* durations: integer with unit, plain = ms; range lo..hi ms
  kMillis,       // OTEL_* millisecond values (same syntax); range lo..hi ms
  kSize,         // bytes with units; range lo..hi
  kUint,         // integer lo..hi
  kEnvName,      // development|staging|production
  kQueuePolicy,  // drop|block
  kSampler,
  kSamplerArg,  // rate
  kPropagators,
  kProtocol,
  kCompression,
  kTemporality,
  kHeaders,     // k=v list, secret values
  kAttributes,  // k=v list (resource attributes)
  kDsn,
  kSamplerRules,
  kUrlList,       // comma-separated http(s) URLs (failover endpoints)
  kHostPortList,  // comma-separated host[:port] (failover endpoints)
};

inline constexpr std::int64_t kKiB = 1024;
inline constexpr std::int64_t kMiB = 1024 * kKiB;
inline constexpr std::int64_t kGiB = 1024 * kMiB;
inline constexpr std::int64_t kTiB = 1024 * kGiB;
inline constexpr std::int64_t kSec = 1000;
inline constexpr std::int64_t kMin = 60 * kSec;
inline constexpr std::int64_t kHour = 60 * kMin;

// X(id, NAME, type, default, secret, lo, hi, presets, description)
// `lo`/`hi` bound kUint (count), kSize (bytes), kDuration/kMillis (ms).
// `presets` says which presets use the variable ("all" or a comma list); the
// description states each preset's default where it has one.
// clang-format off
#define EMP_OTLP_SIGNAL_VARIABLES(X, ID, PFX, SIG, SIGNAL_DESC)                                    \
  X(kOtlp##ID##Endpoint, "OTEL_EXPORTER_OTLP_" PFX "ENDPOINT", Type::kUrl, "", false, 0, 0, "all",  \
    "OTLP/HTTP endpoint for " SIGNAL_DESC ", used as is (an empty path becomes /). Wins over "      \
    "OTEL_EXPORTER_OTLP_ENDPOINT.")                                                                 \
  X(kOtlp##ID##Timeout, "OTEL_EXPORTER_OTLP_" PFX "TIMEOUT", Type::kMillis, "", false, 0, kHour,     \
    "all", "Export request timeout for " SIGNAL_DESC " in ms (units accepted); 0 = no limit. "      \
    "Default: OTEL_EXPORTER_OTLP_TIMEOUT.")                                                         \
  X(kOtlp##ID##Protocol, "OTEL_EXPORTER_OTLP_" PFX "PROTOCOL", Type::kProtocol, "", false, 0, 0,     \
    "all", "Protocol for " SIGNAL_DESC ": http/protobuf or http/json (grpc is not built in). "      \
    "Default: OTEL_EXPORTER_OTLP_PROTOCOL.")                                                        \
  X(kOtlp##ID##Headers, "OTEL_EXPORTER_OTLP_" PFX "HEADERS", Type::kHeaders, "", true, 0, 0, "all", \
    "Extra HTTP headers for " SIGNAL_DESC " as k=v,k2=v2 (percent-encoded values; values are "     \
    "secret). Replaces OTEL_EXPORTER_OTLP_HEADERS when set.")                                       \
  X(kOtlp##ID##Compression, "OTEL_EXPORTER_OTLP_" PFX "COMPRESSION", Type::kCompression, "", false, \
    0, 0, "all", "Compression for " SIGNAL_DESC ": gzip or none. Default: "                        \
    "OTEL_EXPORTER_OTLP_COMPRESSION.")                                                              \
  X(kOtlp##ID##Certificate, "OTEL_EXPORTER_OTLP_" PFX "CERTIFICATE", Type::kFile, "", false, 0, 0,  \
    "all", "PEM file of CA certificates trusted for " SIGNAL_DESC " (must exist). Default: "       \
    "OTEL_EXPORTER_OTLP_CERTIFICATE, else the system store.")                                      \
  X(kOtlp##ID##ClientKey, "OTEL_EXPORTER_OTLP_" PFX "CLIENT_KEY", Type::kFile, "", false, 0, 0,     \
    "all", "PEM private key for mTLS to " SIGNAL_DESC " (must exist; needs CLIENT_CERTIFICATE). "   \
    "Default: OTEL_EXPORTER_OTLP_CLIENT_KEY.")                                                      \
  X(kOtlp##ID##ClientCertificate, "OTEL_EXPORTER_OTLP_" PFX "CLIENT_CERTIFICATE", Type::kFile, "",  \
    false, 0, 0, "all", "PEM client certificate for mTLS to " SIGNAL_DESC " (must exist; needs "   \
    "CLIENT_KEY). Default: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE.")

#define EMP_CONFIG_VARIABLES(X)                                                                     \
  /* identity */                                                                                    \
  X(kServiceName, "SERVICE_NAME", Type::kName, "unknown_service", false, 0, 0, "all",               \
    "Service name (resource attribute service.name). First of: SERVICE_NAME, OTEL_SERVICE_NAME, "   \
    "service.name in OTEL_RESOURCE_ATTRIBUTES, the preset default (api: emp-api, webhook: "         \
    "emp-webhook, machine: emp-machine, worker: emp-worker), unknown_service. A value set in code " \
    "beats every environment variable.")                                                            \
  X(kServiceVersion, "SERVICE_VERSION", Type::kName, "unknown", false, 0, 0, "all",                 \
    "Service version (service.version; Sentry release).")                                           \
  X(kServiceType, "SERVICE_TYPE", Type::kName, "service", false, 0, 0, "all",                       \
    "Service type (resource attribute service.type, field service_type). Preset default: the "      \
    "preset name (api, webhook, machine, worker).")                                                 \
  X(kMachineId, "MACHINE_ID", Type::kName, "<host name>", false, 0, 0, "all",                       \
    "Machine id (service.instance.id, field machine_id). Default: this host's name.")               \
  X(kWorkerId, "WORKER_ID", Type::kName, "", false, 0, 0, "worker",                                 \
    "Worker id, <machine_id>-worker-<index>. Preset worker default: <machine_id>-worker-0; "        \
    "unset otherwise.")                                                                             \
  X(kTelemetryEnv, "TELEMETRY_ENV", Type::kEnvName, "development", false, 0, 0, "all",              \
    "development, staging or production. production refuses to start without its destinations "     \
    "(OTLP traces when OTel is on, a log destination, SENTRY_DSN, and DASH0_API_KEY + "             \
    "DASH0_DATASET with DASH0_OTLP_BASE_URL); staging reports them as notices; development (and "   \
    "staging) with no remote destination writes everything to files under LOG_DIR.")               \
  /* log track */                                                                                   \
  X(kLogLevel, "LOG_LEVEL", Type::kLevel, "info", false, 0, 0, "all",                               \
    "Minimum log level: debug, info, warn (or warning), error; any case.")                         \
  X(kLogDir, "LOG_DIR", Type::kPath, "./telemetry-out", false, 0, 0, "all",                         \
    "Directory for log files and the local fallback destination.")                                  \
  X(kLogFile, "EMP_LOG_FILE", Type::kRelativeFile, "service.log", false, 0, 0, "all",               \
    "Log file name, relative to LOG_DIR. Preset default: <preset>.log (api.log, webhook.log, "      \
    "machine.log, worker.log).")                                                                    \
  X(kLogMaxFileSize, "EMP_LOG_MAX_FILE_SIZE", Type::kSize, "64MiB", false, 0, kTiB, "all",          \
    "Rotate the log file before it exceeds this size; 0 = never rotate. Size units: K/KiB, M/MiB, " \
    "G/GiB are binary (1024), KB, MB, GB decimal (1000); no unit = bytes.")                         \
  X(kLogMaxFiles, "EMP_LOG_MAX_FILES", Type::kUint, "5", false, 0, 1000, "all",                     \
    "Rotated log files kept (file.1 .. file.N).")                                                   \
  X(kLogMaxMessageBytes, "EMP_LOG_MAX_MESSAGE_BYTES", Type::kSize, "16KiB", false, 64, 16 * kMiB,   \
    "all", "Log messages longer than this are truncated (size with units).")                       \
  X(kLogMaxFieldBytes, "EMP_LOG_MAX_FIELD_BYTES", Type::kSize, "4KiB", false, 16, 16 * kMiB, "all", \
    "String field values longer than this are truncated (size with units).")                       \
  X(kLogsOtlp, "EMP_LOGS_OTLP", Type::kBool, "", false, 0, 0, "all",                               \
    "Also export log records over OTLP. Unset: only when an OTLP logs endpoint is configured; "    \
    "true: always, to otlp-logs.jsonl under LOG_DIR when no endpoint is; false: never.")          \
  X(kLogStderr, "EMP_LOG_STDERR", Type::kBool, "false", false, 0, 0, "all",                         \
    "Also echo log lines to stderr.")                                                               \
  /* core queues */                                                                                 \
  X(kQueueSize, "EMP_QUEUE_SIZE", Type::kSize, "512KiB", false, 4 * kKiB, kGiB, "all",              \
    "Bytes of queue per producing thread (size with units).")                                      \
  X(kQueueFullPolicy, "EMP_QUEUE_FULL_POLICY", Type::kQueuePolicy, "drop", false, 0, 0, "all",      \
    "When a queue is full: drop (count the record as dropped) or block (wait up to "                \
    "EMP_QUEUE_BLOCK_TIMEOUT, then drop).")                                                         \
  X(kQueueBlockTimeout, "EMP_QUEUE_BLOCK_TIMEOUT", Type::kDuration, "5ms", false, 0, 10 * kSec,     \
    "all", "Longest wait of a telemetry call when EMP_QUEUE_FULL_POLICY=block. Durations: "         \
    "integer with unit ms, s, m or h; no unit = ms.")                                               \
  X(kFlushInterval, "EMP_FLUSH_INTERVAL", Type::kDuration, "200ms", false, 1, kHour, "all",         \
    "How often the background thread drains queues and writes (duration).")                        \
  X(kClockTsc, "EMP_CLOCK_TSC", Type::kBool, "true", false, 0, 0, "all",                            \
    "Timestamps from the CPU's time-stamp counter, converted to wall-clock time with a mapping "   \
    "refreshed against CLOCK_REALTIME every 100 ms, when the kernel's own clocksource is the TSC " \
    "(a third of clock_gettime's cost on the calling thread); false: clock_gettime on every call, " \
    "for the whole process.")                                                                       \
  X(kStatusInterval, "EMP_STATUS_INTERVAL", Type::kDuration, "5s", false, 0, kHour, "all",          \
    "How often the client writes its health to <LOG_DIR>/status/<service>-<pid>.json, which "      \
    "`emp-telemetry health` reads (duration; 0 = never).")                                          \
  X(kShutdownTimeout, "EMP_SHUTDOWN_TIMEOUT", Type::kDuration, "5s", false, 0, 10 * kMin, "all",    \
    "Default deadline of shutdown and of the client's destructor (duration).")                     \
  /* delivery: retry, circuit breaker, disk spool */                                                \
  X(kRetryEnabled, "EMP_RETRY_ENABLED", Type::kBool, "true", false, 0, 0, "all",                    \
    "Retry OTLP requests that failed with 429, 502, 503, 504, a timeout or a connection error. "    \
    "Other failures and partial successes are never retried.")                                      \
  X(kRetryInitialInterval, "EMP_RETRY_INITIAL_INTERVAL", Type::kDuration, "1s", false, 1,           \
    10 * kMin, "all", "Backoff bound of the first retry; each further retry multiplies it by 1.5 "  \
    "up to EMP_RETRY_MAX_INTERVAL. The actual wait is random between 0 and the bound (full "        \
    "jitter), or the server's Retry-After when that is longer.")                                    \
  X(kRetryMaxInterval, "EMP_RETRY_MAX_INTERVAL", Type::kDuration, "30s", false, 1, kHour, "all",    \
    "Largest backoff bound between two retries (duration, >= EMP_RETRY_INITIAL_INTERVAL).")         \
  X(kRetryMaxElapsedTime, "EMP_RETRY_MAX_ELAPSED_TIME", Type::kDuration, "300s", false, 0,          \
    24 * kHour, "all", "Give up retrying a request this long after its first failure (then it "     \
    "is spooled to disk when the spool is on, else dropped as retry_exhausted); 0 = no limit.")     \
  X(kRetryAfterMax, "EMP_RETRY_AFTER_MAX", Type::kDuration, "60s", false, 0, kHour, "all",          \
    "Longest wait a server's Retry-After (429/503) can impose; 0 ignores Retry-After.")             \
  X(kCircuitFailureThreshold, "EMP_CIRCUIT_FAILURE_THRESHOLD", Type::kUint, "5", false, 0, 10000,   \
    "all", "Consecutive failed requests after which a destination is paused (circuit open); "       \
    "0 = never pause.")                                                                             \
  X(kCircuitCooldown, "EMP_CIRCUIT_COOLDOWN", Type::kDuration, "30s", false, 1, kHour, "all",       \
    "How long a paused destination waits before one probe request decides whether it is back.")     \
  X(kCircuitRecoveryRamp, "EMP_CIRCUIT_RECOVERY_RAMP", Type::kDuration, "1s", false, 0, 10 * kMin,   \
    "all", "After a destination failed and answers again, its backlog is replayed paced: from "    \
    "the rate batches were arriving at, the send rate doubles every this long up to 1.75 times "    \
    "that rate while answers are good, and starts over on a failure (429/503 included). 0 = no "    \
    "pacing (as fast as it answers).")                                                              \
  X(kSpoolEnabled, "EMP_SPOOL_ENABLED", Type::kBool, "", false, 0, 0, "all",                        \
    "Keep OTLP requests that cannot be delivered in a disk spool under EMP_SPOOL_DIR and send "     \
    "them after outages and restarts. Unset: on for traces and logs when "                          \
    "TELEMETRY_ENV=production, off otherwise; true: on for traces, metrics and logs; false: off.")  \
  X(kSpoolDir, "EMP_SPOOL_DIR", Type::kPath, "", false, 0, 0, "all",                                \
    "Directory of the disk spools (one subdirectory per destination). Default: LOG_DIR/spool.")     \
  X(kSpoolMaxSize, "EMP_SPOOL_MAX_SIZE", Type::kSize, "256MiB", false, kMiB, kTiB, "all",           \
    "Disk space of each destination's spool; when full, the oldest requests are dropped "           \
    "(spool_full).")                                                                                \
  X(kDeliveryMemoryCap, "EMP_DELIVERY_MEMORY_CAP", Type::kSize, "32MiB", false, 64 * kKiB, kTiB,    \
    "all", "Encoded bytes each OTLP destination keeps in memory while waiting for delivery.")       \
  X(kCompressionLevel, "EMP_COMPRESSION_LEVEL", Type::kUint, "1", false, 0, 12, "all",              \
    "gzip level of compressed request bodies (OTLP with OTEL_EXPORTER_OTLP_COMPRESSION=gzip, "      \
    "Sentry, Fluentd with FLUENTD_COMPRESS): 0 stores, 1 is fastest, 12 is smallest and slowest "   \
    "(libdeflate's scale; 1..9 are close to zlib's levels). See BENCHMARKS.md, Compression.")       \
  /* destinations */                                                                                \
  X(kOtelEnabled, "OTEL_ENABLED", Type::kBool, "true", false, 0, 0, "all",                          \
    "Export traces, metrics and logs over OTLP. false turns every OTLP destination off.")          \
  X(kSdkDisabled, "OTEL_SDK_DISABLED", Type::kBool, "false", false, 0, 0, "all",                    \
    "Standard OTel switch: true disables OTLP export like OTEL_ENABLED=false. Strict: 1, yes and "   \
    "on also count as true; values that are not booleans are errors.")                              \
  X(kDash0ApiKey, "DASH0_API_KEY", Type::kToken, "", true, 0, 0, "all",                             \
    "Dash0 auth token, sent as Authorization: Bearer to DASH0_OTLP_BASE_URL. Secret.")              \
  X(kDash0Dataset, "DASH0_DATASET", Type::kName, "", false, 0, 0, "all",                            \
    "Dash0 dataset, sent as the Dash0-Dataset header.")                                             \
  X(kDash0OtlpBaseUrl, "DASH0_OTLP_BASE_URL", Type::kUrl, "", false, 0, 0, "all",                   \
    "Dash0 OTLP/HTTP ingress base URL; v1/traces, v1/metrics, v1/logs are appended. Used for a "    \
    "signal only when no OTEL_EXPORTER_OTLP_* or OTEL_COLLECTOR_* endpoint covers it.")            \
  X(kDash0ApiBaseUrl, "DASH0_API_BASE_URL", Type::kUrl, "", false, 0, 0, "all",                     \
    "Dash0 API base URL (dashboards, checks); used by the CLI.")                                    \
  X(kFluentdHost, "FLUENTD_HOST", Type::kHost, "", false, 0, 0, "all",                              \
    "Fluentd / Fluent Bit forward input host for the log and event tracks (no port, no scheme).")   \
  X(kFluentdPort, "FLUENTD_PORT", Type::kPort, "24224", false, 0, 0, "all",                         \
    "Fluentd forward port, 1..65535.")                                                              \
  X(kFluentdSecure, "FLUENTD_SECURE", Type::kBool, "false", false, 0, 0, "all",                     \
    "Use TLS to Fluentd.")                                                                          \
  X(kFluentdCompress, "FLUENTD_COMPRESS", Type::kBool, "false", false, 0, 0, "all",                 \
    "Send CompressedPackedForward frames (gzip) to Fluentd instead of PackedForward.")              \
  X(kFluentdCaFile, "FLUENTD_CA_FILE", Type::kFile, "", false, 0, 0, "all",                         \
    "PEM CA bundle that verifies the Fluentd server (FLUENTD_SECURE=true). Default: the system store.")\
  X(kFluentdTlsVerify, "FLUENTD_TLS_VERIFY", Type::kBool, "true", false, 0, 0, "all",               \
    "Verify the Fluentd server's certificate and host name. false only by explicit choice.")        \
  X(kFluentdSharedKey, "FLUENTD_SHARED_KEY", Type::kToken, "", true, 0, 0, "all",                   \
    "Shared key of the forward handshake (HELO/PING/PONG, SHA-512). Secret.")                       \
  X(kFluentdUsername, "FLUENTD_USERNAME", Type::kName, "", false, 0, 0, "all",                      \
    "User name for the forward handshake's user authentication (needs FLUENTD_SHARED_KEY).")        \
  X(kFluentdPassword, "FLUENTD_PASSWORD", Type::kToken, "", true, 0, 0, "all",                      \
    "Password for FLUENTD_USERNAME. Secret.")                                                       \
  X(kFluentdTimeout, "FLUENTD_TIMEOUT", Type::kDuration, "10s", false, 100, 600000, "all",          \
    "Limit of one forward attempt: connect, TLS and key handshakes, send and the ack.")             \
  X(kFluentdFailoverHosts, "FLUENTD_FAILOVER_HOSTS", Type::kHostPortList, "", false, 0, 0, "all",   \
    "Failover forward inputs after FLUENTD_HOST, in order of preference: host[:port] entries, "     \
    "comma-separated ([addr]:port for IPv6; no port = FLUENTD_PORT; at most 8). When "             \
    "FLUENTD_HOST's circuit opens, batches go to the first one that answers; FLUENTD_HOST is "      \
    "probed and taken back when it answers. TLS, shared key and timeout are FLUENTD_HOST's.")       \
  X(kCollectorTracesEndpoint, "OTEL_COLLECTOR_TRACES_ENDPOINT", Type::kUrl, "", false, 0, 0, "all", \
    "Full OTLP/HTTP traces URL (name kept from the original system), used as is. "                  \
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT wins over it; it wins over OTEL_EXPORTER_OTLP_ENDPOINT.")   \
  X(kCollectorMetricsEndpoint, "OTEL_COLLECTOR_METRICS_ENDPOINT", Type::kUrl, "", false, 0, 0,      \
    "all", "Full OTLP/HTTP metrics URL, used as is. OTEL_EXPORTER_OTLP_METRICS_ENDPOINT wins over " \
    "it; it wins over OTEL_EXPORTER_OTLP_ENDPOINT.")                                                \
  X(kOtlpFailoverEndpoints, "EMP_OTLP_FAILOVER_ENDPOINTS", Type::kUrlList, "", false, 0, 0, "all", \
    "Failover OTLP/HTTP base URLs after the configured endpoint of each signal, in order of "       \
    "preference, comma-separated (at most 8); v1/traces, v1/metrics, v1/logs are appended. When "  \
    "the primary's circuit opens, batches go to the first one that answers; the primary is "       \
    "probed and taken back when it answers. Headers, protocol, compression, timeout and TLS "       \
    "files are the primary's (so are credentials: list only endpoints you trust with them).")      \
  X(kSentryDsn, "SENTRY_DSN", Type::kDsn, "", true, 0, 0, "all",                                    \
    "Sentry DSN for the errors track: {scheme}://{public_key}@{host}[:{port}]{path}/{project_id}. " \
    "The key part is secret (shown as https://***@host/42).")                                       \
  X(kSentryEnvironment, "SENTRY_ENVIRONMENT", Type::kName, "", false, 0, 0, "all",                  \
    "Environment name reported to Sentry and in logs. Default: TELEMETRY_ENV.")                     \
  X(kSentrySampleRate, "SENTRY_SAMPLE_RATE", Type::kRate, "1.0", false, 0, 0, "all",                \
    "Fraction of error events sent to Sentry, 0..1.")                                               \
  X(kSentryTracesSampleRate, "SENTRY_TRACES_SAMPLE_RATE", Type::kRate, "0", false, 0, 0, "all",     \
    "Fraction of traces (chosen by trace id) whose local root spans, with their children, also "    \
    "go to Sentry as transactions, 0..1; 0: none.")                                                 \
  /* OpenTelemetry SDK */                                                                           \
  X(kOtelServiceName, "OTEL_SERVICE_NAME", Type::kName, "", false, 0, 0, "all",                     \
    "Standard OTel service name; SERVICE_NAME wins over it, it wins over service.name in "          \
    "OTEL_RESOURCE_ATTRIBUTES.")                                                                    \
  X(kResourceAttributes, "OTEL_RESOURCE_ATTRIBUTES", Type::kAttributes, "", false, 0, 0, "all",     \
    "Extra resource attributes k=v,k2=v2 (percent-encoded). A bad escape is an error.")            \
  X(kTracesSampler, "OTEL_TRACES_SAMPLER", Type::kSampler, "parentbased_always_on", false, 0, 0,    \
    "all", "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or " \
    "parentbased_traceidratio.")                                                                    \
  X(kTracesSamplerArg, "OTEL_TRACES_SAMPLER_ARG", Type::kSamplerArg, "1.0", false, 0, 0, "all",     \
    "Ratio 0..1 for the traceidratio samplers.")                                                    \
  X(kTracesSamplerRules, "EMP_TRACES_SAMPLER_RULES", Type::kSamplerRules, "", false, 0, 0, "all",   \
    "Per-span-name ratios for root spans, glob=ratio pairs, first match wins, e.g. "               \
    "job.*=1.0,process.ws_progress=0.01 ('*' any run, '?' one character). Unmatched spans use "     \
    "OTEL_TRACES_SAMPLER.")                                                                         \
  X(kTracesExportErrors, "EMP_TRACES_EXPORT_ERRORS", Type::kBool, "true", false, 0, 0, "all",       \
    "Always export spans that end with error status, whatever the sampler decided.")               \
  X(kPropagators, "OTEL_PROPAGATORS", Type::kPropagators, "tracecontext,baggage", false, 0, 0,      \
    "all", "Context propagators: tracecontext, baggage, or none.")                                  \
  X(kBspScheduleDelay, "OTEL_BSP_SCHEDULE_DELAY", Type::kMillis, "5000", false, 1, kHour, "all",    \
    "Span batch export interval, ms (units accepted).")                                             \
  X(kBspExportTimeout, "OTEL_BSP_EXPORT_TIMEOUT", Type::kMillis, "30000", false, 0, kHour, "all",   \
    "Bounds each export request of a span batch, ms; the tighter of this and "                      \
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT applies; 0 = no limit.")                                     \
  X(kBspMaxQueueSize, "OTEL_BSP_MAX_QUEUE_SIZE", Type::kUint, "2048", false, 1, 1 << 24, "all",     \
    "Spans waiting for export (the batch being built and batches not yet delivered, "               \
    "dropped or spooled); more are dropped as queue_full.")                                         \
  X(kBspMaxExportBatchSize, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", Type::kUint, "512", false, 1,         \
    1 << 24, "all", "Spans per export request; must not exceed OTEL_BSP_MAX_QUEUE_SIZE.")           \
  X(kBlrpScheduleDelay, "OTEL_BLRP_SCHEDULE_DELAY", Type::kMillis, "1000", false, 1, kHour, "all",  \
    "Log record batch export interval, ms (units accepted).")                                       \
  X(kBlrpExportTimeout, "OTEL_BLRP_EXPORT_TIMEOUT", Type::kMillis, "30000", false, 0, kHour, "all", \
    "Bounds each export request of a log record batch, ms; the tighter of this and "                \
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT applies; 0 = no limit.")                                       \
  X(kBlrpMaxQueueSize, "OTEL_BLRP_MAX_QUEUE_SIZE", Type::kUint, "2048", false, 1, 1 << 24, "all",   \
    "Log records buffered for export.")                                                             \
  X(kBlrpMaxExportBatchSize, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", Type::kUint, "512", false, 1,       \
    1 << 24, "all", "Log records per export request; must not exceed OTEL_BLRP_MAX_QUEUE_SIZE.")    \
  X(kMetricExportInterval, "OTEL_METRIC_EXPORT_INTERVAL", Type::kMillis, "60000", false, 1,         \
    24 * kHour, "all", "Metric collection and export interval, ms (units accepted).")              \
  X(kMetricExportTimeout, "OTEL_METRIC_EXPORT_TIMEOUT", Type::kMillis, "30000", false, 0, kHour,    \
    "all", "Metric export timeout, ms; 0 = no limit.")                                              \
  X(kTemporality, "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", Type::kTemporality,          \
    "cumulative", false, 0, 0, "all", "cumulative, delta or lowmemory.")                            \
  /* metrics track */                                                                               \
  X(kMetricsCardinalityLimit, "EMP_METRICS_CARDINALITY_LIMIT", Type::kUint, "2000", false, 1,       \
    1000000, "all", "Attribute sets kept per metric instrument; measurements with further sets "   \
    "are added to one series with otel.metric.overflow=true.")                                     \
  X(kMetricsCallbackTimeout, "EMP_METRICS_CALLBACK_TIMEOUT", Type::kDuration, "1s", false, 1,       \
    10 * kMin, "all", "Longest time an observable-instrument callback may run at a collection; "   \
    "one that takes longer is abandoned for that collection (duration).")                           \
  X(kMetricsSelf, "EMP_METRICS_SELF", Type::kBool, "true", false, 0, 0, "all",                      \
    "Export the client's own health counters as metrics (emp_telemetry.records, "                  \
    "emp_telemetry.dropped, emp_telemetry.destination.*).")                                         \
  X(kMachineMetrics, "EMP_MACHINE_METRICS", Type::kBool, "", false, 0, 0, "machine,worker",         \
    "Export machine resource metrics (CPU, memory, disk, file descriptors, GPU through NVML; see "  \
    "docs/machine-metrics.md). Default: true for the machine and worker presets, else false.")     \
  X(kPrometheusPort, "EMP_PROMETHEUS_PORT", Type::kUint, "", false, 0, 65535, "all",                \
    "Serve metrics for Prometheus at http://EMP_PROMETHEUS_HOST:<port>/metrics (text format). "    \
    "Unset: no endpoint; 0: any free port.")                                                        \
  X(kPrometheusHost, "EMP_PROMETHEUS_HOST", Type::kHost, "127.0.0.1", false, 0, 0, "all",           \
    "Address the Prometheus endpoint listens on; 0.0.0.0 exposes it to the network.")              \
  X(kOtlpEndpoint, "OTEL_EXPORTER_OTLP_ENDPOINT", Type::kUrl, "", false, 0, 0, "all",               \
    "OTLP/HTTP base URL for every signal; v1/traces, v1/metrics, v1/logs are appended. Unlike the " \
    "OTel default (http://localhost:4318) it has no default: unset means no OTLP destination.")    \
  X(kOtlpTimeout, "OTEL_EXPORTER_OTLP_TIMEOUT", Type::kMillis, "10000", false, 0, kHour, "all",     \
    "OTLP export request timeout, ms (units accepted); 0 = no limit.")                              \
  X(kOtlpProtocol, "OTEL_EXPORTER_OTLP_PROTOCOL", Type::kProtocol, "http/protobuf", false, 0, 0,    \
    "all", "http/protobuf or http/json (grpc is not built in).")                                    \
  X(kOtlpHeaders, "OTEL_EXPORTER_OTLP_HEADERS", Type::kHeaders, "", true, 0, 0, "all",              \
    "Extra HTTP headers for every signal, k=v,k2=v2 (percent-encoded values; values are secret).")  \
  X(kOtlpCompression, "OTEL_EXPORTER_OTLP_COMPRESSION", Type::kCompression, "none", false, 0, 0,    \
    "all", "gzip or none.")                                                                         \
  X(kOtlpCertificate, "OTEL_EXPORTER_OTLP_CERTIFICATE", Type::kFile, "", false, 0, 0, "all",        \
    "PEM file of trusted CA certificates (must exist); default: the system store.")                 \
  X(kOtlpClientKey, "OTEL_EXPORTER_OTLP_CLIENT_KEY", Type::kFile, "", false, 0, 0, "all",           \
    "PEM private key for mTLS (must exist; needs OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE).")          \
  X(kOtlpClientCertificate, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", Type::kFile, "", false, 0, 0,  \
    "all", "PEM client certificate for mTLS (must exist; needs OTEL_EXPORTER_OTLP_CLIENT_KEY).")    \
  EMP_OTLP_SIGNAL_VARIABLES(X, Traces, "TRACES_", "traces", "traces")                               \
  EMP_OTLP_SIGNAL_VARIABLES(X, Metrics, "METRICS_", "metrics", "metrics")                           \
  EMP_OTLP_SIGNAL_VARIABLES(X, Logs, "LOGS_", "logs", "logs")                                       \
  X(kAttributeCountLimit, "OTEL_ATTRIBUTE_COUNT_LIMIT", Type::kUint, "128", false, 0, 1 << 20,      \
    "all", "Attributes kept per span, event, link or log record.")                                  \
  X(kAttributeValueLengthLimit, "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", Type::kUint, "", false, 0,     \
    1 << 30, "all", "Longest string attribute value kept (bytes); unset = no limit.")              \
  X(kSpanAttributeCountLimit, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", Type::kUint, "", false, 0,         \
    1 << 20, "all", "Attributes kept per span. Default: OTEL_ATTRIBUTE_COUNT_LIMIT (128).")         \
  X(kSpanAttributeValueLengthLimit, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", Type::kUint, "",      \
    false, 0, 1 << 30, "all", "Longest span attribute string value kept. Default: "                 \
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT (no limit).")                                                \
  X(kSpanEventCountLimit, "OTEL_SPAN_EVENT_COUNT_LIMIT", Type::kUint, "128", false, 0, 1 << 20,     \
    "all", "Events kept per span.")                                                                 \
  X(kSpanLinkCountLimit, "OTEL_SPAN_LINK_COUNT_LIMIT", Type::kUint, "128", false, 0, 1 << 20,       \
    "all", "Links kept per span.")                                                                  \
  X(kTracesExporter, "OTEL_TRACES_EXPORTER", Type::kName, "otlp", false, 0, 0, "all",               \
    "Where spans go: otlp (collector, or a local OTLP/JSON file without one), console "             \
    "(OTLP/JSON lines on stdout) or none.")                                                         \
  X(kMetricsExporter, "OTEL_METRICS_EXPORTER", Type::kName, "otlp", false, 0, 0, "all",             \
    "Where metrics go: otlp, console (OTLP/JSON lines on stdout) or none. The Prometheus "          \
    "endpoint is set apart (EMP_PROMETHEUS_PORT).")                                                 \
  X(kLogsExporter, "OTEL_LOGS_EXPORTER", Type::kName, "otlp", false, 0, 0, "all",                   \
    "OTLP export of log records: otlp (see EMP_LOGS_OTLP), console (OTLP/JSON lines on "            \
    "stdout) or none. The JSON-lines log file is set apart (EMP_LOG_FILES).")                       \
  X(kOtelLogLevel, "OTEL_LOG_LEVEL", Type::kLevel, "info", false, 0, 0, "all",                      \
    "The client's own messages on stderr: debug or info print problems and start-up notes; "        \
    "warn or error print problems only.")                                                           \
  X(kOtelPrometheusHost, "OTEL_EXPORTER_PROMETHEUS_HOST", Type::kHost, "", false, 0, 0, "all",      \
    "Same as EMP_PROMETHEUS_HOST (which wins when both are set).")                                  \
  X(kOtelPrometheusPort, "OTEL_EXPORTER_PROMETHEUS_PORT", Type::kUint, "", false, 0, 65535,         \
    "all", "Same as EMP_PROMETHEUS_PORT (which wins when both are set).")                           \
  X(kLogStdout, "EMP_LOG_STDOUT", Type::kBool, "false", false, 0, 0, "all",                         \
    "Write log records as JSON lines to stdout (containers, systemd).")                             \
  X(kLogSourceLocation, "EMP_LOG_SOURCE_LOCATION", Type::kBool, "false", false, 0, 0, "all",       \
    "Add where each log call was written to its record: code.file.path, code.line.number, "         \
    "code.function.name (OpenTelemetry semantic conventions).")                                      \
  X(kLogFiles, "EMP_LOG_FILES", Type::kBool, "true", false, 0, 0, "all",                            \
    "Write log records to EMP_LOG_FILE under LOG_DIR; false turns file logging off.")               \
  X(kEnvFile, "EMP_ENV_FILE", Type::kPath, "", false, 0, 0, "all",                                 \
    "A dotenv file (NAME=value lines) read under the real environment, which wins over it; "       \
    "no shell expansion. `--env-file` of the CLI sets it.")
// clang-format on

#define EMP_CONFIG_VAR_ID(id, ...) id,
enum class Var : std::uint16_t { EMP_CONFIG_VARIABLES(EMP_CONFIG_VAR_ID) kCount };
#undef EMP_CONFIG_VAR_ID

inline constexpr std::size_t kVarCount = static_cast<std::size_t>(Var::kCount);

struct VarSpec {
  Var id;
  std::string_view name;
  Type type;
  std::string_view default_text;  // "" = none; "<host name>" is computed (MACHINE_ID)
  bool secret;
  std::int64_t lo;
  std::int64_t hi;
  std::string_view presets;
  std::string_view description;
};

// Every variable, in registry order (index == static_cast<size_t>(Var)).
const std::array<VarSpec, kVarCount>& specs() noexcept;
inline const VarSpec& spec(Var v) noexcept { return specs()[static_cast<std::size_t>(v)]; }
// nullptr when `name` is not a registry variable. Case-sensitive.
const VarSpec* find_spec(std::string_view name) noexcept;
// The type as `emp-telemetry env` shows it, e.g. "duration", "drop|block".
std::string_view type_text(Type type) noexcept;
// True when the default text is computed at finalize time (e.g. "<host name>").
bool is_computed_default(const VarSpec& spec) noexcept;

}  // namespace emp::telemetry::config
