// finalize(): Options + environment + preset + registry defaults -> Config.
//
// One pass over the registry resolves each variable's text and origin and
// validates it with its type's parser; then the cross-variable rules run
// (service name precedence, batch <= queue, mTLS pairs, deployment checks)
// and the typed Config fields are filled. Every problem is collected; the
// Config is returned only when there are none.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <variant>

#include "config/dotenv.hpp"
#include "config/parse.hpp"
#include "config/process_env.hpp"
#include "config/redact.hpp"
#include "config/registry.hpp"
#include "core/strings.hpp"
#include "emp/telemetry/config.hpp"

namespace emp::telemetry {
namespace {

using config::spec;
using config::specs;
using config::Type;
using config::Var;
using config::VarSpec;
using std::chrono::milliseconds;

using Value =
    std::variant<std::monostate, bool, std::uint64_t, double, milliseconds, std::string, KeyValues,
                 std::vector<SamplerRule>, std::vector<std::string>, std::vector<config::HostPort>,
                 config::Url, config::SentryDsn,
                 Level, DeploymentEnv, QueueFullPolicy, SamplerKind, OtlpProtocol, Temporality>;

// One variable while finalizing.
struct Slot {
  std::optional<std::string> text;  // trimmed; nullopt = unset
  Origin origin = Origin::kDefault;
  Value value;  // monostate when unset or invalid
  bool invalid = false;
  std::string from;  // another variable that supplied the value
};

class Finalizer {
 public:
  explicit Finalizer(const Options& options) : options_(options) {}

  Expected<Config> run();
  // The resolved text of every set variable, for Config::raw().
  std::map<std::string, std::string, std::less<>> take_raw() { return std::move(raw_out_); }

 private:
  Slot& slot(Var v) { return slots_[static_cast<std::size_t>(v)]; }
  const Slot& slot(Var v) const { return slots_[static_cast<std::size_t>(v)]; }
  bool provided(Var v) const { return slot(v).text.has_value(); }
  template <typename T>
  const T* get(Var v) const {
    return std::get_if<T>(&slot(v).value);
  }
  void error(std::string_view subject, std::string message) {
    errors_.push_back(Error{std::string(subject), std::move(message)});
  }

  void collect_code_values();
  std::optional<std::string> environment(std::string_view name) const;
  std::optional<std::string> preset_default(Var v) const;
  void resolve(const VarSpec& s);
  void validate(const VarSpec& s);
  void resolve_service_name();
  void check_cross_field();
  void check_fluentd();
  void check_mtls_pair(Var key, Var cert, Var generic_key, Var generic_cert);
  void fill(Config& c);
  OtlpExport resolve_signal(std::string_view signal, Var endpoint, std::optional<Var> collector,
                            Var timeout, Var protocol, Var headers, Var compression, Var cert,
                            Var key, Var client_cert) const;
  void check_deployment(Config& c);
  void check_names(Config& c) const;
  void load_env_file();
  void check_outputs(Config& c);

  const Options& options_;
  std::array<Slot, config::kVarCount> slots_;
  std::map<std::string, std::string, std::less<>> code_;
  Errors errors_;
  std::map<std::string, std::string, std::less<>> raw_out_;
  std::string env_file_;  // EMP_ENV_FILE, when set
  std::map<std::string, std::string, std::less<>> file_env_;
};

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return std::string(buf);
}

// Edit distance with adjacent transpositions counted as one edit (optimal
// string alignment), so "LEVLE" is one edit from "LEVEL".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The registry name closest to `name` (any case), when it is close enough to
// be a likely misspelling; empty otherwise.
std::string_view closest_name(std::string_view name) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  const std::string upper = core::to_upper(name.substr(0, 128));
  // "EMP_LOG_LEVLE" is meant as LOG_LEVEL: a family prefix added or left out
  // costs one edit, not four.
  std::string_view bare = upper;
  if (bare.substr(0, 4) == "EMP_") bare.remove_prefix(4);
  for (const VarSpec& s : specs()) {
    std::size_t d = edit_distance(upper, s.name);
    d = std::min(d, edit_distance(bare, s.name) + 1);
    if (s.name.substr(0, 4) == "EMP_") d = std::min(d, edit_distance(upper, s.name.substr(4)) + 1);
    if (d < best_distance) {
      best_distance = d;
      best = s.name;
    }
  }
  if (best_distance <= std::max<std::size_t>(2, upper.size() / 4)) return best;
  return {};
}

