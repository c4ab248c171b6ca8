// The Prometheus pull endpoint: a small embedded HTTP/1.1 server that answers
// GET /metrics with the text exposition format and GET /health with the
// client's health as JSON. Opt-in (EMP_PROMETHEUS_PORT), bound to 127.0.0.1
// unless EMP_PROMETHEUS_HOST says otherwise, so it may face a network.
//
// One thread serves every connection with non-blocking sockets and poll(),
// so a slow, idle or hostile peer costs a connection slot, never a thread:
//  - each request must arrive whole within kRequestDeadline of the moment
//    the server started waiting for it (an absolute deadline: trickling one
//    byte at a time cannot extend it), and each response must be taken by
//    the peer within kResponseDeadline;
//  - at most kMaxConnections are open; a new connection beyond that evicts
//    the one that has waited longest for its request, so a flood of idle
//    peers cannot lock a scraper out;
//  - stop() wakes the thread, which closes everything and exits at once
//    (a scrape in progress ends when its render honours the caller's
//    cancellation), so it keeps the caller's shutdown deadline.
// Rendering runs on the server thread: scrapes are serialized with every
// other collection by the metrics core anyway.
//
// Thread-safety: set_health(), start() and stop() from one thread; port()
// and scrapes() from any.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace emp::telemetry::metrics {

class PrometheusEndpoint {
 public:
  // Fills `body` with the exposition; false answers 503.
  using Render = std::function<bool(std::string& body)>;
  // Fills `body` with the health JSON; true answers 200, false 503 (a
  // destination is down).
  using Health = std::function<bool(std::string& body)>;

  static constexpr std::chrono::seconds kRequestDeadline{5};
  static constexpr std::chrono::seconds kResponseDeadline{10};
  static constexpr std::size_t kMaxConnections = 64;

  PrometheusEndpoint();
  ~PrometheusEndpoint();  // stop()
  PrometheusEndpoint(const PrometheusEndpoint&) = delete;
  PrometheusEndpoint& operator=(const PrometheusEndpoint&) = delete;

  // GET /health answers from `health`; without one it is 404. Call before start().
  void set_health(Health health);
  // Listens on host:port (port 0: any free port) and serves until stop().
  // False, with a one-line reason in `error`, when it cannot listen.
  bool start(const std::string& host, std::uint16_t port, Render render, std::string& error);
  void stop() noexcept;
  // In a forked child: the server thread does not exist and the listening
  // socket is the parent's, so everything is left as it is, unused.
  void forget_after_fork() noexcept;
  // The bound port; 0 when not serving.
  std::uint16_t port() const noexcept { return port_.load(std::memory_order_relaxed); }
  std::uint64_t scrapes() const noexcept { return scrapes_.load(std::memory_order_relaxed); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Health health_;
  std::atomic<std::uint16_t> port_{0};
  std::atomic<std::uint64_t> scrapes_{0};
};

}  // namespace emp::telemetry::metrics
