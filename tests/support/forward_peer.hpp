// A forward server for tests that misbehaves on command: ForwardServer (the
// production input) with scripted hooks, a thread-safe record of what it
// received, and throwaway TLS material made with the openssl CLI.
//
// Use: #include "support/forward_peer.hpp" (header-only; link emp_telemetry).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "encode/msgpack_reader.hpp"
#include "forward/forward_server.hpp"

namespace emp::telemetry::testing {

class ScriptedHooks : public forward::ForwardServerHooks {
 public:
  std::atomic<Handshake> handshake{Handshake::kAnswer};
  std::atomic<Reply> reply{Reply::kAck};
  std::atomic<int> ack_delay_ms{0};
  // Frames to answer with `reply` before acking normally again (-1: always).
  std::atomic<int> misbehave_frames{-1};
  std::atomic<bool> reset_partial{false};

  Handshake on_ping(const forward::Ping&) override { return handshake.load(); }
  Reply on_frame(const forward::FrameInfo&) override {
    const int left = misbehave_frames.load();
    if (left == 0) return Reply::kAck;
    if (left > 0) misbehave_frames.fetch_sub(1);
    return reply.load();
  }
  std::chrono::milliseconds ack_delay(const forward::FrameInfo&) override {
    return std::chrono::milliseconds(ack_delay_ms.load());
  }
  bool reset_mid_frame(std::size_t) override { return reset_partial.exchange(false); }
};

struct ReceivedEvent {
  std::string tag;
  std::int64_t time_unix_nano = 0;
  std::string record_json;
};

// A ForwardServer on 127.0.0.1 recording every event as JSON.
class ForwardPeer {
 public:
  explicit ForwardPeer(forward::ForwardServerOptions options = {}) {
    auto s = forward::ForwardServer::start(
        std::move(options),
        [this](const forward::Event& ev) {
          ReceivedEvent r;
          r.tag.assign(ev.tag);
          r.time_unix_nano = ev.time_unix_nano;
          encode::msgpack::to_json(ev.record, r.record_json);
          std::lock_guard<std::mutex> lock(mu_);
          events_.push_back(std::move(r));
        },
        &hooks);
    if (s) server_ = std::move(*s);
  }
  bool ok() const { return server_ != nullptr; }
  std::uint16_t port() const { return server_ ? server_->port() : 0; }
  forward::ForwardServer& server() { return *server_; }
  std::vector<ReceivedEvent> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }
  void stop() {
    if (server_) server_->stop();
  }

  ScriptedHooks hooks;

 private:
  mutable std::mutex mu_;
  std::vector<ReceivedEvent> events_;
  std::unique_ptr<forward::ForwardServer> server_;
};

// A throwaway CA and a server certificate for 127.0.0.1 / localhost, made
// with the openssl CLI in `dir`. ok() is false when openssl failed.
struct TestPki {
  std::string ca, cert, key;
  explicit TestPki(const std::filesystem::path& dir) {
    const std::string d = dir.string();
    ca = d + "/ca.pem";
    cert = d + "/server.pem";
    key = d + "/server.key";
    const std::string cmd =
        "cd '" + d +
        "' && "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "-subj /CN=emp-test-ca >/dev/null 2>&1 && "
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr "
        "-subj /CN=localhost >/dev/null 2>&1 && "
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
        "-out server.pem -days 2 -extfile ext.cnf >/dev/null 2>&1";
    ok_ = std::system(cmd.c_str()) == 0;
  }
  bool ok() const { return ok_; }

 private:
  bool ok_ = false;
};

}  // namespace emp::telemetry::testing
