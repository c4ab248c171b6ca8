// LoopbackCollector implementation; see loopback_collector.hpp.
//
// Sockets are non-blocking and every wait is a poll() of at most
// `poll_interval`, after which the stop flag is checked; sleeps wait on a
// condition variable that stop() signals. That is what keeps stop() prompt
// with hung or idle keep-alive connections.
#include "support/loopback_collector.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace emp::telemetry::testing {

struct LoopbackCollector::Connection {
  int fd = -1;
  std::uint64_t id = 0;
  bool reset = false;  // close with RST (SO_LINGER 0)
  std::thread thread;
  std::atomic<bool> done{false};
};

namespace {

constexpr std::size_t kMaxHeadBytes = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void close_with_reset(int fd) {
  linger l{};
  l.l_onoff = 1;
  l.l_linger = 0;
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

std::string_view reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

std::string build_response(const Response& r, bool close) {
  std::string out =
      "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(reason(r.status)) + "\r\n";
  if (!r.content_type.empty()) out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  out += r.body;
  return out;
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>(v | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

void put_len_field(std::string& out, int field, std::string_view bytes) {
  put_varint(out, (static_cast<std::uint64_t>(field) << 3) | 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

}  // namespace

std::optional<std::string> RecordedRequest::header(std::string_view name) const {
  const std::string key = lower(name);
  for (const auto& [n, v] : headers) {
    if (n == key) return v;
  }
  return std::nullopt;
}

Response Response::ok(std::string body, std::string content_type) {
  Response r;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

Response Response::with_status(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

Response Response::retry_after(int status, std::string value) {
  Response r;
  r.status = status;
  r.content_type = "text/plain";
  r.headers.emplace_back("Retry-After", std::move(value));
  return r;
}

Response Response::hang() {
  Response r;
  r.action = Action::kHang;
  return r;
}

Response Response::reset_mid_body() {
  Response r;
  r.action = Action::kResetMidBody;
  return r;
}

Response Response::reset_mid_response(int status, std::string body) {
  Response r;
  r.action = Action::kResetMidResponse;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::close() {
  Response r;
  r.action = Action::kClose;
  return r;
}

Response Response::raw(std::string bytes) {
  Response r;
  r.action = Action::kRaw;
  r.body = std::move(bytes);
  return r;
}

Response Response::trickle(int status, std::string body, std::chrono::milliseconds interval) {
  Response r;
  r.action = Action::kTrickle;
  r.status = status;
  r.body = std::move(body);
  r.interval = interval;
  return r;
}

Response Response::partial_success_proto(std::uint64_t rejected, std::string message) {
  return ok(encode_partial_success_proto(rejected, message), "application/x-protobuf");
}

Response Response::partial_success_json(std::string_view rejected_key, std::uint64_t rejected,
                                        std::string message) {
  nlohmann::json inner;
  inner[std::string(rejected_key)] = std::to_string(rejected);
  inner["errorMessage"] = message;
  nlohmann::json doc;
  doc["partialSuccess"] = inner;
  return ok(doc.dump(), "application/json");
}

std::string encode_partial_success_proto(std::uint64_t rejected, std::string_view message) {
  std::string inner;
  if (rejected != 0) {
    put_varint(inner, (1u << 3) | 0);
    put_varint(inner, rejected);
  }
  if (!message.empty()) put_len_field(inner, 2, message);
  std::string out;
  put_len_field(out, 1, inner);
  return out;
}

std::string encode_status_proto(int code, std::string_view message) {
  std::string out;
  put_varint(out, (1u << 3) | 0);
  put_varint(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(code)));
  put_len_field(out, 2, message);
  return out;
}

std::string gunzip(std::string_view data, bool* ok) {
  std::string out;
  z_stream zs{};
  bool good = inflateInit2(&zs, 32 + MAX_WBITS) == Z_OK;  // gzip or zlib header
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::array<char, 64 * 1024> chunk{};
  int rc = Z_OK;
  while (good) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk.data(), chunk.size() - zs.avail_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      // Concatenated gzip members decode as one body.
      if (inflateReset(&zs) != Z_OK) good = false;
      continue;
    }
    if (rc != Z_OK || (zs.avail_in == 0 && zs.avail_out != 0)) good = false;
    if (out.size() > (1u << 30)) good = false;
  }
  inflateEnd(&zs);
  if (ok != nullptr) *ok = good;
  return out;
}

LoopbackCollector::LoopbackCollector(CollectorOptions options) : options_(options) {
  if (options_.start) start();
}

LoopbackCollector::~LoopbackCollector() { stop(); }

bool LoopbackCollector::start() {
  std::lock_guard<std::mutex> life(lifecycle_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (running_) return true;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    last_error_ = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::uint16_t want = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    want = port_ != 0 ? port_ : options_.port;
  }
  addr.sin_port = htons(want);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 128) != 0) {
    const int err = errno;
    ::close(fd);
    std::lock_guard<std::mutex> lock(mutex_);
    last_error_ = "bind/listen 127.0.0.1:" + std::to_string(want) + ": " + std::strerror(err);
    return false;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  stopping_.store(false, std::memory_order_release);
  reset_on_stop_.store(false, std::memory_order_release);
  listener_ = fd;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    port_ = ntohs(addr.sin_port);
    running_ = true;
  }
  accept_thread_ = std::thread([this, fd] { accept_loop(fd); });
  return true;
}

void LoopbackCollector::stop(bool reset) {
  std::lock_guard<std::mutex> life(lifecycle_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!running_) return;
  }
  reset_on_stop_.store(reset, std::memory_order_release);
  {
    // Under the mutex so a sleeper cannot miss the wake-up between its check
    // of the flag and its wait.
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(true, std::memory_order_release);
    cv_.notify_all();
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listener_ >= 0) ::close(listener_);
  listener_ = -1;
  reap(true);
  std::lock_guard<std::mutex> lock(mutex_);
  running_ = false;
  cv_.notify_all();
}

bool LoopbackCollector::restart() {
  stop();
  return start();
}

bool LoopbackCollector::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

std::uint16_t LoopbackCollector::port() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return port_;
}

std::string LoopbackCollector::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port());
}

