// An API service of the job queue on cpp-httplib: POST /jobs queues a job
// (job.submit puts the trace context into the job's payload), GET /jobs/{id}
// answers its state; every handler runs through the client's HTTP server
// instrumentation (a server span continuing the caller's traceparent, the
// request-duration histogram, exceptions to the errors track).
//
//   example_api_server [--port P]   serve until SIGINT/SIGTERM
//   example_api_server --self-test  serve on a free port, send three requests
//                                   to itself, exit 0 when they were answered
#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "emp/telemetry/client.hpp"

using namespace emp::telemetry;

namespace {

// A framework request as the instrumentation reads it.
HttpServerRequest describe(const httplib::Request& req, std::string_view route) {
  HttpServerRequest r;
  r.method = req.method;
  r.route = route;
  r.path = req.path;
  r.server_port = req.local_port;
  r.client_address = req.remote_addr;
  r.headers = [&req](std::string_view name) -> std::optional<std::string> {
    if (!req.has_header(std::string(name))) return std::nullopt;
    return req.get_header_value(std::string(name));
  };
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const bool self_test = argc > 1 && std::strcmp(argv[1], "--self-test") == 0;
  int port = 8080;
  if (argc > 2 && std::strcmp(argv[1], "--port") == 0) port = std::atoi(argv[2]);

  auto created = Client::for_api();
  if (!created) {
    for (const auto& e : created.errors()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return 1;
  }
  Client& t = created.value();
  t.startup({});

  std::mutex mu;
  std::map<std::string, std::string> payloads;  // job id -> queued payload
  int next_id = 1;

  httplib::Server svr;
  svr.Post("/jobs", [&](const httplib::Request& req, httplib::Response& res) {
    res.status = t.http_server().handle(describe(req, "/jobs"), [&] {
      std::lock_guard<std::mutex> lock(mu);
      const std::string id = "job-" + std::to_string(next_id++);
      payloads[id] = t.job().submit({.id = id, .type = "image_generation"}, req.body);
      t.log().info("job queued", {{"job_id", id}});
      res.set_content("{\"id\":\"" + id + "\"}", "application/json");
      return 201;
    });
  });
  svr.Get(R"(/jobs/([\w-]+))", [&](const httplib::Request& req, httplib::Response& res) {
    res.status = t.http_server().handle(describe(req, "/jobs/{id}"), [&] {
      std::lock_guard<std::mutex> lock(mu);
      if (!payloads.count(req.matches[1].str())) return 404;
      res.set_content(payloads[req.matches[1].str()], "application/json");
      return 200;
    });
  });

  if (self_test) port = svr.bind_to_any_port("127.0.0.1");
  else if (!svr.bind_to_port("127.0.0.1", port)) port = -1;
  if (port <= 0) {
    std::fprintf(stderr, "example_api_server: cannot listen\n");
    return 1;
  }
  std::thread server([&] { svr.listen_after_bind(); });
  while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::printf("listening on http://127.0.0.1:%d\n", port);

  int failures = 0;
  if (self_test) {
    httplib::Client cli("127.0.0.1", port);
    auto created_job = cli.Post("/jobs", R"({"prompt":"a cat"})", "application/json");
    failures += !(created_job && created_job->status == 201);
    auto got = cli.Get("/jobs/job-1");
    failures += !(got && got->status == 200 && got->body.find("traceparent") != std::string::npos);
    auto missing = cli.Get("/jobs/job-99");
    failures += !(missing && missing->status == 404);
  } else {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    int sig = 0;
    sigwait(&stop, &sig);
  }
  svr.stop();
  server.join();
  t.shutdown(std::chrono::seconds(5));
  std::printf("%s\n", failures == 0 ? "ok" : "self-test failed");
  return failures == 0 ? 0 : 1;
}
