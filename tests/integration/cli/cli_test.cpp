// Tests of the emp-telemetry CLI as a user runs it: the real binary
// (<build>/bin/emp-telemetry, found through EMP_TEST_BIN) started as a child
// process with a controlled environment, its exit code, stdout and stderr
// checked. Proves that bad configuration exits 1 listing every problem without
// leaking secrets, that the machine-readable outputs parse, that every command
// has --help, and that the demo writes well-formed JSON lines, spans that
// share the trace ids of its log lines, and job metrics that add up.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/forward_peer.hpp"

namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;  // -1 when killed or not started
  std::string out;
  std::string err;
};

std::string cli_path() {
  const char* bin = std::getenv("EMP_TEST_BIN");
  return std::string(bin ? bin : ".") + "/bin/emp-telemetry";
}

// Runs the CLI with exactly `env` as its environment (plus PATH and HOME), so
// that variables of the machine running the tests cannot change the result.
// Killed after `timeout`.
Result run_cli(const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env = {},
               std::chrono::seconds timeout = std::chrono::seconds(60)) {
  Result result;
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return result;

  std::vector<std::string> argv_s{cli_path()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s{"PATH=/usr/bin:/bin"};
  if (const char* home = std::getenv("HOME")) env_s.push_back(std::string("HOME=") + home);
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& s : env_s) envp.push_back(s.data());
  envp.push_back(nullptr);

  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return result;
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!killed && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

// A fresh directory under the system temp dir, removed at scope end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "emp-cli-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string describe(const Result& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout\n" + r.out + "\n--- stderr\n" +
         r.err;
}

TEST(Cli, HelpWorksForEveryCommand) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--help"}, {"config", "--help"}, {"env", "--help"}, {"demo", "--help"}}) {
    const Result r = run_cli(args);
    SCOPED_TRACE(args.front() + " " + args.back());
    EXPECT_EQ(r.exit_code, 0) << describe(r);
    EXPECT_NE(r.out.find("--help"), std::string::npos) << describe(r);
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << describe(r);
  }
  const Result top = run_cli({"--help"});
  for (const char* command : {"config", "env", "demo", "--preset"}) {
    EXPECT_NE(top.out.find(command), std::string::npos) << command << "\n" << describe(top);
  }
  const Result config = run_cli({"config", "--help"});
  EXPECT_NE(config.out.find("--check"), std::string::npos) << describe(config);
  EXPECT_NE(config.out.find("--json"), std::string::npos) << describe(config);
}

TEST(Cli, MissingCommandAndUnknownPresetAreUsageErrors) {
  const Result none = run_cli({});
  EXPECT_EQ(none.exit_code, 64) << describe(none);  // EX_USAGE
  EXPECT_FALSE(none.err.empty());

  const Result bad = run_cli({"--preset", "gpu-farm", "config"});
  EXPECT_EQ(bad.exit_code, 64) << describe(bad);
  EXPECT_NE(bad.err.find("gpu-farm"), std::string::npos) << describe(bad);
}

