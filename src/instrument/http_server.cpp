// HttpServerInstrument: the server span, the request-duration histogram and
// the error capture around one request handler (emp/telemetry/http_server.hpp).
// Names follow the OpenTelemetry HTTP semantic conventions,
// https://opentelemetry.io/docs/specs/semconv/http/http-spans/ and
// https://opentelemetry.io/docs/specs/semconv/http/http-metrics/.
#include "emp/telemetry/http_server.hpp"

#include <string>

namespace emp::telemetry {

namespace {

// The bucket boundaries the conventions advise for http.server.request.duration.
std::vector<double> duration_boundaries() {
  return {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10};
}

}  // namespace

HttpServerInstrument::HttpServerInstrument(const Tracks& tracks, ErrorReporter* errors) noexcept
    : t_(tracks), errors_(errors) {
  if (t_.metrics != nullptr) {
    InstrumentOptions o;
    o.unit = "s";
    o.description = "Duration of HTTP server requests.";
    try {
      o.boundaries = duration_boundaries();
    } catch (...) {
      // Out of memory: the default boundaries.
    }
    duration_ = t_.metrics->create_histogram("http.server.request.duration", o);
  }
}

HttpServerInstrument::Serving HttpServerInstrument::begin(const HttpServerRequest& r) noexcept {
  Serving s;
  s.start = std::chrono::steady_clock::now();
  try {
    s.method.assign(r.method.empty() ? std::string_view("_OTHER") : r.method);
    s.route.assign(r.route);
    s.path.assign(r.path);
    s.scheme.assign(r.scheme);
    s.user_agent.assign(r.user_agent);
  } catch (...) {
  }
  if (t_.tracer == nullptr) return s;
  SpanOptions o;
  o.kind = SpanKind::kServer;
  if (r.headers) {
    // A malformed traceparent starts a new trace (the tracer counts it).
    ExtractResult ex = extract_headers(r.headers);
    if (ex.context) o.parent = ex.context;
  }
  std::string name = s.method;
  if (!s.route.empty()) name += " " + s.route;
  s.span = t_.tracer->start_span(name, o,
                                 {{"http.request.method", std::string_view(s.method)},
                                  {"url.path", std::string_view(s.path)},
                                  {"url.scheme", std::string_view(s.scheme)}});
  if (!s.route.empty()) s.span.set_attribute("http.route", std::string_view(s.route));
  if (!r.server_address.empty()) s.span.set_attribute("server.address", r.server_address);
  if (r.server_port > 0) s.span.set_attribute("server.port", r.server_port);
  if (!r.client_address.empty()) s.span.set_attribute("client.address", r.client_address);
  if (!s.user_agent.empty()) {
    s.span.set_attribute("user_agent.original", std::string_view(s.user_agent));
  }
  return s;
}

void HttpServerInstrument::end(Serving& s, int status, std::exception_ptr error) noexcept {
  std::string error_type;
  std::string message;
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      s.span.record_exception(e);
      message = e.what();
      error_type = "exception";
    } catch (...) {
      s.span.record_exception("unknown", "non-standard exception");
      message = "non-standard exception";
      error_type = "exception";
    }
  } else if (status >= 500) {
    error_type = std::to_string(status);
  }
  s.span.set_attribute("http.response.status_code", status);
  if (!error_type.empty()) {
    s.span.set_attribute("error.type", std::string_view(error_type));
    s.span.set_status(StatusCode::kError, message);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count();
  const std::string_view route = s.route;
  if (error_type.empty()) {
    duration_.record(seconds, {{"http.request.method", std::string_view(s.method)},
                               {"http.route", route},
                               {"url.scheme", std::string_view(s.scheme)},
                               {"http.response.status_code", static_cast<std::int64_t>(status)}});
  } else {
    duration_.record(seconds, {{"http.request.method", std::string_view(s.method)},
                               {"http.route", route},
                               {"url.scheme", std::string_view(s.scheme)},
                               {"http.response.status_code", static_cast<std::int64_t>(status)},
                               {"error.type", std::string_view(error_type)}});
  }
  if (error && errors_ != nullptr) {
    try {
      ErrorScope scope;
      scope.tag("http.request.method", s.method).tag("http.route", s.route);
      scope.context("request", {{"method", s.method},
                                {"url", s.path},
                                {"route", s.route},
                                {"user_agent", s.user_agent}});
      errors_->capture_exception(error, scope);
    } catch (...) {
      // Out of memory: the span still records the exception.
    }
  }
  s.span.end();
}

}  // namespace emp::telemetry
