// The errors track end to end on loopback: what the client sends (parsed by
// the official Python SDK and compared field by field) and how it behaves
// against each answer a Sentry server gives.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

#include "sentry/rate_limits.hpp"
#include "sentry/transactions.hpp"
#include "sentry_support.hpp"
#include "trace/ids.hpp"

namespace emp::telemetry::sentry_test {
namespace {

using testing::LoopbackCollector;
using testing::Response;
using namespace std::chrono_literals;

[[gnu::noinline]] void load_model() {
  try {
    throw std::runtime_error("CUDA out of memory");
  } catch (...) {
    std::throw_with_nested(std::logic_error("model load failed"));
  }
}

Response with_limits(int status, std::string limits) {
  Response r = Response::with_status(status, "{}", "application/json");
  r.headers.emplace_back("X-Sentry-Rate-Limits", std::move(limits));
  return r;
}

TEST(SentryEvents, EnvelopesParsedByTheOfficialSdkCarryEverything) {
  Dir dir;
  LoopbackCollector sentry;
  auto client = make_client(dir.path(), dsn_for(sentry));
  ASSERT_TRUE(client) << client.errors()[0].to_string();
  Client& t = client.value();

  t.log().warn("GPU memory is low", {{"free_mb", 512}});
  t.log().info("not a breadcrumb");
  t.errors().add_breadcrumb({"default", "job", "claimed job-1", ErrorLevel::kInfo, {{"k", "v"}}});
  {
    Span failed = t.tracer().start_span("model.download");
    failed.set_status(StatusCode::kError, "HTTP 503");
  }
  EventId exception_id;
  SpanContext span_context;
  {
    Span span = t.tracer().start_span("job.process");
    span_context = span.context();
    Scope active(span);
    auto pushed = t.errors().push_scope(ErrorScope().tag("queue", "gpu").tag("job_id", "pushed"));
    try {
      load_model();
    } catch (const std::exception& e) {
      exception_id =
          t.errors().capture_exception(e, ErrorScope()
                                              .tag("job_id", "job-1")
                                              .context("job", {{"type", "image_generation"}})
                                              .with_fingerprint({"model-load"})
                                              .with_user({"u-7", "ada", "", ""}));
    }
  }
  const EventId message_id = t.errors().capture_message("queue is draining", ErrorLevel::kWarning);
  ASSERT_FALSE(exception_id.empty());
  ASSERT_FALSE(message_id.empty());
  ASSERT_TRUE(t.flush(10s));

  const auto requests = sentry.requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const auto& r : requests) {
    EXPECT_EQ(r.target, "/api/42/envelope/");
    EXPECT_TRUE(r.gzip);
    EXPECT_EQ(r.header("content-type").value_or(""), "application/x-sentry-envelope");
    const std::string auth = r.header("x-sentry-auth").value_or("");
    EXPECT_NE(auth.find("sentry_version=7"), std::string::npos) << auth;
    EXPECT_NE(auth.find(std::string("sentry_key=") + kKey), std::string::npos) << auth;
    EXPECT_NE(auth.find("sentry_client=emp-telemetry/"), std::string::npos) << auth;
  }
  const auto envelopes = parse_envelopes(requests, dir.path());
  const auto events = items_of(envelopes, "event");
  ASSERT_EQ(events.size(), 2u);
  const json* ex = nullptr;
  const json* msg = nullptr;
  for (const json& e : events) (e.contains("exception") ? ex : msg) = &e;
  ASSERT_NE(ex, nullptr);
  ASSERT_NE(msg, nullptr);
  for (const json& env : envelopes)
    EXPECT_EQ(env["headers"]["event_id"], env["items"][0]["payload"]["event_id"]);

