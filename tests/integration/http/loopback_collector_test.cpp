// Self-tests of the loopback collector (tests/support): it must speak enough
// HTTP/1.1 to be trusted by the delivery tests, and misbehave exactly as told.
// Requests here are written by hand on raw sockets, so the server is checked
// independently of libcurl.
#include "support/loopback_collector.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <chrono>
#include <set>
#include <string>
#include <thread>

namespace emp::telemetry::testing {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kWait{5000};

// A blocking-with-timeouts raw TCP client.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    connect_errno_ = connected_ ? 0 : errno;
  }
  ~RawClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  int connect_errno() const { return connect_errno_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until `needle` appears in the received bytes, the peer closes, or
  // the time runs out. Returns everything received so far.
  std::string read_until(std::string_view needle, milliseconds timeout = kWait) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (received_.find(needle) == std::string::npos && std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        last_errno_ = n < 0 ? errno : 0;
        break;
      }
      received_.append(buf, static_cast<std::size_t>(n));
    }
    return received_;
  }
  // Waits for the peer to close; true when it did (FIN or RST).
  bool wait_closed(milliseconds timeout = kWait) {
    read_until(std::string(1, '\0') + "never", timeout);
    return closed_;
  }
  int last_errno() const { return last_errno_; }
  void forget() { received_.clear(); }

 private:
  int fd_ = -1;
  bool connected_ = false;
  int connect_errno_ = 0;
  bool closed_ = false;
  int last_errno_ = 0;
  std::string received_;
};

std::string post(std::string_view path, std::string_view body, std::string_view extra = "") {
  return "POST " + std::string(path) +
         " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         std::string(extra) + "\r\n" + std::string(body);
}

std::string gzip(std::string_view in) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(out.size() - zs.avail_out);
  deflateEnd(&zs);
  return out;
}

