// `emp-telemetry health`: reads the status files that running clients write
// every EMP_STATUS_INTERVAL to <LOG_DIR>/status/<service>-<pid>.json and
// shows, per process, whether it is still running, whether its status is
// fresh, where its records went per track and how each destination is doing.
//
// The files are read as plain JSON (the schema of src/client/health_json.hpp)
// so the command needs no running client and works on files copied from
// another machine. A process is "running" when kill(pid, 0) says so, and its
// status is "stale" when the file is older than three status intervals: the
// process is there but its telemetry thread stopped writing.
//
// Status files are input like any other: every string read from one is
// printed through terminal_safe() (an escape sequence in a file must not
// drive the operator's terminal), and a file larger than kMaxStatusBytes is
// reported and skipped rather than read whole.
//
// Exit codes: 0 every running process is healthy (or only exited processes
// left files), 1 no status file found, 2 a running process has a destination
// that is degraded or circuit_open, or a stale status file.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "emp/telemetry/config.hpp"
#include "text.hpp"

namespace emp::telemetry::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A status file is one line of a few KiB; anything far larger is not one.
constexpr std::uintmax_t kMaxStatusBytes = 1u << 20;

struct Process {
  fs::path file;
  json doc;
  std::int64_t pid = 0;
  bool alive = false;
  bool stale = false;
  std::int64_t age_ms = 0;
  std::vector<std::string> problems;  // why a running process is not healthy
};

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Unsigned/signed numbers of the status file, tolerant of missing keys so that
// a file of an older or newer client still prints.
std::int64_t num(const json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  return it->get<std::int64_t>();
}

std::string str(const json& j, const char* key) {
  if (!j.is_object()) return {};
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return {};
  return terminal_safe(it->get<std::string>());
}

std::string dropped_text(const json& dropped, std::int64_t* total) {
  std::string out;
  *total = 0;
  if (!dropped.is_object()) return "-";
  for (const auto& [reason, n] : dropped.items()) {
    if (!n.is_number()) continue;
    *total += n.get<std::int64_t>();
    out += (out.empty() ? "" : ", ") + terminal_safe(reason, 64) + "=" +
           std::to_string(n.get<std::int64_t>());
  }
  return out.empty() ? "-" : out;
}

std::string bytes_text(std::int64_t b) {
  char buf[32];
  if (b < 1024) {
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  } else if (b < 1024 * 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1024.0 * 1024.0));
  }
  return buf;
}

