// A worker of the job queue: takes jobs (here from a list; a real worker
// from its queue) and runs each through job().process(), which continues the
// submitter's trace from the payload and records the job's spans, events,
// metrics and log lines; an exception from the work becomes job_failed and an
// errors-track event, and the worker goes on.
//
//   example_worker [--self-test]   process three jobs, one of which fails
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

#include "emp/telemetry/client.hpp"

using namespace emp::telemetry;

int main() {
  auto created = Client::for_worker();
  if (!created) {
    for (const auto& e : created.errors()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    return 1;
  }
  Client& t = created.value();
  t.startup({});

  // What an API server queued (see api_server.cpp): the payload carries the
  // submitter's trace context.
  const std::string payload = t.job().submit({.id = "job-1", .type = "image_generation"},
                                             R"({"prompt":"a cat"})");
  int done = 0, failed = 0;
  for (const char* id : {"job-1", "job-2", "job-3"}) {
    const JobInfo job{.id = id, .type = "image_generation"};
    try {
      t.job().process(job, payload, [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (std::string(id) == "job-3") throw std::runtime_error("CUDA out of memory");
      });
      ++done;
    } catch (const std::exception& e) {
      t.log().error("job failed", e, {{"job_id", id}});
      ++failed;
    }
  }
  const bool stopped = t.shutdown(std::chrono::seconds(5));
  const auto logs = t.health().track(Track::kLogs);
  std::printf("%d jobs done, %d failed; %llu log records written\n", done, failed,
              static_cast<unsigned long long>(logs.written));
  return stopped && done == 2 && failed == 1 && logs.written > 0 ? 0 : 1;
}
