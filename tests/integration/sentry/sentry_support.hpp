// Shared by the Sentry tests: a client configured for a loopback Sentry
// endpoint, and the envelopes it received as the official Python SDK's
// parser reads them (check_envelopes.py).
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "emp/telemetry/client.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry::sentry_test {

namespace fs = std::filesystem;
using nlohmann::json;

inline constexpr const char* kKey = "0123456789abcdef0123456789abcdef";

inline std::string dsn_for(const testing::LoopbackCollector& c) {
  return "http://" + std::string(kKey) + "@127.0.0.1:" + std::to_string(c.port()) + "/42";
}

// A fresh directory, removed at scope end.
class Dir {
 public:
  Dir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("emp-sentry-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline Expected<Client> make_client(const fs::path& dir, const std::string& dsn,
                                    std::map<std::string, std::string> env = {}) {
  env["SENTRY_DSN"] = dsn;
  env.emplace("SERVICE_VERSION", "1.2.3");
  env.emplace("EMP_RETRY_INITIAL_INTERVAL", "20ms");
  env.emplace("EMP_RETRY_MAX_INTERVAL", "200ms");
  Options o;
  o.preset = Preset::kWorker;
  o.service_name = "sentry-test";
  o.machine_id = "m1";
  o.log_dir = dir.string();
  o.env = [env](std::string_view k) -> std::optional<std::string> {
    auto it = env.find(std::string(k));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return Client::create(o);
}

// Every request body parsed by the official SDK: one JSON object per
// envelope ({headers, items: [{headers, type, payload}]}). Fails the test
// when the parser refuses one.
inline std::vector<json> parse_envelopes(const std::vector<testing::RecordedRequest>& requests,
                                         const fs::path& dir) {
  std::string files;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const fs::path p = dir / ("envelope-" + std::to_string(i) + ".bin");
    std::ofstream(p, std::ios::binary) << requests[i].body;
    files += " '" + p.string() + "'";
  }
  std::vector<json> out;
  if (requests.empty()) return out;
  const std::string cmd = "/usr/bin/python3 " EMP_SENTRY_CHECK_SCRIPT + files + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "cannot run " << cmd;
    return out;
  }
  std::string text;
  char buf[65536];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) text.append(buf, n);
  const int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << text;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t nl = text.find('\n', at);
    if (nl == std::string::npos) nl = text.size();
    json j = json::parse(text.substr(at, nl - at), nullptr, false);
    if (j.is_discarded()) {
      ADD_FAILURE() << "parser output is not JSON: " << text.substr(at, nl - at);
    } else {
      out.push_back(std::move(j));
    }
    at = nl + 1;
  }
  EXPECT_EQ(out.size(), requests.size());
  return out;
}

// The items of `type` in parsed envelopes, payloads only.
inline std::vector<json> items_of(const std::vector<json>& envelopes, const std::string& type) {
  std::vector<json> out;
  for (const json& e : envelopes)
    for (const json& item : e["items"])
      if (item["type"] == type) out.push_back(item["payload"]);
  return out;
}

inline DestinationHealth sentry_health(Client& c) {
  for (const auto& d : c.health().destinations)
    if (d.name.rfind("sentry ", 0) == 0) return d;
  ADD_FAILURE() << "no sentry destination in health()";
  return {};
}

inline std::uint64_t dropped(const DestinationHealth& d, DropReason r) {
  return d.dropped[static_cast<std::size_t>(r)];
}

// The quantity a client_report item gives for (reason, category).
inline std::uint64_t discarded(const json& report, const std::string& reason,
                               const std::string& category) {
  std::uint64_t n = 0;
  for (const json& d : report["discarded_events"])
    if (d["reason"] == reason && d["category"] == category) n += d["quantity"].get<std::uint64_t>();
  return n;
}

}  // namespace emp::telemetry::sentry_test
