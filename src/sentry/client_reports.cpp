// Client report bookkeeping; see client_reports.hpp.
#include "sentry/client_reports.hpp"

#include <nlohmann/json.hpp>

namespace emp::telemetry::sentry {

void ClientReports::add(std::string_view reason, std::string_view category,
                        std::uint64_t quantity) {
  if (quantity == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (Discard& d : pending_) {
    if (d.reason == reason && d.category == category) {
      d.quantity += quantity;
      return;
    }
  }
  pending_.push_back(Discard{std::string(reason), std::string(category), quantity});
}

std::vector<Discard> ClientReports::take() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Discard> out;
  out.swap(pending_);
  return out;
}

void ClientReports::put_back(const std::vector<Discard>& discards) {
  for (const Discard& d : discards) add(d.reason, d.category, d.quantity);
}

bool ClientReports::empty() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_.empty();
}

std::string ClientReports::item_payload(const std::vector<Discard>& discards, double unix_seconds) {
  nlohmann::json j;
  j["timestamp"] = unix_seconds;
  j["discarded_events"] = nlohmann::json::array();
  for (const Discard& d : discards)
    j["discarded_events"].push_back(
        {{"reason", d.reason}, {"category", d.category}, {"quantity", d.quantity}});
  return j.dump();
}

}  // namespace emp::telemetry::sentry
