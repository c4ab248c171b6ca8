// Where and how one OTLP signal is exported: URL, headers, timeout,
// compression, protocol and TLS files, resolved from environment-style
// variables (PROTOCOLS.md section 1, "Endpoint resolution").
//
// URL precedence for a signal S (TRACES, METRICS, LOGS):
//   1. OTEL_EXPORTER_OTLP_<S>_ENDPOINT     used as-is (empty path becomes "/")
//   2. OTEL_COLLECTOR_<S>_ENDPOINT         (TRACES and METRICS only; the original
//                                           job-queue services' names) used as-is
//   3. OTEL_EXPORTER_OTLP_ENDPOINT         a base: "v1/<s>" appended with one '/'
//   4. DASH0_OTLP_BASE_URL                 a base, like 3
// When none is set the settings say `none_configured`.
//
// Headers: OTEL_EXPORTER_OTLP_HEADERS then OTEL_EXPORTER_OTLP_<S>_HEADERS,
// `k=v,k2=v2` with percent-decoded keys and values; the signal-specific list
// wins key by key (names compared case-insensitively). When (and only when)
// the URL came from DASH0_OTLP_BASE_URL, `Authorization: Bearer
// <DASH0_API_KEY>` and `Dash0-Dataset: <DASH0_DATASET>` are added for the
// variables that are set, unless the header lists already name those headers.
// Sending the Dash0 key only to the Dash0 base keeps it from leaking to a
// local collector that happens to be configured next to it.
//
// TIMEOUT, COMPRESSION, PROTOCOL, CERTIFICATE, CLIENT_KEY, CLIENT_CERTIFICATE:
// the signal-specific variable wins over the generic one.
//
// Values are read through a lookup function (an empty value counts as
// unset), so the same code serves the process environment, Config::raw and
// tests. Invalid values are errors naming the variable; header values and the
// API key are never quoted.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "deliver/http_transport.hpp"
#include "deliver/signal.hpp"
#include "emp/telemetry/expected.hpp"

namespace emp::telemetry::deliver {

// Returns the raw text of a variable, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

struct ExporterSettings {
  Signal signal = Signal::kTraces;
  // True when no endpoint variable applies to this signal: nothing to export to.
  bool none_configured = true;
  std::string url;                           // full request URL, e.g. http://h:4318/v1/traces
  std::string endpoint_variable;             // the variable the URL came from ("" if none)
  HttpHeaders headers;                       // merged, percent-decoded (values are secrets)
  std::chrono::milliseconds timeout{10000};  // 0 = no limit
  bool gzip = false;
  ContentType content_type = ContentType::kProtobuf;  // http/protobuf or http/json
  std::string ca_file;                                // *_CERTIFICATE
  std::string client_cert_file;                       // *_CLIENT_CERTIFICATE
  std::string client_key_file;                        // *_CLIENT_KEY
  bool dash0 = false;                                 // the URL came from DASH0_OTLP_BASE_URL
};

// Resolves the settings of `signal`. Returns every problem found (each
// Error's subject is the variable name). Thread-safe if `lookup` is.
Expected<ExporterSettings> resolve_exporter_settings(Signal signal, const EnvLookup& lookup);

// Convenience: resolution against the process environment (getenv).
EnvLookup process_env_lookup();

// "http://h:4318/x/" + "v1/traces" -> "http://h:4318/x/v1/traces"; keeps a
// query or fragment of the base after the joined path.
std::string join_base_url(std::string_view base, std::string_view suffix);

// "http://h:4318" -> "http://h:4318/": an empty path becomes "/".
std::string with_root_path(std::string_view url);

}  // namespace emp::telemetry::deliver
