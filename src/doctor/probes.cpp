#include "doctor/probes.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <ctime>
#include <future>
#include <nlohmann/json.hpp>

#include "config/parse.hpp"
#include "deliver/http_transport.hpp"
#include "encode/msgpack_writer.hpp"
#include "encode/sentry_envelope.hpp"
#include "forward/forward_destination.hpp"
#include "forward/forward_protocol.hpp"
#include "otlp/otlp_http_destination.hpp"
#include "sentry/client_reports.hpp"
#include "sentry/sentry_destination.hpp"

namespace emp::telemetry::doctor {

using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

std::string ms_text(milliseconds d) { return std::to_string(d.count()) + " ms"; }

void add_hop(CheckResult& r, const char* name, microseconds d) {
  if (d.count() > 0) r.hops.push_back({name, d});
}

void add_http_hops(CheckResult& r, const deliver::HttpResponse& resp) {
  add_hop(r, "resolve", resp.phases.resolve);
  add_hop(r, "connect", resp.phases.connect);
  add_hop(r, "tls", resp.phases.tls);
  add_hop(r, "response", resp.phases.response);
  r.total = std::chrono::duration_cast<microseconds>(resp.elapsed);
  r.tls_subject = resp.tls_subject;
  r.tls_expiry = resp.tls_expiry;
}

std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 200)) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  if (body.size() > 200) out += "...";
  return out;
}

void fail(CheckResult& r, CheckStatus s, std::string reason, std::string advice) {
  r.status = s;
  r.reason = std::move(reason);
  r.advice = std::move(advice);
}

// What a request that got no HTTP answer means, for any HTTP destination.
// `tls_variable` names the setting that trusts a CA for it.
void no_answer(CheckResult& r, const deliver::HttpResponse& resp, milliseconds timeout,
               const std::string& target, const std::string& tls_variable) {
  const int code = resp.curl_code;
  if (resp.error == deliver::TransportError::kTimeout ||
      resp.error == deliver::TransportError::kCancelled) {
    fail(r, CheckStatus::kFailed, "timeout: no answer within " + ms_text(timeout),
         "the server took the connection and did not answer: look for a hung collector, a "
         "proxy or a load balancer in between, or allow more with --timeout");
  } else if (code == CURLE_COULDNT_RESOLVE_HOST) {
    fail(r, CheckStatus::kFailed, "the host name does not resolve: " + resp.error_message,
         "check the host in " + target);
  } else if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE ||
             code == CURLE_SSL_CONNECT_ERROR || code == CURLE_SSL_CERTPROBLEM ||
             code == CURLE_SSL_ISSUER_ERROR) {
    fail(r, CheckStatus::kFailed, "TLS failed: " + resp.error_message,
         "trust the server's CA with " + tls_variable +
             ", or check that the URL's host matches the certificate");
  } else if (code == CURLE_COULDNT_CONNECT) {
    fail(r, CheckStatus::kFailed, "connection refused: " + resp.error_message,
         "nothing listens there: start the server or fix the port in " + target);
  } else {
    fail(r, CheckStatus::kFailed, "no answer: " + resp.error_message,
         "the connection failed before an HTTP answer: check the server's logs");
  }
}

std::string retry_after_text(const deliver::HttpResponse& resp) {
  if (!resp.retry_after) return "";
  return " (retry after " +
         std::to_string(
             std::chrono::duration_cast<std::chrono::seconds>(*resp.retry_after).count()) +
         " s)";
}

void transcript_request(CheckResult& r, const deliver::HttpRequest& req, std::size_t bytes) {
  std::string line =
      "POST " + deliver::display_url(req.url) + "  Content-Type: " + req.content_type +
      (req.gzip ? "  Content-Encoding: gzip" : "") + "  " + std::to_string(bytes) + " bytes";
  for (const auto& h : req.headers) line += "  " + h.first + ": ***";
  r.transcript.push_back(std::move(line));
}

void transcript_response(CheckResult& r, const deliver::HttpResponse& resp) {
  if (resp.status == 0) {
    r.transcript.push_back("no answer: " + resp.error_message);
    return;
  }
  r.transcript.push_back("HTTP " + std::to_string(resp.status) +
                         (resp.content_type.empty() ? "" : "  " + resp.content_type) + "  " +
                         excerpt(resp.body));
}

// One probe request: its own deadline, the whole timeout for connecting too,
// and the server certificate asked for.
deliver::HttpRequest probe_request(std::string url, std::string_view body, std::string content_type,
                                   milliseconds timeout) {
  deliver::HttpRequest req;
  req.url = std::move(url);
  req.body = body;
  req.content_type = std::move(content_type);
  req.timeout = timeout;
  req.connect_timeout = timeout;
  req.deadline = deliver::Deadline::after(timeout);
  req.want_certificate = true;
  return req;
}

