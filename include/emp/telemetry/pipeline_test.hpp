// The pipeline test behind Client::test() and `emp-telemetry doctor`: every
// destination the configuration names is probed with its own protocol (an
// empty OTLP export per signal, a Sentry envelope holding only a client
// report, a Fluentd forward record with its ack), each hop timed apart; then
// one marker record goes through every track of the client and is flushed,
// and, where the OTLP endpoint is a local viewer, read back. The report says
// per check what is wrong and what to do about it. docs/doctor.md has the
// checks, the reasons and the exit codes.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace emp::telemetry {

enum class CheckStatus : std::uint8_t {
  kHealthy,   // works
  kDegraded,  // answers, but not as it should (busy, rate limited, partial)
  kFailed,    // data sent there is lost or refused
  kSkipped,   // not configured, or left out with `only`
};
const char* to_string(CheckStatus s) noexcept;

// One timed step of a check: "resolve", "connect", "tls", "handshake",
// "response", "ack", "flush", "read-back".
struct Hop {
  std::string name;
  std::chrono::microseconds duration{0};
};

struct CheckResult {
  std::string name;    // "otlp traces", "fluentd", "sentry", "dash0 logs", "end-to-end logs", ...
  std::string target;  // URL or host:port, without credentials
  CheckStatus status = CheckStatus::kSkipped;
  std::string reason;  // one line: what happened
  std::string advice;  // what to do about it ("" when healthy)
  std::vector<Hop> hops;
  std::chrono::microseconds total{0};
  std::string tls_subject;  // the server certificate's subject, when TLS
  std::string tls_expiry;   // its notAfter, e.g. "2027-03-01T12:00:00Z"
  // With PipelineTestOptions::verbose: the requests and answers, credentials
  // shown as "***".
  std::vector<std::string> transcript;
};

// The client's own state at the time of the test.
struct ClientStateSummary {
  struct Destination {
    std::string name;
    std::string state;  // healthy, degraded, circuit_open, failover
    std::uint64_t queue_bytes = 0, spool_bytes = 0, delivered = 0, dropped = 0;
    std::string last_error;
    // With failover endpoints: the one in use and why; empty otherwise.
    std::string active_endpoint, active_reason;
  };
  std::vector<Destination> destinations;
  // "<track> <reason>" -> records dropped since start, only the non-zero ones.
  std::vector<std::pair<std::string, std::uint64_t>> drops;
};

struct PipelineReport {
  std::vector<CheckResult> checks;
  ClientStateSummary client;
  CheckStatus overall = CheckStatus::kHealthy;  // the worst of the checks
  // 0 healthy, 1 something degraded, 2 a destination failed.
  int exit_code() const noexcept;
};

struct PipelineTestOptions {
  // Bounds every probe (they run in parallel) and the end-to-end flush.
  std::chrono::milliseconds timeout{5000};
  // Empty: all. Otherwise any of "otel", "fluentd", "sentry", "dash0",
  // "end-to-end".
  std::vector<std::string> only;
  bool end_to_end = true;
  bool verbose = false;
};

}  // namespace emp::telemetry
