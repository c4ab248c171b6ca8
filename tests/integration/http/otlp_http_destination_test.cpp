// OtlpHttpDestination against the loopback collector: every class of answer
// maps to the right Outcome, settings from the environment reach the wire,
// and messages carry the server's words but never a credential.
#include "otlp/otlp_http_destination.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "emp/telemetry/config.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry::deliver {
namespace {

using otlp::ExporterSettings;
using otlp::make_otlp_http_destination;
using otlp::OtlpHttpDestination;
using otlp::OtlpHttpOptions;
using std::chrono::milliseconds;
using testing::LoopbackCollector;
using testing::Response;
constexpr milliseconds kWait{5000};

ExporterSettings settings_for(const LoopbackCollector& c, Signal signal = Signal::kTraces) {
  ExporterSettings s;
  s.signal = signal;
  s.none_configured = false;
  s.url = c.url("/v1/" + std::string(to_string(signal)));
  s.timeout = milliseconds(5000);
  return s;
}

Payload payload(std::string bytes, std::size_t items = 10, Signal signal = Signal::kTraces,
                ContentType type = ContentType::kProtobuf) {
  Payload p;
  p.bytes = std::move(bytes);
  p.items = items;
  p.signal = signal;
  p.content_type = type;
  return p;
}

struct StatusCase {
  int status;
  Outcome outcome;
};

TEST(OtlpHttpDestination, EveryStatusClassMapsToItsOutcome) {
  LoopbackCollector c;
  OtlpHttpDestination d(settings_for(c));
  const std::vector<StatusCase> cases = {
      {200, Outcome::kDelivered}, {201, Outcome::kDelivered}, {202, Outcome::kDelivered},
      {204, Outcome::kDelivered}, {299, Outcome::kDelivered}, {301, Outcome::kPermanent},
      {400, Outcome::kPermanent}, {401, Outcome::kPermanent}, {403, Outcome::kPermanent},
      {404, Outcome::kPermanent}, {405, Outcome::kPermanent}, {413, Outcome::kPermanent},
      {415, Outcome::kPermanent}, {429, Outcome::kRetryable}, {500, Outcome::kPermanent},
      {501, Outcome::kPermanent}, {502, Outcome::kRetryable}, {503, Outcome::kRetryable},
      {504, Outcome::kRetryable}, {505, Outcome::kPermanent}};
  for (const auto& sc : cases) {
    c.enqueue(Response::with_status(sc.status, sc.status == 204 ? "" : "body"));
    const auto r = d.deliver(payload("span-bytes"), Deadline::after(kWait));
    EXPECT_EQ(r.outcome, sc.outcome) << sc.status << ": " << r.message;
    EXPECT_EQ(r.http_status, sc.status);
    EXPECT_TRUE(r.sent);
    EXPECT_NE(r.message.find("HTTP " + std::to_string(sc.status)), std::string::npos) << r.message;
  }
  const auto stats = d.stats();
  EXPECT_EQ(stats.attempts, cases.size());
  EXPECT_EQ(stats.delivered, 5u);
  EXPECT_EQ(stats.retryable, 4u);
  EXPECT_EQ(stats.permanent, 11u);
  EXPECT_EQ(stats.connections_opened, 1u);  // error answers keep the connection
}

TEST(OtlpHttpDestination, FluentBitStyle201WithEmptyBodyIsDelivered) {
  LoopbackCollector c;
  c.enqueue(Response::with_status(201, "", ""));
  OtlpHttpDestination d(settings_for(c, Signal::kLogs));
  const auto r = d.deliver(payload("logs", 3, Signal::kLogs), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kDelivered) << r.message;
  EXPECT_EQ(r.rejected, 0u);
}

TEST(OtlpHttpDestination, PartialSuccessProtoIsPartialWithCountAndMessage) {
  LoopbackCollector c;
  c.enqueue(Response::partial_success_proto(3, "3 spans had invalid trace ids"));
  OtlpHttpDestination d(settings_for(c));
  const auto r = d.deliver(payload("x", 10), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kPartial);
  EXPECT_EQ(r.rejected, 3u);
  EXPECT_FALSE(r.retry_after);
  EXPECT_NE(r.message.find("3 of 10 spans rejected"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("3 spans had invalid trace ids"), std::string::npos) << r.message;
  EXPECT_EQ(d.stats().items_rejected, 3u);
  EXPECT_EQ(d.stats().partial, 1u);
}

TEST(OtlpHttpDestination, PartialSuccessJsonIsPartial) {
  LoopbackCollector c;
  c.enqueue(Response::partial_success_json("rejectedLogRecords", 2, "too old"));
  OtlpHttpDestination d(settings_for(c, Signal::kLogs));
  const auto r = d.deliver(payload("{}", 5, Signal::kLogs, ContentType::kJson), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kPartial);
  EXPECT_EQ(r.rejected, 2u);
  EXPECT_NE(r.message.find("too old"), std::string::npos) << r.message;
}

TEST(OtlpHttpDestination, RejectedCountNeverExceedsItemsSent) {
  LoopbackCollector c;
  c.enqueue(Response::partial_success_proto(1000, "lying server"));
  OtlpHttpDestination d(settings_for(c));
  const auto r = d.deliver(payload("x", 4), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kPartial);
  EXPECT_EQ(r.rejected, 4u);
}

TEST(OtlpHttpDestination, ZeroRejectedWithMessageIsADeliveredWarning) {
  LoopbackCollector c;
  c.enqueue(Response::partial_success_proto(0, "attribute value truncated"));
  OtlpHttpDestination d(settings_for(c));
  const auto r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kDelivered);
  EXPECT_EQ(r.rejected, 0u);
  EXPECT_NE(r.message.find("warning: attribute value truncated"), std::string::npos) << r.message;
}

TEST(OtlpHttpDestination, UnreadableOrHugeSuccessBodiesStillMeanDelivered) {
  LoopbackCollector c;
  c.enqueue(Response::ok("\xff\xff\xff garbage", "application/x-protobuf"));
  c.enqueue(Response::ok(std::string(5u << 20, 'x'), "application/x-protobuf"));
  OtlpHttpDestination d(settings_for(c));
  auto r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kDelivered) << r.message;
  r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kDelivered) << r.message;
  EXPECT_NE(r.message.find("read limit"), std::string::npos) << r.message;
}