TEST(LoopbackCollector, RecordsRequestWithLowercasedHeadersAndAnswers200) {
  LoopbackCollector c;
  ASSERT_TRUE(c.running()) << c.last_error();
  ASSERT_NE(c.port(), 0);
  RawClient client(c.port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(post("/v1/traces", "hello", "X-Custom-Header:  Value 1 \r\n")));
  const auto reply = client.read_until("\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
  const auto reqs = c.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/v1/traces");
  EXPECT_EQ(reqs[0].version, "HTTP/1.1");
  EXPECT_EQ(reqs[0].body, "hello");
  EXPECT_EQ(reqs[0].header("x-custom-header"), "Value 1");
  EXPECT_EQ(reqs[0].header("X-CUSTOM-HEADER"), "Value 1");
  EXPECT_EQ(reqs[0].connection_id, 1u);
  EXPECT_EQ(c.url("/v1/logs"), "http://127.0.0.1:" + std::to_string(c.port()) + "/v1/logs");
}

TEST(LoopbackCollector, KeepAliveAndPipelinedRequestsShareOneConnectionId) {
  LoopbackCollector c;
  RawClient client(c.port());
  ASSERT_TRUE(client.send(post("/a", "1") + post("/b", "22")));  // pipelined
  ASSERT_TRUE(c.wait_for_requests(2, kWait));
  ASSERT_TRUE(client.send(post("/c", "333")));
  ASSERT_TRUE(c.wait_for_requests(3, kWait));
  RawClient second(c.port());
  ASSERT_TRUE(second.send(post("/d", "4")));
  ASSERT_TRUE(c.wait_for_requests(4, kWait));
  const auto reqs = c.requests();
  EXPECT_EQ(reqs[0].body, "1");
  EXPECT_EQ(reqs[1].body, "22");
  EXPECT_EQ(reqs[2].body, "333");
  EXPECT_EQ(reqs[0].connection_id, reqs[1].connection_id);
  EXPECT_EQ(reqs[1].connection_id, reqs[2].connection_id);
  EXPECT_NE(reqs[3].connection_id, reqs[0].connection_id);
  EXPECT_EQ(c.connections_accepted(), 2u);
  for (std::size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(reqs[i].index, i);
}

TEST(LoopbackCollector, DecodesChunkedAndGzipBodies) {
  LoopbackCollector c;
  RawClient client(c.port());
  const std::string original(100000, 'z');
  const std::string compressed = gzip(original);
  // Chunked framing of the gzip bytes in three uneven chunks plus a trailer.
  std::string body;
  const std::size_t cut1 = compressed.size() / 3, cut2 = compressed.size() / 2;
  for (auto [from, to] : {std::pair{std::size_t{0}, cut1}, std::pair{cut1, cut2},
                          std::pair{cut2, compressed.size()}}) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx;ext=1\r\n", to - from);
    body += size + compressed.substr(from, to - from) + "\r\n";
  }
  body += "0\r\nx-trailer: t\r\n\r\n";
  ASSERT_TRUE(
      client.send("POST /v1/logs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Encoding: gzip\r\n\r\n" +
                  body));
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
  const auto r = c.requests()[0];
  EXPECT_TRUE(r.chunked);
  EXPECT_TRUE(r.gzip);
  EXPECT_FALSE(r.decode_error);
  EXPECT_EQ(r.wire_body, compressed);
  EXPECT_EQ(r.body, original);
}

TEST(LoopbackCollector, InvalidGzipIsRecordedAndAnswered400) {
  LoopbackCollector c;
  RawClient client(c.port());
  ASSERT_TRUE(client.send(post("/v1/logs", "not gzip", "Content-Encoding: gzip\r\n")));
  EXPECT_EQ(client.read_until("\r\n").rfind("HTTP/1.1 400", 0), 0u);
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
  EXPECT_TRUE(c.requests()[0].decode_error);
}

TEST(LoopbackCollector, AnswersExpectContinue) {
  LoopbackCollector c;
  RawClient client(c.port());
  ASSERT_TRUE(client.send(
      "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
  EXPECT_NE(client.read_until("100 Continue\r\n\r\n").find("HTTP/1.1 100 Continue"),
            std::string::npos);
  ASSERT_TRUE(client.send("abc"));
  EXPECT_NE(client.read_until("200 OK").find("200 OK"), std::string::npos);
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
  EXPECT_EQ(c.requests()[0].body, "abc");
}

TEST(LoopbackCollector, QueueThenHandlerThenDefault) {
  LoopbackCollector c;
  c.enqueue(Response::with_status(503, "busy"), 2);
  c.enqueue(Response::retry_after(429, "7"));
  c.set_handler([](const RecordedRequest& r) -> std::optional<Response> {
    if (r.target == "/special") return Response::with_status(404, "nope");
    return std::nullopt;
  });
  c.set_default(Response::ok("default-body", "text/plain"));
  RawClient client(c.port());
  std::string expected;
  for (const char* path : {"/1", "/2", "/3", "/special", "/4"}) {
    client.forget();
    ASSERT_TRUE(client.send(post(path, "")));
    expected = client.read_until("\r\n\r\n");
    const auto head_end = expected.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos);
    const std::string path_s(path);
    if (path_s == "/1" || path_s == "/2") {
      EXPECT_EQ(expected.rfind("HTTP/1.1 503", 0), 0u) << expected;
      client.read_until("busy");
    } else if (path_s == "/3") {
      EXPECT_EQ(expected.rfind("HTTP/1.1 429", 0), 0u) << expected;
      EXPECT_NE(expected.find("Retry-After: 7\r\n"), std::string::npos);
    } else if (path_s == "/special") {
      EXPECT_EQ(expected.rfind("HTTP/1.1 404", 0), 0u) << expected;
      client.read_until("nope");
    } else {
      EXPECT_EQ(expected.rfind("HTTP/1.1 200", 0), 0u) << expected;
      EXPECT_NE(client.read_until("default-body").find("default-body"), std::string::npos);
    }
  }
  EXPECT_EQ(c.queued(), 0u);
}

TEST(LoopbackCollector, StopRefusesAndRestartKeepsThePort) {
  LoopbackCollector c;
  const auto port = c.port();
  c.stop();
  EXPECT_FALSE(c.running());
  RawClient refused(port);
  EXPECT_FALSE(refused.connected());
  EXPECT_EQ(refused.connect_errno(), ECONNREFUSED);
  ASSERT_TRUE(c.start()) << c.last_error();
  EXPECT_EQ(c.port(), port);
  RawClient client(port);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(post("/x", "after restart")));
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
  EXPECT_EQ(c.requests()[0].body, "after restart");
  ASSERT_TRUE(c.restart());
  EXPECT_EQ(c.port(), port);
  EXPECT_TRUE(client.wait_closed());  // the restart closed the old connection
}

TEST(LoopbackCollector, StopReturnsWhileConnectionsHang) {
  LoopbackCollector c;
  c.enqueue(Response::hang());
  RawClient hung_request(c.port());
  ASSERT_TRUE(hung_request.send(post("/hang", "x")));
  RawClient idle(c.port());  // keep-alive connection that never sends anything
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
  ASSERT_TRUE(c.wait_for_connections(2, kWait));
  EXPECT_EQ(c.open_connections(), 2u);
  c.stop();  // must join both connection threads
  EXPECT_EQ(c.open_connections(), 0u);
  EXPECT_TRUE(hung_request.wait_closed());
  EXPECT_TRUE(idle.wait_closed());
}

TEST(LoopbackCollector, ResetStopSendsRst) {
  LoopbackCollector c;
  c.enqueue(Response::hang());
  RawClient client(c.port());
  ASSERT_TRUE(client.send(post("/hang", "x")));
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
  c.stop(/*reset=*/true);
  EXPECT_TRUE(client.wait_closed());
  EXPECT_EQ(client.last_errno(), ECONNRESET);
}

TEST(LoopbackCollector, ResetMidBodyRecordsAnIncompleteRequest) {
  LoopbackCollector c;
  c.enqueue(Response::reset_mid_body());
  RawClient client(c.port());
  ASSERT_TRUE(client.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" +
                          std::string(100, 'a')));
  EXPECT_TRUE(client.wait_closed());
  EXPECT_EQ(client.last_errno(), ECONNRESET);
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
  EXPECT_FALSE(c.requests()[0].complete);
}

