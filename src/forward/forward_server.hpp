// A Fluentd forward protocol v1 input: listens on TCP (optionally TLS),
// runs the shared-key handshake when it has a key (HELO, verifies the PING's
// digest and user, answers PONG with its own digest; a wrong key gets the
// connection closed without a PONG, as Fluent Bit does), decodes Message,
// Forward, PackedForward and CompressedPackedForward frames, hands every
// (tag, time, record) to a callback and acks each frame that asks for it.
// Malformed frames get no ack and a closed connection.
//
// Used by `emp-telemetry serve --forward-port`, and by tests as the peer of
// the forward client. Tests make it misbehave through ForwardServerHooks;
// without hooks it is a well-behaved server.
//
// Bounded: frames over max_frame_bytes, more than max_connections clients,
// gzip that expands past the limit and nesting past the reader's depth are
// refused. stop() (and the destructor) wake every thread and join them.
// Thread-safety: public members may be called from any thread; the callback
// runs on connection threads (one per client) and must be thread-safe; a
// FrameReceiver is used by its own connection's thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "emp/telemetry/expected.hpp"
#include "forward/forward_protocol.hpp"
#include "forward/tcp_stream.hpp"

namespace emp::telemetry::forward {

struct ForwardServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;     // 0: an ephemeral port (see port())
  std::string tls_cert_file;  // both set: TLS
  std::string tls_key_file;
  std::string shared_key;  // set: the handshake is required
  std::string hostname = "emp-forward-server";
  // user -> password; non-empty: user authentication is required too.
  std::vector<std::pair<std::string, std::string>> users;
  std::size_t max_frame_bytes = 16u << 20;
  std::size_t max_connections = 64;
  DecodeLimits limits{};
};

// Misbehaviour on command, for tests. Every member may be called from
// several connection threads at once.
class ForwardServerHooks {
 public:
  enum class Handshake : std::uint8_t { kAnswer, kClose, kRefuse };
  enum class Reply : std::uint8_t { kAck, kNoAck, kGarbage, kReset };
  virtual ~ForwardServerHooks() = default;
  // After a PING arrived (before it is checked).
  virtual Handshake on_ping(const Ping&) { return Handshake::kAnswer; }
  // After a frame was decoded (its events already handed over).
  virtual Reply on_frame(const FrameInfo&) { return Reply::kAck; }
  // Wait this long before acking.
  virtual std::chrono::milliseconds ack_delay(const FrameInfo&) {
    return std::chrono::milliseconds(0);
  }
  // With part of a frame buffered: true resets the connection now.
  virtual bool reset_mid_frame(std::size_t buffered) { return false; }
};

struct ForwardServerStats {
  std::uint64_t connections = 0;
  std::uint64_t handshakes_ok = 0;
  std::uint64_t handshakes_failed = 0;
  std::uint64_t frames = 0;
  std::uint64_t events = 0;
  std::uint64_t acks = 0;
  std::uint64_t malformed = 0;
};

// Takes one connection's frames: every event of a frame, then the frame's
// end. A receiver that cannot keep what it was given (a store that is
// behind) answers false from end_frame: the frame is not acked and the
// connection is closed, so an at-least-once client sends it again later.
// One receiver per connection, used only by that connection's thread.
class FrameReceiver {
 public:
  virtual ~FrameReceiver() = default;
  virtual void event(const Event& ev) = 0;
  virtual bool end_frame(const FrameInfo& info) = 0;
  // The frame turned out malformed after some of its events were handed
  // over: forget them (the sender gets no ack and will send them again).
  virtual void abort_frame() {}
};

class ForwardServer {
 public:
  using OnEvent = std::function<void(const Event&)>;
  using ReceiverFactory = std::function<std::unique_ptr<FrameReceiver>()>;

  // Every event to `on_event`, which must be thread-safe; every frame acked.
  static Expected<std::unique_ptr<ForwardServer>> start(ForwardServerOptions options,
                                                        OnEvent on_event,
                                                        ForwardServerHooks* hooks = nullptr);
  // A receiver from `make_receiver` for each connection.
  static Expected<std::unique_ptr<ForwardServer>> start(ForwardServerOptions options,
                                                        ReceiverFactory make_receiver,
                                                        ForwardServerHooks* hooks = nullptr);
  ~ForwardServer();
  ForwardServer(const ForwardServer&) = delete;
  ForwardServer& operator=(const ForwardServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  void stop() noexcept;
  ForwardServerStats stats() const noexcept;
  // The last reason a connection was closed early (bad key, malformed frame).
  std::string last_error() const;

 private:
  struct Conn {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  ForwardServer(ForwardServerOptions options, ReceiverFactory make_receiver,
                ForwardServerHooks* hooks);
  void accept_loop() noexcept;
  void serve(int fd) noexcept;
  bool handshake(Stream& s, std::string& inbox, deliver::Deadline deadline);
  void note(std::string error);

  const ForwardServerOptions options_;
  ReceiverFactory make_receiver_;
  ForwardServerHooks* hooks_;
  std::shared_ptr<TlsContext> tls_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  Waker waker_;
  std::thread acceptor_;
  std::mutex mu_;
  std::list<Conn> conns_;
  std::string last_error_;
  std::atomic<std::uint64_t> connections_{0}, handshakes_ok_{0}, handshakes_failed_{0}, frames_{0},
      events_{0}, acks_{0}, malformed_{0};
};

}  // namespace emp::telemetry::forward
