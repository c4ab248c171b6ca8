// Names of the configuration enums, Config::raw and describe_routes(); see
// config.hpp.
#include "emp/telemetry/config.hpp"

#include <filesystem>

#include "config/parse.hpp"
#include "config/redact.hpp"
#include "core/strings.hpp"

namespace emp::telemetry {

std::string_view to_string(Preset preset) noexcept {
  switch (preset) {
    case Preset::kNone:
      return "";
    case Preset::kApi:
      return "api";
    case Preset::kWebhook:
      return "webhook";
    case Preset::kMachine:
      return "machine";
    case Preset::kWorker:
      return "worker";
  }
  return "";
}

std::string_view to_string(DeploymentEnv env) noexcept {
  switch (env) {
    case DeploymentEnv::kDevelopment:
      return "development";
    case DeploymentEnv::kStaging:
      return "staging";
    case DeploymentEnv::kProduction:
      return "production";
  }
  return "development";
}

std::string_view to_string(Level level) noexcept {
  switch (level) {
    case Level::kTrace:
      return "trace";
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kCritical:
      return "critical";
  }
  return "info";
}

std::string_view to_string(Origin origin) noexcept {
  switch (origin) {
    case Origin::kDefault:
      return "default";
    case Origin::kPreset:
      return "preset";
    case Origin::kEnvFile:
      return "env-file";
    case Origin::kEnvironment:
      return "env";
    case Origin::kCode:
      return "code";
  }
  return "default";
}

std::string_view to_string(QueueFullPolicy policy) noexcept {
  return policy == QueueFullPolicy::kBlock ? "block" : "drop";
}

std::string_view to_string(OtlpProtocol protocol) noexcept {
  switch (protocol) {
    case OtlpProtocol::kHttpProtobuf:
      return "http/protobuf";
    case OtlpProtocol::kHttpJson:
      return "http/json";
    case OtlpProtocol::kGrpc:
      return "grpc";
  }
  return "http/protobuf";
}

std::string_view to_string(Temporality temporality) noexcept {
  switch (temporality) {
    case Temporality::kCumulative:
      return "cumulative";
    case Temporality::kDelta:
      return "delta";
    case Temporality::kLowMemory:
      return "lowmemory";
  }
  return "cumulative";
}

std::string_view to_string(SamplerKind sampler) noexcept {
  switch (sampler) {
    case SamplerKind::kAlwaysOn:
      return "always_on";
    case SamplerKind::kAlwaysOff:
      return "always_off";
    case SamplerKind::kTraceIdRatio:
      return "traceidratio";
    case SamplerKind::kParentBasedAlwaysOn:
      return "parentbased_always_on";
    case SamplerKind::kParentBasedAlwaysOff:
      return "parentbased_always_off";
    case SamplerKind::kParentBasedTraceIdRatio:
      return "parentbased_traceidratio";
  }
  return "parentbased_always_on";
}

std::optional<Preset> parse_preset(std::string_view text) noexcept {
  for (Preset p : {Preset::kApi, Preset::kWebhook, Preset::kMachine, Preset::kWorker}) {
    if (core::iequals(text, to_string(p))) return p;
  }
  if (text.empty() || text == "none") return Preset::kNone;
  return std::nullopt;
}

std::optional<std::string> Config::raw(std::string_view name) const {
  auto it = raw_.find(name);
  if (it == raw_.end()) return std::nullopt;
  return it->second;
}

}  // namespace emp::telemetry