std::string signal_name(deliver::Signal s) { return std::string(deliver::to_string(s)); }

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

bool wanted(const std::vector<std::string>& only, const std::string& group) {
  return only.empty() || std::find(only.begin(), only.end(), group) != only.end();
}

CheckResult probe_otlp(const std::string& name, deliver::Signal signal, const OtlpExport& exp,
                       const ProbeOptions& options) {
  CheckResult r;
  r.name = name;
  r.target = deliver::display_url(exp.url);
  try {
    const auto es = otlp::exporter_settings(signal, exp);
    deliver::HttpTransport transport(otlp::transport_options(es));
    // An export request with no resources: valid in both encodings, and it
    // puts nothing in the backend.
    const std::string body = es.content_type == deliver::ContentType::kJson ? "{}" : "";
    deliver::HttpRequest req = probe_request(
        es.url, body, std::string(deliver::mime_type(es.content_type)), options.timeout);
    req.headers = es.headers;
    req.gzip = es.gzip;
    req.gzip_level = es.gzip_level;
    if (options.verbose) transcript_request(r, req, body.size());
    const deliver::HttpResponse resp = transport.post(req);
    if (options.verbose) transcript_response(r, resp);
    add_http_hops(r, resp);
    const std::string variable = exp.url_from.empty() ? "the endpoint" : exp.url_from;
    const std::string tls_variable = "OTEL_EXPORTER_OTLP_CERTIFICATE (or OTEL_EXPORTER_OTLP_" +
                                     upper(signal_name(signal)) + "_CERTIFICATE)";
    const long st = resp.status;
    if (st == 0) {
      no_answer(r, resp, options.timeout, variable, tls_variable);
    } else if (st >= 200 && st < 300) {
      fail(r, CheckStatus::kHealthy, "HTTP " + std::to_string(st), "");
    } else if (st == 401 || st == 403) {
      fail(r, CheckStatus::kFailed, "credentials rejected (HTTP " + std::to_string(st) + ")",
           exp.url_from.rfind("DASH0", 0) == 0
               ? "check DASH0_API_KEY (an auth token of the organization) and DASH0_DATASET"
               : "check the Authorization header in OTEL_EXPORTER_OTLP_HEADERS");
    } else if (st == 404) {
      fail(r, CheckStatus::kFailed, "wrong path: " + r.target + " (HTTP 404)",
           "set OTEL_EXPORTER_OTLP_ENDPOINT to the collector's base URL (the client appends "
           "/v1/" +
               signal_name(signal) + "), or the full URL in OTEL_EXPORTER_OTLP_" +
               upper(signal_name(signal)) + "_ENDPOINT");
    } else if (st == 415) {
      fail(r, CheckStatus::kFailed,
           "wrong content type: the server does not take " + req.content_type + " (HTTP 415)",
           "set OTEL_EXPORTER_OTLP_PROTOCOL to what the server takes (http/protobuf or "
           "http/json)");
    } else if (st == 429 || st == 502 || st == 503 || st == 504) {
      fail(r, CheckStatus::kDegraded,
           "busy (HTTP " + std::to_string(st) + ")" + retry_after_text(resp),
           "the server is overloaded or restarting: the client retries and spools meanwhile");
    } else if (st >= 500) {
      fail(r, CheckStatus::kDegraded,
           "server error (HTTP " + std::to_string(st) + "): " + excerpt(resp.body),
           "look at the collector's own logs");
    } else {
      fail(r, CheckStatus::kFailed,
           "rejected (HTTP " + std::to_string(st) + "): " + excerpt(resp.body),
           "the server refuses OTLP/HTTP requests from this client: check its receiver "
           "configuration");
    }
  } catch (...) {
    fail(r, CheckStatus::kFailed, "out of memory", "");
  }
  return r;
}

