// Parsers for configuration values: pure functions from text to a typed value
// or an error. They know nothing about variables or the environment, so the
// registry, the CLI and other parts (e.g. a track reading its own variable)
// share one definition of what "a port", "a duration" or "a DSN" is, and the
// fuzzer can hit each of them directly.
//
// Every parser trims ASCII spaces and tabs around the whole value first. On
// failure the error carries `rule` (what was expected, never the value) and
// `message` (the rule plus the offending value, quoted and escaped). Parsers
// of secret-bearing values (DSN, header lists) only ever quote a redacted
// form. All functions are thread-safe and never throw except std::bad_alloc.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/strings.hpp"
#include "emp/telemetry/config.hpp"

namespace emp::telemetry::config {

struct ParseError {
  std::string rule;     // e.g. "must be a port number 1..65535"
  std::string message;  // e.g. "must be a port number 1..65535 (got \"70000\")"
};

// A parsed value or the reason it could not be parsed.
template <typename T>
class ParseResult {
 public:
  ParseResult(T value) : state_(std::move(value)) {}           // NOLINT: implicit by design
  ParseResult(ParseError error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  // Precondition: ok().
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  // Precondition: !ok().
  const ParseError& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, ParseError> state_;
};

// Builds a ParseError whose message shows `shown` (already quoted or redacted).
ParseError make_error(std::string rule, std::string_view shown);
// The shared string helpers (core/strings.hpp), named here because every
// parser uses them: trim() of spaces and tabs, to_lower().
using core::to_lower;
using core::trim;
// `value` quoted for messages (core::quote) with its userinfo masked first
// (redact_url_userinfo): every value a configuration message shows.
std::string quote(std::string_view value);

// true/false/1/0/yes/no/on/off, any case.
ParseResult<bool> parse_bool(std::string_view text);
// Decimal 1..65535.
ParseResult<std::uint16_t> parse_port(std::string_view text);
// Unsigned decimal integer in [min, max]; no sign, no unit.
ParseResult<std::uint64_t> parse_uint(std::string_view text, std::uint64_t min = 0,
                                      std::uint64_t max = UINT64_MAX);
// Finite decimal number in [0, 1] (NaN, infinities, signs other than "-0",
// hex floats and trailing characters are rejected).
ParseResult<double> parse_rate(std::string_view text);
// debug|info|warn|warning|error, any case.
ParseResult<Level> parse_level(std::string_view text);

// A non-negative integer with an optional unit: ms, s, m (minutes), h, any
// case, optionally separated by spaces. A plain integer is milliseconds, so
// the OTEL_* millisecond variables accept the same syntax.
ParseResult<std::chrono::milliseconds> parse_duration(
    std::string_view text, std::chrono::milliseconds min = std::chrono::milliseconds{0},
    std::chrono::milliseconds max = std::chrono::milliseconds::max());

// A non-negative integer number of bytes with an optional unit, any case:
// B; K, KiB, M, MiB, G, GiB, T, TiB are binary (powers of 1024);
// KB, MB, GB, TB are decimal (powers of 1000). "64K" == "64KiB" == 65536.
ParseResult<std::uint64_t> parse_size(std::string_view text, std::uint64_t min = 0,
                                      std::uint64_t max = UINT64_MAX);
// Formats for messages: "250ms", "5s", "2m", "1h"; "512B", "64KiB", "1MiB".
std::string format_duration(std::chrono::milliseconds value);
std::string format_size(std::uint64_t bytes);

// An http or https URL with a host. `host` has no brackets for IPv6
// literals; `port` is the explicit port or the scheme's default; `path` is
// everything after the authority (path, query, fragment), possibly empty.
// Credentials in the URL (user:password@) are rejected: they would leak into
// dumps; use the *_HEADERS variables instead.
struct Url {
  std::string scheme;  // "http" or "https", lowercase
  std::string host;
  std::uint16_t port = 0;
  bool port_explicit = false;
  std::string path;
  std::string text;  // the trimmed input
};
ParseResult<Url> parse_url(std::string_view text);
// Appends `suffix` (e.g. "v1/traces") to the path of a base URL with exactly
// one '/' between them; a query or fragment of the base stays at the end:
// "http://h:4318/x//?t=a" + "v1/traces" -> "http://h:4318/x/v1/traces?t=a".
std::string join_url(std::string_view base, std::string_view suffix);
// An empty path becomes "/": "http://h:4318?t=a" -> "http://h:4318/?t=a";
// any other URL is returned as is.
std::string with_root_path(std::string_view url);

// A host name, IPv4 or IPv6 address (brackets optional), without scheme or port.
ParseResult<std::string> parse_host(std::string_view text);

// Lists of failover endpoints: comma-separated, empty entries ignored, at
// most kMaxEndpoints, no duplicates. A bad entry fails the whole list and
// the message says which entry (1-based) and why.
inline constexpr std::size_t kMaxEndpoints = 8;
// http(s) base URLs, each as parse_url; returns their trimmed texts.
ParseResult<std::vector<std::string>> parse_url_list(std::string_view text);
// host[:port] entries: "agg-2", "agg-2:24225", "10.0.0.7:24225",
// "[fd00::7]:24225", "fd00::7" (an IPv6 literal with a port needs brackets).
// port 0: no port given (the caller's default applies).
struct HostPort {
  std::string host;  // without brackets
  std::uint16_t port = 0;
  bool operator==(const HostPort&) const = default;
};
ParseResult<std::vector<HostPort>> parse_host_port_list(std::string_view text);

// One of `choices` (lowercase), compared case-insensitively; returns its index.
ParseResult<std::size_t> parse_enum(std::string_view text,
                                    const std::vector<std::string_view>& choices);

// Options for parse_key_value_list.
struct KeyValueOptions {
  // Values are secret (headers): messages never quote values, and quote keys
  // only when they are valid header names.
  bool secret_values = false;
  // Keys must be HTTP header names (RFC 9110 tokens) and decoded values must
  // not contain control characters (no header injection).
  bool header_names = false;
};
// `k=v,k2=v2` as in W3C baggage: members separated by ',', key and value split
// at the first '=', spaces and tabs trimmed around both, values (and keys)
// percent-decoded. Empty members are skipped; an empty key, a member without
// '=', a bad %-escape or a control character is an error.
ParseResult<KeyValues> parse_key_value_list(std::string_view text, KeyValueOptions options = {});
// Decodes %XX escapes; nullopt on a malformed escape. '+' stays '+'.
std::optional<std::string> percent_decode(std::string_view text);

// Sentry DSN (docs/sentry.md):
// {scheme}://{public_key}[:{secret}]@{host}[:{port}]{path_prefix}/{project_id}
struct SentryDsn {
  std::string scheme;  // "http" or "https"
  std::string public_key;
  std::string secret_key;  // usually empty (deprecated by Sentry)
  std::string host;
  std::optional<std::uint16_t> port;
  std::string path_prefix;  // "" or "/sub/path" (no trailing '/')
  std::string project_id;   // decimal digits

