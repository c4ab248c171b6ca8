// The single delivery interface: a Destination takes one encoded payload and
// says what became of it. Everything that decides *whether and when* to send
// again (retry with backoff and jitter, Retry-After, circuit breaker, disk
// spool) is layered on top of this interface and never inside an
// implementation, so each transport only has to classify one attempt.
//
// Each protocol's destination classifies one attempt into an Outcome (for
// OTLP/HTTP: src/otlp/otlp_http_destination.hpp and docs/otlp.md):
//   kDelivered  the peer accepted everything
//   kPartial    the peer accepted the request but refused some items: never
//               retried; the refused items are dropped with reason "rejected"
//   kRetryable  the peer is busy or unreachable (throttling, overload,
//               connection failures, timeouts), or a deadline/cancel cut the
//               attempt: send again later
//   kPermanent  sending again cannot help (the peer refused the request, or it
//               can never be sent): drop and count
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "deliver/signal.hpp"
#include "emp/telemetry/health.hpp"

namespace emp::telemetry::deliver {

// One encoded export request: the bytes of an Export*ServiceRequest.
struct Payload {
  std::string bytes;
  Signal signal = Signal::kTraces;
  std::size_t items = 0;  // spans / data points / log records inside
  ContentType content_type = ContentType::kProtobuf;
};

enum class Outcome : std::uint8_t { kDelivered = 0, kPartial, kRetryable, kPermanent };
std::string_view to_string(Outcome outcome) noexcept;  // "delivered", "partial", ...

struct DeliveryResult {
  Outcome outcome = Outcome::kPermanent;
  std::size_t rejected = 0;  // items the server refused (kPartial)
  // Why a kPermanent (or the rejected part of a kPartial) is dropped: a
  // protocol with rate limits says kRateLimited, a payload over the peer's
  // size limit kTooLarge. Any other reason is counted `rejected`.
  DropReason drop_reason = DropReason::kRejected;
  // One line for diagnostics: status, URL without credentials, and the
  // server's message cut at 512 bytes. Never contains header values.
  std::string message;
  // The server's Retry-After (429/503 only), already capped.
  std::optional<std::chrono::milliseconds> retry_after;
  long http_status = 0;  // 0 when no response was received
  bool sent = false;     // the request reached the network
  // The caller's deadline or cancel flag ended the attempt (kRetryable): the
  // data may or may not have arrived, and there is no time left to retry.
  bool cancelled = false;
  std::chrono::milliseconds elapsed{0};
};

// Monotonic counters, readable from any thread.
struct DestinationStats {
  std::uint64_t attempts = 0;   // deliver() calls that sent a request
  std::uint64_t delivered = 0;  // per Outcome
  std::uint64_t partial = 0;
  std::uint64_t retryable = 0;
  std::uint64_t permanent = 0;
  std::uint64_t items_rejected = 0;      // sum of DeliveryResult::rejected
  std::uint64_t bytes_sent = 0;          // on the wire, after compression
  std::uint64_t connections_opened = 0;  // new TCP connections (keep-alive proof)
};

// Where payloads go. Thread-safety: deliver() is called by one thread at a
// time (the destination's pipeline thread); stats(), interrupt() and
// description() may be called from any thread.
class Destination {
 public:
  virtual ~Destination() = default;

  // Makes one attempt, bounded by `deadline` (time and cancel flag). Never
  // throws. Empty payloads are not sent and report kDelivered.
  virtual DeliveryResult deliver(const Payload& payload, Deadline deadline) noexcept = 0;

  // Wakes a deliver() blocked on the network so it sees a cancel flag now.
  virtual void interrupt() noexcept {}

  virtual DestinationStats stats() const noexcept = 0;

  // In a forked child, before the first deliver(): drop connections shared
  // with the parent (never close them politely: they are the parent's).
  virtual void after_fork_child() noexcept {}

  // A name for diagnostics, free of credentials, e.g. "otlp-http http://h:4318/v1/traces".
  virtual std::string description() const = 0;
};

}  // namespace emp::telemetry::deliver