CheckResult probe_sentry(const Config& config, const ProbeOptions& options) {
  CheckResult r;
  r.name = "sentry";
  try {
    auto dsn = config::parse_sentry_dsn(config.sentry_dsn);
    if (!dsn) {
      r.target = "SENTRY_DSN";
      fail(r, CheckStatus::kFailed, "SENTRY_DSN " + dsn.error().rule, "fix SENTRY_DSN");
      return r;
    }
    const std::string url = dsn.value().envelope_url();
    r.target = deliver::display_url(url);
    // Only a client report: it reaches the project's statistics without
    // creating an issue.
    const double now = static_cast<double>(std::time(nullptr));
    std::string envelope = encode::sentry::envelope_header(nlohmann::json::object());
    encode::sentry::append_item(envelope, "client_report",
                                sentry::ClientReports::item_payload({}, now));
    deliver::HttpTransport transport;
    deliver::HttpRequest req =
        probe_request(url, envelope, "application/x-sentry-envelope", options.timeout);
    req.headers.emplace_back("X-Sentry-Auth", sentry::auth_header(dsn.value().public_key));
    if (options.verbose) transcript_request(r, req, envelope.size());
    const deliver::HttpResponse resp = transport.post(req);
    if (options.verbose) transcript_response(r, resp);
    add_http_hops(r, resp);
    const long st = resp.status;
    if (st == 0) {
      no_answer(r, resp, options.timeout, "SENTRY_DSN", "the system's CA store (SSL_CERT_FILE)");
    } else if (st >= 200 && st < 300) {
      fail(r, CheckStatus::kHealthy, "HTTP " + std::to_string(st), "");
    } else if (st == 401 || st == 403) {
      fail(r, CheckStatus::kFailed, "DSN key rejected (HTTP " + std::to_string(st) + ")",
           "copy SENTRY_DSN again from the project's Client Keys (DSN) settings");
    } else if (st == 404) {
      fail(r, CheckStatus::kFailed, "no such project or path: " + r.target + " (HTTP 404)",
           "check the host and the project id in SENTRY_DSN");
    } else if (st == 429) {
      fail(r, CheckStatus::kDegraded, "rate limited" + retry_after_text(resp),
           "the project's quota or rate limit is reached: events are dropped (counted "
           "rate_limited) until it passes");
    } else if (st >= 500) {
      fail(r, CheckStatus::kDegraded, "server error (HTTP " + std::to_string(st) + ")",
           "the Sentry server has trouble: the client retries and spools meanwhile");
    } else {
      fail(r, CheckStatus::kFailed,
           "rejected (HTTP " + std::to_string(st) + "): " + excerpt(resp.body),
           "the server does not take envelopes from this client: check SENTRY_DSN");
    }
  } catch (...) {
    fail(r, CheckStatus::kFailed, "out of memory", "");
  }
  return r;
}