TEST(OtlpHttpDestination, RetryAfterIsKeptFor429And503Only) {
  LoopbackCollector c;
  c.enqueue(Response::retry_after(429, "12"));
  c.enqueue(Response::retry_after(503, "4"));
  c.enqueue(Response::retry_after(502, "9"));
  c.enqueue(Response::retry_after(429, "86400"));
  OtlpHttpOptions options;
  options.retry_after_cap = std::chrono::seconds(120);
  OtlpHttpDestination d(settings_for(c), options);
  auto r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kRetryable);
  EXPECT_EQ(r.retry_after, milliseconds(12000));
  r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.retry_after, milliseconds(4000));
  r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kRetryable);
  EXPECT_FALSE(r.retry_after);
  r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.retry_after, milliseconds(120000));  // capped
}

TEST(OtlpHttpDestination, FirstNFailuresThenSuccess) {
  LoopbackCollector c;
  c.fail_first(3, 503);
  OtlpHttpDestination d(settings_for(c));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(d.deliver(payload("x"), Deadline::none()).outcome, Outcome::kRetryable) << i;
  }
  EXPECT_EQ(d.deliver(payload("x"), Deadline::none()).outcome, Outcome::kDelivered);
  EXPECT_EQ(c.request_count(), 4u);
}

TEST(OtlpHttpDestination, ServerErrorMessageIsReadAndTruncated) {
  LoopbackCollector c;
  c.enqueue(Response::with_status(400, testing::encode_status_proto(3, "invalid trace id length"),
                                  "application/x-protobuf"));
  c.enqueue(
      Response::with_status(400, R"({"code":3,"message":"bad json payload"})", "application/json"));
  c.enqueue(Response::with_status(500, std::string(2000, 'e') + "TAIL", "text/plain"));
  OtlpHttpDestination d(settings_for(c));
  auto r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kPermanent);
  EXPECT_NE(r.message.find("HTTP 400 from " + c.url("/v1/traces") + ": invalid trace id length"),
            std::string::npos)
      << r.message;
  r = d.deliver(payload("x"), Deadline::none());
  EXPECT_NE(r.message.find("bad json payload"), std::string::npos) << r.message;
  r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.message.find("TAIL"), std::string::npos);
  EXPECT_LT(r.message.size(), 700u);
}

