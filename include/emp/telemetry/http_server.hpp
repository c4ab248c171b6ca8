// Instrumentation of an HTTP server's request handlers, for any framework
// (cpp-httplib, Drogon, Crow, Boost.Beast, ...): the framework's request is
// described by an HttpServerRequest and the handler is run through handle().
//
//   svr.Get(R"(/jobs/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
//     t.http_server().handle(
//         {.method = req.method, .route = "/jobs/{id}", .path = req.path,
//          .headers = [&](std::string_view n) -> std::optional<std::string> {
//            if (!req.has_header(std::string(n))) return std::nullopt;
//            return req.get_header_value(std::string(n));
//          }},
//         [&] { res.set_content(lookup(req), "application/json"); return 200; });
//   });
//
// handle() continues the caller's trace (W3C traceparent/tracestate from the
// headers) in a SpanKind::kServer span named "<method> <route>" with the HTTP
// semantic-convention attributes (http.request.method, http.route, url.path,
// url.scheme, server.address, server.port, client.address,
// user_agent.original, http.response.status_code), records
// http.server.request.duration (seconds), sets the span's status from the
// response code (5xx is an error; 4xx is the client's, as the conventions
// say), and hands an escaping exception to the errors track with the request
// (method, route, path, user agent; no header values) as context, then
// rethrows it for the framework to answer. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "emp/telemetry/errors.hpp"
#include "emp/telemetry/instrument.hpp"
#include "emp/telemetry/propagation.hpp"

namespace emp::telemetry {

// One request as the framework gives it. Views: only read during handle().
struct HttpServerRequest {
  std::string_view method;  // "GET"
  std::string_view route;   // the matched route template, "/jobs/{id}"; "" when unknown
  std::string_view path;    // the request path, "/jobs/42" (no query string)
  std::string_view scheme = "http";
  std::string_view server_address;  // the host the client asked for (Host header)
  int server_port = 0;              // 0 = unknown
  std::string_view client_address;  // the peer's address
  std::string_view user_agent;
  // Header lookup for the trace context (traceparent, tracestate); empty:
  // the request starts a new trace.
  HeaderGetter headers;
};

class HttpServerInstrument {
 public:
  HttpServerInstrument(const Tracks& tracks, ErrorReporter* errors) noexcept;

  // Runs fn() (which returns the response status code) for the request; see
  // the file comment. Returns fn's status; an exception from fn is recorded
  // (status 500) and rethrown.
  template <typename Fn>
  int handle(const HttpServerRequest& request, Fn&& fn) {
    Serving s = begin(request);
    Scope scope(s.span);
    try {
      const int status = static_cast<int>(fn());
      end(s, status, nullptr);
      return status;
    } catch (...) {
      end(s, 500, std::current_exception());
      throw;
    }
  }

  // What handle() carries between its two halves; public for the template.
  struct Serving {
    Span span;
    std::chrono::steady_clock::time_point start{};
    std::string method, route, path, scheme, user_agent;
  };
  Serving begin(const HttpServerRequest& request) noexcept;
  void end(Serving& s, int status, std::exception_ptr error) noexcept;

 private:
  Tracks t_;
  ErrorReporter* errors_;
  Histogram duration_;
};

}  // namespace emp::telemetry
