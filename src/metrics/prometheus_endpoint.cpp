// The Prometheus endpoint's server; see prometheus_endpoint.hpp.
#include "metrics/prometheus_endpoint.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <thread>
#include <vector>

#include "encode/prometheus_text.hpp"
#include "metrics/http_request_head.hpp"

namespace emp::telemetry::metrics {
namespace {

using Clock = std::chrono::steady_clock;

struct Connection {
  int fd = -1;
  bool writing = false;  // a response is being sent
  bool close_after = false;
  Clock::time_point waiting_since;  // when the server started waiting for this request
  Clock::time_point deadline;
  std::string in;
  std::string out;
  std::size_t sent = 0;
};

std::string response(int status, std::string_view reason, std::string_view type,
                     const std::string& body, bool head_only, bool keep_alive) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  out += "Content-Type: ";
  out += type;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  if (status == 405) out += "Allow: GET, HEAD\r\n";
  out += "\r\n";
  if (!head_only) out += body;
  return out;
}

}  // namespace

struct PrometheusEndpoint::Impl {
  int listen_fd = -1;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};
  std::thread thread;
  Render render;
  Health health;
  std::atomic<std::uint64_t>* scrapes = nullptr;
  std::list<Connection> connections;

  ~Impl() {
    for (Connection& c : connections) ::close(c.fd);
    if (listen_fd >= 0) ::close(listen_fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void answer(Connection& c, const RequestHead& head) {
    const bool head_only = head.method == "HEAD";
    const bool keep = head.keep_alive && !head.has_body;
    std::string body;
    int status = 200;
    std::string_view reason = "OK";
    std::string_view type = "text/plain; charset=utf-8";
    if (head.method != "GET" && head.method != "HEAD") {
      status = 405, reason = "Method Not Allowed", body = "only GET and HEAD\n";
    } else if (head.has_body) {
      status = 400, reason = "Bad Request", body = "a GET request has no body\n";
    } else if (head.path == "/metrics") {
      bool ok = false;
      try {
        ok = render(body);
      } catch (...) {
        ok = false;
      }
      scrapes->fetch_add(1, std::memory_order_relaxed);
      if (ok) {
        type = encode::kPrometheusTextContentType;
      } else {
        status = 503, reason = "Service Unavailable";
        body = "metrics collection did not finish in time\n";
      }
    } else if (head.path == "/health" && health) {
      type = "application/json";
      bool healthy = false;
      try {
        healthy = health(body);
      } catch (...) {
        body = "{}";
      }
      if (!healthy) status = 503, reason = "Service Unavailable";
    } else {
      status = 404, reason = "Not Found", body = "not found; try /metrics or /health\n";
    }
    c.out = response(status, reason, type, body, head_only, keep);
    c.sent = 0;
    c.writing = true;
    c.close_after = !keep;
    c.deadline = Clock::now() + kResponseDeadline;
  }

  void refuse(Connection& c, bool too_large) {
    c.out = too_large
                ? response(431, "Request Header Fields Too Large", "text/plain", "", false, false)
                : response(400, "Bad Request", "text/plain", "", false, false);
    c.sent = 0;
    c.writing = true;
    c.close_after = true;
    c.deadline = Clock::now() + kResponseDeadline;
  }

  // Reads what is there; false when the connection is finished.
  bool on_readable(Connection& c) {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        if (c.in.size() >= kMaxHeadBytes) break;
        continue;
      }
      if (n == 0) return false;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return false;
    }
    const RequestHead head = parse_request_head(c.in);
    if (head.state == RequestHead::State::kIncomplete) return true;
    if (head.state == RequestHead::State::kBad) {
      refuse(c, head.too_large);
    } else {
      c.in.erase(0, head.head_bytes);
      answer(c, head);
    }
    return on_writable(c);
  }

  // Sends what the socket takes; false when the connection is finished.
  bool on_writable(Connection& c) {
    while (c.sent < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n > 0) {
        c.sent += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      return false;
    }
    if (c.close_after) return false;
    // Keep-alive: wait for the next request under a fresh deadline. Bytes
    // already pipelined behind this request count against it.
    c.writing = false;
    c.out.clear();
    c.sent = 0;
    c.waiting_since = Clock::now();
    c.deadline = c.waiting_since + kRequestDeadline;
    if (!c.in.empty()) {
      const RequestHead head = parse_request_head(c.in);
      if (head.state == RequestHead::State::kBad) {
        refuse(c, head.too_large);
        return on_writable(c);
      }
      if (head.state == RequestHead::State::kComplete) {
        c.in.erase(0, head.head_bytes);
        answer(c, head);
        return on_writable(c);
      }
    }
    return true;
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // EAGAIN, or out of descriptors: try again on the next wakeup
      }
      if (connections.size() >= kMaxConnections) {
        // Evict the connection that has waited longest for a request.
        auto oldest = connections.end();
        for (auto it = connections.begin(); it != connections.end(); ++it) {
          if (it->writing) continue;
          if (oldest == connections.end() || it->waiting_since < oldest->waiting_since) oldest = it;
        }
        if (oldest == connections.end()) {
          ::close(fd);  // every slot is sending a response: the newcomer waits its turn
          continue;
        }
        ::close(oldest->fd);
        connections.erase(oldest);
      }
      Connection c;
      c.fd = fd;
      c.waiting_since = Clock::now();
      c.deadline = c.waiting_since + kRequestDeadline;
      connections.push_back(std::move(c));
    }
  }

  void run() {
    std::vector<pollfd> fds;
    while (!stopping.load(std::memory_order_acquire)) {
      const auto now = Clock::now();
      auto next = now + std::chrono::seconds(1);
      fds.clear();
      fds.push_back({wake_fd, POLLIN, 0});
      fds.push_back({listen_fd, POLLIN, 0});
      for (auto it = connections.begin(); it != connections.end();) {
        if (it->deadline <= now) {
          ::close(it->fd);
          it = connections.erase(it);
          continue;
        }
        if (it->deadline < next) next = it->deadline;
        fds.push_back({it->fd, static_cast<short>(it->writing ? POLLOUT : POLLIN), 0});
        ++it;
      }
      const auto wait =
          std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
      const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(wait));
      if (ready < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (stopping.load(std::memory_order_acquire)) break;
      // Connections first (their order in `fds` matches the list), then new ones.
      std::size_t i = 2;
      for (auto it = connections.begin(); it != connections.end() && i < fds.size(); ++i) {
        const short ev = fds[i].revents;
        bool keep = true;
        if (ev & (POLLERR | POLLNVAL)) {
          keep = false;
        } else if (it->writing && (ev & (POLLOUT | POLLHUP))) {
          keep = on_writable(*it);
        } else if (!it->writing && (ev & (POLLIN | POLLHUP))) {
          keep = on_readable(*it);
        }
        if (keep) {
          ++it;
        } else {
          ::close(it->fd);
          it = connections.erase(it);
        }
        if (stopping.load(std::memory_order_acquire)) return;
      }
      if (fds[1].revents & POLLIN) accept_all();
    }
  }
};

