// The Prometheus endpoint under hostile peers, through a real Client on
// loopback: peers that trickle a request one byte every 2 s are cut off at
// the request deadline and never starve scrapes; a crowd of idle connections
// cannot lock a scraper out; shutdown keeps its deadline while such peers are
// connected; GET /health answers the client's health (200 healthy, 503 when
// a destination is down). Every wait is bounded.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "emp/telemetry/client.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::size_t write_cb(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// GET with libcurl (its own 5 s limit); returns the status, 0 on failure.
long http_get(const std::string& url, std::string& body) {
  body.clear();
  CURL* h = curl_easy_init();
  if (h == nullptr) return 0;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  long status = 0;
  if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(h);
  return status;
}

int connect_to(std::uint16_t port) {
  const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (s >= 0 && ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return s;
  if (s >= 0) ::close(s);
  return -1;
}

// A peer that sends "GET /metrics HTTP/1.1\r\n..." one byte every 2 s until
// the server closes the connection or `max_bytes` were sent.
class Trickler {
 public:
  Trickler(std::uint16_t port, int max_bytes) : fd_(connect_to(port)) {
    thread_ = std::thread([this, max_bytes] {
      static constexpr std::string_view kRequest = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
      for (int i = 0; i < max_bytes && !stop_.load(); ++i) {
        if (::send(fd_, &kRequest[i % (kRequest.size() - 4)], 1, MSG_NOSIGNAL) != 1) break;
        sent_.fetch_add(1);
        // 2 s between bytes, but see the server's close (EOF) as it happens.
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 2000) > 0) {
          char c;
          if (::recv(fd_, &c, 1, MSG_DONTWAIT) <= 0) break;
        }
      }
      closed_by_server_.store(true);
    });
  }
  ~Trickler() {
    stop_.store(true);
    thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  bool finished() const { return closed_by_server_.load(); }
  int sent() const { return sent_.load(); }

 private:
  int fd_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> closed_by_server_{false};
  std::atomic<int> sent_{0};
  std::thread thread_;
};

class PrometheusEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-prom-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Client make(std::map<std::string, std::string> env) {
    Options o;
    o.preset = Preset::kApi;
    o.service_name = "prom-test";
    o.machine_id = "m1";
    o.log_dir = dir_.string();
    env.emplace("EMP_PROMETHEUS_PORT", "0");
    env.emplace("OTEL_METRIC_EXPORT_INTERVAL", "1h");
    o.env = [env](std::string_view k) -> std::optional<std::string> {
      auto it = env.find(std::string(k));
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    auto c = Client::create(o);
    if (!c) {
      for (auto& e : c.errors()) ADD_FAILURE() << e.to_string();
      std::abort();
    }
    return std::move(c).value();
  }
  fs::path dir_;
};

TEST_F(PrometheusEndpointTest, TricklingPeersNeitherStarveScrapesNorDelayShutdown) {
  auto c = make({});
  c.metrics().counter("jobs_total", 1);
  const std::uint16_t port = c.metrics().prometheus_port();
  ASSERT_NE(port, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  {
    // Two peers trickle for up to 20 bytes (40 s) each; the server must cut
    // them off at its request deadline (5 s), whatever they keep sending.
    Trickler a(port, 20), b(port, 20);
    ASSERT_TRUE(a.connected() && b.connected());
    std::this_thread::sleep_for(2500ms);  // both have sent a byte and hold their connection
    for (int i = 0; i < 3; ++i) {
      std::string body;
      EXPECT_EQ(http_get(url, body), 200) << "scrape " << i;
      EXPECT_NE(body.find("jobs_total"), std::string::npos);
    }
    const auto until = Clock::now() + 20s;
    while ((!a.finished() || !b.finished()) && Clock::now() < until) {
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_TRUE(a.finished() && b.finished()) << "trickling peers were never cut off";
    EXPECT_LT(a.sent(), 20);
    EXPECT_LT(b.sent(), 20);
  }
  // Shutdown with two fresh trickling peers connected keeps its deadline.
  Trickler a(port, 20), b(port, 20);
  ASSERT_TRUE(a.connected() && b.connected());
  std::this_thread::sleep_for(500ms);
  const auto start = Clock::now();
  EXPECT_TRUE(c.shutdown(5s));
  EXPECT_LT(Clock::now() - start, 6s);  // the deadline itself, with a margin for the machine
  EXPECT_EQ(c.health()
                .track(Track::kMetrics)
                .measurements_dropped[static_cast<std::size_t>(DropReason::kShutdown)],
            0u);
  std::string body;
  EXPECT_EQ(http_get(url, body), 0);  // nobody listens any more
}

TEST_F(PrometheusEndpointTest, IdleConnectionsBeyondTheLimitDoNotLockOutAScraper) {
  auto c = make({});
  const std::uint16_t port = c.metrics().prometheus_port();
  ASSERT_NE(port, 0);
  std::vector<int> idle;
  for (int i = 0; i < 80; ++i) {
    const int s = connect_to(port);
    ASSERT_GE(s, 0);
    idle.push_back(s);
  }
  std::string body;
  EXPECT_EQ(http_get("http://127.0.0.1:" + std::to_string(port) + "/metrics", body), 200);
  for (int s : idle) ::close(s);
  EXPECT_TRUE(c.shutdown(5s));
}

TEST_F(PrometheusEndpointTest, HealthIs200WhenHealthyAnd503WhenADestinationIsDown) {
  {
    auto c = make({});
    std::string body;
    const std::string url =
        "http://127.0.0.1:" + std::to_string(c.metrics().prometheus_port()) + "/health";
    ASSERT_EQ(http_get(url, body), 200) << body;
    const auto j = nlohmann::json::parse(body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << body;
    EXPECT_EQ(j["service_name"], "prom-test");
    EXPECT_TRUE(j.contains("tracks") && j.contains("destinations"));
    EXPECT_TRUE(c.shutdown(5s));
  }
  // A collector port where nobody listens: the traces destination goes down.
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  const int dead_port = ntohs(a.sin_port);
  ::close(s);
  auto c = make({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                  "http://127.0.0.1:" + std::to_string(dead_port) + "/v1/traces"},
                 {"EMP_RETRY_MAX_ELAPSED_TIME", "200ms"}});
  { auto span = c.tracer().start_span("job.process"); }
  (void)c.flush(2s);
  const std::string url =
      "http://127.0.0.1:" + std::to_string(c.metrics().prometheus_port()) + "/health";
  std::string body;
  long status = 0;
  const auto until = Clock::now() + 15s;
  while ((status = http_get(url, body)) != 503 && Clock::now() < until) {
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(status, 503) << body;
  const auto j = nlohmann::json::parse(body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << body;
  bool down = false;
  for (const auto& d : j["destinations"]) {
    down = down || d["state"] == "degraded" || d["state"] == "circuit_open";
  }
  EXPECT_TRUE(down) << body;
  (void)c.shutdown(2s);
}

}  // namespace
}  // namespace emp::telemetry
