// `emp-telemetry simulate`: a discrete-event simulation of a fleet of clients
// that lose their collector for a while and get it back. Each client is the
// library's real delivery worker (src/deliver/worker.*) in manual mode, with
// the retry, circuit-breaker, memory-cap and recovery-ramp settings of this
// environment (EMP_RETRY_*, EMP_CIRCUIT_*, EMP_DELIVERY_MEMORY_CAP); only
// time and the network are simulated. The collector takes --capacity
// requests per second (a token bucket holding a tenth of a second's worth);
// over it it answers 503 or 429 with Retry-After, or lets the request time
// out; during the outage connections are refused (or time out). With
// --second-endpoint each client's worker also has a failover endpoint: a
// second collector that stays up, so the run shows traffic moving there
// while the first is down and back once it answers.
//
// The event loop keeps one priority queue of (time, client, kind): a client
// makes a batch every --batch-interval, and its worker is stepped at the
// time it asked for. A request takes the collector's latency (or the export
// timeout) of simulated time, which the worker sees as the attempt's
// duration. Nothing sleeps: an hour of 10,000 clients takes seconds.
//
// Memory: each batch is a real std::string, so that the worker's memory cap
// acts on real sizes. To keep a big fleet inside this machine's memory, all
// byte sizes (batches and the cap) may be divided by --byte-scale; the cap
// logic only compares sums of sizes with the cap, so the outcome is the same
// and the reported bytes are scaled back up.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <string>
#include <vector>

#include "commands.hpp"
#include "core/pipeline.hpp"
#include "deliver/worker.hpp"
#include "emp/telemetry/health.hpp"

namespace emp::telemetry::cli {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

// Simulated time starts here rather than at the clock's epoch, which the
// worker reads as "never".
const Clock::time_point kStart = Clock::time_point(std::chrono::hours(1));

Clock::duration seconds_d(double s) { return duration_cast<Clock::duration>(duration<double>(s)); }
double seconds_since_start(Clock::time_point t) { return duration<double>(t - kStart).count(); }

// What a batch carries for the simulation, at the front of its bytes.
struct BatchHeader {
  std::uint32_t client;
  std::uint64_t seq;
  std::int64_t created_ns;  // since kStart
};

// Requests one collector saw in one second. [0] is the primary collector,
// [1] the second one (--second-endpoint).
struct Second {
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;  // over capacity: 503/429 or timed out
  std::uint64_t refused = 0;   // down: connection refused or timed out
  std::uint64_t second_accepted = 0;
  std::uint64_t second_rejected = 0;
  std::uint64_t received() const { return accepted + rejected; }
  std::uint64_t second_received() const { return second_accepted + second_rejected; }
};

// A collector's admission: a token bucket of `capacity` requests a second
// holding at most a tenth of a second's worth.
struct Collector {
  double capacity = 0;
  double tokens = 0;
  std::chrono::steady_clock::time_point tokens_at{};
};

class Simulation;

// The transport of one client: asks the simulated collector.
class SimDestination final : public deliver::Destination {
 public:
  SimDestination(Simulation& sim, int endpoint) : sim_(sim), endpoint_(endpoint) {}
  deliver::DeliveryResult deliver(const deliver::Payload& p, deliver::Deadline) noexcept override;
  deliver::DestinationStats stats() const noexcept override { return stats_; }
  std::string description() const override {
    return endpoint_ == 0 ? "simulated collector" : "simulated second collector";
  }

 private:
  Simulation& sim_;
  int endpoint_;
  deliver::DestinationStats stats_;
};

class Simulation {
 public:
  Simulation(const SimulateArgs& a, const Config& c) : args_(a), config_(c) {}

  int run();

  deliver::DeliveryResult request(const deliver::Payload& p, int endpoint) noexcept;

 private:
  enum Kind : std::uint8_t { kProduce = 0, kWake = 1 };
  struct Event {
    Clock::time_point t;
    std::uint32_t client;
    Kind kind;
    bool operator>(const Event& o) const {
      return t != o.t ? t > o.t : (client != o.client ? client > o.client : kind > o.kind);
    }
  };

