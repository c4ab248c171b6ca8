// SentryDestination: one attempt, classified; see sentry_destination.hpp.
#include "sentry/sentry_destination.hpp"

#include <chrono>

#include "client/resource.hpp"
#include "core/strings.hpp"
#include "encode/sentry_envelope.hpp"

namespace emp::telemetry::sentry {

using deliver::DeliveryResult;
using deliver::Outcome;

namespace {

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string auth_header(std::string_view public_key) {
  return "Sentry sentry_version=7, sentry_key=" + std::string(public_key) +
         ", sentry_client=" + kSdkName + "/" + kSdkVersion;
}

SentryDestination::SentryDestination(SentrySettings settings,
                                     std::shared_ptr<ClientReports> reports)
    : settings_(std::move(settings)),
      url_(settings_.dsn.envelope_url()),
      reports_(std::move(reports)) {}

std::string SentryDestination::description() const {
  std::string d = "sentry " + deliver::display_url(url_);
  if (settings_.category != "error") d += " (" + settings_.category + "s)";
  return d;
}

deliver::DestinationStats SentryDestination::stats() const noexcept {
  deliver::DestinationStats s;
  s.attempts = attempts_.load(std::memory_order_relaxed);
  s.delivered = delivered_.load(std::memory_order_relaxed);
  s.retryable = retryable_.load(std::memory_order_relaxed);
  s.permanent = permanent_.load(std::memory_order_relaxed);
  const auto t = transport_.stats();
  s.bytes_sent = t.bytes_sent;
  s.connections_opened = t.connections_opened;
  return s;
}

DeliveryResult SentryDestination::finish(DeliveryResult r) noexcept {
  switch (r.outcome) {
    case Outcome::kDelivered:
    case Outcome::kPartial:
      delivered_.fetch_add(1, std::memory_order_relaxed);
      break;
    case Outcome::kRetryable:
      retryable_.fetch_add(1, std::memory_order_relaxed);
      break;
    case Outcome::kPermanent:
      permanent_.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  return r;
}

DeliveryResult SentryDestination::deliver(const deliver::Payload& payload,
                                          deliver::Deadline deadline) noexcept {
  DeliveryResult result;
  std::vector<Discard> attached;
  try {
    const auto now = RateLimits::Clock::now();
    if (payload.items > 0 && limits_.limited(settings_.category, now)) {
      reports_->add("ratelimit_backoff", settings_.category, payload.items);
      const auto left =
          std::chrono::ceil<std::chrono::seconds>(limits_.until(settings_.category) - now);
      result.outcome = Outcome::kPermanent;
      result.drop_reason = DropReason::kRateLimited;
      result.message = "sentry " + deliver::display_url(url_) + ": rate limited for another " +
                       std::to_string(left.count()) + " s; " + std::to_string(payload.items) +
                       " event(s) dropped without a request";
      return finish(std::move(result));
    }
    std::string body;
    const std::string* send = &payload.bytes;
    if (!reports_->empty() && !limits_.limited("internal", now)) {
      attached = reports_->take();
      body = payload.bytes;
      if (!body.empty() && body.back() != '\n') body += '\n';
      encode::sentry::append_item(body, "client_report",
                                  ClientReports::item_payload(attached, unix_now()));
      send = &body;
    }
    if (payload.items == 0 && attached.empty()) {
      result.outcome = Outcome::kDelivered;
      result.message = "no events and no client reports: nothing sent";
      return result;
    }

    deliver::HttpRequest request;
    request.url = url_;
    request.headers.emplace_back("X-Sentry-Auth", auth_header(settings_.dsn.public_key));
    request.body = *send;
    request.content_type = "application/x-sentry-envelope";
    request.gzip = settings_.gzip;
    request.gzip_level = settings_.gzip_level;
    request.timeout = settings_.timeout;
    request.connect_timeout = settings_.connect_timeout;
    request.deadline = deadline;
    request.retry_after_cap = settings_.retry_after_cap;
    request.keep_headers = {"x-sentry-rate-limits"};
    deliver::HttpResponse response = transport_.post(request);
    if (response.attempted) attempts_.fetch_add(1, std::memory_order_relaxed);
    result.http_status = response.status;
    result.sent = response.attempted;
    result.elapsed = response.elapsed;

    const std::string where = "sentry " + deliver::display_url(url_);
    if (response.status == 0) {
      reports_->put_back(attached);
      result.outcome = Outcome::kRetryable;
      result.cancelled = response.error == deliver::TransportError::kCancelled;
      result.message = response.error_message;
      if (response.error == deliver::TransportError::kRefused) {
        result.outcome = Outcome::kPermanent;
        reports_->add("send_error", settings_.category, payload.items);
      }
      return finish(std::move(result));
    }
    std::optional<std::string> limit_header;
    for (const auto& [name, value] : response.headers)
      if (name == "x-sentry-rate-limits") limit_header = value;
    limits_.update(response.status, limit_header, response.retry_after, RateLimits::Clock::now());

    const std::string answer = where + ": HTTP " + std::to_string(response.status) + " " +
                               core::printable_excerpt(response.body, 512);
    if (response.status >= 200 && response.status < 300) {
      result.outcome = Outcome::kDelivered;
      return finish(std::move(result));
    }
    result.outcome = Outcome::kPermanent;
    result.message = answer;
    if (response.status == 429) {
      // The server counted what it refused: no client report for it.
      result.drop_reason = DropReason::kRateLimited;
      reports_->put_back(attached);
    } else if (response.status == 413) {
      result.drop_reason = DropReason::kTooLarge;
      reports_->add("send_error", settings_.category, payload.items);
    } else {
      reports_->add("send_error", settings_.category, payload.items);
    }
    return finish(std::move(result));
  } catch (...) {
    reports_->put_back(attached);
    result.outcome = Outcome::kRetryable;
    result.message = "sentry: out of memory while sending";
    return finish(std::move(result));
  }
}

}  // namespace emp::telemetry::sentry
