// The Fluentd forward protocol v1 client as a deliver::Destination: one
// attempt sends one frame (built by ForwardLogOutput with forward_protocol)
// on a long-lived TCP or TLS connection and waits for the ack of its chunk.
// Retry, backoff, breaker, memory cap and spool are the DeliveryWorker's.
//
// Classification of one attempt:
//   kDelivered  the server acked the frame's chunk
//   kRetryable  connect/TLS/reset/timeout, no ack before the deadline, an
//               answer that is not msgpack: the connection is closed and the
//               frame is sent again by the worker (at-least-once: the server
//               may have kept the first copy)
//   kPermanent  the shared-key handshake failed: the server closed the
//               connection after our PING ("shared key rejected"), answered
//               PONG false, or proved a different key; or the TLS certificate
//               is not trusted (reason `rejected`)
// The connection is reused across frames and reopened after a reset.
//
// Thread-safety: as deliver::Destination.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "deliver/delivery.hpp"
#include "emp/telemetry/config.hpp"
#include "forward/tcp_stream.hpp"

namespace emp::telemetry::forward {

struct ForwardSettings {
  std::string host;
  std::uint16_t port = 24224;
  bool tls = false;
  std::string ca_file;  // empty: the system store
  bool tls_verify = true;
  std::string shared_key;  // empty: no handshake expected
  std::string username;
  std::string password;
  std::string client_hostname;  // sent in PING
};

// The destination's settings from FLUENTD_* (the client's machine id is the
// hostname sent in PING).
ForwardSettings forward_settings(const Config& c);

// When each step of one deliver() ended, for the pipeline test.
struct ForwardTrace {
  Stream::ConnectTrace connect;
  bool connected = false;  // a new connection was opened
  deliver::SteadyClock::time_point handshake_done{}, sent{}, acked{};
};

class ForwardDestination final : public deliver::Destination {
 public:
  explicit ForwardDestination(ForwardSettings settings);
  // Records the next deliveries' steps into `trace` (nullptr: stop). For a
  // destination used by one thread, as the pipeline test's probe is.
  void set_trace(ForwardTrace* trace) noexcept { trace_ = trace; }
  ~ForwardDestination() override;

  deliver::DeliveryResult deliver(const deliver::Payload& payload,
                                  deliver::Deadline deadline) noexcept override;
  void interrupt() noexcept override { waker_.wake(); }
  deliver::DestinationStats stats() const noexcept override;
  void after_fork_child() noexcept override { stream_.abandon(); }
  std::string description() const override;

 private:
  deliver::DeliveryResult attempt(const deliver::Payload& payload, deliver::Deadline deadline);
  // Opens the connection and runs the handshake; fills `r` on failure.
  bool open(deliver::Deadline deadline, deliver::DeliveryResult& r);
  bool handshake(deliver::Deadline deadline, deliver::DeliveryResult& r);
  // Reads until `parse` reports a complete value. False with `r` filled.
  template <typename Parse>
  bool read_value(deliver::Deadline deadline, deliver::DeliveryResult& r, std::string_view what,
                  Parse parse);
  void fail(deliver::DeliveryResult& r, deliver::Outcome o, std::string message);

  const ForwardSettings settings_;
  std::shared_ptr<TlsContext> tls_;
  std::string tls_error_;  // why the TLS context could not be made
  Stream stream_;
  std::string inbox_;  // bytes received and not consumed yet
  Waker waker_;
  ForwardTrace* trace_ = nullptr;

  std::atomic<std::uint64_t> attempts_{0}, delivered_{0}, retryable_{0}, permanent_{0},
      bytes_sent_{0}, connections_{0};
};

}  // namespace emp::telemetry::forward
