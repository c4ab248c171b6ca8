#include "forward/tcp_stream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace emp::telemetry::forward {

using deliver::Deadline;

namespace {

// A slice of a long wait: the cancel flag is re-read at least this often
// even when nobody calls Waker::wake().
constexpr int kPollSliceMs = 100;

std::string sys_error(std::string_view what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

std::string tls_error(std::string_view what) {
  std::string out(what);
  unsigned long e = 0;
  bool first = true;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += first ? ": " : "; ";
    out += buf;
    first = false;
  }
  return out;
}

// OpenSSL writes with write(2): a peer that reset the connection would raise
// SIGPIPE in the host application. Blocks it on this thread for the call
// and consumes one that became pending (the usual recipe, also curl's).
class SigpipeGuard {
 public:
  SigpipeGuard() noexcept {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    blocked_ = pthread_sigmask(SIG_BLOCK, &pipe, &old_) == 0;
  }
  ~SigpipeGuard() {
    if (!blocked_) return;
    if (!was_pending_) {
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_{};
  bool blocked_ = false;
  bool was_pending_ = false;
};

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

// ---- Waker ----

Waker::Waker() noexcept : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
Waker::~Waker() {
  if (fd_ >= 0) ::close(fd_);
}
void Waker::wake() noexcept {
  if (fd_ < 0) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
}
void Waker::drain() noexcept {
  if (fd_ < 0) return;
  std::uint64_t v;
  [[maybe_unused]] auto n = ::read(fd_, &v, sizeof v);
}

// ---- TlsContext ----

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Expected<std::shared_ptr<TlsContext>> TlsContext::client(const std::string& ca_file, bool verify) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return Error{"tls", tls_error("SSL_CTX_new")};
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (verify) {
    const bool loaded = ca_file.empty()
                            ? SSL_CTX_set_default_verify_paths(ctx) == 1
                            : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) == 1;
    if (!loaded) {
      std::string e = tls_error("cannot load CA " + (ca_file.empty() ? "store" : ca_file));
      SSL_CTX_free(ctx);
      return Error{"FLUENTD_CA_FILE", e};
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  return std::shared_ptr<TlsContext>(new TlsContext(ctx, verify));
}

Expected<std::shared_ptr<TlsContext>> TlsContext::server(const std::string& cert_file,
                                                         const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return Error{"tls", tls_error("SSL_CTX_new")};
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    std::string e = tls_error("cannot load certificate " + cert_file + " / key " + key_file);
    SSL_CTX_free(ctx);
    return Error{"tls", e};
  }
  return std::shared_ptr<TlsContext>(new TlsContext(ctx, false));
}

// ---- Stream ----

Stream::Stream(Stream&& other) noexcept : fd_(other.fd_), ssl_(other.ssl_) {
  other.fd_ = -1;
  other.ssl_ = nullptr;
}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    ssl_ = other.ssl_;
    other.fd_ = -1;
    other.ssl_ = nullptr;
  }
  return *this;
}

IoResult Stream::wait(Want want, Deadline deadline, const Waker* waker) {
  for (;;) {
    if (deadline.cancelled()) return {IoStatus::kCancelled, "cancelled"};
    const auto left = deadline.remaining();
    if (left.count() == 0) return {IoStatus::kTimeout, "timed out"};
    const int slice = static_cast<int>(std::min<std::int64_t>(left.count(), kPollSliceMs));
    pollfd fds[2];
    fds[0] = {fd_, static_cast<short>(want == Want::kRead ? POLLIN : POLLOUT), 0};
    nfds_t n = 1;
    if (waker != nullptr && waker->fd() >= 0) {
      fds[1] = {waker->fd(), POLLIN, 0};
      n = 2;
    }
    const int r = ::poll(fds, n, slice);
    if (r < 0) {
      if (errno == EINTR) continue;
      return {IoStatus::kError, sys_error("poll", errno)};
    }
    if (n == 2 && (fds[1].revents & POLLIN) != 0) return {IoStatus::kCancelled, "interrupted"};
    if (fds[0].revents != 0) return {};
  }
}