  const json& e = *ex;
  EXPECT_EQ(e["event_id"], exception_id.str());
  EXPECT_EQ(e["level"], "error");
  EXPECT_EQ(e["platform"], "native");
  EXPECT_EQ(e["release"], "1.2.3");
  EXPECT_EQ(e["environment"], "development");
  EXPECT_EQ(e["server_name"], "m1");
  EXPECT_EQ(e["sdk"]["name"], "emp-telemetry");
  EXPECT_TRUE(e["timestamp"].is_number());
  const json& values = e["exception"]["values"];
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0]["type"], "std::runtime_error");
  EXPECT_EQ(values[0]["value"], "CUDA out of memory");
  EXPECT_EQ(values[1]["type"], "std::logic_error");
  EXPECT_EQ(values[1]["value"], "model load failed");
  EXPECT_EQ(values[1]["mechanism"]["handled"], true);
  const json& frames = values[1]["stacktrace"]["frames"];
  ASSERT_GE(frames.size(), 2u);
  bool test_frame = false;
  for (const json& f : frames) {
    EXPECT_EQ(f["instruction_addr"].get<std::string>().rfind("0x", 0), 0u);
    const std::string fn = f.value("function", "");
    if (fn.find("EnvelopesParsedByTheOfficialSdkCarryEverything") != std::string::npos) {
      test_frame = true;
      EXPECT_EQ(f["in_app"], true);
    }
  }
  EXPECT_TRUE(test_frame) << frames.dump(1);
  // The newest frame (last) is the capturing test body, not the library.
  EXPECT_NE(frames.back().value("function", "").find("EnvelopesParsedByTheOfficialSdk"),
            std::string::npos)
      << frames.back().dump();
  ASSERT_FALSE(e["debug_meta"]["images"].empty());
  for (const json& img : e["debug_meta"]["images"]) {
    EXPECT_EQ(img["type"], "elf");
    EXPECT_FALSE(img.value("code_id", "").empty()) << img.dump();
  }
  EXPECT_EQ(e["contexts"]["trace"]["trace_id"], span_context.trace_id.to_hex());
  EXPECT_EQ(e["contexts"]["trace"]["span_id"], span_context.span_id.to_hex());
  EXPECT_EQ(e["contexts"]["job"]["type"], "image_generation");
  EXPECT_EQ(e["tags"]["job_id"], "job-1");  // the call's scope wins
  EXPECT_EQ(e["tags"]["queue"], "gpu");     // the pushed scope
  EXPECT_EQ(e["tags"]["service_name"], "sentry-test");
  EXPECT_EQ(e["tags"]["service_type"], "worker");
  EXPECT_EQ(e["tags"]["machine_id"], "m1");
  EXPECT_EQ(e["fingerprint"], json::array({"model-load"}));
  EXPECT_EQ(e["user"]["id"], "u-7");
  EXPECT_EQ(e["user"]["username"], "ada");
  const json& crumbs = e["breadcrumbs"]["values"];
  bool warn_crumb = false, manual_crumb = false, span_crumb = false;
  for (const json& b : crumbs) {
    EXPECT_NE(b.value("message", ""), "not a breadcrumb");
    if (b.value("message", "") == "GPU memory is low") {
      warn_crumb = true;
      EXPECT_EQ(b["level"], "warning");
      EXPECT_EQ(b["category"], "log");
      EXPECT_EQ(b["data"]["free_mb"], "512");
    }
    if (b.value("message", "") == "claimed job-1") manual_crumb = true;
    if (b.value("message", "") == "span model.download ended in error: HTTP 503") {
      span_crumb = true;
      EXPECT_EQ(b["category"], "span");
      EXPECT_EQ(b["level"], "error");
      EXPECT_EQ(b["data"]["trace_id"].get<std::string>().size(), 32u);
    }
  }
  EXPECT_TRUE(warn_crumb) << crumbs.dump(1);
  EXPECT_TRUE(manual_crumb) << crumbs.dump(1);
  EXPECT_TRUE(span_crumb) << crumbs.dump(1);

  EXPECT_EQ((*msg)["event_id"], message_id.str());
  EXPECT_EQ((*msg)["level"], "warning");
  EXPECT_EQ((*msg)["message"]["formatted"], "queue is draining");
  EXPECT_FALSE((*msg)["threads"]["values"][0]["stacktrace"]["frames"].empty());
  EXPECT_FALSE((*msg)["contexts"].contains("trace"));  // no span was active
  EXPECT_EQ((*msg)["tags"].value("queue", ""), "");    // the pushed scope had ended

  // The span points back at the event.
  ASSERT_TRUE(t.shutdown(10s));
  std::ifstream spans(dir.path() / "otlp-traces.jsonl");
  const std::string all((std::istreambuf_iterator<char>(spans)), {});
  EXPECT_NE(all.find("sentry.event_id"), std::string::npos);
  EXPECT_NE(all.find(exception_id.str()), std::string::npos);

  const DestinationHealth h = sentry_health(t);
  EXPECT_EQ(h.delivered, 2u);
  EXPECT_EQ(h.track, Track::kErrors);
}

