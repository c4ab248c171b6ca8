// Health snapshot: per-track counters that prove where every record went.
// For each track: offered == accepted + dropped_at_enqueue, and every accepted
// record ends written/exported or dropped with a reason.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace emp::telemetry {

enum class Track : std::uint8_t { kLogs = 0, kTraces, kMetrics, kEvents, kErrors, kCount };
std::string_view to_string(Track) noexcept;  // "logs", "traces", ...

enum class DropReason : std::uint8_t {
  kQueueFull = 0,   // the caller's queue was full
  kRejected,        // the destination refused it permanently
  kRetryExhausted,  // retries ran out
  kSpoolFull,       // the disk spool was full
  kShutdown,        // still pending when the shutdown deadline passed
  kSampledOut,      // a sampler decided not to keep it
  kRateLimited,     // a rate limit applied
  kIoError,         // local file could not be written (EACCES, ENOSPC, ...)
  kMemoryCap,       // the per-destination memory cap was reached
  kCircuitOpen,     // the circuit breaker was open and there was no spool
  kTooLarge,        // a single record larger than the queue can ever hold
  kCount
};
std::string_view to_string(DropReason) noexcept;  // "queue_full", "rejected", ...

struct TrackHealth {
  std::uint64_t offered = 0;       // calls that reached the queue (level filter passed)
  std::uint64_t accepted = 0;      // copied into the queue
  std::uint64_t written = 0;       // written to a file or exported to a destination
  std::uint64_t errors = 0;        // I/O or delivery errors seen (not records)
  std::uint64_t invalid_utf8 = 0;  // records in which invalid UTF-8 was replaced
  std::uint64_t truncated = 0;     // records in which a message or field was truncated
  std::uint64_t spooled = 0;  // records waiting in the disk spool (neither written nor dropped)
  // Records an earlier run left in the disk spool; they count as offered and
  // accepted in this run, so offered == written + dropped + spooled holds.
  std::uint64_t recovered = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> dropped{};
  // The metrics track counts data points in the fields above (what it
  // exports: offered == written + dropped + spooled holds for it too); the
  // measurements the application recorded are counted here, with those
  // refused before aggregation (invalid value or name, conflicting
  // instrument, series limit, after shutdown). Zero for the other tracks.
  std::uint64_t measurements = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> measurements_dropped{};

  std::uint64_t dropped_total() const noexcept {
    std::uint64_t n = 0;
    for (auto d : dropped) n += d;
    return n;
  }
  std::uint64_t dropped_for(DropReason r) const noexcept {
    return dropped[static_cast<std::size_t>(r)];
  }
};

// One endpoint of a destination that has failover endpoints
// (EMP_OTLP_FAILOVER_ENDPOINTS, FLUENTD_FAILOVER_HOSTS).
struct EndpointHealth {
  std::string name;  // like DestinationHealth::name
  // "healthy", "degraded" (last attempt failed), "circuit_open", "standby"
  // (not needed yet)
  std::string state = "standby";
  bool active = false;         // the last attempt went here
  std::uint64_t requests = 0;  // attempts sent to this endpoint
  std::uint64_t delivered = 0;  // items it accepted
  std::string last_error;       // redacted; empty when none
};

// One destination a track exports to (an OTLP collector, a local OTLP/JSON
// file...). Items are records (spans, log records, data points).
struct DestinationHealth {
  std::string name;  // e.g. "otlp-http http://collector:4318/v1/traces" (no credentials)
  Track track = Track::kLogs;
  // "healthy", "degraded" (last attempt failed), "circuit_open" (paused),
  // "failover" (the primary endpoint is failing; a failover endpoint
  // delivers: data flows, so GET /health still answers 200).
  std::string state = "healthy";
  std::uint64_t requests = 0;     // export requests attempted
  std::uint64_t retried = 0;      // of which were retries
  std::uint64_t connections_opened = 0;  // new connections (keep-alive reuse shows here)
  std::uint64_t delivered = 0;           // items the destination accepted
  std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)> dropped{};
  std::uint64_t queue_bytes = 0;            // encoded bytes waiting in memory
  std::uint64_t spool_bytes = 0;            // bytes waiting on disk
  std::uint64_t spooled = 0;                // items waiting on disk
  bool primary = true;                      // outcomes count in the track's own counters
  std::int64_t last_success_unix_nano = 0;  // 0 = never
  std::string last_error;                   // redacted; empty when none
  // With failover endpoints (empty otherwise): each endpoint in order of
  // preference ([0] the primary, named by `name`), the one in use and why.
  std::vector<EndpointHealth> endpoints;
  std::string active_endpoint;
  std::string active_reason;
  std::uint64_t endpoint_switches = 0;  // times batches moved to another endpoint
};

// Files shipped with Client::add_file (and `emp-telemetry tail`): what the
// tailer read. Delivery outcomes of those lines show in the destination whose
// name ends in "(tailed files)".
struct TailHealth {
  std::uint64_t lines = 0;       // lines handed to delivery
  std::uint64_t truncated = 0;   // lines cut at the line limit (the rest of the line skipped)
  std::uint64_t rotations = 0;   // renames, copy-truncates and deletions followed
  std::uint64_t files_open = 0;  // files being read now
  std::uint64_t errors = 0;      // files that could not be opened or read
};

struct HealthSnapshot {
  TailHealth tail{};
  std::array<TrackHealth, static_cast<std::size_t>(Track::kCount)> tracks{};
  std::vector<DestinationHealth> destinations;
  std::string last_error;  // most recent diagnostic, redacted; empty when none

  const TrackHealth& track(Track t) const noexcept { return tracks[static_cast<std::size_t>(t)]; }
};

}  // namespace emp::telemetry
