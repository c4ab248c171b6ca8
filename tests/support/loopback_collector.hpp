// A real HTTP/1.1 server on 127.0.0.1 for tests: a stand-in OTLP collector
// (or any HTTP peer) that records every request and misbehaves on command.
//
// It listens on an ephemeral port (or a given one), accepts on its own thread
// and serves each connection on its own thread (bounded; connections beyond
// the bound are reset). It speaks keep-alive, Content-Length and chunked
// request bodies, answers `Expect: 100-continue`, and gunzips bodies sent
// with `Content-Encoding: gzip`. Every request is recorded with lowercased
// header names, the decoded body and the id of the connection it came on, so
// tests can prove keep-alive reuse.
//
// What it answers is programmable: a FIFO of Responses consumed one per
// request, then an optional handler, then a default (200, empty body).
// Responses can also hang (never answer), reset the connection (RST) before
// or in the middle of the response, close without answering, answer after a
// delay, or trickle the response one byte per interval. The whole listener
// can refuse connections (stop()), and start again on the same port.
//
// Everything is bounded: stop() (and the destructor) wake every thread
// through a condition variable and poll() timeouts, close every socket, and
// join every thread promptly even when clients hold connections open.
//
// Thread-safety: every public member may be called from any thread.
//
// Use from a test CMakeLists.txt:
//   emp_add_test(my_test SOURCES my_test.cpp
//                ${PROJECT_SOURCE_DIR}/tests/support/loopback_collector.cpp ...)
// and `#include "support/loopback_collector.hpp"`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace emp::telemetry::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

// One request as the server saw it.
struct RecordedRequest {
  std::uint64_t index = 0;          // arrival order, from 0
  std::uint64_t connection_id = 0;  // from 1, one per accepted connection
  std::string method;
  std::string target;         // request target, e.g. "/v1/traces"
  std::string version;        // "HTTP/1.1"
  Headers headers;            // names lowercased, values trimmed, in order
  std::string body;           // de-chunked and gunzipped
  std::string wire_body;      // de-chunked, still compressed if it was
  bool chunked = false;       // Transfer-Encoding: chunked
  bool gzip = false;          // Content-Encoding: gzip
  bool decode_error = false;  // gzip body could not be decoded
  bool complete = true;       // false when the server reset before reading it all

  // First value of header `name` (any case), nullopt when absent.
  std::optional<std::string> header(std::string_view name) const;
};

// What to do with one request.
struct Response {
  enum class Action : std::uint8_t {
    kRespond,           // send status + headers + body
    kHang,              // read the request, never answer (until stop or client close)
    kResetMidBody,      // read the head and part of the body, then RST (SO_LINGER 0)
    kResetMidResponse,  // send the head and half the body, then RST
    kClose,             // read the request, close without answering (FIN)
    kTrickle,           // send the response one byte per `interval`
    kRaw,               // send `body` verbatim (no HTTP framing), then wait for close
  };
  Action action = Action::kRespond;
  int status = 200;
  std::string body;
  std::string content_type = "application/x-protobuf";  // "" = no Content-Type header
  Headers headers;                                      // extra response headers
  std::chrono::milliseconds delay{0};                   // wait before answering (interruptible)
  std::chrono::milliseconds interval{20};               // kTrickle: time between bytes
  bool close_after = false;                             // send Connection: close and close

  static Response ok(std::string body = {}, std::string content_type = "application/x-protobuf");
  static Response with_status(int status, std::string body = {},
                              std::string content_type = "text/plain");
  // 429/503 with a Retry-After header carrying `value` verbatim.
  static Response retry_after(int status, std::string value);
  static Response hang();
  static Response reset_mid_body();
  static Response reset_mid_response(int status, std::string body);
  static Response close();
  static Response trickle(int status, std::string body, std::chrono::milliseconds interval);
  // Bytes that are not a valid HTTP answer (garbage, "100 Continue" only,
  // endless headers...), written as they are; the connection stays open.
  static Response raw(std::string bytes);
  // 200 with Export*ServiceResponse.partial_success{rejected, message}.
  static Response partial_success_proto(std::uint64_t rejected, std::string message);
  // 200 JSON body: {"partialSuccess":{"<rejected_key>":"N","errorMessage":"..."}}
  // `rejected_key` e.g. "rejectedSpans", "rejectedLogRecords".
  static Response partial_success_json(std::string_view rejected_key, std::uint64_t rejected,
                                       std::string message);
};

