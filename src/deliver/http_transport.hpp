// HTTP POST over libcurl for one destination, with a kept-alive connection.
//
// HttpTransport owns one libcurl easy handle (driven through its own multi
// handle so that waiting can be interrupted) and therefore one connection
// cache: consecutive posts to the same host reuse the TCP/TLS connection.
// It only moves bytes and reports what happened; deciding what a status
// means (delivered, retry, drop) belongs to the Destination built on top.
//
// Bounds enforced here: request bodies over `max_request_bytes` (64 MiB) are
// refused before anything is sent, response bodies are read up to
// `max_response_bytes` (4 MiB) and the transfer is cut beyond that, and every
// wait ends at the request's timeout, deadline or cancel flag, whichever
// comes first, even against a server that accepts and never answers.
//
// Error messages never contain header values (credentials live there) nor
// URL user-info.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deliver/signal.hpp"
#include "encode/gzip.hpp"

namespace emp::telemetry::deliver {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// One POST. The body is borrowed: it must stay alive during post().
struct HttpRequest {
  std::string url;
  HttpHeaders headers;  // extra headers; values are treated as secrets in messages
  std::string_view body;
  std::string content_type = "application/x-protobuf";
  // Compress the body with gzip here and send `Content-Encoding: gzip`.
  bool gzip = false;
  // encode::gzip_compress level (EMP_COMPRESSION_LEVEL), 0..12.
  int gzip_level = encode::kGzipDefaultLevel;
  // Whole-transfer timeout; 0 = none (the deadline still applies).
  std::chrono::milliseconds timeout{10000};
  // Time allowed to establish the connection; 0 = libcurl's default (300 s).
  std::chrono::milliseconds connect_timeout{5000};
  // Absolute deadline and cancel flag (flush/shutdown); checked while waiting.
  Deadline deadline;
  // Upper bound applied to a Retry-After header value.
  std::chrono::seconds retry_after_cap{300};
  // Response headers (lowercase names) the caller wants back in
  // HttpResponse::headers, e.g. a protocol's rate-limit header.
  std::vector<std::string> keep_headers;
  // A GET instead of the POST (the body is not sent), for read-backs.
  bool get = false;
  // Fill HttpResponse::tls_subject / tls_expiry from the server certificate
  // of a new TLS connection (the pipeline test).
  bool want_certificate = false;
};

// How long each step of a transfer took, from libcurl's timers: resolve,
// TCP connect, TLS handshake, then request sent to the last response byte.
// Zero for a step that did not happen (no TLS, a reused connection).
struct HttpPhases {
  std::chrono::microseconds resolve{0}, connect{0}, tls{0}, response{0};
};

// Why a post produced no HTTP status.
enum class TransportError : std::uint8_t {
  kNone = 0,   // a status was received
  kRefused,    // request never sent: too large, bad URL, gzip failure
  kConnect,    // could not resolve/connect/handshake
  kTimeout,    // the request timeout passed
  kCancelled,  // the deadline passed or the cancel flag was set
  kNetwork,    // connection reset, broken pipe, malformed response, ...
};
std::string_view to_string(TransportError e) noexcept;

struct HttpResponse {
  long status = 0;           // HTTP status; 0 when no response was received
  std::string body;          // at most max_response_bytes
  bool truncated = false;    // the body was cut at max_response_bytes
  std::string content_type;  // response Content-Type ("" when absent)
  std::optional<std::chrono::milliseconds> retry_after;  // parsed, capped
  // The final response's headers named in HttpRequest::keep_headers
  // (lowercase name, trimmed value), in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  TransportError error = TransportError::kNone;
  int curl_code = 0;          // CURLcode of the transfer (0 = CURLE_OK)
  std::string error_message;  // redacted; empty on success
  std::chrono::milliseconds elapsed{0};
  bool attempted = false;          // the request was handed to the network
  bool connection_reused = false;  // no new connection was opened for this post
  std::size_t bytes_sent = 0;      // body bytes put on the wire (after gzip)
  HttpPhases phases;
  std::string tls_subject;  // with HttpRequest::want_certificate, on a new TLS connection
  std::string tls_expiry;   // the certificate's notAfter as libcurl prints it
};

struct HttpTransportOptions {
  std::size_t max_request_bytes = 64u << 20;  // on the body handed to post()
  std::size_t max_response_bytes = 4u << 20;
  std::string user_agent = "emp-telemetry/0.1.0";
  // TLS material (OTEL_EXPORTER_OTLP_*CERTIFICATE / CLIENT_KEY / CLIENT_CERTIFICATE).
  std::string ca_file;
  std::string client_cert_file;
  std::string client_key_file;
  // TCP keep-alive probes on idle connections.
  std::chrono::seconds tcp_keepidle{30};
  std::chrono::seconds tcp_keepintvl{15};
};

// Counters readable from any thread (relaxed loads).
struct HttpTransportStats {
  std::uint64_t requests = 0;            // posts that reached the network
  std::uint64_t connections_opened = 0;  // sum of CURLINFO_NUM_CONNECTS
  std::uint64_t bytes_sent = 0;
  std::uint64_t failures = 0;  // posts with no HTTP status
};

// Thread-safety: post() must be called from one thread at a time (the
// destination's background thread). stats() and interrupt() may be called
// from any thread, but not concurrently with destruction.
class HttpTransport {
 public:
  explicit HttpTransport(HttpTransportOptions options = {});
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Performs one POST. Never throws; every failure is described in the result.
  HttpResponse post(const HttpRequest& request) noexcept;

  // Wakes a post() that is waiting on the network so it re-checks its cancel
  // flag and deadline now rather than at its next poll tick (<= 50 ms).
  void interrupt() noexcept;

  // In a forked child, before the next post(): forgets the connections
  // inherited from the parent without any goodbye on them (no TLS
  // close_notify, no FIN sent on the parent's behalf), so the parent's
  // kept-alive connection stays intact; the next post() connects afresh.
  // Only for the child's single thread.
  void after_fork_child() noexcept;

  HttpTransportStats stats() const noexcept;
  const HttpTransportOptions& options() const noexcept { return options_; }

 private:
  struct Curl;
  HttpTransportOptions options_;
  std::unique_ptr<Curl> curl_;
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> connections_opened_{0};
  std::atomic<std::uint64_t> bytes_sent_{0};
  std::atomic<std::uint64_t> failures_{0};
};

// Parses a Retry-After value: delta-seconds or an HTTP-date (relative to
// `now`). Returns nullopt when unparseable; a date in the past gives 0; the
// result never exceeds `cap`.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, std::time_t now,
                                                           std::chrono::seconds cap) noexcept;

// Replaces every occurrence of each secret (of 3+ characters) in `text` by
// "***". Used on messages that may echo request material.
std::string redact(std::string text, const std::vector<std::string_view>& secrets);

// The strings redact() must hide for a request with these headers: every
// value, and the credential part of "Scheme credential" values. The views
// point into `headers`.
std::vector<std::string_view> header_secrets(const HttpHeaders& headers);

// The URL without user-info, query and fragment: safe to show in messages.
std::string display_url(std::string_view url);

}  // namespace emp::telemetry::deliver
