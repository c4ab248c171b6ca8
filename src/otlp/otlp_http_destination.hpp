// OTLP/HTTP destination: POSTs encoded Export*ServiceRequests to one
// collector URL over a kept-alive libcurl connection (deliver::HttpTransport)
// and classifies each answer the OTLP way (docs/otlp.md, "Status
// classification" and "Partial success"):
//   2xx                 delivered, or partial when the body reports rejected items
//   429, 502, 503, 504  retryable (429 and 503 with the server's Retry-After)
//   any other status    permanent
//   no answer           retryable, except a request that can never be sent
//
// The endpoint, headers and options come from finalize() (OtlpExport in
// config.hpp), the one place that resolves the OTEL_EXPORTER_OTLP_* variables.
//
// Usage:
//   OtlpHttpDestination dest(exporter_settings(deliver::Signal::kTraces, config.otlp_traces));
//   DeliveryResult r = dest.deliver(payload, Deadline::after(5s, &cancel));
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "deliver/delivery.hpp"
#include "deliver/http_transport.hpp"
#include "deliver/signal.hpp"
#include "emp/telemetry/config.hpp"
#include "encode/gzip.hpp"

namespace emp::telemetry::otlp {

// Where and how one signal is exported, as the destination needs it.
struct ExporterSettings {
  deliver::Signal signal = deliver::Signal::kTraces;
  // True when no endpoint applies to this signal: every delivery is permanent.
  bool none_configured = true;
  std::string url;                           // full request URL, e.g. http://h:4318/v1/traces
  deliver::HttpHeaders headers;              // values are secrets
  std::chrono::milliseconds timeout{10000};  // 0 = no limit
  bool gzip = false;
  int gzip_level = encode::kGzipDefaultLevel;  // EMP_COMPRESSION_LEVEL
  deliver::ContentType content_type = deliver::ContentType::kProtobuf;
  std::string ca_file;           // *_CERTIFICATE
  std::string client_cert_file;  // *_CLIENT_CERTIFICATE
  std::string client_key_file;   // *_CLIENT_KEY
};

// The settings of `signal` from its finalized OtlpExport (none_configured
// when the export names no URL).
ExporterSettings exporter_settings(deliver::Signal signal, const OtlpExport& exp);
// `options` with the settings' TLS material (CA, client certificate and key).
deliver::HttpTransportOptions transport_options(const ExporterSettings& settings,
                                                deliver::HttpTransportOptions options = {});

struct OtlpHttpOptions {
  // Upper bound on a server's Retry-After.
  std::chrono::seconds retry_after_cap{300};
  std::chrono::milliseconds connect_timeout{5000};
  // Length of the server message kept in DeliveryResult::message.
  std::size_t max_message_bytes = 512;
  // Transport limits; TLS files are filled in from the settings.
  deliver::HttpTransportOptions transport;
};

// Thread-safety: as deliver::Destination.
class OtlpHttpDestination final : public deliver::Destination {
 public:
  explicit OtlpHttpDestination(ExporterSettings settings, OtlpHttpOptions options = {});

  deliver::DeliveryResult deliver(const deliver::Payload& payload,
                                  deliver::Deadline deadline) noexcept override;
  void interrupt() noexcept override { transport_.interrupt(); }
  void after_fork_child() noexcept override { transport_.after_fork_child(); }
  deliver::DestinationStats stats() const noexcept override;
  std::string description() const override;

  const ExporterSettings& settings() const noexcept { return settings_; }
  // The underlying transport's counters (requests vs connections opened).
  deliver::HttpTransportStats transport_stats() const noexcept { return transport_.stats(); }

 private:
  deliver::DeliveryResult classify(const deliver::Payload& payload,
                                   deliver::HttpResponse&& response) const;
  deliver::DeliveryResult finish(deliver::DeliveryResult result) noexcept;

  ExporterSettings settings_;
  OtlpHttpOptions options_;
  deliver::HttpTransport transport_;
  std::atomic<std::uint64_t> attempts_{0};
  std::atomic<std::uint64_t> delivered_{0};
  std::atomic<std::uint64_t> partial_{0};
  std::atomic<std::uint64_t> retryable_{0};
  std::atomic<std::uint64_t> permanent_{0};
  std::atomic<std::uint64_t> items_rejected_{0};
};

// Factory returning the interface, for code that should not see the class.
std::unique_ptr<deliver::Destination> make_otlp_http_destination(ExporterSettings settings,
                                                                 OtlpHttpOptions options = {});

}  // namespace emp::telemetry::otlp
