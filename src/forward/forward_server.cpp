#include "forward/forward_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "encode/msgpack_writer.hpp"
#include "trace/ids.hpp"

namespace emp::telemetry::forward {

using deliver::Deadline;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

std::string random_bytes16() {
  const TraceId id = trace::new_trace_id();
  return std::string(reinterpret_cast<const char*>(id.bytes().data()), id.bytes().size());
}

std::string ack_for(std::string_view chunk) {
  std::string out;
  encode::msgpack::Writer w(out);
  w.map_header(1);
  w.str("ack");
  w.str(chunk);
  return out;
}

}  // namespace

namespace {

// The callback form: every event to one shared function, every frame kept.
class CallbackReceiver final : public FrameReceiver {
 public:
  explicit CallbackReceiver(std::shared_ptr<const ForwardServer::OnEvent> f) : f_(std::move(f)) {}
  void event(const Event& ev) override {
    if (*f_) (*f_)(ev);
  }
  bool end_frame(const FrameInfo&) override { return true; }

 private:
  std::shared_ptr<const ForwardServer::OnEvent> f_;
};

}  // namespace

ForwardServer::ForwardServer(ForwardServerOptions options, ReceiverFactory make_receiver,
                             ForwardServerHooks* hooks)
    : options_(std::move(options)), make_receiver_(std::move(make_receiver)), hooks_(hooks) {}

Expected<std::unique_ptr<ForwardServer>> ForwardServer::start(ForwardServerOptions options,
                                                              OnEvent on_event,
                                                              ForwardServerHooks* hooks) {
  auto f = std::make_shared<const OnEvent>(std::move(on_event));
  return start(
      std::move(options),
      [f]() -> std::unique_ptr<FrameReceiver> { return std::make_unique<CallbackReceiver>(f); },
      hooks);
}