TEST(LoopbackCollector, ResetMidResponseSendsHalfTheBody) {
  LoopbackCollector c;
  c.enqueue(Response::reset_mid_response(200, std::string(1000, 'b')));
  RawClient client(c.port());
  ASSERT_TRUE(client.send(post("/x", "")));
  EXPECT_TRUE(client.wait_closed());
  const auto got = client.read_until("never");
  EXPECT_NE(got.find("Content-Length: 1000"), std::string::npos);
  EXPECT_LT(got.size() - got.find("\r\n\r\n") - 4, 1000u);
}

TEST(LoopbackCollector, CloseWithoutAnswer) {
  LoopbackCollector c;
  c.enqueue(Response::close());
  RawClient client(c.port());
  ASSERT_TRUE(client.send(post("/x", "body")));
  EXPECT_TRUE(client.wait_closed());
  EXPECT_EQ(client.read_until("never"), "");
  EXPECT_EQ(c.request_count(), 1u);
}

TEST(LoopbackCollector, TrickleSendsTheWholeResponseEventually) {
  LoopbackCollector c;
  c.enqueue(Response::trickle(200, "slow", milliseconds(1)));
  RawClient client(c.port());
  ASSERT_TRUE(client.send(post("/x", "")));
  const auto got = client.read_until("\r\n\r\nslow");
  EXPECT_NE(got.find("\r\n\r\nslow"), std::string::npos) << got;
}