TEST(SentryEvents, BeforeSendChangesOrDropsAndSampleRateZeroSendsNothing) {
  Dir dir;
  LoopbackCollector sentry;
  {
    auto client = make_client(dir.path(), dsn_for(sentry));
    ASSERT_TRUE(client);
    Client& t = client.value();
    t.errors().set_before_send([](ErrorEvent& e) {
      if (e.message == "drop me") return false;
      e.scope.tag("scrubbed", "yes");
      return true;
    });
    t.errors().capture_message("drop me");
    t.errors().capture_message("keep me");
    ASSERT_TRUE(t.flush(10s));
    const auto envelopes = parse_envelopes(sentry.requests(), dir.path());
    const auto events = items_of(envelopes, "event");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0]["message"]["formatted"], "keep me");
    EXPECT_EQ(events[0]["tags"]["scrubbed"], "yes");
    const auto reports = items_of(envelopes, "client_report");
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(discarded(reports[0], "before_send", "error"), 1u);
    EXPECT_EQ(
        t.health().track(Track::kErrors).dropped[static_cast<std::size_t>(DropReason::kRejected)],
        1u);
  }
  sentry.clear();
  {
    auto client = make_client(dir.path(), dsn_for(sentry), {{"SENTRY_SAMPLE_RATE", "0"}});
    ASSERT_TRUE(client);
    Client& t = client.value();
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(t.errors().capture_message("sampled").empty());
    ASSERT_TRUE(t.flush(10s));
    EXPECT_EQ(sentry.request_count(), 0u);
    ASSERT_TRUE(t.shutdown(10s));  // reports with no event to ride on go at shutdown
    EXPECT_EQ(
        t.health().track(Track::kErrors).dropped[static_cast<std::size_t>(DropReason::kSampledOut)],
        5u);
    // Only the report of what was sampled out reaches the server.
    const auto envelopes = parse_envelopes(sentry.requests(), dir.path());
    EXPECT_TRUE(items_of(envelopes, "event").empty());
    const auto reports = items_of(envelopes, "client_report");
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(discarded(reports[0], "sample_rate", "error"), 5u);
  }
}

TEST(SentryAnswers, RateLimitedCategoryIsNotRetriedIntoTheLimitAndReportedAfter) {
  Dir dir;
  LoopbackCollector sentry;
  // 4 s: long enough that the captures "inside the limit" fall inside it even
  // on a loaded machine.
  sentry.enqueue(with_limits(429, "4:error:organization:quota_exceeded"));
  auto client = make_client(dir.path(), dsn_for(sentry));
  ASSERT_TRUE(client);
  Client& t = client.value();
  t.errors().capture_message("first");
  ASSERT_TRUE(t.flush(10s));
  ASSERT_EQ(sentry.request_count(), 1u);
  for (int i = 0; i < 3; ++i) t.errors().capture_message("inside the limit");
  t.flush(10s);
  // Dropped here without a request, not retried.
  EXPECT_EQ(sentry.request_count(), 1u);
  DestinationHealth h = sentry_health(t);
  EXPECT_EQ(dropped(h, DropReason::kRateLimited), 4u);
  EXPECT_EQ(h.retried, 0u);
  std::this_thread::sleep_for(4200ms);  // the limit (4 s) passes
  t.errors().capture_message("after the limit");
  ASSERT_TRUE(t.flush(10s));
  const auto requests = sentry.requests();
  ASSERT_EQ(requests.size(), 2u);
  const auto envelopes = parse_envelopes({requests[1]}, dir.path());
  ASSERT_EQ(envelopes.size(), 1u);
  const auto events = items_of(envelopes, "event");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["message"]["formatted"], "after the limit");
  const auto reports = items_of(envelopes, "client_report");
  ASSERT_EQ(reports.size(), 1u);
  // The server counted the one it refused itself; the client reports the 3
  // it never sent.
  EXPECT_EQ(discarded(reports[0], "ratelimit_backoff", "error"), 3u);
  EXPECT_TRUE(reports[0]["timestamp"].is_number());
}

