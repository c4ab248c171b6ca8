// OtlpHttpDestination: one attempt, classified. See otlp_http_destination.hpp.
#include "otlp/otlp_http_destination.hpp"

#include <algorithm>
#include <vector>

#include "core/strings.hpp"
#include "encode/otlp_response.hpp"

namespace emp::telemetry::otlp {

using core::printable_excerpt;
using deliver::ContentType;
using deliver::Deadline;
using deliver::DeliveryResult;
using deliver::DestinationStats;
using deliver::HttpResponse;
using deliver::HttpTransportOptions;
using deliver::Outcome;
using deliver::Payload;
using deliver::Signal;
using deliver::TransportError;

HttpTransportOptions transport_options(const ExporterSettings& settings,
                                       HttpTransportOptions options) {
  options.ca_file = settings.ca_file;
  options.client_cert_file = settings.client_cert_file;
  options.client_key_file = settings.client_key_file;
  return options;
}

namespace {

// What the items of a signal are called in messages.
std::string_view item_noun(Signal signal) {
  switch (signal) {
    case Signal::kTraces:
      return "spans";
    case Signal::kMetrics:
      return "data points";
    case Signal::kLogs:
      return "log records";
  }
  return "items";
}

bool is_json(std::string_view content_type) {
  return content_type.find("json") != std::string_view::npos;
}

}  // namespace

ExporterSettings exporter_settings(Signal signal, const OtlpExport& exp) {
  ExporterSettings es;
  es.signal = signal;
  es.none_configured = exp.url.empty();
  es.url = exp.url;
  es.headers = exp.headers;
  es.timeout = exp.timeout;
  es.gzip = exp.gzip;
  es.gzip_level = exp.gzip_level;
  es.content_type =
      exp.protocol == OtlpProtocol::kHttpJson ? ContentType::kJson : ContentType::kProtobuf;
  es.ca_file = exp.certificate;
  es.client_cert_file = exp.client_certificate;
  es.client_key_file = exp.client_key;
  return es;
}

OtlpHttpDestination::OtlpHttpDestination(ExporterSettings settings, OtlpHttpOptions options)
    : settings_(std::move(settings)),
      options_(std::move(options)),
      transport_(transport_options(settings_, options_.transport)) {}

std::string OtlpHttpDestination::description() const {
  return "otlp-http " + (settings_.none_configured ? std::string("(no endpoint)")
                                                   : deliver::display_url(settings_.url));
}

DestinationStats OtlpHttpDestination::stats() const noexcept {
  DestinationStats s;
  s.attempts = attempts_.load(std::memory_order_relaxed);
  s.delivered = delivered_.load(std::memory_order_relaxed);
  s.partial = partial_.load(std::memory_order_relaxed);
  s.retryable = retryable_.load(std::memory_order_relaxed);
  s.permanent = permanent_.load(std::memory_order_relaxed);
  s.items_rejected = items_rejected_.load(std::memory_order_relaxed);
  const auto t = transport_.stats();
  s.bytes_sent = t.bytes_sent;
  s.connections_opened = t.connections_opened;
  return s;
}

DeliveryResult OtlpHttpDestination::finish(DeliveryResult result) noexcept {
  switch (result.outcome) {
    case Outcome::kDelivered:
      delivered_.fetch_add(1, std::memory_order_relaxed);
      break;
    case Outcome::kPartial:
      partial_.fetch_add(1, std::memory_order_relaxed);
      break;
    case Outcome::kRetryable:
      retryable_.fetch_add(1, std::memory_order_relaxed);
      break;
    case Outcome::kPermanent:
      permanent_.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  items_rejected_.fetch_add(result.rejected, std::memory_order_relaxed);
  return result;
}

DeliveryResult OtlpHttpDestination::deliver(const Payload& payload, Deadline deadline) noexcept {
  try {
    DeliveryResult result;
    if (payload.bytes.empty()) {
      // Nothing to say: an empty export request is never sent.
      result.outcome = Outcome::kDelivered;
      result.message = "empty payload: nothing sent";
      return result;
    }
    if (settings_.none_configured) {
      result.outcome = Outcome::kPermanent;
      result.message =
          "no OTLP endpoint is configured for " + std::string(deliver::to_string(settings_.signal));
      return finish(std::move(result));
    }
    if (payload.signal != settings_.signal) {
      result.outcome = Outcome::kPermanent;
      result.message = "a " + std::string(deliver::to_string(payload.signal)) +
                       " payload cannot go to the " +
                       std::string(deliver::to_string(settings_.signal)) + " endpoint " +
                       deliver::display_url(settings_.url);
      return finish(std::move(result));
    }

    deliver::HttpRequest request;
    request.url = settings_.url;
    request.headers = settings_.headers;
    request.body = payload.bytes;
    request.content_type = std::string(deliver::mime_type(payload.content_type));
    request.gzip = settings_.gzip;
    request.gzip_level = settings_.gzip_level;
    request.timeout = settings_.timeout;
    request.connect_timeout = options_.connect_timeout;
    request.deadline = deadline;
    request.retry_after_cap = options_.retry_after_cap;
    HttpResponse response = transport_.post(request);
    if (response.attempted) attempts_.fetch_add(1, std::memory_order_relaxed);
    return finish(classify(payload, std::move(response)));
  } catch (...) {
    DeliveryResult result;
    result.outcome = Outcome::kRetryable;
    result.message = "delivery failed: out of memory";
    return finish(std::move(result));
  }
}

DeliveryResult OtlpHttpDestination::classify(const Payload& payload,
                                             HttpResponse&& response) const {
  DeliveryResult result;
  result.http_status = response.status;
  result.elapsed = response.elapsed;
  result.sent = response.attempted;

  const std::vector<std::string_view> secrets = deliver::header_secrets(settings_.headers);
  const std::string url = deliver::display_url(settings_.url);
  const auto server_says = [&]() -> std::string {
    std::optional<std::string> text = is_json(response.content_type)
                                          ? encode::otlp::parse_status_message_json(response.body)
                                          : encode::otlp::parse_status_message_proto(response.body);
    if (!text && is_json(response.content_type)) text = response.body;
    if (!text && response.content_type.rfind("text/", 0) == 0) text = response.body;
    if (!text || text->empty()) return {};
    return ": " + deliver::redact(printable_excerpt(*text, options_.max_message_bytes), secrets);
  };

  const long status = response.status;
  if (status == 0) {
    // No answer: the transport's own error. Only a request that can never
    // be sent (too large, bad URL) is permanent.
    result.outcome =
        response.error == TransportError::kRefused ? Outcome::kPermanent : Outcome::kRetryable;
    result.cancelled = response.error == TransportError::kCancelled;
    result.message = response.error_message.empty()
                         ? "POST " + url + ": no response"
                         : deliver::redact(response.error_message, secrets);
    return result;
  }

  if (status >= 200 && status < 300) {
    result.outcome = Outcome::kDelivered;
    result.message = "HTTP " + std::to_string(status) + " from " + url;
    if (response.truncated) {
      result.message += " (response body over the read limit; partial success not read)";
      return result;
    }
    if (response.body.empty()) return result;
    const bool json = response.content_type.empty() ? payload.content_type == ContentType::kJson
                                                    : is_json(response.content_type);
    const auto partial = json ? encode::otlp::parse_partial_success_json(response.body)
                              : encode::otlp::parse_partial_success_proto(response.body);
    if (!partial.ok) {
      // The data was accepted; a body we cannot read does not change that.
      result.message +=
          " (unreadable response body ignored: " + printable_excerpt(partial.error, 200) + ")";
      return result;
    }
    const std::string server_message =
        partial.message.empty()
            ? std::string()
            : ": " + deliver::redact(printable_excerpt(partial.message, options_.max_message_bytes),
                                     secrets);
    if (partial.rejected > 0) {
      result.outcome = Outcome::kPartial;
      // A server cannot reject more than was sent; never count more drops.
      result.rejected = payload.items > 0
                            ? static_cast<std::size_t>(std::min<std::uint64_t>(
                                  static_cast<std::uint64_t>(partial.rejected), payload.items))
                            : static_cast<std::size_t>(partial.rejected);
      result.message += ": partial success, " + std::to_string(result.rejected) + " of " +
                        std::to_string(payload.items) + " " +
                        std::string(item_noun(payload.signal)) + " rejected" + server_message;
    } else if (!server_message.empty()) {
      // rejected == 0 with a message is a warning from the server.
      result.message += ": warning" + server_message;
    }
    return result;
  }

  result.message = "HTTP " + std::to_string(status) + " from " + url + server_says();
  // A final answer below 200 ("100 Continue" and nothing after it) is a
  // misbehaving peer: retry, and let the breaker see it.
  if (status < 200 || status == 429 || status == 502 || status == 503 || status == 504) {
    result.outcome = Outcome::kRetryable;
    if (status == 429 || status == 503) result.retry_after = response.retry_after;
  } else {
    result.outcome = Outcome::kPermanent;
  }
  return result;
}

std::unique_ptr<deliver::Destination> make_otlp_http_destination(ExporterSettings settings,
                                                                 OtlpHttpOptions options) {
  return std::make_unique<OtlpHttpDestination>(std::move(settings), std::move(options));
}

}  // namespace emp::telemetry::otlp