TEST(LoopbackCollector, AcceptModes) {
  LoopbackCollector c;
  c.set_accept_mode(AcceptMode::kReset);
  {
    RawClient client(c.port());
    client.send(post("/x", ""));
    EXPECT_TRUE(client.wait_closed());
  }
  c.set_accept_mode(AcceptMode::kHang);
  {
    RawClient client(c.port());
    ASSERT_TRUE(client.send(post("/x", "")));
    EXPECT_FALSE(client.wait_closed(milliseconds(200)));
    EXPECT_EQ(client.read_until("never", milliseconds(1)), "");
  }
  EXPECT_EQ(c.request_count(), 0u);
}

TEST(LoopbackCollector, ConnectionsBeyondTheBoundAreReset) {
  CollectorOptions options;
  options.max_connections = 2;
  LoopbackCollector c(options);
  RawClient a(c.port()), b(c.port());
  ASSERT_TRUE(c.wait_for_connections(2, kWait));
  RawClient extra(c.port());
  ASSERT_TRUE(extra.connected());  // the kernel accepts; the server then resets it
  EXPECT_TRUE(extra.wait_closed());
  ASSERT_TRUE(a.send(post("/x", "still served")));
  ASSERT_TRUE(c.wait_for_requests(1, kWait));
}

TEST(LoopbackCollector, MalformedRequestsGet4xxAndClose) {
  LoopbackCollector c;
  {
    RawClient client(c.port());
    ASSERT_TRUE(client.send("GARBAGE\r\n\r\n"));
    EXPECT_EQ(client.read_until("\r\n").rfind("HTTP/1.1 400", 0), 0u);
    EXPECT_TRUE(client.wait_closed());
  }
  {
    RawClient client(c.port());
    ASSERT_TRUE(client.send("POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n"));
    EXPECT_EQ(client.read_until("\r\n").rfind("HTTP/1.1 400", 0), 0u);
  }
  {
    RawClient client(c.port());
    ASSERT_TRUE(client.send("POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"));
    EXPECT_EQ(client.read_until("\r\n").rfind("HTTP/1.1 413", 0), 0u);
  }
  {
    RawClient client(c.port());
    client.send("POST / HTTP/1.1\r\nX: " + std::string(70000, 'a'));
    EXPECT_EQ(client.read_until("\r\n").rfind("HTTP/1.1 431", 0), 0u);
  }
  EXPECT_EQ(c.request_count(), 0u);
}

TEST(LoopbackCollector, WaitForRequestsTimesOut) {
  LoopbackCollector c;
  EXPECT_FALSE(c.wait_for_requests(1, milliseconds(30)));
}

TEST(LoopbackCollector, ConcurrentClientsAreAllRecorded) {
  LoopbackCollector c;
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&c, t] {
      RawClient client(c.port());
      for (int i = 0; i < kPerThread; ++i) {
        client.forget();
        const std::string body = std::to_string(t) + ":" + std::to_string(i);
        if (!client.send(post("/v1/traces", body))) return;
        client.read_until("Content-Length: 0\r\n\r\n");
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(c.wait_for_requests(kThreads * kPerThread, kWait));
  std::set<std::string> bodies;
  std::set<std::uint64_t> connections;
  for (const auto& r : c.requests()) {
    bodies.insert(r.body);
    connections.insert(r.connection_id);
  }
  EXPECT_EQ(bodies.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(connections.size(), static_cast<std::size_t>(kThreads));
}

TEST(LoopbackCollector, ScriptedBodiesEncodeAsDocumented) {
  // partial_success{rejected=3 (field 1 varint), error_message="m" (field 2)}
  EXPECT_EQ(encode_partial_success_proto(3, "m"), std::string("\x0a\x05\x08\x03\x12\x01m", 7));
  EXPECT_EQ(encode_status_proto(3, "bad"), std::string("\x08\x03\x12\x03"
                                                       "bad",
                                                       7));
  const auto json = Response::partial_success_json("rejectedSpans", 2, "two").body;
  EXPECT_EQ(json, R"({"partialSuccess":{"errorMessage":"two","rejectedSpans":"2"}})");
  bool ok = false;
  EXPECT_EQ(gunzip(gzip("round trip"), &ok), "round trip");
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace emp::telemetry::testing