TEST(SentryAnswers, LimitOnAnotherCategoryDoesNotStopEvents) {
  Dir dir;
  LoopbackCollector sentry;
  sentry.enqueue(with_limits(200, "60:transaction;session:organization"));
  auto client = make_client(dir.path(), dsn_for(sentry));
  ASSERT_TRUE(client);
  Client& t = client.value();
  t.errors().capture_message("one");
  ASSERT_TRUE(t.flush(10s));
  t.errors().capture_message("two");
  ASSERT_TRUE(t.flush(10s));
  EXPECT_EQ(sentry.request_count(), 2u);
  EXPECT_EQ(sentry_health(t).delivered, 2u);
}

TEST(SentryAnswers, TooManyRequestsWithoutTheHeaderHonoursRetryAfter) {
  Dir dir;
  LoopbackCollector sentry;
  sentry.enqueue(Response::retry_after(429, "4"));  // 4 s: see above
  auto client = make_client(dir.path(), dsn_for(sentry));
  ASSERT_TRUE(client);
  Client& t = client.value();
  t.errors().capture_message("refused");
  ASSERT_TRUE(t.flush(10s));
  t.errors().capture_message("inside Retry-After");
  t.flush(10s);
  EXPECT_EQ(sentry.request_count(), 1u);
  EXPECT_EQ(dropped(sentry_health(t), DropReason::kRateLimited), 2u);
  std::this_thread::sleep_for(4200ms);
  t.errors().capture_message("later");
  ASSERT_TRUE(t.flush(10s));
  EXPECT_EQ(sentry.request_count(), 2u);
  EXPECT_EQ(sentry_health(t).delivered, 1u);
}

TEST(SentryAnswers, TooLargeAndUnauthorizedAreDroppedNotRetriedAndReported) {
  Dir dir;
  LoopbackCollector sentry;
  sentry.enqueue(Response::with_status(413, "too large"));
  sentry.enqueue(Response::with_status(401, "bad key"));
  auto client = make_client(dir.path(), dsn_for(sentry));
  ASSERT_TRUE(client);
  Client& t = client.value();
  t.errors().capture_message("big");
  ASSERT_TRUE(t.flush(10s));
  t.errors().capture_message("unauthorized");
  ASSERT_TRUE(t.flush(10s));
  EXPECT_EQ(sentry.request_count(), 2u);
  DestinationHealth h = sentry_health(t);
  EXPECT_EQ(dropped(h, DropReason::kTooLarge), 1u);
  EXPECT_EQ(dropped(h, DropReason::kRejected), 1u);
  EXPECT_EQ(h.retried, 0u);
  EXPECT_NE(h.last_error.find("401"), std::string::npos) << h.last_error;
  EXPECT_EQ(h.last_error.find(kKey), std::string::npos) << h.last_error;
  t.errors().capture_message("accepted");
  ASSERT_TRUE(t.flush(10s));
  const auto requests = sentry.requests();
  ASSERT_EQ(requests.size(), 3u);
  // The 413's report went with the 401 (and was lost with it) or comes now;
  // either way the accepted envelope reports what the server refused since.
  const auto envelopes = parse_envelopes({requests[2]}, dir.path());
  const auto reports = items_of(envelopes, "client_report");
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_GE(discarded(reports[0], "send_error", "error"), 1u);
}

TEST(SentryAnswers, NetworkFailuresAreRetriedUntilDelivered) {
  Dir dir;
  LoopbackCollector sentry;
  sentry.enqueue(Response::reset_mid_body());
  sentry.enqueue(Response::close());
  auto client = make_client(dir.path(), dsn_for(sentry));
  ASSERT_TRUE(client);
  Client& t = client.value();
  const EventId id = t.errors().capture_message("through a bad network");
  ASSERT_TRUE(t.flush(20s));
  const DestinationHealth h = sentry_health(t);
  EXPECT_EQ(h.delivered, 1u);
  EXPECT_GE(h.retried, 2u);
  const auto requests = sentry.requests();
  ASSERT_GE(requests.size(), 3u);
  const auto envelopes = parse_envelopes({requests.back()}, dir.path());
  const auto events = items_of(envelopes, "event");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["event_id"], id.str());
}