std::string LoopbackCollector::url(std::string_view path) const {
  std::string out = base_url();
  if (path.empty() || path.front() != '/') out += '/';
  out.append(path);
  return out;
}

void LoopbackCollector::enqueue(Response response, std::size_t times) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (std::size_t i = 0; i < times; ++i) queue_.push_back(response);
}

void LoopbackCollector::fail_first(std::size_t n, int status) {
  enqueue(Response::with_status(status, "try again later"), n);
}

void LoopbackCollector::set_default(Response response) {
  std::lock_guard<std::mutex> lock(mutex_);
  default_ = std::move(response);
}

void LoopbackCollector::set_handler(
    std::function<std::optional<Response>(const RecordedRequest&)> handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  handler_ = std::move(handler);
}

void LoopbackCollector::set_accept_mode(AcceptMode mode) {
  std::lock_guard<std::mutex> lock(mutex_);
  accept_mode_ = mode;
}

std::size_t LoopbackCollector::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

void LoopbackCollector::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.clear();
  requests_.clear();
}

std::vector<RecordedRequest> LoopbackCollector::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

std::size_t LoopbackCollector::request_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_.size();
}

bool LoopbackCollector::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

bool LoopbackCollector::wait_for_connections(std::uint64_t n,
                                             std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return connections_accepted_ >= n; });
}

std::uint64_t LoopbackCollector::connections_accepted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return connections_accepted_;
}

std::size_t LoopbackCollector::open_connections() const {
  std::lock_guard<std::mutex> lock(connections_mutex_);
  std::size_t n = 0;
  for (const auto& c : connections_) n += c->done.load(std::memory_order_acquire) ? 0 : 1;
  return n;
}

std::string LoopbackCollector::last_error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_error_;
}

bool LoopbackCollector::sleep_for(std::chrono::milliseconds d) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return !cv_.wait_for(lock, d, [&] { return stopping(); });
}

int LoopbackCollector::read_some(int fd, std::string& buf) const {
  std::array<char, 64 * 1024> tmp{};
  while (!stopping()) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(options_.poll_interval.count()));
    if (r < 0 && errno != EINTR) return -1;
    if (r <= 0) continue;
    const ssize_t n = ::recv(fd, tmp.data(), tmp.size(), 0);
    if (n > 0) {
      buf.append(tmp.data(), static_cast<std::size_t>(n));
      return static_cast<int>(n);
    }
    if (n == 0) return 0;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
    return -1;
  }
  return -1;
}

bool LoopbackCollector::write_all(int fd, std::string_view data) const {
  while (!data.empty()) {
    if (stopping()) return false;
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(options_.poll_interval.count()));
      continue;
    }
    return false;
  }
  return true;
}

