// The destination probes of the pipeline test (emp/telemetry/pipeline_test.hpp):
// each talks to one destination with its real protocol, on a connection of
// its own (so every hop is measured, not hidden by a kept-alive connection),
// bounded by `timeout`, and turns what happened into a CheckResult with a
// reason and advice. They share nothing with the client's delivery: a probe
// neither waits behind queued data nor counts in health().
//
// Thread-safe: every probe is a pure function of its arguments.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "deliver/signal.hpp"
#include "emp/telemetry/config.hpp"
#include "emp/telemetry/pipeline_test.hpp"

namespace emp::telemetry::doctor {

struct ProbeOptions {
  std::chrono::milliseconds timeout{5000};
  bool verbose = false;
  std::string marker;  // the test's id, carried by the forward test record
};

// An empty Export*ServiceRequest of `signal` to the signal's URL, with the
// configured headers, protocol, compression and TLS material.
CheckResult probe_otlp(const std::string& name, deliver::Signal signal, const OtlpExport& exp,
                       const ProbeOptions& options);
// An envelope with only a client_report item to the DSN's project.
CheckResult probe_sentry(const Config& config, const ProbeOptions& options);
// The handshake (with a shared key), one test record with a chunk, its ack.
CheckResult probe_fluentd(const Config& config, const ProbeOptions& options);

// Every probe the configuration calls for ("otel"/"dash0" per signal,
// "sentry", "fluentd"), run in parallel; those not configured (or left out
// by `only`) as kSkipped with the reason.
std::vector<CheckResult> probe_all(const Config& config, const PipelineTestOptions& options,
                                   const std::string& marker);

// True when `group` ("otel", "dash0", "fluentd", "sentry", "end-to-end") is
// asked for by `only` (empty: everything).
bool wanted(const std::vector<std::string>& only, const std::string& group);

}  // namespace emp::telemetry::doctor
