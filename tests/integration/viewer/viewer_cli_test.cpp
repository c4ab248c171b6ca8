// `emp-telemetry serve` and `emp-telemetry query` as a user runs them: serve
// started as a background process prints its address on one line, the
// demo and the project's client send to it, `query job` prints the job's
// timeline in order and `query trace` the indented span tree from the same
// SQLite file, and SIGTERM stops serve cleanly (exit 0).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <set>
#include <thread>

#include "emp/telemetry/log.hpp"
#include "emp/telemetry/trace.hpp"
#include "integration/cli_gen/cli_process.hpp"
#include "viewer_support.hpp"

namespace emp::telemetry::viewer_test {
namespace {

using namespace std::chrono_literals;
using cli_test::CliProcess;
using cli_test::describe;
using cli_test::run_cli;

// A port nothing listens on right now (bound once by the kernel, released).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Polls `path` until `ok(json)` holds (bounded): serve commits
// asynchronously after answering the sender.
json wait_for(const std::string& url, const std::function<bool(const json&)>& ok) {
  json last;
  for (int i = 0; i < 400; ++i) {
    auto r = http_get(url);
    if (r.status == 200) {
      last = json::parse(r.body, nullptr, false);
      if (!last.is_discarded() && ok(last)) return last;
    }
    std::this_thread::sleep_for(25ms);
  }
  ADD_FAILURE() << "gave up waiting for " << url << ": " << last.dump();
  return last;
}

TEST_F(ViewerFixture, ServeInTheBackgroundThenQueryJobAndTrace) {
  viewer_.reset();  // this test runs the CLI's own server
  const std::uint16_t port = free_port();
  const std::string db = (dir_ / "cli.db").string();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const std::uint16_t forward_port = free_port();
  CliProcess serve({"serve", "--port", std::to_string(port), "--forward-port",
                    std::to_string(forward_port), "--db", db},
                   {}, 120s);
  wait_for(url + "/api/stats", [](const json&) { return true; });

  // A second serve on the same port says why it cannot start.
  const auto busy = run_cli(
      {"serve", "--port", std::to_string(port), "--db", (dir_ / "other.db").string()}, {}, 30s);
  EXPECT_EQ(busy.exit_code, 1) << describe(busy);
  EXPECT_NE(busy.err.find("could not listen on 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << describe(busy);

  std::string trace_id;
  {
    Options o;
    o.preset = Preset::kWorker;
    o.service_name = "cli-worker";
    o.machine_id = "m9";
    o.log_dir = (dir_ / "logs").string();
    o.env = [url](std::string_view k) -> std::optional<std::string> {
      if (k == "OTEL_EXPORTER_OTLP_ENDPOINT") return url;
      return std::nullopt;
    };
    auto c = Client::create(o);
    ASSERT_TRUE(c);
    auto root = c->tracer().start_span("job.process", {.kind = SpanKind::kConsumer});
    root.set_attribute("job.id", "job-cli-1");
    trace_id = root.context().trace_id.to_hex();
    {
      Scope scope(root);
      c->log().info("loading model", {{"job_id", "job-cli-1"}});
      auto child = c->tracer().start_span("process.download_model");
      child.end();
      auto gen = c->tracer().start_span("process.image_generation");
      gen.set_status(StatusCode::kError, "out of memory");
      gen.end();
      c->log().error("generation failed", {{"job_id", "job-cli-1"}});
    }
    root.end();
    ASSERT_TRUE(c->flush(20s));
  }
  wait_for(url + "/api/jobs/job-cli-1",
           [](const json& j) { return j["spans"].size() == 3 && j["logs"].size() == 2; });

  const auto job = run_cli({"query", "job", "job-cli-1", "--db", db}, {}, 30s);
  ASSERT_EQ(job.exit_code, 0) << describe(job);
  const auto at = [&](const std::string& s) { return job.out.find(s); };
  EXPECT_NE(at("job job-cli-1"), std::string::npos) << job.out;
  EXPECT_NE(at("3 spans, 2 logs"), std::string::npos) << job.out;
  // Time order: the root starts, the first log, the two children, the error log.
  EXPECT_LT(at("job.process"), at("loading model")) << job.out;
  EXPECT_LT(at("loading model"), at("process.download_model")) << job.out;
  EXPECT_LT(at("process.download_model"), at("process.image_generation")) << job.out;
  EXPECT_LT(at("process.image_generation"), at("generation failed")) << job.out;
  EXPECT_NE(at("ERROR: out of memory"), std::string::npos) << job.out;

  const auto trace = run_cli({"query", "trace", trace_id, "--db", db}, {}, 30s);
  ASSERT_EQ(trace.exit_code, 0) << describe(trace);
  EXPECT_NE(trace.out.find("trace " + trace_id + "  3 spans"), std::string::npos) << trace.out;
  EXPECT_NE(trace.out.find("  job.process  "), std::string::npos) << trace.out;
  EXPECT_NE(trace.out.find("    process.image_generation  "), std::string::npos) << trace.out;
  EXPECT_NE(trace.out.find("[cli-worker]  ERROR: out of memory"), std::string::npos) << trace.out;

  const auto json_out = run_cli({"query", "job", "job-cli-1", "--db", db, "--json"}, {}, 30s);
  ASSERT_EQ(json_out.exit_code, 0) << describe(json_out);
  EXPECT_EQ(json::parse(json_out.out)["spans"].size(), 3u);

  const auto missing = run_cli({"query", "job", "job-nope", "--db", db}, {}, 30s);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no record carries job id 'job-nope'"), std::string::npos)
      << describe(missing);

  ASSERT_EQ(::kill(serve.pid(), SIGTERM), 0);
  const auto done = serve.wait();
  EXPECT_EQ(done.exit_code, 0) << describe(done);
  EXPECT_NE(done.out.find("listening http=" + url + " port=" + std::to_string(port) +
                          " forward_port=" + std::to_string(forward_port)),
            std::string::npos)
      << describe(done);
  EXPECT_NE(done.err.find("FLUENTD_PORT=" + std::to_string(forward_port)), std::string::npos)
      << describe(done);
  EXPECT_NE(done.err.find("stopped on SIGTERM"), std::string::npos) << describe(done);
}

TEST_F(ViewerFixture, DemoThroughTheViewerShowsItsJobsAndTheFailedOne) {
  ViewerOptions o;
  o.forward_port = 0;
  start(o);
  // Every destination at the viewer: OTLP (logs too), Sentry, Fluentd forward.
  const auto demo = run_cli(
      {"demo", "--jobs", "4", "--slow-ms", "10", "--log-dir", (dir_ / "demo-logs").string()},
      {{"OTEL_EXPORTER_OTLP_ENDPOINT", viewer_->url()},
       {"SENTRY_DSN", "http://key@127.0.0.1:" + std::to_string(viewer_->port()) + "/1"},
       {"FLUENTD_HOST", "127.0.0.1"},
       {"FLUENTD_PORT", std::to_string(viewer_->forward_port())}},
      120s);
  ASSERT_EQ(demo.exit_code, 0) << describe(demo);
  ASSERT_TRUE(viewer_->flush(20s));
  const json jobs = get_json("/api/jobs");
  ASSERT_EQ(jobs.size(), 4u) << jobs.dump();
  int failed = 0;
  for (const auto& j : jobs) {
    const json doc = get_json("/api/jobs/" + j["job_id"].get<std::string>());
    const auto names = span_names(doc);
    EXPECT_NE(std::find(names.begin(), names.end(), "job.submit"), names.end()) << doc.dump();
    EXPECT_NE(std::find(names.begin(), names.end(), "job.process"), names.end()) << doc.dump();
    EXPECT_FALSE(doc["logs"].empty()) << doc.dump();
    std::set<std::string> events;
    for (const auto& e : doc["events"]) events.insert(e["event_name"]);
    EXPECT_TRUE(events.count("job_received") && events.count("job_started")) << doc.dump();
    if (j["status"] == "failed") {
      ++failed;
      EXPECT_GE(j["error_count"].get<int>(), 1);
      ASSERT_EQ(doc["errors"].size(), 1u) << doc.dump();
      EXPECT_EQ(doc["errors"][0]["exception_value"],
                "websocket to the inference server closed: connection reset by peer");
      EXPECT_TRUE(events.count("job_failed")) << doc.dump();
    } else {
      EXPECT_EQ(j["status"], "completed");
    }
  }
  EXPECT_EQ(failed, 1);
  // The forward copies of the log lines arrived too (and are shown once).
  EXPECT_GT(viewer_->stats().forward_frames, 0u);
  EXPECT_EQ(viewer_->stats().forward_refused, 0u);
}

TEST_F(ViewerFixture, DemoWithItsOwnViewerEndsWithAFailedJobsTimeline) {
  viewer_.reset();
  const fs::path logs = dir_ / "demo-logs";
  const auto demo = run_cli(
      {"demo", "--viewer", "--jobs", "4", "--slow-ms", "10", "--log-dir", logs.string()}, {}, 120s);
  ASSERT_EQ(demo.exit_code, 0) << describe(demo);
  const std::string& out = demo.out;
  const auto at = [&](const std::string& s) { return out.find(s); };
  const std::string db = (logs / "viewer.db").string();
  ASSERT_NE(at("one failed job, read back from the viewer (emp-telemetry query job job-"),
            std::string::npos)
      << out;
  // The timeline has the job's spans, its forward log lines and events, and
  // its Sentry error, in time order.
  EXPECT_LT(at("event  info   job_received"), at("log    info   job started")) << out;
  EXPECT_LT(at("log    info   job started"),
            at("error  ERROR  std::runtime_error: websocket to the inference server closed"))
      << out;
  EXPECT_NE(at("span   ERROR  job.process"), std::string::npos) << out;
  EXPECT_NE(at("event  error  job_failed"), std::string::npos) << out;
  EXPECT_NE(at("serve --db " + db), std::string::npos) << out;
  EXPECT_NE(at("fluentd-forward tcp://127.0.0.1:"), std::string::npos) << out;

  // The database stays for `query` and `serve`.
  const auto start = at("query job ") + 10;
  const std::string job_id = out.substr(start, out.find(' ', start) - start);
  const auto again = run_cli({"query", "job", job_id, "--db", db, "--json"}, {}, 30s);
  ASSERT_EQ(again.exit_code, 0) << describe(again);
  const json doc = json::parse(again.out);
  EXPECT_EQ(doc["job"]["status"], "failed");
  EXPECT_EQ(doc["errors"].size(), 1u);
  ASSERT_FALSE(doc["logs"].empty());
  for (const auto& l : doc["logs"]) EXPECT_EQ(l["source"], "forward") << l.dump();
}

}  // namespace
}  // namespace emp::telemetry::viewer_test