// What the server does right after accepting a connection.
enum class AcceptMode : std::uint8_t {
  kServe,  // normal HTTP service
  kHang,   // accept, never read or write (until stop)
  kReset,  // accept and reset at once
};

struct CollectorOptions {
  std::uint16_t port = 0;  // 0 = ephemeral
  std::size_t max_connections = 32;
  std::size_t max_body_bytes = 80u << 20;      // larger request bodies get 413
  std::size_t max_decoded_bytes = 256u << 20;  // gunzip output cap
  std::chrono::milliseconds poll_interval{20};
  bool start = true;  // start listening in the constructor
};

class LoopbackCollector {
 public:
  explicit LoopbackCollector(CollectorOptions options = {});
  ~LoopbackCollector();
  LoopbackCollector(const LoopbackCollector&) = delete;
  LoopbackCollector& operator=(const LoopbackCollector&) = delete;

  // Listens on the configured port, or on the port of the previous run (so a
  // restart keeps the URL). False (with `last_error()`) when bind fails.
  bool start();
  // Closes the listener (new connections are refused) and every connection,
  // joins all threads. Recorded requests and queued responses are kept.
  // With `reset`, open connections are reset (RST) rather than closed.
  void stop(bool reset = false);
  // stop() then start() on the same port.
  bool restart();
  bool running() const;

  std::uint16_t port() const;
  // "http://127.0.0.1:<port>" + path.
  std::string url(std::string_view path = "/") const;
  // "http://127.0.0.1:<port>" (a base for OTEL_EXPORTER_OTLP_ENDPOINT).
  std::string base_url() const;

  // Programming.
  void enqueue(Response response, std::size_t times = 1);
  void fail_first(std::size_t n, int status = 503);
  void set_default(Response response);
  // Called for requests with nothing queued; return nullopt for the default.
  void set_handler(std::function<std::optional<Response>(const RecordedRequest&)> handler);
  void set_accept_mode(AcceptMode mode);
  std::size_t queued() const;
  // Forgets recorded requests and queued responses; counters stay.
  void clear();

  // Observation.
  std::vector<RecordedRequest> requests() const;
  std::size_t request_count() const;
  // Waits (bounded) until at least `n` requests were recorded.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
  // Waits (bounded) until at least `n` connections were accepted.
  bool wait_for_connections(std::uint64_t n, std::chrono::milliseconds timeout) const;
  std::uint64_t connections_accepted() const;
  std::size_t open_connections() const;
  std::string last_error() const;

 private:
  struct Connection;
  void accept_loop(int listener);
  void serve(Connection& conn);
  void reap(bool all);
  Response next_response(const RecordedRequest* request, bool* from_queue);
  std::optional<Response> pop_queued();
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  // Sleeps up to `d`; returns false when stop() was called meanwhile.
  bool sleep_for(std::chrono::milliseconds d) const;
  // I/O helpers, each bounded by stop().
  int read_some(int fd, std::string& buf) const;
  bool write_all(int fd, std::string_view data) const;
  bool wait_closed_or_stop(int fd) const;

  CollectorOptions options_;

  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;  // signalled on new requests, connections and stop
  std::deque<Response> queue_;
  std::optional<Response> default_;
  std::function<std::optional<Response>(const RecordedRequest&)> handler_;
  AcceptMode accept_mode_ = AcceptMode::kServe;
  std::vector<RecordedRequest> requests_;
  std::uint64_t next_index_ = 0;
  std::uint64_t connections_accepted_ = 0;
  std::string last_error_;
  std::uint16_t port_ = 0;
  bool running_ = false;

  std::mutex lifecycle_;  // serialises start/stop
  std::atomic<bool> stopping_{false};
  std::atomic<bool> reset_on_stop_{false};
  int listener_ = -1;
  std::thread accept_thread_;
  mutable std::mutex connections_mutex_;
  std::list<std::unique_ptr<Connection>> connections_;
};

// Body encoders for scripted answers.
std::string encode_partial_success_proto(std::uint64_t rejected, std::string_view message);
std::string encode_status_proto(int code, std::string_view message);  // google.rpc.Status
// gzip helper for tests that build compressed bodies themselves.
std::string gunzip(std::string_view data, bool* ok = nullptr);

}  // namespace emp::telemetry::testing
