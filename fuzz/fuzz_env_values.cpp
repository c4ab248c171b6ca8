// Fuzzes every configuration value parser (src/config/parse.hpp), the
// redaction helpers and finalize() through an injected environment.
//
// Invariants checked (a violation aborts, which libFuzzer reports):
//  - parsers never crash and every accepted value obeys its rule (a port is
//    in 1..65535, a rate is finite and in [0,1], a range is honoured, ...);
//  - quoted values contain no control bytes;
//  - a secret never appears in an error, a setting's display or a notice:
//    secret variables, and the userinfo of URL and host variables, get a
//    marker that no other text may contain.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "config/parse.hpp"
#include "config/redact.hpp"
#include "config/registry.hpp"
#include "emp/telemetry/config.hpp"

namespace {

using namespace emp::telemetry;
using namespace emp::telemetry::config;

constexpr std::string_view kMarker = "S3CR3T_M4RK3R";

void check(bool condition) {
  if (!condition) std::abort();
}

bool has_control(std::string_view s) {
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string strip_marker(std::string s) {
  for (std::size_t pos; (pos = s.find(kMarker)) != std::string::npos;) s.erase(pos, kMarker.size());
  return s;
}

void fuzz_parsers(std::string_view text, std::uint64_t a, std::uint64_t b) {
  const std::uint64_t lo = std::min(a, b), hi = std::max(a, b);

  check(!has_control(quote(text)));
  (void)trim(text);

  if (auto r = parse_bool(text)) {
    const std::string t = to_lower(trim(text));
    check(t == "true" || t == "false" || t == "1" || t == "0" || t == "yes" || t == "no" ||
          t == "on" || t == "off");
  } else {
    check(!r.error().rule.empty());
  }
  if (auto r = parse_port(text)) check(r.value() >= 1);
  if (auto r = parse_uint(text, lo, hi)) check(r.value() >= lo && r.value() <= hi);
  if (auto r = parse_rate(text))
    check(std::isfinite(r.value()) && r.value() >= 0 && r.value() <= 1);
  (void)parse_level(text);
  {
    const std::chrono::milliseconds min{static_cast<std::int64_t>(lo >> 1)};
    const std::chrono::milliseconds max{static_cast<std::int64_t>(hi >> 1)};
    if (auto r = parse_duration(text, min, max)) check(r.value() >= min && r.value() <= max);
    if (auto r = parse_duration(text)) check(r.value().count() >= 0);
  }
  if (auto r = parse_size(text, lo, hi)) check(r.value() >= lo && r.value() <= hi);
  if (auto r = parse_url(text)) {
    const Url& u = r.value();
    check(u.scheme == "http" || u.scheme == "https");
    check(!u.host.empty() && u.port >= 1);
    check(!contains(u.text, " ") && !has_control(u.text));
    (void)join_url(u.text, "v1/traces");
  }
  if (auto r = parse_host(text)) check(!r.value().empty() && r.value().size() <= 253);
  if (auto r = parse_enum(text, {"drop", "block"})) check(r.value() < 2);
  (void)parse_sampler(text);
  (void)parse_otlp_protocol(text);
  (void)parse_temporality(text);
  (void)parse_deployment_env(text);
  (void)parse_queue_full_policy(text);
  (void)parse_compression(text);
  if (auto r = parse_propagators(text)) {
    for (const std::string& p : r.value()) check(p == "tracecontext" || p == "baggage");
  }
  if (auto r = parse_name(text)) check(!r.value().empty() && !has_control(r.value()));
  if (auto r = parse_token(text)) check(!r.value().empty());
  (void)parse_path(text);
  if (auto r = parse_relative_file(text)) check(r.value().front() != '/');

  if (auto decoded = percent_decode(text)) check(decoded->size() <= text.size());
  if (auto r = parse_key_value_list(text)) {
    for (const auto& [k, v] : r.value()) check(!k.empty() && !has_control(k) && !has_control(v));
  }
  if (auto r = parse_key_value_list(text, {.secret_values = true, .header_names = true})) {
    for (const auto& [k, v] : r.value()) check(!k.empty() && !has_control(v));
  }
  if (auto r = parse_sentry_dsn(text)) {
    const SentryDsn& d = r.value();
    check(!d.public_key.empty() && !d.project_id.empty());
    for (char c : d.project_id) check(c >= '0' && c <= '9');
    check(d.redacted().rfind(d.scheme + "://***@", 0) == 0);
    (void)d.envelope_url();
  }
  if (auto r = parse_sampler_rules(text)) {
    for (const SamplerRule& rule : r.value()) {
      check(!rule.pattern.empty() && rule.ratio >= 0 && rule.ratio <= 1);
    }
  }
  const std::size_t half = text.size() / 2;
  (void)glob_match(text.substr(0, half), text.substr(half));
  check(glob_match("*", text));

  // Redaction of secrets built around a marker never shows the marker.
  const std::string clean = strip_marker(std::string(text));
  check(!contains(redact_dsn("https://" + std::string(kMarker) + clean), kMarker));
  check(!contains(redact_key_values("k=" + std::string(kMarker) + clean), kMarker));
  check(!contains(redact("DASH0_API_KEY", std::string(kMarker) + clean), kMarker));
  if (auto r = parse_token(std::string(kMarker) + clean); !r) {
    check(!contains(r.error().message, kMarker));
  }
  {
    // Userinfo ends at the last '@' whatever it holds ('/', '?', '#' too):
    // never echoed by redaction, quoting or a URL or host parser's error.
    const std::string info = "u:" + std::string(kMarker) + clean;
    for (const std::string& value :
         {"http://" + info + "@h", "https://" + info + "@h:1/p", info + "@h"}) {
      check(!contains(redact_url_userinfo(value), kMarker));
      check(!contains(quote(value), kMarker));
      check(!contains(redact("OTEL_EXPORTER_OTLP_ENDPOINT", value), kMarker));
      auto url = parse_url(value);
      check(!url && !contains(url.error().message, kMarker));
      auto host = parse_host(value);
      check(!host && !contains(host.error().message, kMarker));
    }
    auto dsn = parse_sentry_dsn("https://" + std::string(kMarker) + clean + "@h/1");
    check(dsn ? dsn.value().redacted().find(kMarker) == std::string::npos
              : !contains(dsn.error().message, kMarker));
    auto headers = parse_key_value_list("k=" + std::string(kMarker) + clean,
                                        {.secret_values = true, .header_names = true});
    check(headers || !contains(headers.error().message, kMarker));
  }
  (void)redact("OTEL_EXPORTER_OTLP_HEADERS", text);
  (void)redact("SENTRY_DSN", text);
}

// Input: records [variable index][length][bytes...]; secrets get the marker.
void fuzz_finalize(const std::uint8_t* data, std::size_t size) {
  std::map<std::string, std::string, std::less<>> env;
  std::size_t pos = 0;
  while (pos + 2 <= size) {
    const VarSpec& s = specs()[data[pos] % kVarCount];
    const std::size_t len = std::min<std::size_t>(data[pos + 1], size - pos - 2);
    std::string value =
        strip_marker(std::string(reinterpret_cast<const char*>(data + pos + 2), len));
    pos += 2 + len;
    if (s.type == Type::kFile) continue;  // keep the filesystem out of it
    if (s.id == Var::kSentryDsn) {
      value = "https://" + std::string(kMarker) + value;
    } else if (s.type == Type::kHeaders) {
      value = "k=" + std::string(kMarker) + value;
    } else if (s.secret) {
      value = std::string(kMarker) + value;
    } else if ((s.type == Type::kUrl || s.type == Type::kHost) && len % 2 == 1) {
      // Credentials in a URL or host, with any bytes (delimiters included)
      // between the marker and the '@'.
      value = (s.type == Type::kUrl ? "http://u:" : "u:") + std::string(kMarker) + value + "@h";
    }
    env[std::string(s.name)] = std::move(value);
  }
  Options options;
  options.preset = static_cast<Preset>(size % 5);
  options.env = [&env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto result = finalize(options);
  for (const Error& e : result.errors()) {
    check(!contains(e.to_string(), kMarker));
    check(!e.subject.empty());
  }
  if (!result) return;
  const Config& c = *result;
  check(c.settings.size() == kVarCount);
  for (const Setting& s : c.settings) check(!contains(s.display, kMarker));
  for (const std::string& n : c.notices) check(!contains(n, kMarker));
  check(c.fluentd_port >= 1);
  check(c.sentry_sample_rate >= 0 && c.sentry_sample_rate <= 1);
  check(c.sampler_ratio >= 0 && c.sampler_ratio <= 1);
  check(c.span_batch.max_export_batch_size <= c.span_batch.max_queue_size);
  check(c.log_batch.max_export_batch_size <= c.log_batch.max_queue_size);
  check(!c.service_name.empty() && !c.machine_id.empty());
  check(c.environment != DeploymentEnv::kProduction || !c.local_fallback);
  for (const OtlpExport* e : {&c.otlp_traces, &c.otlp_metrics, &c.otlp_logs}) {
    check(e->protocol != OtlpProtocol::kGrpc);
    for (const auto& [k, v] : e->headers) check(!has_control(v));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // First byte chooses the target so each corpus entry stays focused.
  const std::uint8_t mode = data[0];
  ++data;
  --size;
  if (mode & 1) {
    fuzz_finalize(data, size);
  } else {
    std::uint64_t a = 0, b = 0;
    for (std::size_t i = 0; i < 8 && i < size; ++i) a = (a << 8) | data[i];
    for (std::size_t i = 8; i < 16 && i < size; ++i) b = (b << 8) | data[i];
    fuzz_parsers(std::string_view(reinterpret_cast<const char*>(data), size), a, b);
  }
  return 0;
}
