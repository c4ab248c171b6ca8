// HttpTransport against the loopback collector: keep-alive, gzip, headers,
// Retry-After, response cap, timeouts, deadlines and cancellation, refused
// and reset connections.
#include "deliver/http_transport.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <ctime>
#include <set>
#include <thread>

#include "support/loopback_collector.hpp"

namespace emp::telemetry::deliver {
namespace {

using std::chrono::milliseconds;
using testing::LoopbackCollector;
using testing::Response;
constexpr milliseconds kWait{5000};
// Generous bound proving that a call returned because of a cut and not
// because something else eventually gave up (the server would hang forever).
constexpr milliseconds kPrompt{10000};

HttpRequest make_request(const LoopbackCollector& c, std::string_view body,
                         std::string path = "/v1/traces") {
  HttpRequest r;
  r.url = c.url(path);
  r.body = body;
  r.timeout = milliseconds(5000);
  return r;
}

TEST(HttpTransport, TenRequestsReuseOneKeptAliveConnection) {
  LoopbackCollector c;
  HttpTransport t;
  const std::string body = "payload";
  for (int i = 0; i < 10; ++i) {
    const auto r = t.post(make_request(c, body));
    ASSERT_EQ(r.status, 200) << r.error_message;
    EXPECT_EQ(r.error, TransportError::kNone);
    EXPECT_TRUE(r.attempted);
    EXPECT_EQ(r.connection_reused, i > 0) << i;
  }
  ASSERT_TRUE(c.wait_for_requests(10, kWait));
  std::set<std::uint64_t> ids;
  for (const auto& req : c.requests()) ids.insert(req.connection_id);
  EXPECT_EQ(ids.size(), 1u);  // the server saw one connection
  EXPECT_EQ(c.connections_accepted(), 1u);
  const auto stats = t.stats();
  EXPECT_EQ(stats.requests, 10u);
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.failures, 0u);
  EXPECT_EQ(stats.bytes_sent, 10 * body.size());
}

TEST(HttpTransport, GzipBodyDecodedByServerEqualsOriginal) {
  LoopbackCollector c;
  HttpTransport t;
  std::string original;
  for (int i = 0; i < 5000; ++i) original += "span-" + std::to_string(i) + ";";
  auto req = make_request(c, original);
  req.gzip = true;
  const auto r = t.post(req);
  ASSERT_EQ(r.status, 200) << r.error_message;
  EXPECT_LT(r.bytes_sent, original.size());
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
  const auto got = c.requests()[0];
  EXPECT_TRUE(got.gzip);
  EXPECT_FALSE(got.decode_error);
  EXPECT_EQ(got.header("content-encoding"), "gzip");
  EXPECT_NE(got.wire_body, original);
  EXPECT_EQ(got.body, original);
}

TEST(HttpTransport, HeadersArriveAndExpectIsNotSent) {
  LoopbackCollector c;
  HttpTransport t;
  const std::string big(200000, 'x');  // large enough that curl would use 100-continue
  auto req = make_request(c, big, "/v1/logs");
  req.content_type = "application/json";
  req.headers = {{"Authorization", "Bearer abc"}, {"X-Tenant", "t1"}, {"X-Empty", ""}};
  const auto r = t.post(req);
  ASSERT_EQ(r.status, 200) << r.error_message;
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
  const auto got = c.requests()[0];
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.target, "/v1/logs");
  EXPECT_EQ(got.header("authorization"), "Bearer abc");
  EXPECT_EQ(got.header("x-tenant"), "t1");
  EXPECT_EQ(got.header("x-empty"), "");
  EXPECT_EQ(got.header("content-type"), "application/json");
  EXPECT_EQ(got.header("content-length"), std::to_string(big.size()));
  EXPECT_FALSE(got.header("expect"));
  EXPECT_FALSE(got.header("content-encoding"));
  EXPECT_EQ(got.header("user-agent"), "emp-telemetry/0.1.0");
  EXPECT_EQ(got.body, big);
}