bool LoopbackCollector::wait_closed_or_stop(int fd) const {
  std::string discard;
  while (!stopping()) {
    discard.clear();
    const int n = read_some(fd, discard);
    if (n <= 0) return n == 0;
  }
  return false;
}

void LoopbackCollector::accept_loop(int listener) {
  while (!stopping()) {
    pollfd p{listener, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(options_.poll_interval.count()));
    reap(false);
    if (r <= 0) continue;
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::size_t open = 0;
    {
      std::lock_guard<std::mutex> lock(connections_mutex_);
      open = connections_.size();
    }
    if (open >= options_.max_connections) {
      close_with_reset(fd);  // bounded: refuse beyond the limit
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto conn = std::make_unique<Connection>();
    conn->fd = fd;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      conn->id = ++connections_accepted_;
      cv_.notify_all();
    }
    Connection* raw = conn.get();
    std::lock_guard<std::mutex> lock(connections_mutex_);
    connections_.push_back(std::move(conn));
    raw->thread = std::thread([this, raw] {
      serve(*raw);
      if (raw->reset || reset_on_stop_.load(std::memory_order_acquire)) {
        close_with_reset(raw->fd);
      } else {
        // Graceful close: stop sending, then drain what the client still
        // sends for a moment, so unread input does not turn the close into
        // an RST that could destroy the answer just written.
        ::shutdown(raw->fd, SHUT_WR);
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
        std::array<char, 4096> sink{};
        while (!stopping() && std::chrono::steady_clock::now() < until) {
          pollfd p{raw->fd, POLLIN, 0};
          if (::poll(&p, 1, static_cast<int>(options_.poll_interval.count())) <= 0) continue;
          if (::recv(raw->fd, sink.data(), sink.size(), 0) <= 0) break;
        }
        ::close(raw->fd);
      }
      raw->done.store(true, std::memory_order_release);
    });
  }
}