// Several bad values at once: every one is reported (not just the first), each
// naming its variable and value, and the secret set alongside never appears.
TEST(Cli, InvalidEnvironmentListsEveryProblemWithoutSecrets) {
  TempDir dir;
  const std::string secret = "dash0-secret-token-7f3a9c";
  const std::map<std::string, std::string> env{
      {"LOG_DIR", dir.path().string()}, {"FLUENTD_PORT", "99999"},     {"LOG_LEVEL", "loud"},
      {"EMP_FLUSH_INTERVAL", "soon"},   {"SENTRY_SAMPLE_RATE", "2.5"}, {"DASH0_API_KEY", secret},
  };
  const std::vector<std::pair<std::string, std::string>> expected{
      {"FLUENTD_PORT", "99999"},
      {"LOG_LEVEL", "loud"},
      {"EMP_FLUSH_INTERVAL", "soon"},
      {"SENTRY_SAMPLE_RATE", "2.5"},
  };

  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"config", "--check"}, {"config"}}) {
    const Result r = run_cli(args, env);
    SCOPED_TRACE(args.back());
    EXPECT_EQ(r.exit_code, 1) << describe(r);
    for (const auto& [name, value] : expected) {
      // One line per problem, "NAME: message" with the offending value.
      bool found = false;
      std::size_t pos = 0;
      while ((pos = r.err.find(name + ": ", pos)) != std::string::npos) {
        const std::size_t eol = r.err.find('\n', pos);
        if (r.err.substr(pos, eol - pos).find(value) != std::string::npos) found = true;
        pos += name.size();
      }
      EXPECT_TRUE(found) << name << "=" << value << " not reported\n" << describe(r);
    }
    EXPECT_EQ(r.out.find(secret), std::string::npos) << describe(r);
    EXPECT_EQ(r.err.find(secret), std::string::npos) << describe(r);
  }

  const Result json = run_cli({"config", "--json"}, env);
  EXPECT_EQ(json.exit_code, 1) << describe(json);
  const auto doc = nlohmann::json::parse(json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(doc.is_object()) << describe(json);
  EXPECT_EQ(doc.value("valid", true), false);
  ASSERT_TRUE(doc["errors"].is_array());
  std::set<std::string> subjects;
  for (const auto& e : doc["errors"]) subjects.insert(e.value("subject", ""));
  for (const auto& [name, value] : expected) EXPECT_TRUE(subjects.count(name)) << name;
  EXPECT_EQ(json.out.find(secret), std::string::npos);

  // The demo refuses the same configuration with the same diagnostics.
  const Result demo = run_cli({"demo", "--jobs", "1"}, env);
  EXPECT_EQ(demo.exit_code, 1) << describe(demo);
  EXPECT_NE(demo.err.find("LOG_LEVEL"), std::string::npos) << describe(demo);
  EXPECT_EQ(demo.err.find(secret), std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir.path())) << "nothing may be written with an invalid config";
}

TEST(Cli, ConfigJsonShowsValuesOriginsAndRedactsSecrets) {
  TempDir dir;
  const std::string secret = "dash0-secret-token-b41c2e";
  const Result r = run_cli({"--preset", "worker", "config", "--json"},
                           {{"LOG_DIR", dir.path().string()}, {"DASH0_API_KEY", secret}});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const auto doc = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(doc.is_object()) << describe(r);
  EXPECT_EQ(doc.value("valid", false), true);
  EXPECT_EQ(doc.value("preset", ""), "worker");
  EXPECT_EQ(doc.value("service_type", ""), "worker");
  ASSERT_TRUE(doc["settings"].is_array());

  std::map<std::string, nlohmann::json> by_name;
  for (const auto& s : doc["settings"]) by_name[s.value("name", "")] = s;
  ASSERT_TRUE(by_name.count("LOG_DIR")) << describe(r);
  EXPECT_EQ(by_name["LOG_DIR"]["value"], dir.path().string());
  EXPECT_EQ(by_name["LOG_DIR"]["origin"], "env");
  ASSERT_TRUE(by_name.count("DASH0_API_KEY")) << describe(r);
  EXPECT_EQ(by_name["DASH0_API_KEY"]["secret"], true);
  EXPECT_EQ(by_name["DASH0_API_KEY"]["origin"], "env");
  EXPECT_EQ(r.out.find(secret), std::string::npos) << describe(r);
  for (const auto& [name, s] : by_name) {
    const std::string origin = s.value("origin", "");
    EXPECT_TRUE(origin == "default" || origin == "preset" || origin == "env" || origin == "code" ||
                origin == "unset")
        << name << " has origin " << origin;
  }

  // The table form shows the same origin and hides the same secret.
  const Result table =
      run_cli({"config"}, {{"LOG_DIR", dir.path().string()}, {"DASH0_API_KEY", secret}});
  ASSERT_EQ(table.exit_code, 0) << describe(table);
  EXPECT_NE(table.out.find(dir.path().string()), std::string::npos) << describe(table);
  EXPECT_EQ(table.out.find(secret), std::string::npos) << describe(table);
  EXPECT_EQ(table.err.find(secret), std::string::npos) << describe(table);

  const Result check = run_cli({"config", "--check"}, {{"LOG_DIR", dir.path().string()}});
  EXPECT_EQ(check.exit_code, 0) << describe(check);
}