  // {scheme}://{host}[:{port}]{path_prefix}/api/{project_id}/envelope/
  std::string envelope_url() const;
  // The DSN with both keys masked: https://***@host/42
  std::string redacted() const;
};
ParseResult<SentryDsn> parse_sentry_dsn(std::string_view text);

// EMP_TRACES_SAMPLER_RULES: `glob=ratio` members separated by ','.
ParseResult<std::vector<SamplerRule>> parse_sampler_rules(std::string_view text);
// Glob match: '*' matches any run (including empty), '?' one byte. Linear in
// practice (greedy with one backtrack point), safe on hostile patterns.
bool glob_match(std::string_view pattern, std::string_view text) noexcept;

// OTEL_PROPAGATORS: comma list of tracecontext, baggage or none (alone).
// Known propagators this build lacks (b3, jaeger, ...) are errors that say so.
ParseResult<std::vector<std::string>> parse_propagators(std::string_view text);

// OTEL_TRACES_SAMPLER value; known but unavailable samplers are errors.
ParseResult<SamplerKind> parse_sampler(std::string_view text);
// http/protobuf | http/json | grpc (grpc parses; finalize rejects it).
ParseResult<OtlpProtocol> parse_otlp_protocol(std::string_view text);
ParseResult<Temporality> parse_temporality(std::string_view text);
ParseResult<DeploymentEnv> parse_deployment_env(std::string_view text);
ParseResult<QueueFullPolicy> parse_queue_full_policy(std::string_view text);
// gzip -> true, none -> false.
ParseResult<bool> parse_compression(std::string_view text);

// Free text used as an identifier (service name, machine id, dataset...):
// 1..256 bytes, no control characters.
ParseResult<std::string> parse_name(std::string_view text);
// A secret token (API key): non-empty, no whitespace or control characters.
// Messages never quote the value.
ParseResult<std::string> parse_token(std::string_view text);
// A filesystem path: non-empty, no control characters.
ParseResult<std::string> parse_path(std::string_view text);
// A path relative to some directory that cannot escape it (no leading '/',
// no ".." component, not ending in '/').
ParseResult<std::string> parse_relative_file(std::string_view text);

}  // namespace emp::telemetry::config