PrometheusEndpoint::PrometheusEndpoint() = default;
PrometheusEndpoint::~PrometheusEndpoint() { stop(); }

void PrometheusEndpoint::set_health(Health health) { health_ = std::move(health); }

bool PrometheusEndpoint::start(const std::string& host, std::uint16_t port, Render render,
                               std::string& error) {
  stop();
  try {
    auto impl = std::make_unique<Impl>();
    impl->render = std::move(render);
    impl->health = health_;
    impl->scrapes = &scrapes_;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string where = host + ":" + std::to_string(port);
    const std::string service = std::to_string(port);
    if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
      error = "could not listen on " + where + " (" + ::gai_strerror(rc) + ")";
      return false;
    }
    int last_errno = 0;
    for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
      const int fd =
          ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) {
        last_errno = errno;
        continue;
      }
      // SO_REUSEADDR only: SO_REUSEPORT would let two processes share a port silently.
      int yes = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 64) == 0) {
        impl->listen_fd = fd;
        break;
      }
      last_errno = errno;
      ::close(fd);
    }
    ::freeaddrinfo(found);
    if (impl->listen_fd < 0) {
      error = "could not listen on " + where + " (" + std::string(std::strerror(last_errno)) + ")";
      return false;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(impl->listen_fd, reinterpret_cast<sockaddr*>(&bound), &len);
    const std::uint16_t bound_port = bound.ss_family == AF_INET6
                                         ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                         : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    impl->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (impl->wake_fd < 0) {
      error = "could not start the HTTP server on " + where + " (eventfd failed)";
      return false;
    }
    Impl* raw = impl.get();
    impl->thread = std::thread([raw] { raw->run(); });
    impl_ = std::move(impl);
    port_.store(bound_port, std::memory_order_relaxed);
    return true;
  } catch (const std::exception& e) {
    error = std::string("could not start the HTTP server: ") + e.what();
    return false;
  }
}

void PrometheusEndpoint::stop() noexcept {
  if (!impl_) return;
  impl_->stopping.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  (void)!::write(impl_->wake_fd, &one, sizeof one);
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_.reset();  // closes every connection and the listening socket
  port_.store(0, std::memory_order_relaxed);
}

void PrometheusEndpoint::forget_after_fork() noexcept {
  (void)impl_.release();
  port_.store(0, std::memory_order_relaxed);
}

}  // namespace emp::telemetry::metrics
