// OTLP/HTTP destination: POSTs encoded Export*ServiceRequests to one
// collector URL over a kept-alive libcurl connection and classifies each
// answer (see delivery.hpp for the Outcome rules).
//
// Usage:
//   auto settings = resolve_exporter_settings(Signal::kTraces, lookup);
//   OtlpHttpDestination dest(settings.value());
//   DeliveryResult r = dest.deliver(payload, Deadline::after(5s, &cancel));
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "deliver/delivery.hpp"
#include "deliver/http_transport.hpp"
#include "deliver/otlp_endpoint.hpp"

namespace emp::telemetry::deliver {

struct OtlpHttpOptions {
  // Upper bound on a server's Retry-After.
  std::chrono::seconds retry_after_cap{300};
  std::chrono::milliseconds connect_timeout{5000};
  // Length of the server message kept in DeliveryResult::message.
  std::size_t max_message_bytes = 512;
  // Transport limits; TLS files are filled in from the settings.
  HttpTransportOptions transport;
};

// Thread-safety: as Destination.
class OtlpHttpDestination final : public Destination {
 public:
  explicit OtlpHttpDestination(ExporterSettings settings, OtlpHttpOptions options = {});

  DeliveryResult deliver(const Payload& payload, Deadline deadline) noexcept override;
  void interrupt() noexcept override { transport_.interrupt(); }
  void after_fork_child() noexcept override { transport_.after_fork_child(); }
  DestinationStats stats() const noexcept override;
  std::string description() const override;

  const ExporterSettings& settings() const noexcept { return settings_; }
  // The underlying transport's counters (requests vs connections opened).
  HttpTransportStats transport_stats() const noexcept { return transport_.stats(); }

 private:
  DeliveryResult classify(const Payload& payload, HttpResponse&& response) const;
  DeliveryResult finish(DeliveryResult result) noexcept;

  ExporterSettings settings_;
  OtlpHttpOptions options_;
  HttpTransport transport_;
  std::atomic<std::uint64_t> attempts_{0};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> partial_{0};
  std::atomic<std::uint64_t> retryable_{0};
  std::atomic<std::uint64_t> permanent_{0};
  std::atomic<std::uint64_t> items_rejected_{0};
};

// Factory returning the interface, for code that should not see the class.
std::unique_ptr<Destination> make_otlp_http_destination(ExporterSettings settings,
                                                        OtlpHttpOptions options = {});

}  // namespace emp::telemetry::deliver