std::string age_text(std::int64_t ms) {
  char buf[32];
  if (ms < 0) ms = 0;
  if (ms < 120000) {
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  } else if (ms < 7200000) {
    std::snprintf(buf, sizeof buf, "%.0f min", static_cast<double>(ms) / 60000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f h", static_cast<double>(ms) / 3600000.0);
  }
  return buf;
}

// "2024-05-01T12:00:01.250Z".
std::string utc_text(std::int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

bool process_alive(std::int64_t pid) {
  if (pid <= 0) return false;
  // EPERM: the process exists but belongs to someone else.
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

// The status files under `dir`/status, parsed; unreadable ones are reported
// on stderr and skipped.
std::vector<Process> read_status_files(const fs::path& status_dir) {
  std::vector<Process> out;
  std::error_code ec;
  if (!fs::is_directory(status_dir, ec)) return out;
  const std::int64_t now = now_unix_ms();
  for (fs::directory_iterator it(status_dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    if (path.extension() != ".json" || !it->is_regular_file(ec)) continue;
    const std::uintmax_t size = it->file_size(ec);
    if (ec || size > kMaxStatusBytes) {
      std::fprintf(stderr,
                   "emp-telemetry health: %s: not a status file (%ju bytes; a status file is at "
                   "most %ju)\n",
                   terminal_safe(path.string()).c_str(), ec ? std::uintmax_t{0} : size,
                   kMaxStatusBytes);
      ec.clear();
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    std::string text(static_cast<std::size_t>(size), '\0');
    in.read(text.data(), static_cast<std::streamsize>(size));
    text.resize(static_cast<std::size_t>(in.gcount()));
    Process p;
    p.file = path;
    p.doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!p.doc.is_object()) {
      std::fprintf(stderr, "emp-telemetry health: %s: not a status file (not a JSON object)\n",
                   terminal_safe(path.string()).c_str());
      continue;
    }
    p.pid = num(p.doc, "pid");
    p.alive = process_alive(p.pid);
    std::int64_t written_at = num(p.doc, "written_at_unix_ms");
    if (written_at == 0) {
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0)
        written_at = static_cast<std::int64_t>(st.st_mtime) * 1000;
    }
    p.age_ms = now - written_at;
    const std::int64_t interval = num(p.doc, "status_interval_ms");
    p.stale = interval > 0 && p.age_ms > 3 * interval;
    if (p.alive) {
      if (p.stale) {
        p.problems.push_back("status is " + age_text(p.age_ms) + " old (written every " +
                             age_text(interval) + ")");
      }
      for (const auto& d : p.doc.value("destinations", json::array())) {
        const std::string state = str(d, "state");
        // On failover data still flows: shown below, not a problem.
        if (!state.empty() && state != "healthy" && state != "failover") {
          p.problems.push_back(str(d, "track") + " " + str(d, "name") + " is " + state);
        }
      }
    }
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(), [](const Process& a, const Process& b) {
    const std::string sa = str(a.doc, "service_name"), sb = str(b.doc, "service_name");
    return sa != sb ? sa < sb : a.pid < b.pid;
  });
  return out;
}

void print_process(const Process& p) {
  const json& d = p.doc;
  const std::string worker = str(d, "worker_id");
  std::printf("%s (%s) pid %lld on %s%s%s: %s, status %s old (written every %s)%s\n",
              str(d, "service_name").c_str(), str(d, "service_type").c_str(),
              static_cast<long long>(p.pid), str(d, "machine_id").c_str(),
              worker.empty() ? "" : ", worker ", worker.c_str(), p.alive ? "running" : "exited",
              age_text(p.age_ms).c_str(), age_text(num(d, "status_interval_ms")).c_str(),
              p.stale && p.alive ? ", STALE" : "");
  std::printf("  %-8s %10s %10s %10s %8s %8s  %s\n", "track", "offered", "written", "spooled",
              "dropped", "errors", "drops by reason");
  const json tracks = d.value("tracks", json::object());
  if (tracks.empty()) std::printf("  (no records yet)\n");
  for (const auto& [key, t] : tracks.items()) {
    const std::string name = terminal_safe(key, 16);
    std::int64_t dropped = 0;
    const std::string reasons = dropped_text(t.value("dropped", json::object()), &dropped);
    std::printf("  %-8s %10lld %10lld %10lld %8lld %8lld  %s\n", name.c_str(),
                static_cast<long long>(num(t, "offered")),
                static_cast<long long>(num(t, "written")),
                static_cast<long long>(num(t, "spooled")), static_cast<long long>(dropped),
                static_cast<long long>(num(t, "errors")), reasons.c_str());
  }
  const json dests = d.value("destinations", json::array());
  if (!dests.empty()) std::printf("  destinations:\n");
  const std::int64_t now = now_unix_ms();
  for (const auto& dj : dests) {
    std::int64_t dropped = 0;
    const std::string reasons = dropped_text(dj.value("dropped", json::object()), &dropped);
    const std::int64_t last_ok = num(dj, "last_success_unix_ms");
    std::printf("    %-8s %-48s %s\n", str(dj, "track").c_str(), str(dj, "name").c_str(),
                str(dj, "state").c_str());
    std::printf(
        "             sent %lld requests (%lld retried), delivered %lld, dropped %lld%s%s"
        "%s\n",
        static_cast<long long>(num(dj, "requests")), static_cast<long long>(num(dj, "retried")),
        static_cast<long long>(num(dj, "delivered")), static_cast<long long>(dropped),
        dropped ? " (" : "", dropped ? reasons.c_str() : "", dropped ? ")" : "");
    std::printf("             queue %s, spool %s (%lld records), last success %s\n",
                bytes_text(num(dj, "queue_bytes")).c_str(),
                bytes_text(num(dj, "spool_bytes")).c_str(),
                static_cast<long long>(num(dj, "spooled")),
                last_ok > 0 ? (utc_text(last_ok) + " (" + age_text(now - last_ok) + " ago)").c_str()
                            : "never");
    const std::string err = str(dj, "last_error");
    if (!err.empty()) std::printf("             last error: %s\n", err.c_str());
    const json eps = dj.value("endpoints", json::array());
    if (!eps.empty()) {
      std::printf("             active endpoint %s: %s\n", str(dj, "active_endpoint").c_str(),
                  str(dj, "active_reason").c_str());
    }
    for (const auto& e : eps) {
      std::printf("             %s %-44s %-12s %lld requests, delivered %lld\n",
                  e.value("active", false) ? "*" : " ", str(e, "name").c_str(),
                  str(e, "state").c_str(), static_cast<long long>(num(e, "requests")),
                  static_cast<long long>(num(e, "delivered")));
    }
  }
  const std::string err = str(d, "last_error");
  if (!err.empty()) std::printf("  last error: %s\n", err.c_str());
  if (p.alive) {
    if (p.problems.empty()) {
      std::printf("  healthy\n");
    } else {
      for (const auto& problem : p.problems) std::printf("  NOT HEALTHY: %s\n", problem.c_str());
    }
  }
  std::printf("  (%s)\n", terminal_safe(p.file.string()).c_str());
}

// The directory the clients of this environment write to: LOG_DIR as the
// finalized configuration resolves it (so presets and defaults apply).
fs::path default_dir(const GlobalArgs& global) {
  Options options = base_options(global);
  auto config = finalize(options);
  if (config)
    return fs::path(config.value().log_dir.empty() ? "./telemetry-out" : config.value().log_dir);
  const char* env = std::getenv("LOG_DIR");
  fs::path dir = env && *env ? fs::path(env) : fs::path("./telemetry-out");
  std::fprintf(stderr,
               "emp-telemetry health: the configuration is invalid (see `emp-telemetry config "
               "--check`); reading %s\n",
               dir.string().c_str());
  return dir;
}

}  // namespace

int run_health(const GlobalArgs& global, const HealthArgs& args) {
  const fs::path dir = args.dir ? fs::path(*args.dir) : default_dir(global);
  const fs::path status_dir = dir / "status";
  std::vector<Process> processes = read_status_files(status_dir);

  if (args.json) {
    json out = json::array();
    for (const auto& p : processes) {
      json j = p.doc;
      j["status_file"] = p.file.string();
      j["alive"] = p.alive;
      j["stale"] = p.stale;
      j["age_ms"] = p.age_ms;
      j["healthy"] = p.alive && p.problems.empty();
      j["problems"] = p.problems;
      out.push_back(std::move(j));
    }
    std::printf("%s\n", out.dump(2, ' ', false, json::error_handler_t::replace).c_str());
  }
  if (processes.empty()) {
    std::fprintf(stderr, "emp-telemetry health: no status files in %s\n",
                 terminal_safe(status_dir.string()).c_str());
    return 1;
  }
  std::size_t running = 0, unhealthy = 0;
  for (const auto& p : processes) {
    running += p.alive;
    unhealthy += p.alive && !p.problems.empty();
  }
  if (!args.json) {
    for (const auto& p : processes) {
      print_process(p);
      std::printf("\n");
    }
    std::printf("%s: %zu running (%zu not healthy), %zu exited\n",
                count_noun(processes.size(), "process", "processes").c_str(), running, unhealthy,
                processes.size() - running);
  }
  return unhealthy > 0 ? 2 : 0;
}

}  // namespace emp::telemetry::cli