Expected<std::unique_ptr<ForwardServer>> ForwardServer::start(ForwardServerOptions options,
                                                              ReceiverFactory make_receiver,
                                                              ForwardServerHooks* hooks) {
  std::unique_ptr<ForwardServer> s(
      new ForwardServer(std::move(options), std::move(make_receiver), hooks));
  if (!s->options_.tls_cert_file.empty() || !s->options_.tls_key_file.empty()) {
    auto ctx = TlsContext::server(s->options_.tls_cert_file, s->options_.tls_key_file);
    if (!ctx) return ctx.errors();
    s->tls_ = std::move(*ctx);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(s->options_.port);
  if (::getaddrinfo(s->options_.host.c_str(), service.c_str(), &hints, &res) != 0 || !res) {
    return Error{"forward", "cannot listen on " + s->options_.host + ": not a numeric address"};
  }
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const bool ok =
      fd >= 0 && ::bind(fd, res->ai_addr, res->ai_addrlen) == 0 && ::listen(fd, 64) == 0;
  const int err = errno;
  ::freeaddrinfo(res);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    return Error{"forward", "cannot listen on " + s->options_.host + ":" + service + ": " +
                                std::strerror(err)};
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  s->port_ = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  s->listen_fd_ = fd;
  ForwardServer* raw = s.get();
  s->acceptor_ = std::thread([raw] { raw->accept_loop(); });
  return s;
}

ForwardServer::~ForwardServer() { stop(); }

void ForwardServer::stop() noexcept {
  if (stopping_.exchange(true)) {
    if (acceptor_.joinable() && acceptor_.get_id() != std::this_thread::get_id()) acceptor_.join();
    return;
  }
  waker_.wake();
  if (acceptor_.joinable()) acceptor_.join();
  std::list<Conn> conns;
  {
    std::lock_guard<std::mutex> lock(mu_);
    conns.swap(conns_);
  }
  for (Conn& c : conns) {
    if (c.thread.joinable()) c.thread.join();
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
}

ForwardServerStats ForwardServer::stats() const noexcept {
  ForwardServerStats s;
  s.connections = connections_.load();
  s.handshakes_ok = handshakes_ok_.load();
  s.handshakes_failed = handshakes_failed_.load();
  s.frames = frames_.load();
  s.events = events_.load();
  s.acks = acks_.load();
  s.malformed = malformed_.load();
  return s;
}

std::string ForwardServer::last_error() const {
  std::lock_guard<std::mutex> lock(const_cast<std::mutex&>(mu_));
  return last_error_;
}

void ForwardServer::note(std::string error) {
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = std::move(error);
}

void ForwardServer::accept_loop() noexcept {
  while (!stopping_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {waker_.fd(), POLLIN, 0}};
    const int r = ::poll(fds, 2, 200);
    {
      // Reap finished connections.
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = conns_.begin(); it != conns_.end();) {
        if (it->done.load()) {
          it->thread.join();
          it = conns_.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (r <= 0 || (fds[0].revents & POLLIN) == 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_.load() || conns_.size() >= options_.max_connections) {
      linger l{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
      ::close(fd);
      continue;
    }
    connections_.fetch_add(1);
    Conn& c = conns_.emplace_back();
    c.thread = std::thread([this, fd, &c] {
      serve(fd);
      c.done.store(true);
    });
  }
}

bool ForwardServer::handshake(Stream& s, std::string& inbox, Deadline deadline) {
  Helo helo;
  helo.nonce = random_bytes16();
  if (!options_.users.empty()) helo.auth = random_bytes16();
  helo.keepalive = true;
  if (!s.write_all(build_helo(helo), deadline, &waker_).ok()) return false;
  Ping ping;
  std::size_t used = 0;
  for (;;) {
    const Status st = read_ping(inbox, used, ping);
    if (st == Status::kOk) break;
    if (st == Status::kMalformed) {
      note("malformed PING");
      return false;
    }
    if (!s.read_some(inbox, 64 * 1024, deadline, &waker_).ok()) return false;
  }
  inbox.erase(0, used);
  const auto what = hooks_ ? hooks_->on_ping(ping) : ForwardServerHooks::Handshake::kAnswer;
  if (what == ForwardServerHooks::Handshake::kClose) return false;
  Pong pong;
  pong.hostname = options_.hostname;
  const bool key_ok =
      what == ForwardServerHooks::Handshake::kAnswer &&
      ping.digest == sha512_hex({ping.salt, ping.hostname, helo.nonce, options_.shared_key});
  if (!key_ok) {
    note("shared key mismatch from " + ping.hostname);
    return false;  // as Fluent Bit: close without a PONG
  }
  if (!options_.users.empty()) {
    bool user_ok = false;
    for (const auto& [user, password] : options_.users) {
      if (user == ping.username &&
          ping.password_digest == sha512_hex({helo.auth, user, password})) {
        user_ok = true;
      }
    }
    if (!user_ok) {
      pong.ok = false;
      pong.reason = "username/password mismatch";
      note("user authentication failed for '" + ping.username + "'");
      s.write_all(build_pong(pong), deadline, &waker_);
      return false;
    }
  }
  pong.ok = true;
  pong.digest = sha512_hex({ping.salt, options_.hostname, helo.nonce, options_.shared_key});
  return s.write_all(build_pong(pong), deadline, &waker_).ok();
}

void ForwardServer::serve(int fd) noexcept {
  try {
    Stream s;
    const std::atomic<bool>* stop = &stopping_;
    const Deadline forever{deliver::SteadyClock::time_point::max(), stop};
    if (!s.accept(fd, tls_.get(), Deadline::after(kHandshakeTimeout, stop), &waker_).ok()) {
      return;
    }
    std::unique_ptr<FrameReceiver> receiver = make_receiver_();
    if (!receiver) return;
    std::string inbox;
    if (!options_.shared_key.empty()) {
      if (!handshake(s, inbox, Deadline::after(kHandshakeTimeout, stop))) {
        handshakes_failed_.fetch_add(1);
        s.close();
        return;
      }
      handshakes_ok_.fetch_add(1);
    }
    for (;;) {
      std::size_t size = 0;
      const Status st = encode::msgpack::complete_value(inbox, size, options_.limits.msgpack);
      if (st == Status::kMalformed ||
          (st == Status::kNeedMore && inbox.size() > options_.max_frame_bytes)) {
        malformed_.fetch_add(1);
        note(st == Status::kMalformed ? "malformed frame" : "frame over the size limit");
        return;  // no ack, connection closed
      }
      if (st == Status::kNeedMore) {
        if (!inbox.empty() && hooks_ && hooks_->reset_mid_frame(inbox.size())) {
          s.reset();
          return;
        }
        if (!s.read_some(inbox, 1u << 20, forever, &waker_).ok()) return;
        continue;
      }
      FrameInfo info;
      std::string error;
      const std::string_view frame(inbox.data(), size);
      const Status d = decode_frame(
          frame, options_.limits,
          [&](const Event& ev) {
            events_.fetch_add(1);
            receiver->event(ev);
          },
          info, error);
      if (d != Status::kOk) {
        receiver->abort_frame();
        malformed_.fetch_add(1);
        note("malformed frame: " + error);
        return;
      }
      frames_.fetch_add(1);
      inbox.erase(0, size);
      if (!receiver->end_frame(info)) {
        note("receiver could not keep a frame; not acked, connection closed");
        return;
      }
      if (info.chunk.empty()) continue;
      const auto reply = hooks_ ? hooks_->on_frame(info) : ForwardServerHooks::Reply::kAck;
      if (reply == ForwardServerHooks::Reply::kNoAck) continue;
      if (reply == ForwardServerHooks::Reply::kReset) {
        s.reset();
        return;
      }
      if (reply == ForwardServerHooks::Reply::kGarbage) {
        s.write_all(std::string("\xc1\xc1\xc1 not msgpack", 16), forever, &waker_);
        continue;
      }
      if (hooks_) {
        const auto delay = hooks_->ack_delay(info);
        if (delay.count() > 0) {
          // Waits out the delay (or stop), reading nothing on purpose.
          const Deadline until = Deadline::after(delay, stop);
          while (!until.expired()) {
            pollfd p{waker_.fd(), POLLIN, 0};
            if (::poll(&p, 1,
                       static_cast<int>(std::min<std::int64_t>(until.remaining().count(), 100))) >
                0) {
              return;
            }
          }
        }
      }
      // Counted before the write: a peer that has read the ack must find it
      // counted (the tests compare acks with frames as soon as flush returns).
      acks_.fetch_add(1);
      if (!s.write_all(ack_for(info.chunk), forever, &waker_).ok()) {
        acks_.fetch_sub(1);
        return;
      }
    }
  } catch (...) {
    note("out of memory");
  }
}

}  // namespace emp::telemetry::forward
