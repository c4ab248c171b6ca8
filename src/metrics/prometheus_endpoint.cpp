#include "metrics/prometheus_endpoint.hpp"

#include <sys/socket.h>

#include <chrono>
#include <thread>

#ifdef EMP_HAVE_HTTPLIB
#include <httplib.h>
#endif

#include "encode/prometheus_text.hpp"

namespace emp::telemetry::metrics {

#ifdef EMP_HAVE_HTTPLIB

struct PrometheusEndpoint::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> exited{false};
};

PrometheusEndpoint::PrometheusEndpoint() = default;
PrometheusEndpoint::~PrometheusEndpoint() { stop(); }

bool PrometheusEndpoint::start(const std::string& host, std::uint16_t port, Render render,
                               std::string& error) {
  stop();
  try {
    auto impl = std::make_unique<Impl>();
    auto& svr = impl->server;
    // Two threads are plenty for scrapes; the library default is 8 or more.
    svr.new_task_queue = [] { return new httplib::ThreadPool(2); };
    // SO_REUSEADDR only: the library's default also sets SO_REUSEPORT, which
    // would let two processes share a port silently.
    svr.set_socket_options([](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    svr.set_read_timeout(5, 0);
    svr.set_write_timeout(5, 0);
    svr.set_keep_alive_timeout(5);
    svr.set_payload_max_length(64 * 1024);
    auto* scrapes = &scrapes_;
    svr.Get("/metrics", [render, scrapes](const httplib::Request&, httplib::Response& res) {
      std::string body;
      bool ok = false;
      try {
        ok = render(body);
      } catch (...) {
        ok = false;
      }
      scrapes->fetch_add(1, std::memory_order_relaxed);
      if (!ok) {
        res.status = 503;
        res.set_content("metrics collection did not finish in time\n", "text/plain");
        return;
      }
      res.set_content(body, std::string(encode::kPrometheusTextContentType));
    });
    int bound = 0;
    if (port == 0) {
      bound = svr.bind_to_any_port(host);
    } else {
      bound = svr.bind_to_port(host, port) ? port : -1;
    }
    if (bound <= 0) {
      error = "could not listen on " + host + ":" + std::to_string(port) +
              " (address in use or not local)";
      return false;
    }
    Impl* raw = impl.get();
    impl->thread = std::thread([raw] {
      raw->server.listen_after_bind();
      raw->exited.store(true, std::memory_order_release);
    });
    // stop() only works once the server loop runs; wait for it (bounded).
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!raw->server.is_running() && !raw->exited.load(std::memory_order_acquire) &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!raw->server.is_running()) {
      error = "the HTTP server on " + host + ":" + std::to_string(bound) + " did not start";
      raw->server.stop();
      if (raw->exited.load(std::memory_order_acquire)) {
        raw->thread.join();
      } else {
        raw->thread.detach();
        (void)impl.release();  // its thread may still use it
      }
      return false;
    }
    impl_ = std::move(impl);
    port_.store(static_cast<std::uint16_t>(bound), std::memory_order_relaxed);
    return true;
  } catch (const std::exception& e) {
    error = std::string("could not start the HTTP server: ") + e.what();
    return false;
  }
}

void PrometheusEndpoint::stop() noexcept {
  if (!impl_) return;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_.reset();
  port_.store(0, std::memory_order_relaxed);
}

void PrometheusEndpoint::forget_after_fork() noexcept {
  (void)impl_.release();
  port_.store(0, std::memory_order_relaxed);
}

#else  // built without cpp-httplib

struct PrometheusEndpoint::Impl {};
PrometheusEndpoint::PrometheusEndpoint() = default;
PrometheusEndpoint::~PrometheusEndpoint() = default;
bool PrometheusEndpoint::start(const std::string&, std::uint16_t, Render, std::string& error) {
  error = "this build has no Prometheus endpoint (cpp-httplib was not found at build time)";
  return false;
}
void PrometheusEndpoint::stop() noexcept {}
void PrometheusEndpoint::forget_after_fork() noexcept {}

#endif

}  // namespace emp::telemetry::metrics
