// A TCP connection, optionally TLS (OpenSSL), whose every wait honours a
// deliver::Deadline (time and cancel flag) and can be woken at once from
// another thread through a Waker: the transport of the Fluentd forward
// client and of the forward input server.
//
// TLS: a TlsContext holds one SSL_CTX. Client contexts verify the peer
// against a CA file or the system store and check the host name (SNI is
// always sent for names); verification is off only when asked for. Server
// contexts load a certificate chain and key. Handshakes are non-blocking and
// bounded by the same Deadline, so a slow TLS peer (0.5 to 1 s is normal for
// some) is waited for, and a silent one cannot hold a flush.
//
// Thread-safety: a Stream is used by one thread at a time; Waker::wake() may
// be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "deliver/signal.hpp"
#include "emp/telemetry/expected.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace emp::telemetry::forward {

// An eventfd that makes a Stream's current wait return kCancelled-or-retry.
class Waker {
 public:
  Waker() noexcept;
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;
  void wake() noexcept;
  void drain() noexcept;  // clears a pending wake
  int fd() const noexcept { return fd_; }

 private:
  int fd_ = -1;
};

class TlsContext {
 public:
  // Verifies servers against `ca_file` (PEM) or, when empty, the system
  // store; `verify` false accepts any certificate (explicit choice only).
  static Expected<std::shared_ptr<TlsContext>> client(const std::string& ca_file, bool verify);
  static Expected<std::shared_ptr<TlsContext>> server(const std::string& cert_file,
                                                      const std::string& key_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* get() const noexcept { return ctx_; }
  bool verify() const noexcept { return verify_; }

 private:
  TlsContext(SSL_CTX* ctx, bool verify) : ctx_(ctx), verify_(verify) {}
  SSL_CTX* ctx_;
  bool verify_;
};

enum class IoStatus : std::uint8_t {
  kOk,
  kClosed,     // the peer closed the connection (EOF, or TLS close_notify)
  kTimeout,    // the deadline passed
  kCancelled,  // the cancel flag was set or the Waker woke the wait
  kError,      // connect/reset/TLS failure: `error` says which
};

struct IoResult {
  IoStatus status = IoStatus::kOk;
  std::string error;  // for kError (and kClosed/kTimeout, a short context)
  bool ok() const noexcept { return status == IoStatus::kOk; }
};

class Stream {
 public:
  Stream() = default;
  ~Stream() { close(); }
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // When each step of connect() ended, and the server certificate (for the
  // pipeline test's per-hop report). Unset points: the step did not happen.
  struct ConnectTrace {
    deliver::SteadyClock::time_point start{}, resolved{}, connected{}, secured{};
    std::string tls_subject;  // one-line X.509 subject
    std::string tls_expiry;   // notAfter, "YYYY-MM-DDTHH:MM:SSZ"
  };

  // Resolves `host`, connects (TCP_NODELAY) and, with `tls`, runs the client
  // handshake sending `host` as SNI and checking it against the certificate.
  IoResult connect(const std::string& host, std::uint16_t port, const TlsContext* tls,
                   deliver::Deadline deadline, const Waker* waker, ConnectTrace* trace = nullptr);
  // Takes an accepted socket; with `tls`, runs the server handshake.
  IoResult accept(int fd, const TlsContext* tls, deliver::Deadline deadline, const Waker* waker);

  IoResult write_all(std::string_view data, deliver::Deadline deadline, const Waker* waker);
  // Appends what is available (at least one byte, at most `max`) to `out`.
  IoResult read_some(std::string& out, std::size_t max, deliver::Deadline deadline,
                     const Waker* waker);
  // True when the peer has closed or sent something unasked (checked
  // without waiting before a connection is reused).
  bool peer_closed_or_talking() noexcept;

  bool is_open() const noexcept { return fd_ >= 0; }
  bool is_tls() const noexcept { return ssl_ != nullptr; }
  // Polite close (TLS close_notify best effort, without waiting).
  void close() noexcept;
  // Closes with RST (SO_LINGER 0): for tests of a peer that resets.
  void reset() noexcept;
  // Closes the descriptor only (after fork, in the child: the connection is
  // the parent's; nothing is sent on it).
  void abandon() noexcept;

 private:
  enum class Want : std::uint8_t { kRead, kWrite };
  IoResult wait(Want want, deliver::Deadline deadline, const Waker* waker);
  IoResult tls_handshake(bool server, const std::string& host, deliver::Deadline deadline,
                         const Waker* waker);
  int fd_ = -1;
  SSL* ssl_ = nullptr;
};

}  // namespace emp::telemetry::forward