TEST(HttpTransport, RetryAfterSecondsAndHttpDate) {
  LoopbackCollector c;
  HttpTransport t;
  c.enqueue(Response::retry_after(429, "7"));
  // An HTTP-date 30 s ahead; by the time it is parsed it is 28..30 s away.
  const std::time_t later = std::time(nullptr) + 30;
  char date[64];
  std::tm tm{};
  gmtime_r(&later, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  c.enqueue(Response::retry_after(503, date));
  c.enqueue(Response::retry_after(503, "100000"));
  c.enqueue(Response::retry_after(503, "garbage"));

  auto r = t.post(make_request(c, "a"));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.retry_after, milliseconds(7000));
  r = t.post(make_request(c, "b"));
  EXPECT_EQ(r.status, 503);
  ASSERT_TRUE(r.retry_after);
  EXPECT_GE(*r.retry_after, milliseconds(25000));
  EXPECT_LE(*r.retry_after, milliseconds(30000));
  auto capped = make_request(c, "c");
  capped.retry_after_cap = std::chrono::seconds(60);
  r = t.post(capped);
  EXPECT_EQ(r.retry_after, milliseconds(60000));
  r = t.post(make_request(c, "d"));
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(r.retry_after);
  r = t.post(make_request(c, "e"));  // 200 without the header
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.retry_after);
}

TEST(HttpTransport, ResponseBodyIsCappedAt4MiB) {
  LoopbackCollector c;
  HttpTransport t;
  c.enqueue(Response::ok(std::string((4u << 20) + 4096, 'r'), "text/plain"));
  auto r = t.post(make_request(c, "x"));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.body.size(), 4u << 20);
  EXPECT_NE(r.error_message.find("exceeded 4 MiB"), std::string::npos) << r.error_message;
  // Exactly at the cap is not truncated, and the transport still works.
  c.enqueue(Response::ok(std::string(4u << 20, 's'), "text/plain"));
  r = t.post(make_request(c, "y"));
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(r.body.size(), 4u << 20);
  EXPECT_EQ(r.content_type, "text/plain");
}

TEST(HttpTransport, HungServerReturnsByTheRequestTimeout) {
  LoopbackCollector c;
  HttpTransport t;
  c.enqueue(Response::hang());
  auto req = make_request(c, "x");
  req.timeout = milliseconds(300);
  const auto r = t.post(req);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, TransportError::kTimeout) << r.error_message;
  EXPECT_LT(r.elapsed, kPrompt);
  EXPECT_EQ(t.stats().failures, 1u);
  // The next request gets a fresh connection and an answer.
  const auto next = t.post(make_request(c, "y"));
  EXPECT_EQ(next.status, 200) << next.error_message;
  EXPECT_FALSE(next.connection_reused);
}

TEST(HttpTransport, AcceptButNeverReadIsCutByTheTimeout) {
  LoopbackCollector c;
  c.set_accept_mode(testing::AcceptMode::kHang);
  HttpTransport t;
  const std::string big(8u << 20, 'b');  // more than the socket buffers hold
  auto req = make_request(c, big);
  req.timeout = milliseconds(300);
  const auto r = t.post(req);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, TransportError::kTimeout) << r.error_message;
}

TEST(HttpTransport, DeadlineCutsAHungRequestWithoutTimeout) {
  LoopbackCollector c;
  HttpTransport t;
  c.enqueue(Response::hang());
  auto req = make_request(c, "x");
  req.timeout = milliseconds(0);  // no request timeout at all
  req.deadline = Deadline::after(milliseconds(200));
  const auto r = t.post(req);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, TransportError::kCancelled) << r.error_message;
  EXPECT_NE(r.error_message.find("deadline"), std::string::npos) << r.error_message;
  EXPECT_LT(r.elapsed, kPrompt);
}

