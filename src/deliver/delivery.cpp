// Names of the delivery outcomes declared in delivery.hpp.
#include "deliver/delivery.hpp"

namespace emp::telemetry::deliver {

std::string_view to_string(Outcome outcome) noexcept {
  switch (outcome) {
    case Outcome::kDelivered:
      return "delivered";
    case Outcome::kPartial:
      return "partial";
    case Outcome::kRetryable:
      return "retryable";
    case Outcome::kPermanent:
      return "permanent";
  }
  return "unknown";
}

}  // namespace emp::telemetry::deliver
