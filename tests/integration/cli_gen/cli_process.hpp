// Runs the emp-telemetry binary (<build>/bin/emp-telemetry, found through
// EMP_TEST_BIN) as a child process with exactly the given environment (plus
// PATH and HOME), capturing stdout and stderr, killed when its time is up.
// A test can start it, do something while it runs (restart a collector, read
// its status file), then wait for it; or run it to completion in one call.
// Also: a temporary directory and OTLP/JSON readers shared by the gen tests.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace emp::telemetry::cli_test {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;  // -1 when killed or not started
  std::string out;
  std::string err;
};

inline std::string cli_path() {
  const char* bin = std::getenv("EMP_TEST_BIN");
  return std::string(bin ? bin : ".") + "/bin/emp-telemetry";
}

inline std::string describe(const Result& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "\n--- stderr:\n" +
         r.err;
}

// One running CLI process. wait() collects its output until it exits or the
// timeout passes (then it is killed); the destructor kills and reaps a child
// that was never waited for.
class CliProcess {
 public:
  // `program`: another executable to run the same way (default: the CLI).
  CliProcess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
             std::chrono::seconds timeout, const std::string& program = cli_path())
      : deadline_(std::chrono::steady_clock::now() + timeout) {
    int out_pipe[2];
    int err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0) return;
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
      close(out_pipe[0]);
      close(out_pipe[1]);
      return;
    }
    std::vector<std::string> argv_s{program};
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

    pid_ = fork();
    if (pid_ == 0) {
      dup2(out_pipe[1], STDOUT_FILENO);
      dup2(err_pipe[1], STDERR_FILENO);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (pid_ < 0) {
      close(out_pipe[0]);
      close(err_pipe[0]);
      return;
    }
    fds_[0] = out_pipe[0];
    fds_[1] = err_pipe[0];
  }
  ~CliProcess() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  pid_t pid() const { return pid_; }

  Result wait() {
    Result result;
    if (pid_ <= 0 || reaped_) return result;
    pollfd fds[2] = {{fds_[0], POLLIN, 0}, {fds_[1], POLLIN, 0}};
    std::string* sinks[2] = {&result.out, &result.err};
    int open_fds = 2;
    bool killed = false;
    while (open_fds > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline_ - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        kill(pid_, SIGKILL);
        killed = true;
        break;
      }
      if (poll(fds, 2, static_cast<int>(left.count())) < 0) break;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buf[8192];
        const ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n > 0) {
          sinks[i]->append(buf, static_cast<std::size_t>(n));
        } else {
          close(fds[i].fd);
          fds_[i] = -1;
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    if (!killed && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    return result;
  }

 private:
  std::chrono::steady_clock::time_point deadline_;
  pid_t pid_ = -1;
  int fds_[2] = {-1, -1};
  bool reaped_ = false;
};

inline Result run_cli(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {},
                      std::chrono::seconds timeout = std::chrono::seconds(120)) {
  CliProcess p(args, env, timeout);
  return p.wait();
}

// A fresh directory under the system temp dir, removed at scope end.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("emp-cli-gen-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The string value of attribute `key` in an OTLP/JSON attribute list.
inline std::string attribute(const nlohmann::json& attributes, const std::string& key) {
  if (!attributes.is_array()) return {};
  for (const auto& a : attributes) {
    if (a.value("key", "") == key && a.contains("value")) {
      return a["value"].value("stringValue", "");
    }
  }
  return {};
}

inline bool has_attribute(const nlohmann::json& attributes, const std::string& key) {
  if (!attributes.is_array()) return false;
  for (const auto& a : attributes) {
    if (a.value("key", "") == key) return true;
  }
  return false;
}

// Calls fn(span) for every span of an OTLP/JSON ExportTraceServiceRequest.
inline void for_each_span(const nlohmann::json& request,
                          const std::function<void(const nlohmann::json&)>& fn) {
  for (const auto& rs : request.value("resourceSpans", nlohmann::json::array())) {
    for (const auto& ss : rs.value("scopeSpans", nlohmann::json::array())) {
      for (const auto& span : ss.value("spans", nlohmann::json::array())) fn(span);
    }
  }
}

// Calls fn(record) for every log record of an ExportLogsServiceRequest.
inline void for_each_log_record(const nlohmann::json& request,
                                const std::function<void(const nlohmann::json&)>& fn) {
  for (const auto& rl : request.value("resourceLogs", nlohmann::json::array())) {
    for (const auto& sl : rl.value("scopeLogs", nlohmann::json::array())) {
      for (const auto& r : sl.value("logRecords", nlohmann::json::array())) fn(r);
    }
  }
}

// Calls fn(metric) for every metric of an ExportMetricsServiceRequest.
inline void for_each_metric(const nlohmann::json& request,
                            const std::function<void(const nlohmann::json&)>& fn) {
  for (const auto& rm : request.value("resourceMetrics", nlohmann::json::array())) {
    for (const auto& sm : rm.value("scopeMetrics", nlohmann::json::array())) {
      for (const auto& m : sm.value("metrics", nlohmann::json::array())) fn(m);
    }
  }
}

// Every line of an OTLP/JSON lines file, parsed (a line that does not parse
// is returned as a discarded value, which the caller checks).
inline std::vector<nlohmann::json> read_json_lines(const fs::path& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false));
  }
  return out;
}

}  // namespace emp::telemetry::cli_test
