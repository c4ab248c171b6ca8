// Client reports (https://develop.sentry.dev/sdk/telemetry/client-reports/):
// what this client discarded and why, told to the server in a `client_report`
// envelope item so that its statistics include what never arrived.
//
// Discards are added by whoever decides them (the caller's thread for
// sample_rate, the errors handler for before_send and queue_overflow, the
// destination for ratelimit_backoff and send_error) and taken out by the
// destination when it sends; a report that could not be sent is put back.
//
// Thread-safety: every member may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace emp::telemetry::sentry {

struct Discard {
  std::string reason;    // "ratelimit_backoff", "send_error", "sample_rate", ...
  std::string category;  // "error", "attachment", ...
  std::uint64_t quantity = 0;
};

class ClientReports {
 public:
  void add(std::string_view reason, std::string_view category, std::uint64_t quantity = 1);
  // Everything counted so far, cleared; empty when nothing is pending.
  std::vector<Discard> take();
  // Puts a taken list back (its send failed).
  void put_back(const std::vector<Discard>& discards);
  bool empty() const;

  // The client_report item payload for `discards` at `unix_seconds`.
  static std::string item_payload(const std::vector<Discard>& discards, double unix_seconds);

 private:
  mutable std::mutex mu_;
  std::vector<Discard> pending_;
};

}  // namespace emp::telemetry::sentry
