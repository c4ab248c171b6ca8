#include "client/health_json.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/file_modes.hpp"

namespace emp::telemetry {

namespace {
nlohmann::json dropped_json(
    const std::array<std::uint64_t, static_cast<std::size_t>(DropReason::kCount)>& d) {
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t r = 0; r < d.size(); ++r)
    if (d[r]) j[std::string(to_string(static_cast<DropReason>(r)))] = d[r];
  return j;
}

std::string safe_name(std::string_view s) {
  std::string out;
  for (char c : s)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_');
  return out.empty() ? "service" : out;
}
}  // namespace

std::string health_to_json(const HealthSnapshot& h, const Config& c,
                           std::chrono::milliseconds status_interval) {
  nlohmann::json j;
  j["service_name"] = c.service_name;
  j["service_type"] = c.service_type;
  j["machine_id"] = c.machine_id;
  if (!c.worker_id.empty()) j["worker_id"] = c.worker_id;
  j["pid"] = static_cast<long>(::getpid());
  j["written_at_unix_ms"] = core::now_unix_nano() / 1000000;
  j["status_interval_ms"] = status_interval.count();
  j["last_error"] = h.last_error;
  nlohmann::json tracks = nlohmann::json::object();
  for (std::size_t t = 0; t < h.tracks.size(); ++t) {
    const TrackHealth& th = h.tracks[t];
    if (th.offered == 0 && th.written == 0 && th.dropped_total() == 0 && th.measurements == 0)
      continue;
    nlohmann::json tj;
    tj["offered"] = th.offered;
    tj["accepted"] = th.accepted;
    tj["written"] = th.written;
    tj["spooled"] = th.spooled;
    tj["recovered"] = th.recovered;
    tj["errors"] = th.errors;
    tj["invalid_utf8"] = th.invalid_utf8;
    tj["truncated"] = th.truncated;
    tj["dropped"] = dropped_json(th.dropped);
    if (static_cast<Track>(t) == Track::kMetrics) {
      tj["measurements"] = th.measurements;
      tj["measurements_dropped"] = dropped_json(th.measurements_dropped);
    }
    tracks[std::string(to_string(static_cast<Track>(t)))] = tj;
  }
  j["tracks"] = tracks;
  nlohmann::json dests = nlohmann::json::array();
  for (const auto& d : h.destinations) {
    nlohmann::json dj;
    dj["name"] = d.name;
    dj["track"] = std::string(to_string(d.track));
    dj["state"] = d.state;
    dj["requests"] = d.requests;
    dj["retried"] = d.retried;
    dj["connections_opened"] = d.connections_opened;
    dj["delivered"] = d.delivered;
    dj["dropped"] = dropped_json(d.dropped);
    dj["queue_bytes"] = d.queue_bytes;
    dj["spool_bytes"] = d.spool_bytes;
    dj["spooled"] = d.spooled;
    dj["last_success_unix_ms"] = d.last_success_unix_nano / 1000000;
    dj["last_error"] = d.last_error;
    if (!d.endpoints.empty()) {
      dj["active_endpoint"] = d.active_endpoint;
      dj["active_reason"] = d.active_reason;
      dj["endpoint_switches"] = d.endpoint_switches;
      nlohmann::json eps = nlohmann::json::array();
      for (const auto& e : d.endpoints) {
        eps.push_back({{"name", e.name},
                       {"state", e.state},
                       {"active", e.active},
                       {"requests", e.requests},
                       {"delivered", e.delivered},
                       {"last_error", e.last_error}});
      }
      dj["endpoints"] = std::move(eps);
    }
    dests.push_back(dj);
  }
  j["destinations"] = dests;
  // One line, like every other file under the log directory.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

bool destinations_healthy(const HealthSnapshot& h) noexcept {
  for (const auto& d : h.destinations) {
    if (d.state == "degraded" || d.state == "circuit_open") return false;
  }
  return true;
}

std::string status_directory(const std::string& log_dir) { return log_dir + "/status"; }

std::string status_file_path(const std::string& log_dir, const Config& c) {
  return status_directory(log_dir) + "/" + safe_name(c.service_name) + "-" +
         std::to_string(::getpid()) + ".json";
}

bool write_file_atomically(const std::string& path, const std::string& json) noexcept {
  try {
    std::error_code ec;
    core::make_directories(std::filesystem::path(path).parent_path().string(), ec);
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, core::kFileMode);
    if (fd < 0) return false;
    const char* p = json.data();
    std::size_t left = json.size();
    while (left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        ::close(fd);
        ::unlink(tmp.c_str());
        return false;
      }
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    ::close(fd);
    return ::rename(tmp.c_str(), path.c_str()) == 0;
  } catch (...) {
    return false;
  }
}

}  // namespace emp::telemetry
