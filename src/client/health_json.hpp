// The health snapshot as JSON: written by a running client to its status
// file (<LOG_DIR>/status/<service>-<pid>.json) and read back by
// `emp-telemetry health`. One schema for both, so they cannot drift.
#pragma once

#include <chrono>
#include <string>

#include "emp/telemetry/config.hpp"
#include "emp/telemetry/health.hpp"

namespace emp::telemetry {

// {"service_name", "service_type", "machine_id", "pid", "written_at_unix_ms",
//  "status_interval_ms", "last_error", "tracks": {name: {...}},
//  "destinations": [{...}]}. Contains no secrets (names are redacted URLs).
std::string health_to_json(const HealthSnapshot& h, const Config& c,
                           std::chrono::milliseconds status_interval);

// True when no destination is "degraded" or "circuit_open": what GET /health
// answers with 200 (503 otherwise).
bool destinations_healthy(const HealthSnapshot& h) noexcept;

// The directory and file a client writes its status to.
std::string status_directory(const std::string& log_dir);
std::string status_file_path(const std::string& log_dir, const Config& c);

// Writes `json` to `path` atomically (temp file + rename). False on error.
bool write_file_atomically(const std::string& path, const std::string& json) noexcept;

}  // namespace emp::telemetry