  void produce(std::uint32_t i);
  void drive(std::uint32_t i);
  Second& bucket(Clock::time_point t) {
    const auto s = static_cast<std::size_t>(std::max(0.0, seconds_since_start(t)));
    if (s >= seconds_.size()) seconds_.resize(s + 1);
    return seconds_[s];
  }
  bool down(Clock::time_point t) const { return t >= outage_from_ && t < outage_to_; }
  int report(double wall_s, std::size_t workers_bytes);
  bool plot(const std::string& file) const;

  const SimulateArgs& args_;
  const Config& config_;
  Clock::time_point now_ = kStart;
  Clock::time_point outage_from_, outage_to_, end_;
  double capacity_ = 0;
  Collector collectors_[2];
  std::uint64_t scale_ = 1;
  std::size_t batch_bytes_ = 0;  // scaled
  std::uint32_t records_per_batch_ = 0;
  std::uint32_t batches_per_tick_ = 0;

  std::unique_ptr<core::Pipeline> pipeline_;
  std::vector<std::unique_ptr<deliver::DeliveryWorker>> workers_;
  std::vector<Clock::time_point> wake_;
  std::vector<std::uint64_t> seq_;
  std::vector<std::size_t> peak_bytes_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::vector<Second> seconds_;

  std::uint64_t produced_records_ = 0;
  std::uint64_t backlog_batches_ = 0;  // made before the collector came back
  std::uint64_t backlog_delivered_ = 0;
  Clock::time_point backlog_last_{};  // when the last of them was accepted
  std::uint64_t requests_ = 0;
};

deliver::DeliveryResult SimDestination::deliver(const deliver::Payload& p,
                                                deliver::Deadline) noexcept {
  deliver::DeliveryResult r = sim_.request(p, endpoint_);
  ++stats_.attempts;
  switch (r.outcome) {
    case deliver::Outcome::kDelivered:
      ++stats_.delivered;
      stats_.bytes_sent += p.bytes.size();
      break;
    case deliver::Outcome::kRetryable:
      ++stats_.retryable;
      break;
    default:
      ++stats_.permanent;
      break;
  }
  return r;
}

deliver::DeliveryResult Simulation::request(const deliver::Payload& p, int endpoint) noexcept {
  deliver::DeliveryResult r;
  ++requests_;
  const bool second = endpoint != 0;
  const milliseconds timeout =
      config_.otlp_traces.timeout.count() > 0 ? config_.otlp_traces.timeout : milliseconds(30000);
  const auto latency = duration_cast<milliseconds>(duration<double, std::milli>(args_.latency_ms));
  if (!second && down(now_)) {
    ++bucket(now_).refused;
    r.outcome = deliver::Outcome::kRetryable;
    if (args_.outage_mode == "timeout") {
      r.elapsed = timeout;
      r.sent = true;
      r.message = "simulated collector: timed out";
    } else {
      r.elapsed = milliseconds(1);
      r.message = "simulated collector: connection refused";
    }
    return r;
  }
  Collector& c = collectors_[second ? 1 : 0];
  const double burst = std::max(1.0, c.capacity / 10);
  c.tokens = std::min(burst, c.tokens + c.capacity * duration<double>(now_ - c.tokens_at).count());
  c.tokens_at = now_;
  r.sent = true;
  if (c.tokens < 1) {
    ++(second ? bucket(now_).second_rejected : bucket(now_).rejected);
    r.outcome = deliver::Outcome::kRetryable;
    if (args_.overload == "timeout") {
      r.elapsed = timeout;
      r.message = "simulated collector: overloaded, timed out";
    } else {
      r.http_status = args_.overload == "429" ? 429 : 503;
      r.elapsed = latency;
      if (args_.retry_after > 0)
        r.retry_after = duration_cast<milliseconds>(duration<double>(args_.retry_after));
      r.message = "simulated collector: HTTP " + std::to_string(r.http_status);
    }
    return r;
  }
  c.tokens -= 1;
  ++(second ? bucket(now_).second_accepted : bucket(now_).accepted);
  r.outcome = deliver::Outcome::kDelivered;
  r.http_status = 200;
  r.elapsed = latency;
  BatchHeader h{};
  if (p.bytes.size() >= sizeof h) std::memcpy(&h, p.bytes.data(), sizeof h);
  if (kStart + nanoseconds(h.created_ns) < outage_to_) {
    ++backlog_delivered_;
    backlog_last_ = std::max(backlog_last_, now_);
  }
  return r;
}

void Simulation::produce(std::uint32_t i) {
  for (std::uint32_t b = 0; b < batches_per_tick_; ++b) {
    deliver::Payload p;
    p.items = records_per_batch_;
    p.bytes.assign(batch_bytes_, 'x');
    const BatchHeader h{i, seq_[i]++, duration_cast<nanoseconds>(now_ - kStart).count()};
    std::memcpy(p.bytes.data(), &h, sizeof h);
    produced_records_ += p.items;
    if (now_ < outage_to_) ++backlog_batches_;
    workers_[i]->submit(std::move(p), now_);
  }
  peak_bytes_[i] = std::max(peak_bytes_[i], workers_[i]->queued_bytes());
}

void Simulation::drive(std::uint32_t i) {
  auto next = workers_[i]->step(now_);
  // A zero-latency collector answers at once: the worker may go again now.
  for (int guard = 0; next <= now_ && guard < 100000; ++guard) next = workers_[i]->step(now_);
  if (next <= now_) next = now_ + std::chrono::milliseconds(1);
  if (next != wake_[i]) {
    wake_[i] = next;
    if (next != Clock::time_point::max()) events_.push(Event{next, i, kWake});
  }
}

int Simulation::run() {
  const auto& a = args_;
  const double steady_rps = a.clients / a.batch_interval;
  capacity_ = a.capacity > 0 ? a.capacity : 2 * steady_rps;
  collectors_[0] = Collector{capacity_, std::max(1.0, capacity_ / 10), kStart};
  const double second_capacity = a.second_capacity > 0 ? a.second_capacity : capacity_;
  collectors_[1] = Collector{second_capacity, std::max(1.0, second_capacity / 10), kStart};
  outage_from_ = kStart + seconds_d(a.outage_at);
  outage_to_ = outage_from_ + seconds_d(a.outage);
  end_ = kStart + seconds_d(a.duration);

  // Batches: every interval a client has rate * interval records, cut at
  // the batch size.
  const double per_tick = a.rate * a.batch_interval;
  batches_per_tick_ = static_cast<std::uint32_t>(std::ceil(per_tick / a.batch_size));
  records_per_batch_ =
      static_cast<std::uint32_t>(std::llround(per_tick / std::max(1u, batches_per_tick_)));
  if (records_per_batch_ == 0 || batches_per_tick_ == 0) {
    std::cerr << "simulate: --rate x --batch-interval must make at least one record per batch\n";
    return kUsageExit;
  }
  const std::uint64_t real_batch_bytes =
      static_cast<std::uint64_t>(records_per_batch_) * a.record_bytes;
  // Auto scale: keep the expected peak of all backlogs under ~256 MiB.
  if (a.byte_scale > 0) {
    scale_ = a.byte_scale;
  } else {
    const double backlog_s = a.outage + config_.circuit.cooldown.count() / 1000.0 + 10;
    const double per_client =
        std::min<double>(a.rate * a.record_bytes * backlog_s, config_.delivery_memory_cap);
    scale_ = static_cast<std::uint64_t>(std::ceil(a.clients * per_client / (256.0 * (1 << 20))));
    scale_ = std::max<std::uint64_t>(1, scale_);
  }
  // A batch must still hold its header; the scale gives way when it cannot.
  scale_ = std::max<std::uint64_t>(1, std::min<std::uint64_t>(scale_, real_batch_bytes / 64));
  batch_bytes_ = std::max<std::size_t>(sizeof(BatchHeader), real_batch_bytes / scale_);

  pipeline_ = std::make_unique<core::Pipeline>(core::Pipeline::Options{});
  pipeline_->diagnostics().set_stderr(false);
  workers_.reserve(a.clients);
  wake_.assign(a.clients, Clock::time_point::max());
  seq_.assign(a.clients, 0);
  peak_bytes_.assign(a.clients, 0);
  const auto wall0 = std::chrono::steady_clock::now();
  std::uint64_t rng = a.seed * 0x9e3779b97f4a7c15ull + 1;
  const auto random01 = [&rng] {
    std::uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return static_cast<double>((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
  };
  for (std::uint32_t i = 0; i < a.clients; ++i) {
    deliver::DeliveryWorker::Options o;
    o.manual = true;
    o.seed = a.seed * 1000003u + i + 1;  // each process draws its own jitter
    o.stream = "otlp/traces";
    o.memory_cap = std::max<std::size_t>(1, config_.delivery_memory_cap / scale_);
    o.export_timeout = config_.otlp_traces.timeout;
    o.retry = config_.retry;
    o.circuit = config_.circuit;
    std::vector<std::unique_ptr<deliver::Destination>> endpoints;
    endpoints.push_back(std::make_unique<SimDestination>(*this, 0));
    if (a.second_endpoint) endpoints.push_back(std::make_unique<SimDestination>(*this, 1));
    workers_.push_back(std::make_unique<deliver::DeliveryWorker>(
        Track::kTraces, std::move(endpoints), pipeline_->accounting(), o));
    // Clients start at random phases of their batch interval.
    events_.push(Event{kStart + seconds_d(random01() * a.batch_interval), i, kProduce});
  }
  std::size_t workers_bytes = 0;
  {
    // Rough footprint of the workers themselves (without batches).
    workers_bytes = a.clients * (sizeof(deliver::DeliveryWorker) +
                                 (a.second_endpoint ? 2 : 1) * sizeof(SimDestination));
  }

  const Clock::duration interval = seconds_d(a.batch_interval);
  while (!events_.empty()) {
    const Event e = events_.top();
    if (e.t >= end_) break;
    events_.pop();
    now_ = e.t;
    if (e.kind == kProduce) {
      produce(e.client);
      events_.push(Event{e.t + interval, e.client, kProduce});
      drive(e.client);
    } else if (wake_[e.client] == e.t) {
      wake_[e.client] = Clock::time_point::max();
      drive(e.client);
    }
  }
  now_ = end_;
  bucket(end_ - std::chrono::nanoseconds(1));
  const double wall_s = duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return report(wall_s, workers_bytes);
}

int Simulation::report(double wall_s, std::size_t workers_bytes) {
  const auto& a = args_;
  // Steady: the whole seconds after two batch intervals of warm-up and
  // before the outage.
  const std::size_t s0 = static_cast<std::size_t>(std::ceil(std::max(2 * a.batch_interval, 1.0)));
  const std::size_t s1 = static_cast<std::size_t>(std::floor(a.outage_at));
  double steady = 0;
  for (std::size_t s = s0; s < s1 && s < seconds_.size(); ++s) steady += seconds_[s].received();
  steady /= static_cast<double>(s1 - s0);
  const std::size_t r0 = static_cast<std::size_t>(std::floor(a.outage_at + a.outage));
  std::uint64_t peak = 0, peak_attempts = 0;
  std::size_t peak_at = r0;
  for (std::size_t s = r0; s < seconds_.size(); ++s) {
    if (seconds_[s].received() > peak) {
      peak = seconds_[s].received();
      peak_at = s;
    }
    peak_attempts = std::max(peak_attempts, seconds_[s].received() + seconds_[s].refused);
  }
  const double ratio = steady > 0 ? static_cast<double>(peak) / steady : 0;
  const bool drained = backlog_delivered_ == backlog_batches_;
  const double drain_s =
      drained ? std::max(0.0, duration<double>(backlog_last_ - outage_to_).count()) : -1;

  const TrackHealth t = pipeline_->health().track(Track::kTraces);
  std::uint64_t lost = t.dropped_total();
  std::size_t peak_client = 0;
  double mean_peak = 0;
  for (std::uint32_t i = 0; i < a.clients; ++i) {
    peak_client = std::max(peak_client, peak_bytes_[i]);
    mean_peak += static_cast<double>(peak_bytes_[i]);
  }
  mean_peak /= a.clients;
  // Still queued (or being retried) when the simulation ended.
  const std::uint64_t pending = produced_records_ - t.written - lost;

  nlohmann::json dropped = nlohmann::json::object();
  for (std::size_t r = 0; r < static_cast<std::size_t>(DropReason::kCount); ++r) {
    if (t.dropped[r]) dropped[std::string(to_string(static_cast<DropReason>(r)))] = t.dropped[r];
  }
  // Failover: the share of the usual traffic the second collector carried
  // while the first was down, when the last client left it, and the first
  // collector's share of what was accepted in the last 30 s.
  double carried = 0, moved_back_s = 0, primary_share_end = 1, second_ratio = 0;
  if (a.second_endpoint) {
    const std::size_t o0 = static_cast<std::size_t>(std::floor(a.outage_at));
    const std::size_t o1 = std::min(r0, seconds_.size());
    std::uint64_t in_outage = 0;
    for (std::size_t s = o0; s < o1; ++s) in_outage += seconds_[s].second_accepted;
    carried = steady > 0 && o1 > o0 ? static_cast<double>(in_outage) /
                                          (steady * static_cast<double>(o1 - o0))
                                    : 0;
    for (std::size_t s = r0; s < seconds_.size(); ++s) {
      if (seconds_[s].second_received() > 0)
        moved_back_s = static_cast<double>(s + 1) - (a.outage_at + a.outage);
    }
    const std::size_t t0 = seconds_.size() > r0 + 30 ? seconds_.size() - 30 : r0;
    std::uint64_t first = 0, other = 0;
    for (std::size_t s = t0; s < seconds_.size(); ++s) {
      first += seconds_[s].accepted;
      other += seconds_[s].second_accepted;
    }
    primary_share_end =
        first + other > 0 ? static_cast<double>(first) / static_cast<double>(first + other) : 0;
    // The second collector takes the fleet's failover at once, backlogs of
    // the failures before the breakers opened included.
    std::uint64_t second_peak = 0;
    for (const auto& s : seconds_) second_peak = std::max(second_peak, s.second_received());
    second_ratio = steady > 0 ? static_cast<double>(second_peak) / steady : 0;
  }
  const bool ok = drained && lost == 0 && ratio <= 2.0 &&
                  (!a.second_endpoint ||
                   (carried >= 0.5 && primary_share_end >= 0.99 && second_ratio <= 2.0));
  if (a.json) {
    nlohmann::json j;
    j["clients"] = a.clients;
    j["rate_records_per_s"] = a.rate;
    j["batch_interval_s"] = a.batch_interval;
    j["records_per_batch"] = records_per_batch_;
    j["batch_bytes"] = records_per_batch_ * static_cast<std::uint64_t>(a.record_bytes);
    j["capacity_rps"] = capacity_;
    j["overload"] = a.overload;
    j["outage_at_s"] = a.outage_at;
    j["outage_s"] = a.outage;
    j["outage_mode"] = a.outage_mode;
    j["duration_s"] = a.duration;
    j["recovery_ramp_s"] = config_.circuit.recovery_ramp.count() / 1000.0;
    j["byte_scale"] = scale_;
    j["steady_rps"] = steady;
    j["peak_rps_after_recovery"] = peak;
    j["peak_at_s"] = peak_at;
    j["peak_to_steady"] = ratio;
    j["peak_attempts_per_s_after_recovery"] = peak_attempts;
    j["backlog_batches"] = backlog_batches_;
    j["backlog_delivered"] = backlog_delivered_;
    j["drained"] = drained;
    j["drain_s"] = drained ? nlohmann::json(drain_s) : nlohmann::json(nullptr);
    j["records_produced"] = produced_records_;
    j["records_delivered"] = t.written;
    j["records_lost"] = lost;
    j["records_lost_by_reason"] = dropped;
    j["records_pending_at_end"] = pending;
    j["peak_queued_bytes_per_client"] = peak_client * scale_;
    j["mean_peak_queued_bytes_per_client"] = mean_peak * static_cast<double>(scale_);
    j["requests"] = requests_;
    j["second_endpoint"] = a.second_endpoint;
    if (a.second_endpoint) {
      j["second_capacity_rps"] = collectors_[1].capacity;
      j["second_share_during_outage"] = carried;
      j["moved_back_s"] = moved_back_s;
      j["primary_share_at_end"] = primary_share_end;
      j["second_peak_to_steady"] = second_ratio;
    }
    j["wall_s"] = wall_s;
    j["worker_bytes_each"] = workers_bytes / std::max(1u, a.clients);
    nlohmann::json series;
    std::vector<std::uint64_t> rec, acc, rej, ref;
    for (const auto& s : seconds_) {
      rec.push_back(s.received());
      acc.push_back(s.accepted);
      rej.push_back(s.rejected);
      ref.push_back(s.refused);
    }
    series["received"] = rec;
    series["accepted"] = acc;
    series["rejected"] = rej;
    series["refused"] = ref;
    if (a.second_endpoint) {
      std::vector<std::uint64_t> srec, sacc;
      for (const auto& s : seconds_) {
        srec.push_back(s.second_received());
        sacc.push_back(s.second_accepted);
      }
      series["second_received"] = srec;
      series["second_accepted"] = sacc;
    }
    j["per_second"] = series;
    j["ok"] = ok;
    std::cout << j.dump() << "\n";
  } else {
    std::printf(
        "%u clients, %.3g records/s each in batches of %u every %.3g s; collector %.0f "
        "requests/s, down %.3g s from t=%.3g s (%s)\n",
        a.clients, a.rate, records_per_batch_, a.batch_interval, capacity_, a.outage, a.outage_at,
        a.outage_mode.c_str());
    std::printf("  steady            %.1f requests/s\n", steady);
    std::printf("  peak after return %llu requests/s at t=%zu s: %.2f x steady\n",
                static_cast<unsigned long long>(peak), peak_at, ratio);
    if (drained)
      std::printf("  backlog drained   %.1f s after the collector came back (%llu batches)\n",
                  drain_s, static_cast<unsigned long long>(backlog_batches_));
    else
      std::printf("  backlog NOT drained: %llu of %llu batches delivered by the end\n",
                  static_cast<unsigned long long>(backlog_delivered_),
                  static_cast<unsigned long long>(backlog_batches_));
    std::printf("  records           %llu made, %llu delivered, %llu lost %s, %llu pending\n",
                static_cast<unsigned long long>(produced_records_),
                static_cast<unsigned long long>(t.written), static_cast<unsigned long long>(lost),
                dropped.dump().c_str(), static_cast<unsigned long long>(pending));
    if (a.second_endpoint) {
      std::printf("  second collector  carried %.0f%% of the usual traffic during the outage "
                  "(peak %.2f x steady); the last client left it %.1f s after the first came "
                  "back; the first took %.1f%% of the last 30 s\n",
                  100 * carried, second_ratio, moved_back_s, 100 * primary_share_end);
    }
    std::printf("  memory per client peak %.1f KiB queued (mean of peaks %.1f KiB)\n",
                peak_client * scale_ / 1024.0, mean_peak * scale_ / 1024.0);
    std::printf("  simulated %.0f s in %.2f s of wall time (byte scale %llu)\n", a.duration, wall_s,
                static_cast<unsigned long long>(scale_));
    std::printf("  second  received  accepted  rejected  refused%s\n",
                a.second_endpoint ? "  2nd received" : "");
    for (std::size_t s = 0; s < seconds_.size(); ++s) {
      const auto& b = seconds_[s];
      std::printf(
          "  %6zu  %8llu  %8llu  %8llu  %7llu", s, static_cast<unsigned long long>(b.received()),
          static_cast<unsigned long long>(b.accepted), static_cast<unsigned long long>(b.rejected),
          static_cast<unsigned long long>(b.refused));
      if (a.second_endpoint)
        std::printf("  %12llu", static_cast<unsigned long long>(b.second_received()));
      std::printf("\n");
    }
  }
  if (a.plot && !plot(*a.plot)) return 1;
  return ok ? 0 : 1;
}

bool Simulation::plot(const std::string& file) const {
  std::string csv;
  csv += "second,received,accepted,rejected,refused,second_received\n";
  for (std::size_t s = 0; s < seconds_.size(); ++s) {
    const auto& b = seconds_[s];
    csv += std::to_string(s) + "," + std::to_string(b.received()) + "," +
           std::to_string(b.accepted) + "," + std::to_string(b.rejected) + "," +
           std::to_string(b.refused) + "," + std::to_string(b.second_received()) + "\n";
  }
  const auto write_csv = [&](const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    const bool ok = std::fwrite(csv.data(), 1, csv.size(), f) == csv.size();
    return std::fclose(f) == 0 && ok;
  };
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    const std::string path = file + ".csv";
    if (!write_csv(path)) {
      std::cerr << "simulate: cannot write " << path << "\n";
      return false;
    }
    std::cerr << "simulate: gnuplot is not installed; wrote the series to " << path
              << " instead of a PNG\n";
    return true;
  }
  std::string quoted = file;
  for (std::size_t p = 0; (p = quoted.find('\'', p)) != std::string::npos; p += 2)
    quoted.insert(p, "'");
  std::FILE* g = popen("gnuplot", "w");
  if (!g) {
    std::cerr << "simulate: cannot run gnuplot\n";
    return false;
  }
  std::string script =
      "set terminal png size 1100,500\n"
      "set output '" +
      quoted + "'\n" +
      "set datafile separator ','\n"
      "set key top left\n"
      "set xlabel 'simulated time (s)'\nset ylabel 'requests/s at the collector'\n"
      "set title '" +
      std::to_string(args_.clients) + " clients, collector down " +
      std::to_string(static_cast<int>(args_.outage)) +
      " s'\n"
      "$d << EOD\n" +
      csv +
      "EOD\n"
      "plot $d using 1:2 skip 1 with steps lw 2 title 'received', "
      "$d using 1:4 skip 1 with steps title 'rejected (over capacity)', "
      "$d using 1:5 skip 1 with steps title 'refused (down)', " +
      (args_.second_endpoint ? "$d using 1:6 skip 1 with steps lw 2 title 'second collector', "
                             : "") +
      std::to_string(capacity_) + " with lines dt 2 title 'capacity'\n";
  std::fwrite(script.data(), 1, script.size(), g);
  const int rc = pclose(g);
  if (rc != 0) {
    std::cerr << "simulate: gnuplot failed to write " << file << "\n";
    return false;
  }
  return true;
}

}  // namespace

int run_simulate(const GlobalArgs& global, const SimulateArgs& args) {
  auto made = finalize(base_options(global));
  if (!made) {
    for (const auto& e : made.errors()) std::cerr << e.to_string() << "\n";
    return 1;
  }
  const Config& config = made.value();
  SimulateArgs a = args;
  if (a.duration <= 0) a.duration = a.outage_at + a.outage + std::max(120.0, 3 * a.outage);
  if (a.outage_at < 2 * a.batch_interval + 1) {
    std::cerr << "simulate: --outage-at must leave a steady period before the outage (at least "
                 "two batch intervals and a second)\n";
    return kUsageExit;
  }
  if (a.outage_at + a.outage >= a.duration) {
    std::cerr << "simulate: --duration must end after the outage\n";
    return kUsageExit;
  }
  Simulation sim(a, config);
  return sim.run();
}

}  // namespace emp::telemetry::cli