TEST(OtlpHttpDestination, ConnectionProblemsAreRetryable) {
  LoopbackCollector c;
  OtlpHttpDestination d(settings_for(c));
  // Hung server, cut by the request timeout.
  auto settings = settings_for(c);
  settings.timeout = milliseconds(200);
  OtlpHttpDestination short_timeout(settings);
  c.enqueue(Response::hang());
  auto r = short_timeout.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kRetryable) << r.message;
  EXPECT_FALSE(r.cancelled);  // a timeout, not the caller's deadline
  EXPECT_EQ(r.http_status, 0);
  // Reset mid-body.
  c.enqueue(Response::reset_mid_body());
  r = d.deliver(payload(std::string(1u << 20, 'r')), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kRetryable) << r.message;
  // Refused.
  c.stop();
  r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kRetryable) << r.message;
  EXPECT_TRUE(r.sent);
  // Back up on the same port: delivered again.
  ASSERT_TRUE(c.start());
  r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kDelivered) << r.message;
}

TEST(OtlpHttpDestination, ShutdownCancelCutsAHungDelivery) {
  LoopbackCollector c;
  auto settings = settings_for(c);
  settings.timeout = milliseconds(0);  // no request timeout: only the cancel can end it
  OtlpHttpDestination d(settings);
  c.enqueue(Response::hang());
  std::atomic<bool> cancel{false};
  std::thread shutdown([&] {
    c.wait_for_requests(1, kWait);
    cancel.store(true);
    d.interrupt();
  });
  const auto r = d.deliver(payload("x"), Deadline{SteadyClock::time_point::max(), &cancel});
  shutdown.join();
  EXPECT_EQ(r.outcome, Outcome::kRetryable);
  EXPECT_TRUE(r.cancelled);
  EXPECT_NE(r.message.find("cancelled"), std::string::npos) << r.message;
  EXPECT_LT(r.elapsed, milliseconds(10000));
}

TEST(OtlpHttpDestination, EmptyPayloadsAreNeverSent) {
  LoopbackCollector c;
  OtlpHttpDestination d(settings_for(c));
  const auto r = d.deliver(payload("", 0), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kDelivered);
  EXPECT_FALSE(r.sent);
  EXPECT_EQ(d.stats().attempts, 0u);
  EXPECT_EQ(c.connections_accepted(), 0u);
}

TEST(OtlpHttpDestination, UnsendableRequestsArePermanent) {
  LoopbackCollector c;
  OtlpHttpOptions options;
  options.transport.max_request_bytes = 100;
  OtlpHttpDestination d(settings_for(c), options);
  auto r = d.deliver(payload(std::string(101, 'x')), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kPermanent);
  EXPECT_FALSE(r.sent);
  EXPECT_NE(r.message.find("split the batch"), std::string::npos) << r.message;
  r = d.deliver(payload("x", 1, Signal::kLogs), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kPermanent);
  ExporterSettings none;
  OtlpHttpDestination unconfigured(none);
  EXPECT_EQ(unconfigured.deliver(payload("x"), Deadline::none()).outcome, Outcome::kPermanent);
  EXPECT_EQ(c.request_count(), 0u);
}