TEST(SentryAnswers, OfflineEventsWaitInTheSpoolForTheNextStart) {
  Dir dir;
  LoopbackCollector sentry;
  const std::string dsn = dsn_for(sentry);
  sentry.stop();  // refuses connections
  EventId id;
  {
    auto client = make_client(dir.path(), dsn, {{"EMP_SPOOL_ENABLED", "true"}});
    ASSERT_TRUE(client);
    Client& t = client.value();
    id = t.errors().capture_message("written while offline");
    t.flush(1s);
    ASSERT_TRUE(t.shutdown(5s));
    EXPECT_EQ(sentry_health(t).spooled, 1u);
  }
  ASSERT_TRUE(sentry.start());
  auto client = make_client(dir.path(), dsn, {{"EMP_SPOOL_ENABLED", "true"}});
  ASSERT_TRUE(client);
  Client& t = client.value();
  ASSERT_TRUE(t.flush(10s));
  const auto envelopes = parse_envelopes(sentry.requests(), dir.path());
  const auto events = items_of(envelopes, "event");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["event_id"], id.str());
  EXPECT_EQ(t.health().track(Track::kErrors).recovered, 1u);
}

TEST(SentryAnswers, HangingEndpointCannotHoldShutdownAndTheEventIsSentNextStart) {
  Dir dir;
  LoopbackCollector sentry;
  sentry.enqueue(Response::hang());
  const std::string dsn = dsn_for(sentry);
  EventId id;
  {
    auto client = make_client(dir.path(), dsn, {{"EMP_SPOOL_ENABLED", "true"}});
    ASSERT_TRUE(client);
    Client& t = client.value();
    id = t.errors().capture_message("sent into a hang");
    EXPECT_FALSE(t.flush(500ms));  // the request hangs
    const auto started = std::chrono::steady_clock::now();
    t.shutdown(2s);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);  // bounded, not a timing claim
    const DestinationHealth h = sentry_health(t);
    // The cut request's event went to the spool (the offline cache).
    ASSERT_EQ(h.spooled, 1u);
    EXPECT_EQ(dropped(h, DropReason::kShutdown), 0u);
  }
  sentry.clear();
  auto client = make_client(dir.path(), dsn, {{"EMP_SPOOL_ENABLED", "true"}});
  ASSERT_TRUE(client);
  ASSERT_TRUE(client.value().flush(10s));
  const auto events = items_of(parse_envelopes(sentry.requests(), dir.path()), "event");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["event_id"], id.str());
}

