// HttpServerInstrument wrapping a cpp-httplib server on loopback: requests
// sent with libcurl (one with a W3C traceparent) become one server span each,
// child of the caller's span, with the HTTP semantic-convention attributes;
// http.server.request.duration counts them; a handler that throws gives an
// error span, a 500 and a Sentry event with the request as context.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "emp/telemetry/client.hpp"
#include "emp/telemetry/http_server.hpp"
#include "support/http_client.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::LoopbackCollector;

std::map<std::string, json> attrs(const json& item) {
  std::map<std::string, json> out;
  for (const auto& a : item.value("attributes", json::array())) out[a["key"]] = a["value"];
  return out;
}

std::vector<json> spans(const LoopbackCollector& c) {
  std::vector<json> out;
  for (const auto& r : c.requests()) {
    if (r.target != "/v1/traces") continue;
    const json d = json::parse(r.body);
    for (const auto& rs : d["resourceSpans"])
      for (const auto& ss : rs["scopeSpans"])
        for (const auto& s : ss["spans"]) out.push_back(s);
  }
  return out;
}

TEST(HttpServer, OneServerSpanPerRequestWithThePropagatedParent) {
  LoopbackCollector collector;
  LoopbackCollector sentry;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("emp-http-server-" + std::to_string(::getpid()));
  const std::map<std::string, std::string> env{
      {"OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url()},
      {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
      {"SENTRY_DSN", "http://key@127.0.0.1:" + std::to_string(sentry.port()) + "/7"},
      {"SERVICE_NAME", "api-test"},
      {"LOG_DIR", dir.string()}};
  Options o;
  o.preset = Preset::kApi;
  o.env = [env](std::string_view k) -> std::optional<std::string> {
    auto it = env.find(std::string(k));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto created = Client::create(o);
  ASSERT_TRUE(created);
  Client& t = created.value();

  httplib::Server svr;
  const auto wrap = [&t](std::string_view route, const httplib::Request& req,
                         httplib::Response& res, auto&& body) {
    HttpServerRequest r;
    r.method = req.method;
    r.route = route;
    r.path = req.path;
    r.server_address = "127.0.0.1";
    r.server_port = req.local_port;
    r.client_address = req.remote_addr;
    const std::string ua = req.get_header_value("User-Agent");
    r.user_agent = ua;
    r.headers = [&req](std::string_view n) -> std::optional<std::string> {
      if (!req.has_header(std::string(n))) return std::nullopt;
      return req.get_header_value(std::string(n));
    };
    res.status = t.http_server().handle(r, [&] { return body(res); });
  };
  svr.Get(R"(/jobs/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
    wrap("/jobs/{id}", req, res, [&](httplib::Response& out) {
      out.set_content("{\"id\":\"" + req.matches[1].str() + "\"}", "application/json");
      return 200;
    });
  });
  svr.Get("/missing", [&](const httplib::Request& req, httplib::Response& res) {
    wrap("/missing", req, res, [](httplib::Response&) { return 404; });
  });
  svr.Get("/boom", [&](const httplib::Request& req, httplib::Response& res) {
    wrap("/boom", req, res, [](httplib::Response&) -> int {
      throw std::runtime_error("model server unreachable");
    });
  });
  const int port = svr.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread server([&] { svr.listen_after_bind(); });
  while (!svr.is_running()) std::this_thread::sleep_for(1ms);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);

  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto ok = testing::http_request(base + "/jobs/42", false, {}, {},
                                  {"traceparent: 00-" + trace_id + "-00f067aa0ba902b7-01"});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "{\"id\":\"42\"}");
  EXPECT_EQ(testing::http_get(base + "/missing").status, 404);
  EXPECT_EQ(testing::http_get(base + "/boom").status, 500);
  svr.stop();
  server.join();
  ASSERT_TRUE(t.flush(10s));

  const auto all = spans(collector);
  std::map<std::string, json> by_name;
  for (const auto& s : all) by_name[s["name"]] = s;
  ASSERT_TRUE(by_name.count("GET /jobs/{id}")) << json(all).dump();
  const json& job = by_name["GET /jobs/{id}"];
  EXPECT_EQ(job["kind"], 2);  // SPAN_KIND_SERVER
  EXPECT_EQ(job["traceId"], trace_id);
  EXPECT_EQ(job["parentSpanId"], "00f067aa0ba902b7");
  auto a = attrs(job);
  EXPECT_EQ(a["http.request.method"]["stringValue"], "GET");
  EXPECT_EQ(a["http.route"]["stringValue"], "/jobs/{id}");
  EXPECT_EQ(a["url.path"]["stringValue"], "/jobs/42");
  EXPECT_EQ(a["url.scheme"]["stringValue"], "http");
  EXPECT_EQ(a["server.address"]["stringValue"], "127.0.0.1");
  EXPECT_EQ(a["server.port"]["intValue"], std::to_string(port));
  EXPECT_EQ(a["client.address"]["stringValue"], "127.0.0.1");
  EXPECT_EQ(a["http.response.status_code"]["intValue"], "200");
  EXPECT_FALSE(job.contains("status") && job["status"].value("code", 0) == 2);

  // A 404 is the client's error: no error status on the server span.
  const json& missing = by_name["GET /missing"];
  EXPECT_EQ(attrs(missing)["http.response.status_code"]["intValue"], "404");
  EXPECT_NE(missing["traceId"], trace_id) << "no traceparent: a new trace";
  EXPECT_FALSE(missing.contains("status") && missing["status"].value("code", 0) == 2);

  const json& boom = by_name["GET /boom"];
  EXPECT_EQ(boom["status"]["code"], 2);
  EXPECT_EQ(attrs(boom)["http.response.status_code"]["intValue"], "500");
  EXPECT_EQ(attrs(boom)["error.type"]["stringValue"], "exception");
  bool exception_event = false;
  for (const auto& e : boom.value("events", json::array())) {
    if (e["name"] == "exception" &&
        attrs(e)["exception.message"]["stringValue"] == "model server unreachable") {
      exception_event = true;
    }
  }
  EXPECT_TRUE(exception_event) << boom.dump();

  // The duration histogram: three requests, in seconds.
  std::uint64_t count = 0;
  for (const auto& r : collector.requests()) {
    if (r.target != "/v1/metrics") continue;
    const json d = json::parse(r.body);
    for (const auto& rm : d["resourceMetrics"])
      for (const auto& sm : rm["scopeMetrics"])
        for (const auto& m : sm["metrics"]) {
          if (m["name"] != "http.server.request.duration") continue;
          EXPECT_EQ(m["unit"], "s");
          for (const auto& p : m["histogram"]["dataPoints"]) {
            const auto& c = p["count"];
            count = std::max<std::uint64_t>(
                count, c.is_string() ? std::stoull(c.get<std::string>()) : c.get<std::uint64_t>());
          }
        }
  }
  EXPECT_GE(count, 1u) << "each route and status has its own series";

  // The exception reached Sentry with the request as context and the trace.
  ASSERT_TRUE(sentry.wait_for_requests(1, 10s));
  bool found = false;
  for (const auto& r : sentry.requests()) {
    if (r.body.find("model server unreachable") == std::string::npos) continue;
    found = true;
    EXPECT_NE(r.body.find("\"route\":\"/boom\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(boom["traceId"].get<std::string>()), std::string::npos) << r.body;
  }
  EXPECT_TRUE(found);
  t.shutdown(5s);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace emp::telemetry