IoResult Stream::tls_handshake(bool server, const std::string& host, Deadline deadline,
                               const Waker* waker) {
  for (;;) {
    ERR_clear_error();
    const int r = server ? SSL_accept(ssl_) : SSL_connect(ssl_);
    if (r == 1) return {};
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      IoResult w = wait(e == SSL_ERROR_WANT_READ ? Want::kRead : Want::kWrite, deadline, waker);
      if (!w.ok()) {
        w.error = "TLS handshake " + w.error;
        return w;
      }
      continue;
    }
    if (!server) {
      const long v = SSL_get_verify_result(ssl_);
      if (v != X509_V_OK) {
        return {IoStatus::kError,
                "TLS certificate of " + host + " not trusted: " + X509_verify_cert_error_string(v)};
      }
    }
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
      return {IoStatus::kClosed, "connection closed during the TLS handshake"};
    }
    return {IoStatus::kError, tls_error("TLS handshake failed")};
  }
}

namespace {

void describe_peer_certificate(SSL* ssl, std::string& subject, std::string& expiry) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return;
  char buf[512];
  if (X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf) != nullptr) subject = buf;
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
    char out[32];
    if (std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0) expiry = out;
  }
  X509_free(cert);
}

}  // namespace

IoResult Stream::connect(const std::string& host, std::uint16_t port, const TlsContext* tls,
                         Deadline deadline, const Waker* waker, ConnectTrace* trace) {
  close();
  if (trace) trace->start = deliver::SteadyClock::now();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int g = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (g != 0) return {IoStatus::kError, "cannot resolve " + host + ": " + gai_strerror(g)};
  if (trace) trace->resolved = deliver::SteadyClock::now();
  IoResult last{IoStatus::kError, "no address for " + host};
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = {IoStatus::kError, sys_error("socket", errno)};
      continue;
    }
    fd_ = fd;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = {IoStatus::kError, sys_error("connect to " + host + ":" + service, errno)};
      abandon();
      continue;
    }
    IoResult w = wait(Want::kWrite, deadline, waker);
    if (!w.ok()) {
      w.error = "connect to " + host + ":" + service + " " + w.error;
      last = w;
      abandon();
      if (w.status != IoStatus::kError) break;  // out of time: do not try the next address
      continue;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      last = {IoStatus::kError, sys_error("connect to " + host + ":" + service, err)};
      abandon();
      continue;
    }
    last = {};
    break;
  }
  ::freeaddrinfo(res);
  if (!last.ok()) return last;
  if (trace) trace->connected = deliver::SteadyClock::now();
  if (tls == nullptr) return {};
  ssl_ = SSL_new(tls->get());
  if (ssl_ == nullptr) {
    abandon();
    return {IoStatus::kError, tls_error("SSL_new")};
  }
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_fd(ssl_, fd_);
  const bool ip = is_ip_literal(host);
  if (!ip) SSL_set_tlsext_host_name(ssl_, host.c_str());
  if (tls->verify()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    if (set != 1) {
      close();
      return {IoStatus::kError, "cannot check the certificate against " + host};
    }
  }
  SigpipeGuard guard;
  IoResult h = tls_handshake(false, host, deadline, waker);
  if (!h.ok()) {
    abandon();
    return h;
  }
  if (trace) {
    trace->secured = deliver::SteadyClock::now();
    describe_peer_certificate(ssl_, trace->tls_subject, trace->tls_expiry);
  }
  return h;
}

IoResult Stream::accept(int fd, const TlsContext* tls, Deadline deadline, const Waker* waker) {
  close();
  fd_ = fd;
  const int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (tls == nullptr) return {};
  ssl_ = SSL_new(tls->get());
  if (ssl_ == nullptr) {
    abandon();
    return {IoStatus::kError, tls_error("SSL_new")};
  }
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_fd(ssl_, fd_);
  SigpipeGuard guard;
  IoResult h = tls_handshake(true, {}, deadline, waker);
  if (!h.ok()) abandon();
  return h;
}