CheckResult probe_fluentd(const Config& config, const ProbeOptions& options) {
  CheckResult r;
  r.name = "fluentd";
  r.target = std::string(config.fluentd_secure ? "tls://" : "tcp://") + config.fluentd_host + ":" +
             std::to_string(config.fluentd_port);
  try {
    forward::ForwardDestination dest(forward::forward_settings(config));
    forward::ForwardTrace trace;
    dest.set_trace(&trace);
    // One test record: [EventTime, {message, service_name, emp.pipeline_test}].
    std::string entries;
    {
      encode::msgpack::Writer w(entries);
      w.array_header(2);
      const auto now = std::chrono::system_clock::now().time_since_epoch();
      w.event_time(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
      w.map_header(4);
      w.str("message");
      w.str("emp-telemetry pipeline test");
      w.str("level");
      w.str("info");
      w.str("service_name");
      w.str(config.service_name);
      w.str("emp.pipeline_test");
      w.str(options.marker);
    }
    deliver::Payload payload;
    payload.items = 1;
    const std::string chunk = forward::new_chunk_id();
    forward::append_packed_forward(payload.bytes, config.service_type + ".pipeline_test", entries,
                                   1, chunk, false);
    if (options.verbose) {
      r.transcript.push_back("connect " + r.target +
                             (config.fluentd_shared_key.empty() ? "" : ", shared-key handshake") +
                             ", PackedForward frame " + std::to_string(payload.bytes.size()) +
                             " bytes, chunk " + chunk);
    }
    const auto result = dest.deliver(payload, deliver::Deadline::after(options.timeout));
    const auto& c = trace.connect;
    const auto us = [](auto a, auto b) { return std::chrono::duration_cast<microseconds>(b - a); };
    const deliver::SteadyClock::time_point zero{};
    if (c.resolved != zero) add_hop(r, "resolve", us(c.start, c.resolved));
    if (c.connected != zero) add_hop(r, "connect", us(c.resolved, c.connected));
    if (c.secured != zero) add_hop(r, "tls", us(c.connected, c.secured));
    const auto opened = c.secured != zero ? c.secured : c.connected;
    if (trace.handshake_done != zero) add_hop(r, "handshake", us(opened, trace.handshake_done));
    if (trace.acked != zero) add_hop(r, "ack", us(trace.sent, trace.acked));
    r.total = std::chrono::duration_cast<microseconds>(result.elapsed);
    r.tls_subject = c.tls_subject;
    r.tls_expiry = c.tls_expiry;
    // The destination's message starts with its own description.
    std::string why = result.message;
    if (const auto colon = why.find(": "); colon != std::string::npos) why.erase(0, colon + 2);
    if (options.verbose) {
      r.transcript.push_back(result.outcome == deliver::Outcome::kDelivered ? "ack " + chunk
                                                                            : "no ack: " + why);
    }
    if (result.outcome == deliver::Outcome::kDelivered) {
      fail(r, CheckStatus::kHealthy, "acked", "");
    } else if (why.find("shared key") != std::string::npos ||
               why.find("did not prove") != std::string::npos) {
      fail(r, CheckStatus::kFailed, why,
           "FLUENTD_SHARED_KEY must equal the shared_key of the server's <security> section");
    } else if (why.find("user authentication") != std::string::npos) {
      fail(r, CheckStatus::kFailed, why, "set FLUENTD_USERNAME and FLUENTD_PASSWORD");
    } else if (why.find("not trusted") != std::string::npos ||
               why.find("TLS") != std::string::npos ||
               why.find("certificate") != std::string::npos) {
      fail(r, CheckStatus::kFailed, "TLS failed: " + why,
           "trust the server's CA with FLUENTD_CA_FILE (FLUENTD_TLS_VERIFY=false only for a "
           "test)");
    } else if (why.find("resolve") != std::string::npos) {
      fail(r, CheckStatus::kFailed, why, "check FLUENTD_HOST");
    } else if (c.connected == zero) {
      fail(r, CheckStatus::kFailed, why,
           "nothing answers at FLUENTD_HOST:FLUENTD_PORT: start the aggregator or fix them");
    } else if (why.find("no ack") != std::string::npos) {
      fail(r, CheckStatus::kFailed, "timeout: " + why + " within " + ms_text(options.timeout),
           "the server took the record and did not acknowledge it: check that it is a forward "
           "input (Fluentd in_forward, Fluent Bit forward) and not overloaded");
    } else {
      fail(r, CheckStatus::kFailed, why, "check the server's logs");
    }
  } catch (...) {
    fail(r, CheckStatus::kFailed, "out of memory", "");
  }
  return r;
}

std::vector<CheckResult> probe_all(const Config& config, const PipelineTestOptions& options,
                                   const std::string& marker) {
  ProbeOptions po;
  po.timeout = options.timeout;
  po.verbose = options.verbose;
  po.marker = marker;
  std::vector<std::future<CheckResult>> running;
  std::vector<CheckResult> skipped;
  const auto skip = [&](std::string name, std::string reason) {
    CheckResult r;
    r.name = std::move(name);
    r.status = CheckStatus::kSkipped;
    r.reason = std::move(reason);
    skipped.push_back(std::move(r));
  };
  const std::pair<deliver::Signal, const OtlpExport*> signals[] = {
      {deliver::Signal::kTraces, &config.otlp_traces},
      {deliver::Signal::kMetrics, &config.otlp_metrics},
      {deliver::Signal::kLogs, &config.otlp_logs}};
  for (const auto& [signal, exp] : signals) {
    const bool dash0 = exp->url_from.rfind("DASH0", 0) == 0;
    const std::string group = dash0 ? "dash0" : "otel";
    const std::string name =
        group == "otel" ? "otlp " + signal_name(signal) : "dash0 " + signal_name(signal);
    if (exp->url.empty()) {
      skip("otlp " + signal_name(signal),
           "no endpoint configured (OTEL_EXPORTER_OTLP_ENDPOINT, "
           "DASH0_OTLP_BASE_URL), or the exporter is off");
      continue;
    }
    if (!wanted(options.only, group)) {
      skip(name, "left out (--only)");
      continue;
    }
    running.push_back(std::async(std::launch::async, [name, signal = signal, exp = exp, &po] {
      return probe_otlp(name, signal, *exp, po);
    }));
  }
  if (config.fluentd_host.empty()) {
    skip("fluentd", "FLUENTD_HOST is not set");
  } else if (!wanted(options.only, "fluentd")) {
    skip("fluentd", "left out (--only)");
  } else {
    running.push_back(
        std::async(std::launch::async, [&config, &po] { return probe_fluentd(config, po); }));
  }
  if (config.sentry_dsn.empty()) {
    skip("sentry", "SENTRY_DSN is not set");
  } else if (!wanted(options.only, "sentry")) {
    skip("sentry", "left out (--only)");
  } else {
    running.push_back(
        std::async(std::launch::async, [&config, &po] { return probe_sentry(config, po); }));
  }
  std::vector<CheckResult> out;
  for (auto& f : running) out.push_back(f.get());
  for (auto& s : skipped) out.push_back(std::move(s));
  return out;
}

}  // namespace emp::telemetry::doctor
