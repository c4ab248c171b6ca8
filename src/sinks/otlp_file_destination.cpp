#include "sinks/otlp_file_destination.hpp"

namespace emp::telemetry::sinks {

deliver::DeliveryResult OtlpFileDestination::deliver(const deliver::Payload& payload,
                                                     deliver::Deadline) noexcept {
  deliver::DeliveryResult r;
  if (payload.bytes.empty()) {
    r.outcome = deliver::Outcome::kDelivered;
    return r;
  }
  bool ok = false;
  try {
    // An encoded request never holds a raw newline: JSON escapes it.
    ok = file_.write_line(payload.bytes);
  } catch (...) {
    ok = false;  // no memory for the error text
  }
  r.sent = true;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.attempts;
  if (ok) {
    ++stats_.delivered;
    stats_.bytes_sent += payload.bytes.size() + 1;
    r.outcome = deliver::Outcome::kDelivered;
  } else {
    ++stats_.permanent;
    r.outcome = deliver::Outcome::kPermanent;
    // The same failure writing the log file is io_error: a full or unwritable
    // disk, not a refused payload.
    r.drop_reason = DropReason::kIoError;
    r.message = file_.last_error();
  }
  return r;
}

deliver::DestinationStats OtlpFileDestination::stats() const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace emp::telemetry::sinks
