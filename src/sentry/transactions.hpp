// Sentry performance monitoring from the trace track's spans: with
// SENTRY_TRACES_SAMPLE_RATE above 0, every local root span (no parent, or a
// parent in another process) of a sampled trace becomes one `transaction`
// envelope holding the spans of its trace that ended before it in this
// process, so Sentry's performance view shows the same trace id as the error
// events (docs/sentry.md, "Transactions").
//
// Sampling is by trace id (the low 8 bytes as an unsigned number against
// rate * 2^64, the rule of OpenTelemetry's TraceIdRatioBased sampler), so every
// service with the same rate keeps or drops the same traces.
//
// Bounded: at most kMaxPendingSpans children wait for their roots (the oldest
// trace's are dropped first) and a transaction carries at most
// kMaxSpansPerTransaction of them. Used by the span handler's thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "deliver/worker.hpp"
#include "encode/otlp_types.hpp"

namespace emp::telemetry::sentry {

struct TransactionSettings {
  double sample_rate = 0;
  std::string public_key;  // for the envelope header's dynamic sampling context
  std::string environment;
  std::string release;
  std::string server_name;
  std::string service_name;
};

// True when the trace is kept at `rate` (0..1).
bool trace_sampled(const encode::otlp::TraceId& trace_id, double rate) noexcept;

// The transaction envelope for `root` and its `children` (ids as hex, times
// as seconds, status and op from the spans).
std::string transaction_envelope(const encode::otlp::SpanData& root,
                                 const std::vector<encode::otlp::SpanData>& children,
                                 const TransactionSettings& settings);

class TransactionBuilder {
 public:
  static constexpr std::size_t kMaxPendingSpans = 10000;
  static constexpr std::size_t kMaxSpansPerTransaction = 1000;

  TransactionBuilder(TransactionSettings settings, std::unique_ptr<deliver::DeliveryWorker> sink);

  void add(const encode::otlp::SpanData& span) noexcept;
  deliver::DeliveryWorker& sink() noexcept { return *sink_; }
  // Children dropped because their root never came in time (or the bound).
  std::uint64_t orphaned() const noexcept { return orphaned_; }

 private:
  void evict_oldest() noexcept;

  TransactionSettings settings_;
  std::unique_ptr<deliver::DeliveryWorker> sink_;
  std::map<encode::otlp::TraceId, std::vector<encode::otlp::SpanData>> pending_;
  std::deque<encode::otlp::TraceId> order_;  // traces in the order they appeared
  std::size_t pending_spans_ = 0;
  std::uint64_t orphaned_ = 0;
};

}  // namespace emp::telemetry::sentry