namespace emp::telemetry {

std::string_view to_string(ExporterKind kind) noexcept {
  switch (kind) {
    case ExporterKind::kOtlp:
      return "otlp";
    case ExporterKind::kConsole:
      return "console";
    case ExporterKind::kNone:
      return "none";
  }
  return "otlp";
}

namespace {

std::string absolute(const std::string& dir) {
  std::error_code ec;
  auto p = std::filesystem::absolute(dir.empty() ? std::string("./telemetry-out") : dir, ec);
  return ec ? dir : p.lexically_normal().string();
}

// Where one OTLP signal goes, or why it goes nowhere.
std::string otlp_route(const Config& c, std::string_view signal, const OtlpExport& e,
                       ExporterKind kind, std::string_view exporter_variable,
                       const std::string& file) {
  if (!c.otel_enabled) return "off, because OTEL_ENABLED=false";
  if (c.sdk_disabled) return "off, because OTEL_SDK_DISABLED=true";
  if (kind == ExporterKind::kNone)
    return "off, because " + std::string(exporter_variable) + "=none";
  if (kind == ExporterKind::kConsole)
    return "stdout (OTLP/JSON lines, " + std::string(exporter_variable) + "=console)";
  if (!e.url.empty()) {
    return "OTLP " + config::redact_url_userinfo(e.url) + " (" +
           std::string(to_string(e.protocol)) + ", from " + e.url_from + ")";
  }
  return "file " + absolute(c.log_dir) + "/" + file + " (OTLP/JSON; no " + std::string(signal) +
         " endpoint is set)";
}

}  // namespace

std::vector<std::string> describe_routes(const Config& c) {
  std::vector<std::string> out;
  // logs
  std::vector<std::string> logs;
  if (c.log_files) logs.push_back("file " + absolute(c.log_dir) + "/" + c.log_file);
  if (c.log_to_stdout) logs.push_back("stdout (JSON lines)");
  if (c.log_to_stderr) logs.push_back("stderr (JSON lines)");
  const auto otlp_logs = c.raw("EMP_LOGS_OTLP");
  const bool logs_otlp =
      otlp_logs ? config::parse_bool(*otlp_logs).ok() && config::parse_bool(*otlp_logs).value()
                : !c.otlp_logs.url.empty();
  if (logs_otlp || c.logs_exporter == ExporterKind::kConsole) {
    const std::string r = otlp_route(c, "logs", c.otlp_logs, c.logs_exporter, "OTEL_LOGS_EXPORTER",
                                     "otlp-logs.jsonl");
    if (r.rfind("off", 0) != 0) logs.push_back(r);
  }
  std::string line = "logs:    ";
  if (logs.empty()) {
    line += "off, because EMP_LOG_FILES=false and no other log output is on";
  } else {
    for (std::size_t i = 0; i < logs.size(); ++i) line += (i ? "; " : "") + logs[i];
  }
  out.push_back(std::move(line));
  out.push_back("traces:  " + otlp_route(c, "traces", c.otlp_traces, c.traces_exporter,
                                         "OTEL_TRACES_EXPORTER", "otlp-traces.jsonl"));
  std::string metrics = "metrics: " + otlp_route(c, "metrics", c.otlp_metrics, c.metrics_exporter,
                                                 "OTEL_METRICS_EXPORTER", "otlp-metrics.jsonl");
  if (c.prometheus_port && c.otel_enabled && !c.sdk_disabled) {
    metrics += "; Prometheus http://" + c.prometheus_host + ":" +
               (*c.prometheus_port == 0 ? std::string("<any free port>")
                                        : std::to_string(*c.prometheus_port)) +
               "/metrics";
  }
  out.push_back(std::move(metrics));
  if (!c.fluentd_host.empty()) {
    std::string f = "fluentd: forward protocol to " + config::redact_url_userinfo(c.fluentd_host) +
                    ":" + std::to_string(c.fluentd_port) + (c.fluentd_secure ? " over TLS" : "");
    if (c.fluentd_compress) f += ", gzip";
    f += " (log records and events, acknowledged)";
    out.push_back(std::move(f));
  }
  if (!c.sentry_dsn.empty()) {
    auto dsn = config::parse_sentry_dsn(c.sentry_dsn);
    out.push_back("errors:  " +
                  (dsn ? "Sentry project " + dsn.value().project_id + " at " + dsn.value().host
                       : std::string("off, because SENTRY_DSN is invalid")));
  } else {
    out.push_back("errors:  file " + absolute(c.log_dir) +
                  "/sentry-events.jsonl (Sentry event JSON; no SENTRY_DSN is set)");
  }
  out.push_back("events:  file " + absolute(c.log_dir) +
                "/events.jsonl, with the log records' OTLP and Fluentd outputs");
  return out;
}

}  // namespace emp::telemetry
