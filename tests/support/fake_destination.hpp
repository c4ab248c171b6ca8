// A scripted deliver::Destination for tests of the delivery policy without
// sockets: each deliver() takes the next scripted outcome (or the default),
// and every attempt is recorded with its payload, so a test can check what
// was sent, in which order and how often. Thread-safe.
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "deliver/delivery.hpp"

namespace emp::telemetry::testing {

class FakeDestination final : public deliver::Destination {
 public:
  explicit FakeDestination(std::string name = "fake destination") : name_(std::move(name)) {}
  static deliver::DeliveryResult delivered() {
    deliver::DeliveryResult r;
    r.outcome = deliver::Outcome::kDelivered;
    r.http_status = 200;
    r.sent = true;
    return r;
  }
  static deliver::DeliveryResult retryable(long status = 503,
                                           std::optional<std::chrono::milliseconds> after = {}) {
    deliver::DeliveryResult r;
    r.outcome = deliver::Outcome::kRetryable;
    r.http_status = status;
    r.retry_after = after;
    r.sent = true;
    r.message = "HTTP " + std::to_string(status);
    return r;
  }
  static deliver::DeliveryResult permanent(DropReason why = DropReason::kRejected) {
    deliver::DeliveryResult r;
    r.outcome = deliver::Outcome::kPermanent;
    r.http_status = 400;
    r.drop_reason = why;
    r.sent = true;
    r.message = "HTTP 400";
    return r;
  }

  // The next attempts' outcomes, in order; then `set_default`'s.
  void script(std::vector<deliver::DeliveryResult> results) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& r : results) script_.push_back(std::move(r));
  }
  void set_default(deliver::DeliveryResult r) {
    std::lock_guard<std::mutex> lock(mu_);
    default_ = std::move(r);
  }
  // Bodies of every attempt, and of the attempts that were delivered.
  std::vector<std::string> attempts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_;
  }
  std::vector<std::string> accepted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }

  deliver::DeliveryResult deliver(const deliver::Payload& payload,
                                  deliver::Deadline) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    deliver::DeliveryResult r = default_;
    if (!script_.empty()) {
      r = std::move(script_.front());
      script_.pop_front();
    }
    attempts_.push_back(payload.bytes);
    if (r.outcome == deliver::Outcome::kDelivered) accepted_.push_back(payload.bytes);
    ++stats_.attempts;
    return r;
  }
  deliver::DestinationStats stats() const noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  std::string description() const override { return name_; }

 private:
  const std::string name_;
  mutable std::mutex mu_;
  std::deque<deliver::DeliveryResult> script_;
  deliver::DeliveryResult default_ = delivered();
  std::vector<std::string> attempts_;
  std::vector<std::string> accepted_;
  deliver::DestinationStats stats_;
};

}  // namespace emp::telemetry::testing