IoResult Stream::write_all(std::string_view data, Deadline deadline, const Waker* waker) {
  if (fd_ < 0) return {IoStatus::kError, "not connected"};
  SigpipeGuard guard;
  while (!data.empty()) {
    if (deadline.cancelled()) return {IoStatus::kCancelled, "cancelled"};
    if (ssl_ != nullptr) {
      ERR_clear_error();
      const int chunk = static_cast<int>(std::min<std::size_t>(data.size(), 1u << 30));
      const int r = SSL_write(ssl_, data.data(), chunk);
      if (r > 0) {
        data.remove_prefix(static_cast<std::size_t>(r));
        continue;
      }
      const int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        IoResult w = wait(e == SSL_ERROR_WANT_READ ? Want::kRead : Want::kWrite, deadline, waker);
        if (!w.ok()) return w;
        continue;
      }
      if (e == SSL_ERROR_ZERO_RETURN) return {IoStatus::kClosed, "closed by the peer"};
      if (e == SSL_ERROR_SYSCALL && errno != 0) return {IoStatus::kError, sys_error("send", errno)};
      return {IoStatus::kError, tls_error("TLS write failed")};
    }
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      IoResult w = wait(Want::kWrite, deadline, waker);
      if (!w.ok()) return w;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return {IoStatus::kError, sys_error("send", errno)};
  }
  return {};
}

IoResult Stream::read_some(std::string& out, std::size_t max, Deadline deadline,
                           const Waker* waker) {
  if (fd_ < 0) return {IoStatus::kError, "not connected"};
  char buf[16384];
  const std::size_t want = std::min(max, sizeof buf);
  for (;;) {
    if (deadline.cancelled()) return {IoStatus::kCancelled, "cancelled"};
    if (ssl_ != nullptr) {
      SigpipeGuard guard;  // a read can write (TLS 1.3 key updates, alerts)
      ERR_clear_error();
      const int r = SSL_read(ssl_, buf, static_cast<int>(want));
      if (r > 0) {
        out.append(buf, static_cast<std::size_t>(r));
        return {};
      }
      const int e = SSL_get_error(ssl_, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        IoResult w = wait(e == SSL_ERROR_WANT_READ ? Want::kRead : Want::kWrite, deadline, waker);
        if (!w.ok()) return w;
        continue;
      }
      if (e == SSL_ERROR_ZERO_RETURN) return {IoStatus::kClosed, "closed by the peer"};
      if (e == SSL_ERROR_SYSCALL) {
        if (errno == 0 || r == 0) return {IoStatus::kClosed, "closed by the peer"};
        return {IoStatus::kError, sys_error("recv", errno)};
      }
      // An abrupt EOF shows as a protocol error in OpenSSL 3.
      return {IoStatus::kClosed, tls_error("closed by the peer")};
    }
    const ssize_t n = ::recv(fd_, buf, want, 0);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      return {};
    }
    if (n == 0) return {IoStatus::kClosed, "closed by the peer"};
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      IoResult w = wait(Want::kRead, deadline, waker);
      if (!w.ok()) return w;
      continue;
    }
    if (errno == EINTR) continue;
    return {IoStatus::kError, sys_error("recv", errno)};
  }
}

bool Stream::peer_closed_or_talking() noexcept {
  if (fd_ < 0) return true;
  if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return true;
  pollfd p{fd_, POLLIN, 0};
  const int r = ::poll(&p, 1, 0);
  return r != 0;  // readable (data, EOF or error) or poll failed
}

void Stream::close() noexcept {
  if (ssl_ != nullptr) {
    SigpipeGuard guard;
    SSL_shutdown(ssl_);  // non-blocking: sends close_notify if it can
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void Stream::reset() noexcept {
  if (fd_ >= 0) {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  abandon();
}

void Stream::abandon() noexcept {
  if (ssl_ != nullptr) {
    SSL_set_quiet_shutdown(ssl_, 1);
    SSL_free(ssl_);
    ssl_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace emp::telemetry::forward