TEST(OtlpHttpDestination, EnvironmentSettingsReachTheWire) {
  LoopbackCollector c;
  const std::map<std::string, std::string, std::less<>> env = {
      {"OTEL_EXPORTER_OTLP_ENDPOINT", c.base_url() + "/otlp/"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme%20corp,api-key=k%3Dv"},
      {"OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"},
      {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"}};
  Options options;
  options.env = [&](std::string_view name) {
    auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto config = finalize(options);
  ASSERT_TRUE(config.ok()) << config.errors().front().to_string();
  auto d =
      make_otlp_http_destination(otlp::exporter_settings(Signal::kMetrics, config->otlp_metrics));
  EXPECT_EQ(d->description(), "otlp-http " + c.base_url() + "/otlp/v1/metrics");
  std::string json = R"({"resourceMetrics":[)";
  for (int i = 0; i < 500; ++i) json += R"({"scopeMetrics":[]},)";
  json += "{}]}";
  const auto r =
      d->deliver(payload(json, 500, Signal::kMetrics, ContentType::kJson), Deadline::after(kWait));
  ASSERT_EQ(r.outcome, Outcome::kDelivered) << r.message;
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
  const auto got = c.requests()[0];
  EXPECT_EQ(got.target, "/otlp/v1/metrics");
  EXPECT_EQ(got.header("content-type"), "application/json");
  EXPECT_EQ(got.header("content-encoding"), "gzip");
  EXPECT_EQ(got.header("x-tenant"), "acme corp");
  EXPECT_EQ(got.header("api-key"), "k=v");
  EXPECT_EQ(got.body, json);
  EXPECT_LT(d->stats().bytes_sent, json.size());
}

TEST(OtlpHttpDestination, KeepAliveAcrossDeliveries) {
  LoopbackCollector c;
  OtlpHttpDestination d(settings_for(c));
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(d.deliver(payload("batch-" + std::to_string(i)), Deadline::after(kWait)).outcome,
              Outcome::kDelivered);
  }
  EXPECT_EQ(d.stats().connections_opened, 1u);
  EXPECT_EQ(d.transport_stats().requests, 10u);
  std::set<std::uint64_t> ids;
  for (const auto& r : c.requests()) ids.insert(r.connection_id);
  EXPECT_EQ(ids.size(), 1u);
}

TEST(OtlpHttpDestination, CredentialsNeverAppearInMessages) {
  LoopbackCollector c;
  // A misbehaving server that echoes the request's credentials back.
  c.set_handler([](const testing::RecordedRequest& req) -> std::optional<Response> {
    const std::string auth = req.header("authorization").value_or("");
    const std::string bare = auth.substr(auth.find(' ') + 1);
    return Response::with_status(401, "bad credentials: " + auth + " (key " + bare + ")",
                                 "text/plain");
  });
  auto settings = settings_for(c);
  settings.headers = {{"Authorization", "Bearer dash0-s3cr3t-key"}};
  OtlpHttpDestination d(settings);
  auto r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.outcome, Outcome::kPermanent);
  EXPECT_NE(r.message.find("bad credentials"), std::string::npos) << r.message;
  EXPECT_EQ(r.message.find("s3cr3t"), std::string::npos) << r.message;
  c.stop();
  r = d.deliver(payload("x"), Deadline::none());
  EXPECT_EQ(r.message.find("s3cr3t"), std::string::npos) << r.message;
  EXPECT_EQ(d.description().find("s3cr3t"), std::string::npos);
}

// The pipeline thread delivers while another thread reads stats and a third
// eventually cancels: the only cross-thread uses the interface allows.
TEST(OtlpHttpDestination, StatsAndCancelFromOtherThreads) {
  LoopbackCollector c;
  OtlpHttpDestination d(settings_for(c));
  std::atomic<bool> cancel{false};
  std::atomic<bool> done{false};
  std::thread reader([&] {
    for (int i = 0; i < 200000 && !done.load(); ++i) {
      const auto s = d.stats();
      EXPECT_LE(s.delivered + s.retryable, 51u);
      std::this_thread::yield();
    }
  });
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(d.deliver(payload("x"), Deadline{SteadyClock::time_point::max(), &cancel}).outcome,
              Outcome::kDelivered);
  }
  c.enqueue(Response::hang());
  std::thread canceller([&] {
    c.wait_for_requests(51, kWait);
    cancel = true;
    d.interrupt();
  });
  const auto r = d.deliver(payload("x"), Deadline{SteadyClock::time_point::max(), &cancel});
  EXPECT_EQ(r.outcome, Outcome::kRetryable);
  canceller.join();
  done = true;
  reader.join();
  EXPECT_EQ(d.stats().delivered, 50u);
  EXPECT_EQ(d.stats().retryable, 1u);
}

}  // namespace
}  // namespace emp::telemetry::deliver