std::string unknown_key_message(std::string_view key) {
  std::string message = "unknown variable in Options::raw (`emp-telemetry env` lists them)";
  if (const std::string_view best = closest_name(key); !best.empty()) {
    message += "; did you mean " + std::string(best) + "?";
  }
  return message;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Standard OpenTelemetry variables (https://opentelemetry.io/docs/specs/otel/
// configuration/sdk-environment-variables/ and the OTLP exporter spec) that
// this client does not implement: named as such rather than as typos.
constexpr std::string_view kUnsupportedOtel[] = {
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
    "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
    "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
    "OTEL_METRICS_EXEMPLAR_FILTER",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_EXPORTER_ZIPKIN_ENDPOINT",
    "OTEL_EXPORTER_ZIPKIN_TIMEOUT",
    "OTEL_CONFIG_FILE",
    "OTEL_EXPERIMENTAL_CONFIG_FILE",
    "OTEL_SEMCONV_STABILITY_OPT_IN",
};

// Variables of other OpenTelemetry SDKs and agents that may share the
// environment (a Python or Java process in the same container): not ours,
// not typos, so not warned about.
constexpr std::string_view kOtherSdkPrefixes[] = {
    "OTEL_PYTHON_",
    "OTEL_JAVA",
    "OTEL_NODE_",
    "OTEL_DOTNET_",
    "OTEL_GO_",
    "OTEL_PHP_",
    "OTEL_RUBY_",
    "OTEL_INSTRUMENTATION_",
    "OTEL_EXPORTER_JAEGER_",
};

// True for names of the families this client owns (a misspelling there is
// almost certainly meant for it).
bool owned_family(std::string_view name) {
  for (std::string_view prefix : {"EMP_", "OTEL_", "FLUENTD_", "SENTRY_", "DASH0_", "SERVICE_",
                                  "MACHINE_", "WORKER_", "TELEMETRY_"}) {
    if (starts_with(name, prefix)) return true;
  }
  // LOG_* is everybody's; only near-misses of our two names count.
  return starts_with(name, "LOG_") &&
         (edit_distance(name, "LOG_DIR") <= 2 || edit_distance(name, "LOG_LEVEL") <= 2);
}

void Finalizer::collect_code_values() {
  for (const auto& [key, value] : options_.raw) {
    if (config::find_spec(key) == nullptr) {
      error(key, unknown_key_message(key));
      continue;
    }
    if (!config::trim(value).empty()) code_[key] = std::string(config::trim(value));
  }
  auto typed = [&](Var v, const std::optional<std::string>& value, std::string_view field) {
    if (!value || config::trim(*value).empty()) return;
    const std::string text(config::trim(*value));
    const std::string_view name = spec(v).name;
    auto it = code_.find(name);
    if (it != code_.end() && it->second != text) {
      error(name, "set twice in code with different values: Options::" + std::string(field) +
                      " and Options::raw[\"" + std::string(name) + "\"]");
    }
    code_[std::string(name)] = text;
  };
  typed(Var::kServiceName, options_.service_name, "service_name");
  typed(Var::kServiceVersion, options_.service_version, "service_version");
  typed(Var::kMachineId, options_.machine_id, "machine_id");
  typed(Var::kWorkerId, options_.worker_id, "worker_id");
  if (options_.environment) {
    typed(Var::kTelemetryEnv, std::string(to_string(*options_.environment)), "environment");
  }
  if (options_.log_level)
    typed(Var::kLogLevel, std::string(to_string(*options_.log_level)), "log_level");
  typed(Var::kLogDir, options_.log_dir, "log_dir");
}

std::optional<std::string> Finalizer::environment(std::string_view name) const {
  if (options_.env) return options_.env(name);
  return config::process_env(name);
}

std::optional<std::string> Finalizer::preset_default(Var v) const {
  const Preset preset = options_.preset;
  if (preset == Preset::kNone) return std::nullopt;
  const std::string type(to_string(preset));
  switch (v) {
    case Var::kServiceName:
      return "emp-" + type;
    case Var::kServiceType:
      return type;
    case Var::kLogFile:
      return type + ".log";
    case Var::kWorkerId: {
      if (preset != Preset::kWorker) return std::nullopt;
      const std::string* machine = get<std::string>(Var::kMachineId);
      if (machine == nullptr) return std::nullopt;  // MACHINE_ID is invalid: reported there
      return *machine + "-worker-0";
    }
    default:
      return std::nullopt;
  }
}

void Finalizer::resolve(const VarSpec& s) {
  Slot& sl = slot(s.id);
  if (auto it = code_.find(s.name); it != code_.end()) {
    sl.text = it->second;
    sl.origin = Origin::kCode;
  } else if (auto env = environment(s.name); env && !config::trim(*env).empty()) {
    // Empty (or blank) means unset, as the OTel specification asks.
    sl.text = std::string(config::trim(*env));
    sl.origin = Origin::kEnvironment;
  } else if (auto it = file_env_.find(s.name);
             it != file_env_.end() && !config::trim(it->second).empty()) {
    sl.text = std::string(config::trim(it->second));
    sl.origin = Origin::kEnvFile;
    sl.from = env_file_;
  } else if (auto preset = preset_default(s.id)) {
    sl.text = std::move(*preset);
    sl.origin = Origin::kPreset;
  } else if (config::is_computed_default(s)) {
    sl.text = host_name();
    sl.origin = Origin::kDefault;
  } else if (!s.default_text.empty()) {
    sl.text = std::string(s.default_text);
    sl.origin = Origin::kDefault;
  }
  if (sl.text) validate(s);
}

void Finalizer::validate(const VarSpec& s) {
  Slot& sl = slot(s.id);
  const std::string& text = *sl.text;
  std::optional<config::ParseError> failure;
  auto take = [&](auto result) {
    if (result) {
      sl.value = std::move(result).value();
    } else {
      failure = result.error();
    }
  };
  switch (s.type) {
    case Type::kName:
      take(config::parse_name(text));
      break;
    case Type::kToken:
      take(config::parse_token(text));
      break;
    case Type::kHost:
      take(config::parse_host(text));
      break;
    case Type::kPath:
      take(config::parse_path(text));
      break;
    case Type::kRelativeFile:
      take(config::parse_relative_file(text));
      break;
    case Type::kFile: {
      auto path = config::parse_path(text);
      if (path) {
        std::error_code ec;
        const bool regular = std::filesystem::is_regular_file(path.value(), ec);
        if (!regular || ::access(path.value().c_str(), R_OK) != 0) {
          failure = config::make_error("must name an existing readable file", config::quote(text));
          break;
        }
      }
      take(std::move(path));
      break;
    }
    case Type::kBool:
      take(config::parse_bool(text));
      break;
    case Type::kPort: {
      auto port = config::parse_port(text);
      if (port) {
        sl.value = static_cast<std::uint64_t>(port.value());
      } else {
        failure = port.error();
      }
      break;
    }
    case Type::kUrl:
      take(config::parse_url(text));
      break;
    case Type::kRate:
    case Type::kSamplerArg:
      take(config::parse_rate(text));
      break;
    case Type::kLevel:
      take(config::parse_level(text));
      break;
    case Type::kDuration:
    case Type::kMillis:
      take(config::parse_duration(text, milliseconds{s.lo}, milliseconds{s.hi}));
      break;
    case Type::kSize:
      take(config::parse_size(text, static_cast<std::uint64_t>(s.lo),
                              static_cast<std::uint64_t>(s.hi)));
      break;
    case Type::kUint:
      take(config::parse_uint(text, static_cast<std::uint64_t>(s.lo),
                              static_cast<std::uint64_t>(s.hi)));
      break;
    case Type::kEnvName:
      take(config::parse_deployment_env(text));
      break;
    case Type::kQueuePolicy:
      take(config::parse_queue_full_policy(text));
      break;
    case Type::kSampler:
      take(config::parse_sampler(text));
      break;
    case Type::kPropagators:
      take(config::parse_propagators(text));
      break;
    case Type::kProtocol: {
      auto protocol = config::parse_otlp_protocol(text);
      if (protocol && protocol.value() == OtlpProtocol::kGrpc) {
        failure = config::make_error("grpc is not supported by this build; use http/protobuf",
                                     config::quote(text));
        break;
      }
      take(std::move(protocol));
      break;
    }
    case Type::kCompression:
      take(config::parse_compression(text));
      break;
    case Type::kTemporality:
      take(config::parse_temporality(text));
      break;
    case Type::kHeaders:
      take(config::parse_key_value_list(
          text, config::KeyValueOptions{.secret_values = true, .header_names = true}));
      break;
    case Type::kAttributes:
      take(config::parse_key_value_list(text));
      break;
    case Type::kDsn:
      take(config::parse_sentry_dsn(text));
      break;
    case Type::kSamplerRules:
      take(config::parse_sampler_rules(text));
      break;
    case Type::kUrlList:
      take(config::parse_url_list(text));
      break;
    case Type::kHostPortList:
      take(config::parse_host_port_list(text));
      break;
  }
  if (!failure) return;
  sl.invalid = true;
  sl.value = std::monostate{};
  // Secrets: the message is rebuilt from the rule and the redacted value, so
  // no parser can leak one by accident.
  std::string message = failure->message;
  if (s.secret) {
    const std::string shown = config::redact(s.name, text);
    message =
        config::make_error(failure->rule, shown == config::kMask ? shown : config::quote(shown))
            .message;
  }
  if (sl.origin == Origin::kPreset || sl.origin == Origin::kDefault) {
    message += std::string(" [") + std::string(to_string(sl.origin)) + " value]";
  }
  error(s.name, std::move(message));
}

void Finalizer::resolve_service_name() {
  Slot& name = slot(Var::kServiceName);
  const Slot& otel = slot(Var::kOtelServiceName);
  if (otel.text && !otel.invalid && otel.origin > name.origin) {
    name.text = otel.text;
    name.value = otel.value;
    name.origin = otel.origin;
    name.invalid = false;
    name.from = "OTEL_SERVICE_NAME";
  }
  const Slot& attrs = slot(Var::kResourceAttributes);
  if (const KeyValues* kv = get<KeyValues>(Var::kResourceAttributes);
      kv != nullptr && attrs.origin > name.origin) {
    for (auto it = kv->rbegin(); it != kv->rend(); ++it) {
      if (it->first != "service.name") continue;
      if (auto parsed = config::parse_name(it->second)) {
        name.text = parsed.value();
        name.value = parsed.value();
        name.origin = attrs.origin;
        name.invalid = false;
        name.from = "OTEL_RESOURCE_ATTRIBUTES";
      } else {
        error("OTEL_RESOURCE_ATTRIBUTES", "service.name " + parsed.error().message);
      }
      break;
    }
  }
}

void Finalizer::check_mtls_pair(Var key, Var cert, Var generic_key, Var generic_cert) {
  // Only the group that set something reports, so one missing generic file
  // is not reported three more times through the signals.
  if (!provided(key) && !provided(cert)) return;
  const bool has_key = provided(key) || (key != generic_key && provided(generic_key));
  const bool has_cert = provided(cert) || (cert != generic_cert && provided(generic_cert));
  if (has_key && !has_cert) {
    error(spec(cert).name, "required when " + std::string(spec(key).name) +
                               " is set (mTLS needs both the key and the certificate)");
  } else if (has_cert && !has_key) {
    error(spec(key).name, "required when " + std::string(spec(cert).name) +
                              " is set (mTLS needs both the key and the certificate)");
  }
}

void Finalizer::check_cross_field() {
  auto batch_le_queue = [&](Var batch, Var queue) {
    const auto* b = get<std::uint64_t>(batch);
    const auto* q = get<std::uint64_t>(queue);
    if (b && q && *b > *q) {
      error(spec(batch).name, "must not exceed " + std::string(spec(queue).name) + " (" +
                                  std::to_string(*b) + " > " + std::to_string(*q) + ")");
    }
  };
  batch_le_queue(Var::kBspMaxExportBatchSize, Var::kBspMaxQueueSize);
  batch_le_queue(Var::kBlrpMaxExportBatchSize, Var::kBlrpMaxQueueSize);
  if (const auto* initial = get<milliseconds>(Var::kRetryInitialInterval)) {
    const auto* max_interval = get<milliseconds>(Var::kRetryMaxInterval);
    if (max_interval && *max_interval < *initial) {
      error(spec(Var::kRetryMaxInterval).name, "must not be below EMP_RETRY_INITIAL_INTERVAL (" +
                                                   config::format_duration(*max_interval) + " < " +
                                                   config::format_duration(*initial) + ")");
    }
  }

  check_mtls_pair(Var::kOtlpClientKey, Var::kOtlpClientCertificate, Var::kOtlpClientKey,
                  Var::kOtlpClientCertificate);
  check_mtls_pair(Var::kOtlpTracesClientKey, Var::kOtlpTracesClientCertificate, Var::kOtlpClientKey,
                  Var::kOtlpClientCertificate);
  check_mtls_pair(Var::kOtlpMetricsClientKey, Var::kOtlpMetricsClientCertificate,
                  Var::kOtlpClientKey, Var::kOtlpClientCertificate);
  check_mtls_pair(Var::kOtlpLogsClientKey, Var::kOtlpLogsClientCertificate, Var::kOtlpClientKey,
                  Var::kOtlpClientCertificate);
  check_fluentd();
}

// FLUENTD_* settings that would otherwise be accepted and have no effect.
void Finalizer::check_fluentd() {
  auto needs = [&](Var v, bool ok, std::string_view what) {
    const bool set = provided(v) && slot(v).origin != Origin::kDefault;
    if (set && !ok) error(spec(v).name, "has no effect without " + std::string(what));
  };
  const auto* secure = get<bool>(Var::kFluentdSecure);
  const bool tls = secure != nullptr && *secure;
  needs(Var::kFluentdCaFile, tls, "FLUENTD_SECURE=true");
  needs(Var::kFluentdTlsVerify, tls, "FLUENTD_SECURE=true");
  needs(Var::kFluentdUsername, provided(Var::kFluentdSharedKey),
        "FLUENTD_SHARED_KEY (user authentication is part of the shared-key handshake)");
  needs(Var::kFluentdUsername, provided(Var::kFluentdPassword), "FLUENTD_PASSWORD");
  needs(Var::kFluentdPassword, provided(Var::kFluentdUsername), "FLUENTD_USERNAME");
  needs(Var::kFluentdFailoverHosts, provided(Var::kFluentdHost),
        "FLUENTD_HOST (failover hosts back up the primary one)");
  // A failover entry that is the primary itself would only send the same
  // batch to the same place twice.
  const auto* hosts = get<std::vector<config::HostPort>>(Var::kFluentdFailoverHosts);
  const auto* host = get<std::string>(Var::kFluentdHost);
  const auto* port = get<std::uint64_t>(Var::kFluentdPort);
  if (hosts && host) {
    const std::uint16_t primary_port = port ? static_cast<std::uint16_t>(*port) : 24224;
    for (std::size_t i = 0; i < hosts->size(); ++i) {
      const auto& hp = (*hosts)[i];
      if (core::iequals(hp.host, *host) && (hp.port ? hp.port : primary_port) == primary_port) {
        error(spec(Var::kFluentdFailoverHosts).name,
              "entry " + std::to_string(i + 1) + " is FLUENTD_HOST:FLUENTD_PORT itself (" +
                  *host + ":" + std::to_string(primary_port) + "); list other inputs only");
      }
    }
  }
}

OtlpExport Finalizer::resolve_signal(std::string_view signal, Var endpoint,
                                     std::optional<Var> collector, Var timeout, Var protocol,
                                     Var headers, Var compression, Var cert, Var key,
                                     Var client_cert) const {
  OtlpExport out;
  const std::string path = "v1/" + std::string(signal);
  auto as_is = [](const config::Url& url) { return config::with_root_path(url.text); };
  bool dash0 = false;
  if (const auto* url = get<config::Url>(endpoint)) {
    out.url = as_is(*url);
    out.url_from = spec(endpoint).name;
  } else if (const auto* url = collector ? get<config::Url>(*collector) : nullptr) {
    out.url = as_is(*url);
    out.url_from = spec(*collector).name;
  } else if (const auto* url = get<config::Url>(Var::kOtlpEndpoint)) {
    out.url = config::join_url(url->text, path);
    out.url_from = spec(Var::kOtlpEndpoint).name;
  } else if (const auto* url = get<config::Url>(Var::kDash0OtlpBaseUrl)) {
    out.url = config::join_url(url->text, path);
    out.url_from = spec(Var::kDash0OtlpBaseUrl).name;
    dash0 = true;
  }
  // Signal-specific values win over generic ones, option by option.
  auto pick = [&](Var specific, Var generic) -> Var {
    return provided(specific) && !slot(specific).invalid ? specific : generic;
  };
  if (const auto* v = get<milliseconds>(pick(timeout, Var::kOtlpTimeout))) out.timeout = *v;
  if (const auto* v = get<OtlpProtocol>(pick(protocol, Var::kOtlpProtocol))) out.protocol = *v;
  if (const auto* v = get<KeyValues>(pick(headers, Var::kOtlpHeaders))) out.headers = *v;
  if (const auto* v = get<bool>(pick(compression, Var::kOtlpCompression))) out.gzip = *v;
  if (const auto* v = get<std::string>(pick(cert, Var::kOtlpCertificate))) out.certificate = *v;
  if (const auto* v = get<std::string>(pick(key, Var::kOtlpClientKey))) out.client_key = *v;
  if (const auto* v = get<std::string>(pick(client_cert, Var::kOtlpClientCertificate))) {
    out.client_certificate = *v;
  }
  if (!out.url.empty()) {
    if (const auto* list = get<std::vector<std::string>>(Var::kOtlpFailoverEndpoints)) {
      for (const std::string& base : *list) out.failover_urls.push_back(config::join_url(base, path));
    }
  }
  if (dash0) {
    auto has = [&](std::string_view name) {
      return std::any_of(out.headers.begin(), out.headers.end(),
                         [&](const auto& kv) { return core::iequals(kv.first, name); });
    };
    if (const auto* k = get<std::string>(Var::kDash0ApiKey); k && !has("Authorization")) {
      out.headers.emplace_back("Authorization", "Bearer " + *k);
    }
    if (const auto* d = get<std::string>(Var::kDash0Dataset); d && !has("Dash0-Dataset")) {
      out.headers.emplace_back("Dash0-Dataset", *d);
    }
  }
  return out;
}

void Finalizer::fill(Config& c) {
  c.preset = options_.preset;
  auto str = [&](Var v, std::string& field) {
    if (const auto* s = get<std::string>(v)) field = *s;
  };
  auto url = [&](Var v, std::string& field) {
    if (const auto* u = get<config::Url>(v)) field = u->text;
  };
  auto u32 = [&](Var v, std::uint32_t& field) {
    if (const auto* n = get<std::uint64_t>(v)) field = static_cast<std::uint32_t>(*n);
  };
  auto ms = [&](Var v, milliseconds& field) {
    if (const auto* d = get<milliseconds>(v)) field = *d;
  };
  auto flag = [&](Var v, bool& field) {
    if (const auto* b = get<bool>(v)) field = *b;
  };

  // identity
  str(Var::kServiceName, c.service_name);
  str(Var::kServiceVersion, c.service_version);
  str(Var::kServiceType, c.service_type);
  str(Var::kMachineId, c.machine_id);
  str(Var::kWorkerId, c.worker_id);
  if (const auto* e = get<DeploymentEnv>(Var::kTelemetryEnv)) c.environment = *e;
  c.environment_name = std::string(to_string(c.environment));
  str(Var::kSentryEnvironment, c.environment_name);

  // log track
  if (const auto* l = get<Level>(Var::kLogLevel)) c.log_level = *l;
  str(Var::kLogDir, c.log_dir);
  str(Var::kLogFile, c.log_file);
  if (const auto* n = get<std::uint64_t>(Var::kLogMaxFileSize)) c.log_max_file_bytes = *n;
  u32(Var::kLogMaxFiles, c.log_max_files);
  u32(Var::kLogMaxMessageBytes, c.max_message_bytes);
  u32(Var::kLogMaxFieldBytes, c.max_field_bytes);
  flag(Var::kLogStderr, c.log_to_stderr);

  // core
  u32(Var::kQueueSize, c.queue_bytes_per_thread);
  if (const auto* p = get<QueueFullPolicy>(Var::kQueueFullPolicy)) c.queue_full_policy = *p;
  ms(Var::kQueueBlockTimeout, c.queue_block_timeout);
  ms(Var::kFlushInterval, c.flush_interval);
  flag(Var::kClockTsc, c.clock_tsc);
  ms(Var::kShutdownTimeout, c.shutdown_timeout);
  ms(Var::kStatusInterval, c.status_interval);

  // destinations
  flag(Var::kOtelEnabled, c.otel_enabled);
  flag(Var::kSdkDisabled, c.sdk_disabled);
  str(Var::kDash0ApiKey, c.dash0_api_key);
  str(Var::kDash0Dataset, c.dash0_dataset);
  url(Var::kDash0OtlpBaseUrl, c.dash0_otlp_base_url);
  url(Var::kDash0ApiBaseUrl, c.dash0_api_base_url);
  url(Var::kOtlpEndpoint, c.otlp_endpoint);
  url(Var::kCollectorTracesEndpoint, c.otlp_traces_endpoint);
  url(Var::kOtlpTracesEndpoint, c.otlp_traces_endpoint);
  url(Var::kCollectorMetricsEndpoint, c.otlp_metrics_endpoint);
  url(Var::kOtlpMetricsEndpoint, c.otlp_metrics_endpoint);
  url(Var::kOtlpLogsEndpoint, c.otlp_logs_endpoint);
  str(Var::kFluentdHost, c.fluentd_host);
  if (const auto* p = get<std::uint64_t>(Var::kFluentdPort))
    c.fluentd_port = static_cast<std::uint16_t>(*p);
  flag(Var::kFluentdSecure, c.fluentd_secure);
  flag(Var::kFluentdCompress, c.fluentd_compress);
  str(Var::kFluentdCaFile, c.fluentd_ca_file);
  flag(Var::kFluentdTlsVerify, c.fluentd_tls_verify);
  str(Var::kFluentdSharedKey, c.fluentd_shared_key);
  str(Var::kFluentdUsername, c.fluentd_username);
  str(Var::kFluentdPassword, c.fluentd_password);
  ms(Var::kFluentdTimeout, c.fluentd_timeout);
  if (const auto* hosts = get<std::vector<config::HostPort>>(Var::kFluentdFailoverHosts)) {
    for (const auto& hp : *hosts)
      c.fluentd_failover.push_back(ForwardEndpoint{hp.host, hp.port ? hp.port : c.fluentd_port});
  }
  if (const auto* list = get<std::vector<std::string>>(Var::kOtlpFailoverEndpoints))
    c.otlp_failover_endpoints = *list;
  if (get<config::SentryDsn>(Var::kSentryDsn) != nullptr)
    c.sentry_dsn = *slot(Var::kSentryDsn).text;
  if (const auto* r = get<double>(Var::kSentrySampleRate)) c.sentry_sample_rate = *r;
  if (const auto* r = get<double>(Var::kSentryTracesSampleRate)) {
    c.sentry_traces_sample_rate = *r;
  }

  // OpenTelemetry SDK
  if (const auto* kv = get<KeyValues>(Var::kResourceAttributes)) c.resource_attributes = *kv;
  if (c.otel_enabled && !c.sdk_disabled) {
    c.otlp_traces = resolve_signal(
        "traces", Var::kOtlpTracesEndpoint, Var::kCollectorTracesEndpoint, Var::kOtlpTracesTimeout,
        Var::kOtlpTracesProtocol, Var::kOtlpTracesHeaders, Var::kOtlpTracesCompression,
        Var::kOtlpTracesCertificate, Var::kOtlpTracesClientKey, Var::kOtlpTracesClientCertificate);
    c.otlp_metrics = resolve_signal("metrics", Var::kOtlpMetricsEndpoint,
                                    Var::kCollectorMetricsEndpoint, Var::kOtlpMetricsTimeout,
                                    Var::kOtlpMetricsProtocol, Var::kOtlpMetricsHeaders,
                                    Var::kOtlpMetricsCompression, Var::kOtlpMetricsCertificate,
                                    Var::kOtlpMetricsClientKey, Var::kOtlpMetricsClientCertificate);
    c.otlp_logs = resolve_signal(
        "logs", Var::kOtlpLogsEndpoint, std::nullopt, Var::kOtlpLogsTimeout, Var::kOtlpLogsProtocol,
        Var::kOtlpLogsHeaders, Var::kOtlpLogsCompression, Var::kOtlpLogsCertificate,
        Var::kOtlpLogsClientKey, Var::kOtlpLogsClientCertificate);
  }
  if (provided(Var::kOtlpFailoverEndpoints) && !slot(Var::kOtlpFailoverEndpoints).invalid) {
    const std::string name(spec(Var::kOtlpFailoverEndpoints).name);
    if (c.otlp_traces.url.empty() && c.otlp_metrics.url.empty() && c.otlp_logs.url.empty()) {
      error(name, "has no effect without an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, a "
                  "signal's endpoint or DASH0_OTLP_BASE_URL) with OTLP on: failover endpoints "
                  "back up a primary one");
    }
    for (const auto& [signal, e] : {std::pair<const char*, const OtlpExport*>{"traces", &c.otlp_traces},
                                    {"metrics", &c.otlp_metrics},
                                    {"logs", &c.otlp_logs}}) {
      for (std::size_t i = 0; i < e->failover_urls.size(); ++i) {
        if (e->failover_urls[i] == e->url) {
          error(name, "entry " + std::to_string(i + 1) + " is the " + signal + " endpoint itself (" +
                          config::quote(e->url) + "); list other collectors only");
        }
      }
    }
  }
  if (const auto* s = get<SamplerKind>(Var::kTracesSampler)) c.sampler = *s;
  if (const auto* r = get<double>(Var::kTracesSamplerArg)) c.sampler_ratio = *r;
  if (const auto* rules = get<std::vector<SamplerRule>>(Var::kTracesSamplerRules)) {
    c.sampler_rules = *rules;
  }
  flag(Var::kTracesExportErrors, c.export_error_spans);
  if (const auto* p = get<std::vector<std::string>>(Var::kPropagators)) c.propagators = *p;
  ms(Var::kBspScheduleDelay, c.span_batch.schedule_delay);
  ms(Var::kBspExportTimeout, c.span_batch.export_timeout);
  u32(Var::kBspMaxQueueSize, c.span_batch.max_queue_size);
  u32(Var::kBspMaxExportBatchSize, c.span_batch.max_export_batch_size);
  ms(Var::kBlrpScheduleDelay, c.log_batch.schedule_delay);
  ms(Var::kBlrpExportTimeout, c.log_batch.export_timeout);
  u32(Var::kBlrpMaxQueueSize, c.log_batch.max_queue_size);
  u32(Var::kBlrpMaxExportBatchSize, c.log_batch.max_export_batch_size);
  // OTEL_BSP_EXPORT_TIMEOUT / OTEL_BLRP_EXPORT_TIMEOUT bound one export of a
  // batch, as OTEL_EXPORTER_OTLP_*TIMEOUT does: the tighter of the two
  // applies to every request (0 = no limit on either side).
  auto tighter = [](milliseconds a, milliseconds b) {
    if (a.count() == 0) return b;
    if (b.count() == 0) return a;
    return std::min(a, b);
  };
  c.otlp_traces.timeout = tighter(c.otlp_traces.timeout, c.span_batch.export_timeout);
  c.otlp_logs.timeout = tighter(c.otlp_logs.timeout, c.log_batch.export_timeout);
  ms(Var::kMetricExportInterval, c.metric_export_interval);
  ms(Var::kMetricExportTimeout, c.metric_export_timeout);
  if (const auto* t = get<Temporality>(Var::kTemporality)) c.metrics_temporality = *t;
  u32(Var::kMetricsCardinalityLimit, c.metrics_cardinality_limit);
  ms(Var::kMetricsCallbackTimeout, c.metrics_callback_timeout);
  flag(Var::kMetricsSelf, c.metrics_self);
  c.machine_metrics = c.preset == Preset::kMachine || c.preset == Preset::kWorker;
  flag(Var::kMachineMetrics, c.machine_metrics);
  if (const auto* p = get<std::uint64_t>(Var::kPrometheusPort)) {
    c.prometheus_port = static_cast<std::uint16_t>(*p);
  }
  str(Var::kPrometheusHost, c.prometheus_host);
  u32(Var::kAttributeCountLimit, c.attribute_count_limit);
  c.span_attribute_count_limit = c.attribute_count_limit;
  u32(Var::kSpanAttributeCountLimit, c.span_attribute_count_limit);
  if (const auto* n = get<std::uint64_t>(Var::kAttributeValueLengthLimit)) {
    c.attribute_value_length_limit = static_cast<std::uint32_t>(*n);
  }
  c.span_attribute_value_length_limit = c.attribute_value_length_limit;
  if (const auto* n = get<std::uint64_t>(Var::kSpanAttributeValueLengthLimit)) {
    c.span_attribute_value_length_limit = static_cast<std::uint32_t>(*n);
  }
  u32(Var::kSpanEventCountLimit, c.span_event_count_limit);
  u32(Var::kSpanLinkCountLimit, c.span_link_count_limit);

  // delivery
  flag(Var::kRetryEnabled, c.retry.enabled);
  ms(Var::kRetryInitialInterval, c.retry.initial_interval);
  ms(Var::kRetryMaxInterval, c.retry.max_interval);
  ms(Var::kRetryMaxElapsedTime, c.retry.max_elapsed);
  ms(Var::kRetryAfterMax, c.retry.retry_after_max);
  u32(Var::kCircuitFailureThreshold, c.circuit.failure_threshold);
  ms(Var::kCircuitCooldown, c.circuit.cooldown);
  ms(Var::kCircuitRecoveryRamp, c.circuit.recovery_ramp);
  if (const auto* on = get<bool>(Var::kSpoolEnabled)) {
    c.spool_enabled = *on;
    c.spool_metrics = *on;
  } else {
    // Unset: spool where losing data hurts most and disks are looked after.
    c.spool_enabled = c.environment == DeploymentEnv::kProduction;
    c.spool_metrics = false;
  }
  if (const auto* dir = get<std::string>(Var::kSpoolDir)) {
    c.spool_dir = *dir;
  } else {
    c.spool_dir = c.log_dir;
    if (!c.spool_dir.empty() && c.spool_dir.back() != '/') c.spool_dir += '/';
    c.spool_dir += "spool";
  }
  if (const auto* n = get<std::uint64_t>(Var::kSpoolMaxSize)) c.spool_max_bytes = *n;
  if (const auto* n = get<std::uint64_t>(Var::kDeliveryMemoryCap)) c.delivery_memory_cap = *n;
  if (const auto* n = get<std::uint64_t>(Var::kCompressionLevel)) {
    c.compression_level = static_cast<int>(*n);
  }
  for (OtlpExport* e : {&c.otlp_traces, &c.otlp_metrics, &c.otlp_logs}) {
    e->gzip_level = c.compression_level;
  }
}

void Finalizer::check_deployment(Config& c) {
  // A variable that is set but invalid still counts as "configured": its own
  // error already says what is wrong, a second "missing" would mislead.
  const bool otel = c.otel_enabled && !c.sdk_disabled;
  const bool dash0 = provided(Var::kDash0OtlpBaseUrl);
  const bool generic = provided(Var::kOtlpEndpoint);
  const bool traces = generic || dash0 || provided(Var::kOtlpTracesEndpoint) ||
                      provided(Var::kCollectorTracesEndpoint);
  const bool metrics = generic || dash0 || provided(Var::kOtlpMetricsEndpoint) ||
                       provided(Var::kCollectorMetricsEndpoint);
  const bool otlp_logs = generic || dash0 || provided(Var::kOtlpLogsEndpoint);
  const bool fluentd = provided(Var::kFluentdHost);
  const bool sentry = provided(Var::kSentryDsn);

  Errors findings;
  const std::string env = "TELEMETRY_ENV=" + std::string(to_string(c.environment));
  if (otel && !traces) {
    findings.push_back(
        {"OTEL_EXPORTER_OTLP_ENDPOINT",
         env + " requires an OTLP traces destination: set OTEL_EXPORTER_OTLP_ENDPOINT, "
               "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_COLLECTOR_TRACES_ENDPOINT or "
               "DASH0_OTLP_BASE_URL (or turn OTLP off with OTEL_ENABLED=false)"});
  }
  Errors dash0_findings;
  if (otel && dash0) {
    if (!provided(Var::kDash0ApiKey)) {
      dash0_findings.push_back(
          {"DASH0_API_KEY", "required when DASH0_OTLP_BASE_URL is set (" + env + ")"});
    }
    if (!provided(Var::kDash0Dataset)) {
      dash0_findings.push_back(
          {"DASH0_DATASET", "required when DASH0_OTLP_BASE_URL is set (" + env + ")"});
    }
  }
  findings.insert(findings.end(), dash0_findings.begin(), dash0_findings.end());
  if (!fluentd && !(otel && otlp_logs)) {
    std::string message = env +
                          " requires a log destination: set FLUENTD_HOST, or an OTLP logs endpoint "
                          "(OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT or "
                          "DASH0_OTLP_BASE_URL) with OTLP on";
    if (!otel && otlp_logs) message += " (an OTLP logs endpoint is set but OTLP is off)";
    findings.push_back({"FLUENTD_HOST", std::move(message)});
  }
  if (!sentry) {
    findings.push_back(
        {"SENTRY_DSN", env + " requires SENTRY_DSN (the destination of the errors track)"});
  }

  // Credentials over plain http:// can be read by anyone on the path. Not
  // refused (a sidecar collector on localhost is plain http and fine), but
  // production says so.
  if (c.environment == DeploymentEnv::kProduction) {
    for (const OtlpExport* e : {&c.otlp_traces, &c.otlp_metrics, &c.otlp_logs}) {
      if (e->headers.empty() || config::to_lower(e->url).rfind("http://", 0) != 0) continue;
      c.notices.push_back(
          "warning: " + e->url_from + " is plain http:// and " +
          (dash0 && e->url_from == "DASH0_OTLP_BASE_URL" ? "DASH0_API_KEY" : "the OTLP headers") +
          " go with every request to " + config::redact_url_userinfo(e->url) +
          " unencrypted; use https:// (TELEMETRY_ENV=production)");
    }
    if (sentry && config::to_lower(c.sentry_dsn).rfind("http://", 0) == 0) {
      c.notices.push_back(
          "warning: SENTRY_DSN is plain http:// and its key goes with every event unencrypted; "
          "use https:// (TELEMETRY_ENV=production)");
    }
  }
  const bool any_remote = fluentd || sentry || (otel && (traces || metrics || otlp_logs));
  switch (c.environment) {
    case DeploymentEnv::kProduction:
      errors_.insert(errors_.end(), findings.begin(), findings.end());
      return;
    case DeploymentEnv::kStaging:
      for (const Error& e : findings) {
        c.notices.push_back(e.to_string() + " (staging runs anyway; production would not start)");
      }
      break;
    case DeploymentEnv::kDevelopment:
      // Development needs no destination, but a Dash0 URL without its
      // credentials cannot work anywhere.
      for (const Error& e : dash0_findings) c.notices.push_back(e.to_string());
      break;
  }
  if (!any_remote) {
    c.local_fallback = true;
    // Only the tracks that exist and are on write local files.
    std::error_code ec;
    const std::string where = std::filesystem::absolute(c.log_dir, ec).lexically_normal().string();
    c.notices.push_back(std::string("no remote destination configured: writing ") +
                        (otel ? "logs, traces and metrics" : "logs") + " to local files under " +
                        (ec ? c.log_dir : where) +
                        (otel ? ""
                              : " (traces and metrics are off: OTEL_SDK_DISABLED or "
                                "OTEL_ENABLED=false)"));
  }
}

// Warnings about variables that look meant for this client but are not
// read by it, and about values that will not do what they seem to.
void Finalizer::check_names(Config& c) const {
  std::vector<std::string> names;
  if (options_.env_names) {
    names = options_.env_names();
  } else if (!options_.env) {
    names = config::process_env_names();
  }
  for (const auto& [key, value] : file_env_) names.push_back(key);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  for (const std::string& name : names) {
    if (config::find_spec(name) != nullptr || !owned_family(name)) continue;
    bool other_sdk = false;
    for (std::string_view prefix : kOtherSdkPrefixes)
      other_sdk = other_sdk || starts_with(name, prefix);
    if (other_sdk) continue;
    bool standard = false;
    for (std::string_view known : kUnsupportedOtel) standard = standard || name == known;
    if (standard) {
      c.notices.push_back("warning: " + name +
                          " is a standard OpenTelemetry variable that this client does not "
                          "support; it has no effect");
      continue;
    }
    std::string message =
        "warning: " + config::quote(name) + " is not a variable this client reads";
    if (const std::string_view best = closest_name(name); !best.empty()) {
      message += "; did you mean " + std::string(best) + "?";
    } else {
      message += " (`emp-telemetry env` lists them)";
    }
    c.notices.push_back(std::move(message));
  }
  // A base endpoint that already names a signal: the signal path is appended
  // again (OTLP exporter spec: the generic endpoint is a base URL).
  for (Var base : {Var::kOtlpEndpoint, Var::kDash0OtlpBaseUrl}) {
    const auto* url = get<config::Url>(base);
    if (url == nullptr) continue;
    std::string_view path = url->path;
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    for (std::string_view signal : {"traces", "metrics", "logs"}) {
      const std::string tail = "/v1/" + std::string(signal);
      if (path.size() < tail.size() || path.substr(path.size() - tail.size()) != tail) continue;
      c.notices.push_back("warning: " + std::string(spec(base).name) + " ends in " + tail +
                          ", but it is a base URL: /v1/traces, /v1/metrics and /v1/logs are "
                          "appended to it (" +
                          tail + tail +
                          "); set the base (scheme://host:port) or OTEL_EXPORTER_OTLP_" +
                          core::to_upper(signal) + "_ENDPOINT instead");
    }
  }
}

// Exporters, outputs, the Prometheus aliases and where LOG_DIR lands.
void Finalizer::check_outputs(Config& c) {
  static const std::vector<std::string_view> kExporters = {"otlp", "console", "none"};
  auto exporter = [&](Var v, ExporterKind& field) {
    const Slot& sl = slot(v);
    if (!sl.text) return;
    auto parsed = config::parse_enum(*sl.text, kExporters);
    if (!parsed) {
      std::string rule = "must be otlp, console or none";
      if (sl.text->find(',') != std::string::npos) rule += " (one exporter per signal)";
      error(spec(v).name, config::make_error(rule, config::quote(*sl.text)).message);
      return;
    }
    field = static_cast<ExporterKind>(parsed.value());
  };
  exporter(Var::kTracesExporter, c.traces_exporter);
  exporter(Var::kMetricsExporter, c.metrics_exporter);
  exporter(Var::kLogsExporter, c.logs_exporter);
  if (c.sentry_traces_sample_rate > 0 &&
      (c.traces_exporter == ExporterKind::kNone || c.sentry_dsn.empty())) {
    c.notices.push_back(
        std::string("SENTRY_TRACES_SAMPLE_RATE is set but no transactions are sent: ") +
        (c.sentry_dsn.empty() ? "SENTRY_DSN is not set"
                              : "OTEL_TRACES_EXPORTER=none records no spans"));
  }
  if (const auto* l = get<Level>(Var::kOtelLogLevel)) c.diagnostics_level = *l;
  if (const auto* b = get<bool>(Var::kLogStdout)) c.log_to_stdout = *b;
  if (const auto* b = get<bool>(Var::kLogSourceLocation)) c.log_source_location = *b;
  if (const auto* b = get<bool>(Var::kLogFiles)) c.log_files = *b;
  // OTEL_EXPORTER_PROMETHEUS_* stand in for EMP_PROMETHEUS_* when those are unset.
  if (!provided(Var::kPrometheusPort)) {
    if (const auto* p = get<std::uint64_t>(Var::kOtelPrometheusPort)) {
      c.prometheus_port = static_cast<std::uint16_t>(*p);
    }
  }
  if (slot(Var::kPrometheusHost).origin <= Origin::kPreset) {
    if (const auto* h = get<std::string>(Var::kOtelPrometheusHost)) c.prometheus_host = *h;
  }
  // The default LOG_DIR is relative; from a service started in / (systemd,
  // many containers) it would land in /telemetry-out. Pick a directory meant
  // for state instead, and say where.
  if (slot(Var::kLogDir).origin == Origin::kDefault && !c.log_dir.empty() &&
      c.log_dir.front() != '/') {
    std::error_code ec;
    const auto cwd = std::filesystem::current_path(ec);
    if (!ec && cwd == cwd.root_path()) {
      std::string dir;
      const auto state = environment("XDG_STATE_HOME");
      const auto home = environment("HOME");
      if (state && !state->empty() && state->front() == '/') {
        dir = *state + "/emp-telemetry";
      } else if (home && home->size() > 1 && home->front() == '/') {
        dir = *home + "/.local/state/emp-telemetry";
      } else {
        dir = "/var/tmp/emp-telemetry-" + std::to_string(::getuid());
      }
      c.notices.push_back("LOG_DIR is unset and the working directory is /: writing under " + dir +
                          " instead of /telemetry-out (set LOG_DIR to choose)");
      c.log_dir = dir;
      if (!provided(Var::kSpoolDir)) c.spool_dir = dir + "/spool";
    }
  }
}

// EMP_ENV_FILE (from code or the real environment, never from itself).
void Finalizer::load_env_file() {
  const std::string_view name = spec(Var::kEnvFile).name;
  std::optional<std::string> path;
  if (auto it = code_.find(name); it != code_.end()) {
    path = it->second;
  } else if (auto env = environment(name); env && !config::trim(*env).empty()) {
    path = std::string(config::trim(*env));
  }
  if (!path) return;
  env_file_ = *path;
  const std::string shown = config::quote(*path);
  std::error_code ec;
  const auto size = std::filesystem::file_size(*path, ec);
  if (ec) {
    error(name, "cannot read the environment file " + shown + ": " + ec.message());
    return;
  }
  if (size > config::kMaxDotenvBytes) {
    error(name, "the environment file " + shown + " is larger than 1 MiB");
    return;
  }
  std::ifstream in(*path, std::ios::binary);
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (!in && !in.eof()) {
    error(name, "cannot read the environment file " + shown);
    return;
  }
  text.resize(static_cast<std::size_t>(in.gcount()));
  config::DotenvResult parsed = config::parse_dotenv(text);
  if (!parsed.ok()) {
    error(name, shown + " line " + std::to_string(parsed.error_line) + ": " + parsed.error);
    return;
  }
  for (auto& [key, value] : parsed.variables) file_env_[key] = std::move(value);
}

Expected<Config> Finalizer::run() {
  collect_code_values();
  load_env_file();
  for (const VarSpec& s : specs()) resolve(s);
  resolve_service_name();
  check_cross_field();

  Config c;
  fill(c);
  check_outputs(c);
  check_deployment(c);
  check_names(c);

  for (const VarSpec& s : specs()) {
    const Slot& sl = slot(s.id);
    Setting setting;
    setting.name = std::string(s.name);
    setting.secret = s.secret;
    setting.origin = sl.origin;
    setting.set = sl.text.has_value();
    setting.from = sl.from;
    if (sl.text) {
      // redact() also masks userinfo in values that are not secret by name.
      setting.display = config::redact(s.name, *sl.text);
      raw_out_[std::string(s.name)] = *sl.text;
    }
    c.settings.push_back(std::move(setting));
  }
  if (!errors_.empty()) return std::move(errors_);
  return c;
}

}  // namespace

Expected<Config> finalize(const Options& options) {
  try {
    Finalizer finalizer(options);
    Expected<Config> result = finalizer.run();
    if (result) result.value().raw_ = finalizer.take_raw();
    return result;
  } catch (const std::exception& e) {
    // Only allocation failure or a throwing Options::env can get here.
    return Error{"", std::string("configuration could not be finalized: ") + e.what()};
  } catch (...) {
    return Error{"", "configuration could not be finalized: unknown exception"};
  }
}

}  // namespace emp::telemetry