TEST(HttpTransport, CancelFlagFromAnotherThreadCutsAHungRequest) {
  LoopbackCollector c;
  HttpTransport t;
  c.enqueue(Response::hang());
  std::atomic<bool> cancel{false};
  auto req = make_request(c, "x");
  req.timeout = milliseconds(0);
  req.deadline = Deadline{SteadyClock::time_point::max(), &cancel};
  std::thread canceller([&] {
    // Cancel once the server holds the request (bounded wait).
    c.wait_for_requests(1, kWait);
    cancel.store(true, std::memory_order_release);
    t.interrupt();
  });
  const auto r = t.post(req);
  canceller.join();
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, TransportError::kCancelled) << r.error_message;
  EXPECT_NE(r.error_message.find("cancelled"), std::string::npos) << r.error_message;
  EXPECT_LT(r.elapsed, kPrompt);
}

TEST(HttpTransport, ExpiredDeadlineSendsNothing) {
  LoopbackCollector c;
  HttpTransport t;
  auto req = make_request(c, "x");
  req.deadline = Deadline::after(milliseconds(0));
  const auto r = t.post(req);
  EXPECT_EQ(r.error, TransportError::kCancelled);
  EXPECT_FALSE(r.attempted);
  EXPECT_EQ(t.stats().requests, 0u);
  EXPECT_EQ(c.connections_accepted(), 0u);
}

TEST(HttpTransport, TrickledResponseIsCutByTheDeadline) {
  LoopbackCollector c;
  HttpTransport t;
  c.enqueue(Response::trickle(200, std::string(100, 't'), milliseconds(50)));
  auto req = make_request(c, "x");
  req.timeout = milliseconds(0);
  req.deadline = Deadline::after(milliseconds(300));
  const auto r = t.post(req);
  EXPECT_EQ(r.status, 0);  // an answer we stopped reading is no answer
  EXPECT_EQ(r.error, TransportError::kCancelled) << r.error_message;
}

TEST(HttpTransport, RefusedConnectionIsAConnectError) {
  LoopbackCollector c;
  const std::string url = c.url("/v1/traces");
  c.stop();
  HttpTransport t;
  HttpRequest req;
  req.url = url;
  req.body = "x";
  const auto r = t.post(req);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, TransportError::kConnect) << r.error_message;
  EXPECT_TRUE(r.attempted);
  EXPECT_NE(r.error_message.find("POST " + url), std::string::npos) << r.error_message;
}

TEST(HttpTransport, ServerRestartOnTheSamePortIsSurvived) {
  LoopbackCollector c;
  HttpTransport t;
  ASSERT_EQ(t.post(make_request(c, "before")).status, 200);
  ASSERT_TRUE(c.restart());  // kills the kept-alive connection
  const auto r = t.post(make_request(c, "after"));
  EXPECT_EQ(r.status, 200) << r.error_message;
  EXPECT_EQ(t.stats().connections_opened, 2u);
  ASSERT_TRUE(c.wait_for_requests(2, kWait));
  const auto reqs = c.requests();
  EXPECT_NE(reqs[0].connection_id, reqs[1].connection_id);
  EXPECT_EQ(reqs[1].body, "after");
}

TEST(HttpTransport, ResetAndCloseWithoutAnswerAreNetworkErrors) {
  LoopbackCollector c;
  HttpTransport t;
  c.enqueue(Response::reset_mid_body());
  const std::string big(1u << 20, 'q');
  auto r = t.post(make_request(c, big));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, TransportError::kNetwork) << r.error_message;

  c.enqueue(Response::close());
  r = t.post(make_request(c, "x"));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, TransportError::kNetwork) << r.error_message;

  // A reset after the status line: an answer that did not end is no answer,
  // whatever its status line said (a "200" cut short must not count as
  // delivered), so it is a network error like the others.
  c.enqueue(Response::reset_mid_response(503, std::string(10000, 'z')));
  r = t.post(make_request(c, "x"));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, TransportError::kNetwork) << r.error_message;
  EXPECT_FALSE(r.error_message.empty());

  r = t.post(make_request(c, "x"));
  EXPECT_EQ(r.status, 200) << r.error_message;
}