TEST(Cli, EnvListsTheWholeRegistry) {
  const Result json = run_cli({"env", "--json"});
  ASSERT_EQ(json.exit_code, 0) << describe(json);
  const auto doc = nlohmann::json::parse(json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(doc.is_array()) << describe(json);
  std::set<std::string> names;
  for (const auto& v : doc) {
    const std::string name = v.value("name", "");
    EXPECT_TRUE(names.insert(name).second) << "declared twice: " << name;
    EXPECT_FALSE(v.value("type", "").empty()) << name;
    EXPECT_FALSE(v.value("description", "").empty()) << name;
  }
  for (const char* name : {"SERVICE_NAME", "LOG_DIR", "LOG_LEVEL", "DASH0_API_KEY", "SENTRY_DSN",
                           "FLUENTD_PORT", "EMP_QUEUE_SIZE"}) {
    EXPECT_TRUE(names.count(name)) << name;
  }
  for (const auto& v : doc) {
    if (v.value("name", "") == "DASH0_API_KEY") {
      EXPECT_EQ(v.value("secret", false), true);
    }
  }

  const Result md = run_cli({"env", "--markdown"});
  ASSERT_EQ(md.exit_code, 0) << describe(md);
  for (const auto& name : names) {
    EXPECT_NE(md.out.find("| `" + name + "` |"), std::string::npos) << name;
  }

  const Result table = run_cli({"env"});
  ASSERT_EQ(table.exit_code, 0) << describe(table);
  for (const auto& name : names) EXPECT_NE(table.out.find(name), std::string::npos) << name;

  const Result both = run_cli({"env", "--json", "--markdown"});
  EXPECT_EQ(both.exit_code, 64) << describe(both);
}

TEST(Cli, DemoWritesJobLifecycleAsJsonLines) {
  TempDir dir;
  const Result r = run_cli({"demo", "--slow-ms", "1100"}, {{"LOG_DIR", dir.path().string()}});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find(dir.path().string()), std::string::npos)
      << "the demo says where the logs went\n"
      << describe(r);
  EXPECT_NE(r.out.find("logs"), std::string::npos) << describe(r);

  // Log lines go to *.log files, operational events to events.jsonl, spans
  // and metrics to OTLP/JSON files
  // (otlp-<signal>.jsonl); every line of those files is one JSON object.
  // Other files (e.g. the client's status files) are not the demo's output.
  std::vector<nlohmann::json> lines;
  std::vector<nlohmann::json> trace_requests;
  std::vector<nlohmann::json> metric_requests;
  for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    const bool otlp_file = name.rfind("otlp-", 0) == 0 && entry.path().extension() == ".jsonl";
    if (!otlp_file && entry.path().extension() != ".log" && name != "events.jsonl") continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      auto doc = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      ASSERT_TRUE(doc.is_object()) << entry.path() << ": not a JSON object: " << line;
      if (!otlp_file) {
        lines.push_back(std::move(doc));
      } else if (name.find("traces") != std::string::npos) {
        trace_requests.push_back(std::move(doc));
      } else if (name.find("metrics") != std::string::npos) {
        metric_requests.push_back(std::move(doc));
      }
    }
  }
  ASSERT_FALSE(lines.empty()) << describe(r);

  const std::regex job_id_format(
      "^job-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  // The client adds worker_id (preset worker: <machine_id>-worker-0) to every line.
  const std::regex worker_id_format("^.+-worker-0$");
  std::set<std::string> received, completed, failed;
  std::map<std::string, std::string> trace_of_job;  // from the job_started lines
  std::set<std::string> error_types;
  int slow = 0;
  for (const auto& l : lines) {
    EXPECT_TRUE(l.contains("timestamp")) << l.dump();
    EXPECT_TRUE(l.contains("level")) << l.dump();
    EXPECT_TRUE(std::regex_match(l.value("worker_id", ""), worker_id_format)) << l.dump();
    EXPECT_FALSE(l.contains("field.worker_id")) << "the demo must not shadow worker_id";
    const std::string event = l.value("event.name", "");
    if (l.value("message", "") == "job slower than expected") ++slow;
    if (event.rfind("job_", 0) == 0) {
      const std::string id = l.value("job_id", "");
      EXPECT_TRUE(std::regex_match(id, job_id_format)) << l.dump();
      if (event == "job_received") received.insert(id);
      if (event == "job_started") trace_of_job[id] = l.value("trace_id", "");
      if (event == "job_completed") {
        completed.insert(id);
        EXPECT_TRUE(l["duration_ms"].is_number_integer()) << l.dump();
        EXPECT_EQ(l.value("level", ""), "info");
      }
      if (event == "job_failed") {
        failed.insert(id);
        EXPECT_TRUE(l["duration_ms"].is_number_integer()) << l.dump();
        EXPECT_EQ(l.value("level", ""), "error");
        error_types.insert(l.value("error_type", ""));
      }
    }
  }
  EXPECT_EQ(received.size(), 12u);
  EXPECT_EQ(completed.size(), 9u);
  EXPECT_EQ(failed.size(), 3u);
  EXPECT_EQ(error_types, (std::set<std::string>{"network", "memory", "validation"}));
  EXPECT_EQ(slow, 1);
  for (const auto& id : completed) EXPECT_TRUE(received.count(id)) << id;
  for (const auto& id : failed) EXPECT_TRUE(received.count(id)) << id;
  for (const auto& id : failed) EXPECT_FALSE(completed.count(id)) << id;

  // One job.process span per job, in the same trace as the job's log lines,
  // with error status exactly for the failed jobs.
  std::map<std::string, nlohmann::json> span_of_job;
  for (const auto& request : trace_requests) {
    for (const auto& rs : request.value("resourceSpans", nlohmann::json::array())) {
      for (const auto& ss : rs.value("scopeSpans", nlohmann::json::array())) {
        for (const auto& span : ss.value("spans", nlohmann::json::array())) {
          if (span.value("name", "") != "job.process") continue;
          for (const auto& a : span.value("attributes", nlohmann::json::array())) {
            if (a.value("key", "") == "job.id") {
              span_of_job[a["value"].value("stringValue", "")] = span;
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(span_of_job.size(), 12u) << trace_requests.size() << " trace requests";
  for (const auto& [id, span] : span_of_job) {
    ASSERT_TRUE(trace_of_job.count(id)) << id;
    EXPECT_EQ(span.value("traceId", ""), trace_of_job[id]) << id;
    const int status = span.contains("status") ? span["status"].value("code", 0) : 0;
    EXPECT_EQ(status, failed.count(id) ? 2 : 1) << id << " " << span.dump();
  }

  // jobs_processed_total counts the same outcomes (cumulative: the largest
  // value exported for each series is its final one).
  std::map<std::string, std::map<std::string, std::int64_t>> processed;  // status -> type -> n
  for (const auto& request : metric_requests) {
    for (const auto& rm : request.value("resourceMetrics", nlohmann::json::array())) {
      for (const auto& sm : rm.value("scopeMetrics", nlohmann::json::array())) {
        for (const auto& metric : sm.value("metrics", nlohmann::json::array())) {
          if (metric.value("name", "") != "jobs_processed_total") continue;
          ASSERT_TRUE(metric.contains("sum")) << metric.dump();
          for (const auto& dp : metric["sum"].value("dataPoints", nlohmann::json::array())) {
            std::string status, type;
            for (const auto& a : dp.value("attributes", nlohmann::json::array())) {
              if (a.value("key", "") == "status") status = a["value"].value("stringValue", "");
              if (a.value("key", "") == "job_type") type = a["value"].value("stringValue", "");
            }
            const auto& v = dp["asInt"];
            const std::int64_t n =
                v.is_string() ? std::stoll(v.get<std::string>()) : v.get<std::int64_t>();
            processed[status][type] = std::max(processed[status][type], n);
          }
        }
      }
    }
  }
  auto total = [&](const std::string& status) {
    std::int64_t n = 0;
    for (const auto& [type, count] : processed[status]) n += count;
    return n;
  };
  EXPECT_EQ(total("completed"), 9) << metric_requests.size() << " metric requests";
  EXPECT_EQ(total("failed"), 3);
}

// OTEL_LOG_LEVEL: the start-up notes are informational (printed at the
// default, info); at warn only problems reach stderr.
TEST(Cli, OtelLogLevelWarnKeepsTheStartUpNotesOffStderr) {
  TempDir dir;
  const std::string note = "note: no remote destination configured";
  const Result info = run_cli({"gen", "--spans", "5"}, {{"LOG_DIR", dir.path().string()}});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.err.find(note), std::string::npos) << info.err;
  const Result warn = run_cli({"gen", "--spans", "5"},
                              {{"LOG_DIR", dir.path().string()}, {"OTEL_LOG_LEVEL", "warn"}});
  ASSERT_EQ(warn.exit_code, 0) << warn.err;
  EXPECT_EQ(warn.err.find("note:"), std::string::npos) << warn.err;
}

// `emp-telemetry tail` through two rotations by rename while it runs, then
// stopped, more lines and a third rotation while it is not running, then
// started again: the forward server has every line exactly once.
TEST(Cli, TailShipsAFileThroughRotationsAndARestartWithoutLossOrRepeat) {
  emp::telemetry::testing::ForwardPeer peer;
  ASSERT_TRUE(peer.ok());
  const fs::path dir = fs::temp_directory_path() / ("emp-cli-tail-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path log = dir / "app.log";
  auto write = [&](const fs::path& p, int from, int to) {
    std::ofstream out(p, std::ios::app);
    for (int i = from; i < to; ++i) out << "line " << i << "\n";
  };
  // app.log -> app.log.1 -> app.log.2 ..., as logrotate names them.
  auto rotate = [&](int keep) {
    for (int i = keep; i >= 1; --i)
      if (fs::exists(dir / ("app.log." + std::to_string(i))))
        fs::rename(dir / ("app.log." + std::to_string(i)),
                   dir / ("app.log." + std::to_string(i + 1)));
    fs::rename(log, dir / "app.log.1");
  };
  const std::map<std::string, std::string> env{{"FLUENTD_HOST", "127.0.0.1"},
                                               {"FLUENTD_PORT", std::to_string(peer.port())},
                                               {"LOG_DIR", (dir / "out").string()},
                                               {"SERVICE_NAME", "sidecar"},
                                               {"OTEL_ENABLED", "false"}};
  const std::vector<std::string> args{
      "tail", (dir / "app.log*").string(), "--tag", "side.logs", "--duration", "4"};
  write(log, 0, 100);
  auto first = std::async(std::launch::async, [&] { return run_cli(args, env); });
  const auto wait_for = [&](std::size_t n) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (peer.count() < n && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  wait_for(100);
  rotate(0);
  write(log, 100, 200);
  wait_for(200);
  rotate(1);
  write(log, 200, 300);
  const Result r1 = first.get();
  EXPECT_EQ(r1.exit_code, 0) << r1.out << r1.err;
  EXPECT_NE(r1.out.find("300 lines read, 300 delivered"), std::string::npos) << r1.out;
  // Not running: more lines, a third rotation, more lines.
  write(log, 300, 350);
  rotate(2);
  write(log, 350, 400);
  const Result r2 =
      run_cli({"tail", (dir / "app.log*").string(), "--tag", "side.logs", "--duration", "2"}, env);
  EXPECT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  EXPECT_NE(r2.out.find("100 lines read, 100 delivered"), std::string::npos) << r2.out;
  std::map<int, int> seen;
  for (const auto& e : peer.events()) {
    EXPECT_EQ(e.tag, "side.logs");
    const auto rec = nlohmann::json::parse(e.record_json);
    EXPECT_EQ(rec["service_name"], "sidecar");
    const std::string line = rec["log"];
    ++seen[std::stoi(line.substr(5))];
  }
  EXPECT_EQ(seen.size(), 400u);
  for (const auto& [n, count] : seen) EXPECT_EQ(count, 1) << "line " << n;
  fs::remove_all(dir);
}

TEST(Cli, TailWithoutFluentdHostSaysWhyAndExits1) {
  const Result r = run_cli({"tail", "/tmp/x.log", "--duration", "1"},
                           {{"LOG_DIR", fs::temp_directory_path().string()}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("FLUENTD_HOST is not set"), std::string::npos) << r.err;
}

TEST(Cli, GenerateWritesEachAgentWithoutSecrets) {
  const fs::path dir = fs::temp_directory_path() / ("emp-cli-gen-" + std::to_string(getpid()));
  fs::remove_all(dir);
  const std::map<std::string, std::string> env{{"FLUENTD_HOST", "fluentd.internal"},
                                               {"FLUENTD_SHARED_KEY", "cli-shared-SECRET"},
                                               {"DASH0_API_KEY", "cli-api-SECRET"},
                                               {"LOG_DIR", (dir / "logs").string()},
                                               {"SERVICE_NAME", "svc"}};
  for (const char* agent : {"fluent-bit", "fluentd", "otel-collector"}) {
    const Result r = run_cli(
        {"generate", agent, "--out", (dir / "out").string(), "--file", "/var/log/x/*.log=x.logs"},
        env);
    EXPECT_EQ(r.exit_code, 0) << agent << r.err;
    EXPECT_TRUE(fs::exists(r.out.substr(0, r.out.size() - 1))) << r.out;
  }
  const Result yaml =
      run_cli({"generate", "fluent-bit", "--format", "yaml", "--out", (dir / "out").string()}, env);
  EXPECT_EQ(yaml.exit_code, 0) << yaml.err;
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir / "out")) {
    ++files;
    std::ifstream in(e.path());
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.find("SECRET"), std::string::npos) << e.path();
  }
  EXPECT_EQ(files, 4);
  const Result bad = run_cli({"generate", "splunk"}, env);
  EXPECT_EQ(bad.exit_code, 64);
  const Result fluentd_yaml = run_cli({"generate", "fluentd", "--format", "yaml"}, env);
  EXPECT_EQ(fluentd_yaml.exit_code, 64);
  EXPECT_NE(fluentd_yaml.err.find("fluentd has no yaml format"), std::string::npos)
      << fluentd_yaml.err;
  fs::remove_all(dir);
}

// OTEL_TRACES_EXPORTER=console prints the spans as OTLP/JSON lines on
// stdout; OTEL_METRICS_EXPORTER=none exports no metrics; EMP_LOG_STDOUT and
// EMP_LOG_FILES=false put the log lines on stdout and in no file.
TEST(Cli, ExporterAndLogOutputSettingsAreHonoured) {
  TempDir dir;
  const Result r =
      run_cli({"gen", "--spans", "4", "--logs", "3"}, {{"LOG_DIR", dir.path().string()},
                                                       {"OTEL_TRACES_EXPORTER", "console"},
                                                       {"OTEL_METRICS_EXPORTER", "none"},
                                                       {"EMP_LOG_STDOUT", "true"},
                                                       {"EMP_LOG_FILES", "false"}});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  std::size_t span_lines = 0, log_lines = 0, spans = 0;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    if (j.contains("resourceSpans")) {
      ++span_lines;
      for (auto& rs : j["resourceSpans"])
        for (auto& ss : rs["scopeSpans"]) spans += ss["spans"].size();
    } else if (j.contains("message") && j.contains("level")) {
      ++log_lines;
    }
  }
  EXPECT_GE(span_lines, 1u) << r.out;
  EXPECT_EQ(spans, 4u) << r.out;
  EXPECT_EQ(log_lines, 3u) << r.out;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    const std::string name = e.path().filename().string();
    EXPECT_EQ(name.find("otlp-metrics"), std::string::npos) << name;
    EXPECT_EQ(name.find("otlp-traces"), std::string::npos) << name;
    EXPECT_FALSE(name.size() > 4 && name.substr(name.size() - 4) == ".log") << name;
  }
}

}  // namespace
