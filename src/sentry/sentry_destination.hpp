// The Sentry destination: POSTs envelopes to a project's envelope endpoint
// over a kept-alive libcurl connection (deliver::HttpTransport), gzipped,
// with the X-Sentry-Auth header, and classifies each answer the way Sentry's
// SDK guidelines ask (docs/sentry.md):
//   2xx                        delivered
//   429                        dropped, counted rate_limited, never retried
//   413                        dropped, counted too_large, reported send_error
//   any other status           dropped, counted rejected, reported send_error
//   no answer                  retryable (the worker retries, then spools)
// X-Sentry-Rate-Limits (or, on a 429 without it, Retry-After) is read on
// every answer; while a category is limited its envelopes are dropped here
// without a request (`rate_limited`, reported ratelimit_backoff), so nothing
// is ever retried into a limit.
//
// Every envelope sent carries the client reports pending at that moment. A
// payload with no items (an envelope header only) asks for the pending
// reports alone; with none pending nothing is sent.
//
// Thread-safety: as deliver::Destination.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "config/parse.hpp"
#include "deliver/delivery.hpp"
#include "deliver/http_transport.hpp"
#include "encode/gzip.hpp"
#include "sentry/client_reports.hpp"
#include "sentry/rate_limits.hpp"

namespace emp::telemetry::sentry {

struct SentrySettings {
  config::SentryDsn dsn;
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::seconds retry_after_cap{3600};
  bool gzip = true;
  int gzip_level = encode::kGzipDefaultLevel;  // EMP_COMPRESSION_LEVEL
  // The rate-limit and client-report category of what this destination
  // sends: "error" for events, "transaction" for transactions.
  std::string category = "error";
};

// The X-Sentry-Auth header value for `public_key`.
std::string auth_header(std::string_view public_key);

class SentryDestination final : public deliver::Destination {
 public:
  SentryDestination(SentrySettings settings, std::shared_ptr<ClientReports> reports);

  deliver::DeliveryResult deliver(const deliver::Payload& payload,
                                  deliver::Deadline deadline) noexcept override;
  void interrupt() noexcept override { transport_.interrupt(); }
  void after_fork_child() noexcept override { transport_.after_fork_child(); }
  deliver::DestinationStats stats() const noexcept override;
  std::string description() const override;

 private:
  deliver::DeliveryResult finish(deliver::DeliveryResult r) noexcept;

  SentrySettings settings_;
  std::string url_;
  std::shared_ptr<ClientReports> reports_;
  deliver::HttpTransport transport_;
  RateLimits limits_;  // delivery thread only
  std::atomic<std::uint64_t> attempts_{0};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> retryable_{0};
  std::atomic<std::uint64_t> permanent_{0};
};

}  // namespace emp::telemetry::sentry