TEST(SentryAnswers, CapturesFromManyThreadsAllArrive) {
  Dir dir;
  LoopbackCollector sentry;
  auto client = make_client(dir.path(), dsn_for(sentry));
  ASSERT_TRUE(client);
  Client& t = client.value();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&t, i] {
      for (int k = 0; k < 10; ++k) {
        try {
          throw std::out_of_range("thread " + std::to_string(i));
        } catch (...) {
          t.errors().capture_exception(std::current_exception());
        }
        t.errors().add_breadcrumb({"default", "loop", "k", ErrorLevel::kDebug, {}});
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(t.flush(20s));
  EXPECT_EQ(sentry_health(t).delivered, 40u);
  const auto events = items_of(parse_envelopes(sentry.requests(), dir.path()), "event");
  ASSERT_EQ(events.size(), 40u);
  for (const json& e : events) EXPECT_EQ(e["exception"]["values"][0]["type"], "std::out_of_range");
}

TEST(RateLimitHeader, ParsesMembersCategoriesAndSkipsMalformedOnes) {
  const auto limits =
      sentry::parse_rate_limits("60:error;transaction:key, 2.5::organization:quota, x:error, 10");
  ASSERT_EQ(limits.size(), 3u);
  EXPECT_EQ(limits[0].retry_after, 60s);
  EXPECT_EQ(limits[0].categories, (std::vector<std::string>{"error", "transaction"}));
  EXPECT_EQ(limits[1].retry_after, 2500ms);
  EXPECT_TRUE(limits[1].categories.empty());
  EXPECT_EQ(limits[1].reason, "quota");
  EXPECT_EQ(limits[2].retry_after, 10s);
  EXPECT_EQ(sentry::parse_rate_limits("999999999:error", std::chrono::seconds(3600))[0].retry_after,
            3600s);
  EXPECT_TRUE(sentry::parse_rate_limits("-1:error").empty());
  EXPECT_TRUE(sentry::parse_rate_limits("").empty());

  sentry::RateLimits rl;
  const auto now = sentry::RateLimits::Clock::now();
  rl.update(200, std::string("60:transaction"), std::nullopt, now);
  EXPECT_FALSE(rl.limited("error", now));
  EXPECT_TRUE(rl.limited("transaction", now));
  rl.update(429, std::nullopt, std::nullopt, now);  // 60 s for everything
  EXPECT_TRUE(rl.limited("error", now + 59s));
  EXPECT_FALSE(rl.limited("error", now + 61s));
}

TEST(SentryTransactions, LocalRootWithTwoChildrenIsOneTransactionOfTheSameTrace) {
  Dir dir;
  LoopbackCollector sentry;
  auto client = make_client(dir.path(), dsn_for(sentry), {{"SENTRY_TRACES_SAMPLE_RATE", "1.0"}});
  ASSERT_TRUE(client) << client.errors()[0].to_string();
  Client& t = client.value();
  std::string trace_id, root_id;
  {
    Span root = t.tracer().start_span("job.process", {.kind = SpanKind::kConsumer},
                                      {{"job.id", "job-tx-1"}});
    trace_id = root.context().trace_id.to_hex();
    root_id = root.context().span_id.to_hex();
    Scope scope(root);
    t.tracer().start_span("process.download_model").end();
    Span gen = t.tracer().start_span("process.image_generation");
    gen.set_status(StatusCode::kError, "CUDA out of memory");
    gen.end();
  }
  ASSERT_TRUE(t.flush(10s));
  const auto envelopes = parse_envelopes(sentry.requests(), dir.path());
  const json* envelope = nullptr;
  for (const auto& e : envelopes)
    for (const auto& item : e["items"])
      if (item["type"] == "transaction") envelope = &e;
  ASSERT_NE(envelope, nullptr) << json(envelopes).dump();
  const json& dsc = (*envelope)["headers"]["trace"];
  EXPECT_EQ(dsc["trace_id"], trace_id);
  EXPECT_EQ(dsc["public_key"], kKey);
  EXPECT_EQ(dsc["sampled"], "true");
  EXPECT_EQ(dsc["sample_rate"], "1");
  EXPECT_EQ(dsc["release"], "1.2.3");
  const json& tx = (*envelope)["items"][0]["payload"];
  EXPECT_EQ(tx["type"], "transaction");
  EXPECT_EQ(tx["transaction"], "job.process");
  EXPECT_EQ(tx["contexts"]["trace"]["trace_id"], trace_id);
  EXPECT_EQ(tx["contexts"]["trace"]["span_id"], root_id);
  EXPECT_EQ(tx["contexts"]["trace"]["op"], "queue.process");
  EXPECT_EQ(tx["contexts"]["trace"]["data"]["job.id"], "job-tx-1");
  EXPECT_LE(tx["start_timestamp"].get<double>(), tx["timestamp"].get<double>());
  ASSERT_EQ(tx["spans"].size(), 2u) << tx.dump();
  std::map<std::string, json> spans;
  for (const auto& s : tx["spans"]) spans[s["description"]] = s;
  for (const auto& [name, s] : spans) {
    EXPECT_EQ(s["trace_id"], trace_id) << name;
    EXPECT_EQ(s["parent_span_id"], root_id) << name;
    EXPECT_LE(s["start_timestamp"].get<double>(), s["timestamp"].get<double>()) << name;
  }
  EXPECT_EQ(spans["process.download_model"]["status"], "ok");
  EXPECT_EQ(spans["process.image_generation"]["status"], "internal_error");
  bool health = false;
  for (const auto& d : t.health().destinations) {
    if (d.name.find("(transactions)") == std::string::npos) continue;
    health = true;
    EXPECT_EQ(d.delivered, 1u);
  }
  EXPECT_TRUE(health);
}

TEST(SentryTransactions, TracesAreSampledByTraceIdTheSameWayEverywhere) {
  encode::otlp::TraceId low{}, high{};
  for (std::size_t i = 8; i < 16; ++i) high[i] = 0xff;
  low[15] = 1;
  EXPECT_TRUE(sentry::trace_sampled(low, 0.5));
  EXPECT_FALSE(sentry::trace_sampled(high, 0.5));
  EXPECT_TRUE(sentry::trace_sampled(high, 1.0));
  EXPECT_FALSE(sentry::trace_sampled(low, 0.0));
  // About the rate of random ids.
  int kept = 0;
  for (int i = 0; i < 10000; ++i) {
    encode::otlp::TraceId id{};
    const auto t = trace::new_trace_id();
    std::memcpy(id.data(), t.bytes().data(), 16);
    kept += sentry::trace_sampled(id, 0.25);
  }
  EXPECT_GT(kept, 2000);
  EXPECT_LT(kept, 3000);
}

}  // namespace
}  // namespace emp::telemetry::sentry_test
