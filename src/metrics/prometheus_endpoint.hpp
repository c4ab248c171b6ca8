// The Prometheus pull endpoint: a small embedded HTTP server (cpp-httplib,
// Debian libcpp-httplib-dev) that answers GET /metrics with the text
// exposition format. Opt-in (EMP_PROMETHEUS_PORT), bound to 127.0.0.1 unless
// EMP_PROMETHEUS_HOST says otherwise.
//
// Each scrape calls `render` on one of the server's two threads; rendering
// collects cumulative data (and runs observable callbacks), so scrapes are
// serialized with every other collection by the metrics core.
//
// Thread-safety: start() and stop() from one thread; port() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace emp::telemetry::metrics {

class PrometheusEndpoint {
 public:
  // Fills `body` with the exposition; false answers 503.
  using Render = std::function<bool(std::string& body)>;

  PrometheusEndpoint();
  ~PrometheusEndpoint();  // stop()
  PrometheusEndpoint(const PrometheusEndpoint&) = delete;
  PrometheusEndpoint& operator=(const PrometheusEndpoint&) = delete;

  // Listens on host:port (port 0: any free port) and serves until stop().
  // False, with a one-line reason in `error`, when it cannot listen (or the
  // library was built without cpp-httplib).
  bool start(const std::string& host, std::uint16_t port, Render render, std::string& error);
  void stop() noexcept;
  // In a forked child: the server thread does not exist and the listening
  // socket is the parent's (shutting it down would stop the parent's
  // endpoint), so everything is left as it is, unused.
  void forget_after_fork() noexcept;
  // The bound port; 0 when not serving.
  std::uint16_t port() const noexcept { return port_.load(std::memory_order_relaxed); }
  std::uint64_t scrapes() const noexcept { return scrapes_.load(std::memory_order_relaxed); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<std::uint16_t> port_{0};
  std::atomic<std::uint64_t> scrapes_{0};
};

}  // namespace emp::telemetry::metrics