TEST(HttpTransport, OversizedRequestIsRefusedBeforeSending) {
  LoopbackCollector c;
  HttpTransport t;
  const std::string huge((64u << 20) + 1, 'h');
  auto r = t.post(make_request(c, huge));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, TransportError::kRefused);
  EXPECT_FALSE(r.attempted);
  EXPECT_NE(r.error_message.find("exceeds the limit of 64 MiB"), std::string::npos)
      << r.error_message;
  HttpTransportOptions small;
  small.max_request_bytes = 1024;
  HttpTransport t2(small);
  r = t2.post(make_request(c, std::string(1025, 's')));
  EXPECT_EQ(r.error, TransportError::kRefused);
  r = t2.post(make_request(c, std::string(1024, 's')));
  EXPECT_EQ(r.status, 200) << r.error_message;
  EXPECT_EQ(c.request_count(), 1u);
}

TEST(HttpTransport, SecretsNeverAppearInErrors) {
  LoopbackCollector c;
  const auto port = c.port();
  c.stop();
  HttpTransport t;
  HttpRequest req;
  req.url =
      "http://user:pw-s3cr3t@127.0.0.1:" + std::to_string(port) + "/v1/traces?api_key=qs3cr3t";
  req.body = "x";
  req.headers = {{"Authorization", "Bearer tok-s3cr3t"}};
  auto r = t.post(req);
  EXPECT_EQ(r.error, TransportError::kConnect);
  EXPECT_EQ(r.error_message.find("s3cr3t"), std::string::npos) << r.error_message;
  // Header injection attempts are refused without echoing the value.
  req.headers = {{"X-Key", "tok-s3cr3t\r\nInjected: 1"}};
  r = t.post(req);
  EXPECT_EQ(r.error, TransportError::kRefused);
  EXPECT_NE(r.error_message.find("X-Key"), std::string::npos) << r.error_message;
  EXPECT_EQ(r.error_message.find("s3cr3t"), std::string::npos) << r.error_message;
  req.headers = {{"Bad Name", "v"}};
  EXPECT_EQ(t.post(req).error, TransportError::kRefused);
}

TEST(HttpTransport, MalformedUrlIsRefused) {
  HttpTransport t;
  HttpRequest req;
  req.url = "notascheme://x";
  req.body = "x";
  const auto r = t.post(req);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, TransportError::kRefused) << r.error_message;
}

// Two transports on two threads, while a third thread reads their stats:
// each transport is used by one thread, stats() from anywhere.
TEST(HttpTransport, IndependentTransportsOnSeparateThreads) {
  LoopbackCollector c;
  constexpr int kPerThread = 20;
  HttpTransport a, b;
  std::atomic<bool> done{false};
  std::atomic<int> ok{0};
  const auto run = [&](HttpTransport& t, std::string tag) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string body = tag + std::to_string(i);
      if (t.post(make_request(c, body)).status == 200) ok.fetch_add(1);
    }
  };
  std::thread reader([&] {
    std::uint64_t seen = 0;
    for (int i = 0; i < 100000 && !done.load(); ++i) {
      seen = std::max(seen, a.stats().requests + b.stats().requests);
      std::this_thread::yield();
    }
    EXPECT_LE(seen, 2u * kPerThread);
  });
  std::thread ta(run, std::ref(a), "a"), tb(run, std::ref(b), "b");
  ta.join();
  tb.join();
  done = true;
  reader.join();
  EXPECT_EQ(ok.load(), 2 * kPerThread);
  EXPECT_EQ(a.stats().connections_opened, 1u);
  EXPECT_EQ(b.stats().connections_opened, 1u);
  EXPECT_EQ(c.connections_accepted(), 2u);
}

}  // namespace
}  // namespace emp::telemetry::deliver