void LoopbackCollector::reap(bool all) {
  std::lock_guard<std::mutex> lock(connections_mutex_);
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (all || (*it)->done.load(std::memory_order_acquire)) {
      if ((*it)->thread.joinable()) (*it)->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<Response> LoopbackCollector::pop_queued() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (queue_.empty()) return std::nullopt;
  Response r = std::move(queue_.front());
  queue_.pop_front();
  return r;
}

void LoopbackCollector::serve(Connection& conn) {
  const int fd = conn.fd;
  AcceptMode mode;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    mode = accept_mode_;
  }
  if (mode == AcceptMode::kHang) {
    // Never read: the client's data sits in the socket buffers.
    while (sleep_for(options_.poll_interval)) {
    }
    return;
  }
  if (mode == AcceptMode::kReset) {
    conn.reset = true;
    return;
  }

  std::string buf;
  const auto simple = [&](int status, std::string_view text) {
    write_all(fd, build_response(Response::with_status(status, std::string(text)), true));
  };
  while (!stopping()) {
    // Request head.
    std::size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (buf.size() > kMaxHeadBytes) return simple(431, "request head too large");
      if (read_some(fd, buf) <= 0) return;
    }
    RecordedRequest req;
    req.connection_id = conn.id;
    {
      std::string_view head(buf.data(), head_end);
      const auto line_end = head.find("\r\n");
      const std::string_view request_line = head.substr(0, line_end);
      const auto sp1 = request_line.find(' ');
      const auto sp2 = request_line.rfind(' ');
      if (sp1 == std::string_view::npos || sp2 == sp1) return simple(400, "bad request line");
      req.method = std::string(request_line.substr(0, sp1));
      req.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
      req.version = std::string(request_line.substr(sp2 + 1));
      std::string_view rest =
          line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
      while (!rest.empty()) {
        const auto eol = rest.find("\r\n");
        const std::string_view line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0) return simple(400, "bad header line");
        req.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                 std::string(trim(line.substr(colon + 1))));
      }
    }
    buf.erase(0, head_end + 4);

    std::optional<Response> queued = pop_queued();
    const auto content_length = req.header("content-length");
    const auto transfer_encoding = req.header("transfer-encoding");
    req.chunked =
        transfer_encoding && lower(*transfer_encoding).find("chunked") != std::string::npos;
    req.gzip = req.header("content-encoding") && lower(*req.header("content-encoding")) == "gzip";
    const auto record = [&] {
      std::lock_guard<std::mutex> lock(mutex_);
      req.index = next_index_++;
      requests_.push_back(req);
      cv_.notify_all();
    };

    if (queued && queued->action == Response::Action::kResetMidBody) {
      // Take at most half of what the body should be, then reset.
      std::size_t expected = 0;
      if (content_length) expected = std::strtoull(content_length->c_str(), nullptr, 10);
      req.wire_body = buf.substr(0, std::min(buf.size(), expected / 2));
      req.complete = false;
      record();
      conn.reset = true;
      return;
    }
    if (auto expect = req.header("expect"); expect && lower(*expect) == "100-continue") {
      if (!write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n")) return;
    }

    // Body.
    if (req.chunked) {
      while (true) {
        std::size_t eol;
        while ((eol = buf.find("\r\n")) == std::string::npos) {
          if (buf.size() > 1024) return simple(400, "bad chunk size line");
          if (read_some(fd, buf) <= 0) return;
        }
        const std::string size_line = buf.substr(0, buf.find_first_of(";\r"));
        char* end = nullptr;
        const unsigned long long size = std::strtoull(size_line.c_str(), &end, 16);
        if (size_line.empty() || end == nullptr || *end != '\0') {
          return simple(400, "bad chunk size");
        }
        buf.erase(0, eol + 2);
        if (size == 0) {
          // Trailers up to an empty line.
          while (true) {
            while ((eol = buf.find("\r\n")) == std::string::npos) {
              if (buf.size() > kMaxHeadBytes) return simple(400, "trailers too large");
              if (read_some(fd, buf) <= 0) return;
            }
            const bool empty = eol == 0;
            buf.erase(0, eol + 2);
            if (empty) break;
          }
          break;
        }
        if (req.wire_body.size() + size > options_.max_body_bytes) {
          return simple(413, "request body too large");
        }
        while (buf.size() < size + 2) {
          if (read_some(fd, buf) <= 0) return;
        }
        if (buf.compare(size, 2, "\r\n") != 0) return simple(400, "bad chunk terminator");
        req.wire_body.append(buf, 0, size);
        buf.erase(0, size + 2);
      }
    } else if (content_length) {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(content_length->c_str(), &end, 10);
      if (content_length->empty() || end == nullptr || *end != '\0') {
        return simple(400, "bad content-length");
      }
      if (n > options_.max_body_bytes) return simple(413, "request body too large");
      while (buf.size() < n) {
        if (read_some(fd, buf) <= 0) return;
      }
      req.wire_body = buf.substr(0, n);
      buf.erase(0, n);
    }
    if (req.gzip) {
      bool ok = false;
      req.body = gunzip(req.wire_body, &ok);
      if (!ok || req.body.size() > options_.max_decoded_bytes) {
        req.decode_error = true;
        req.body.clear();
      }
    } else {
      req.body = req.wire_body;
    }
    record();

    // Answer: queued, else the handler, else the default.
    Response r;
    if (queued) {
      r = std::move(*queued);
    } else {
      std::function<std::optional<Response>(const RecordedRequest&)> handler;
      std::optional<Response> fallback;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        handler = handler_;
        fallback = default_;
      }
      std::optional<Response> chosen;
      if (req.decode_error) chosen = Response::with_status(400, "invalid gzip body");
      if (!chosen && handler) chosen = handler(req);
      if (!chosen) chosen = fallback;
      r = chosen ? std::move(*chosen) : Response::ok();
    }
    if (r.delay.count() > 0 && !sleep_for(r.delay)) return;
    const auto client_close = req.header("connection");
    const bool close = r.close_after || (client_close && lower(*client_close) == "close") ||
                       req.version == "HTTP/1.0";
    switch (r.action) {
      case Response::Action::kHang:
        wait_closed_or_stop(fd);
        return;
      case Response::Action::kClose:
        return;
      case Response::Action::kResetMidBody:
        conn.reset = true;
        return;
      case Response::Action::kResetMidResponse: {
        const std::string wire = build_response(r, close);
        const std::size_t head = wire.size() - r.body.size();
        write_all(fd, std::string_view(wire).substr(0, head + r.body.size() / 2));
        conn.reset = true;
        return;
      }
      case Response::Action::kTrickle: {
        const std::string wire = build_response(r, close);
        for (char c : wire) {
          if (!write_all(fd, std::string_view(&c, 1))) return;
          if (!sleep_for(r.interval)) return;
        }
        break;
      }
      case Response::Action::kRaw:
        write_all(fd, r.body);
        wait_closed_or_stop(fd);
        return;
      case Response::Action::kRespond:
        if (!write_all(fd, build_response(r, close))) return;
        break;
    }
    if (close) return;
  }
}

}  // namespace emp::telemetry::testing
