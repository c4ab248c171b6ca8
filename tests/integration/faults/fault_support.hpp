// Shared pieces of the fault suite: a client wired to a loopback collector
// with short retry and breaker timings, span generation with a sequence
// attribute, and counting what the collector really received (OTLP/JSON
// bodies parsed with an independent parser).
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "emp/telemetry/client.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry::faults {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline fs::path temp_dir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("emp-faults-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

inline std::map<std::string, std::string> fast_delivery_env(const std::string& base_url) {
  // Only traces go to the collector, so the other tracks never take a
  // response the test queued for spans.
  return {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", base_url + "/v1/traces"},
          {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
          {"OTEL_EXPORTER_OTLP_TIMEOUT", "1000"},
          {"OTEL_BSP_SCHEDULE_DELAY", "50"},
          {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100"},
          {"EMP_RETRY_INITIAL_INTERVAL", "20ms"},
          {"EMP_RETRY_MAX_INTERVAL", "200ms"},
          {"EMP_RETRY_MAX_ELAPSED_TIME", "1s"},
          {"EMP_CIRCUIT_FAILURE_THRESHOLD", "3"},
          {"EMP_CIRCUIT_COOLDOWN", "200ms"},
          {"EMP_QUEUE_FULL_POLICY", "block"},
          {"EMP_QUEUE_BLOCK_TIMEOUT", "2s"}};
}

inline Expected<Client> make_client(const fs::path& dir, std::map<std::string, std::string> env) {
  Options o;
  o.preset = Preset::kWorker;
  o.service_name = "fault-suite";
  o.machine_id = "m1";
  o.log_dir = dir.string();
  o.env = [env](std::string_view k) -> std::optional<std::string> {
    auto it = env.find(std::string(k));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return Client::create(o);
}

inline void make_spans(Client& c, int from, int count) {
  for (int i = from; i < from + count; ++i) {
    auto s = c.tracer().start_span("job.process");
    s.set_attribute("seq", i);
  }
}

// The `seq` attribute of every span in one OTLP/JSON traces request body.
inline std::vector<std::int64_t> seqs_in(const std::string& body) {
  std::vector<std::int64_t> out;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) return out;
  for (auto& rs : j["resourceSpans"])
    for (auto& ss : rs["scopeSpans"])
      for (auto& sp : ss["spans"])
        for (auto& a : sp["attributes"])
          if (a["key"] == "seq")
            out.push_back(std::stoll(a["value"]["intValue"].get<std::string>()));
  return out;
}

// Unique `seq` values of every span the collector received.
inline std::set<std::int64_t> received_seqs(const testing::LoopbackCollector& collector) {
  std::set<std::int64_t> out;
  for (const auto& r : collector.requests()) {
    if (r.target != "/v1/traces" || !r.complete) continue;
    for (auto s : seqs_in(r.body)) out.insert(s);
  }
  return out;
}

// What a collector accepted (answered 2xx), repeats included: installed as
// its handler, it answers `reject` while `rejecting` is set, else 200.
struct AcceptedSpans {
  std::mutex mu;
  std::multiset<std::int64_t> seqs;
  std::atomic<bool> rejecting{true};

  void install(testing::LoopbackCollector& collector, testing::Response reject) {
    collector.set_handler(
        [this, reject](const testing::RecordedRequest& r) -> std::optional<testing::Response> {
          if (rejecting.load()) return reject;
          if (r.target == "/v1/traces" && r.complete) {
            auto s = seqs_in(r.body);
            std::lock_guard<std::mutex> lock(mu);
            seqs.insert(s.begin(), s.end());
          }
          return testing::Response::ok("{}", "application/json");
        });
  }
  std::size_t total() {
    std::lock_guard<std::mutex> lock(mu);
    return seqs.size();
  }
  std::size_t unique() {
    std::lock_guard<std::mutex> lock(mu);
    return std::set<std::int64_t>(seqs.begin(), seqs.end()).size();
  }
};

// Makes `per_second` spans a second for `duration`, in 20 steps a second;
// returns the next sequence number.
inline int produce(Client& c, int seq, int per_second, std::chrono::milliseconds duration) {
  const auto until = std::chrono::steady_clock::now() + duration;
  auto next = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < until) {
    make_spans(c, seq, per_second / 20);
    seq += per_second / 20;
    next += 50ms;
    std::this_thread::sleep_until(next);
  }
  return seq;
}

// offered == written + dropped + spooled, once nothing is in flight.
inline bool quiescent_identity(const TrackHealth& h) {
  return h.offered == h.written + h.dropped_total() + h.spooled;
}

// Polls `pred` every 20 ms for at most `limit`.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

}  // namespace emp::telemetry::faults
