// The request head of the Prometheus endpoint's small HTTP/1.1 server: a pure
// parser for bytes a network peer sent, kept apart from the sockets so the
// fuzzer (fuzz/fuzz_http_request_head.cpp) can reach it directly.
//
// Only what a scrape needs is understood: the request line, `Connection`,
// and enough of `Content-Length` / `Transfer-Encoding` to refuse a body
// (the endpoint serves GET and HEAD only). Heads larger than kMaxHeadBytes
// are refused before they are complete, so a peer cannot make the server
// buffer more than that. Pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace emp::telemetry::metrics {

inline constexpr std::size_t kMaxHeadBytes = 8 * 1024;

struct RequestHead {
  enum class State : unsigned char {
    kIncomplete,  // no blank line yet (and under kMaxHeadBytes)
    kComplete,
    kBad,  // answer 400 (or 431 when too_large) and close
  };
  State state = State::kIncomplete;
  bool too_large = false;
  std::string method;          // as sent (methods are case-sensitive)
  std::string path;            // the target without its query
  bool keep_alive = false;     // HTTP/1.1 without "Connection: close", or 1.0 with keep-alive
  bool has_body = false;       // Content-Length > 0 or any Transfer-Encoding
  std::size_t head_bytes = 0;  // bytes of the head, blank line included (kComplete)
};

// Parses the head at the start of `buffer` (bytes received so far).
RequestHead parse_request_head(std::string_view buffer);

}  // namespace emp::telemetry::metrics
