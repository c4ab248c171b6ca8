#include "metrics/self_metrics.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "metrics/metrics_core.hpp"

namespace emp::telemetry::metrics {

namespace {

InstrumentOptions opts(std::string_view unit, std::string_view description = {}) {
  InstrumentOptions o;
  o.unit = unit;
  o.description = description;
  return o;
}

// One snapshot serves every callback of a collection.
class HealthCache {
 public:
  HealthCache(const MetricsCore& core, std::function<HealthSnapshot()> f)
      : core_(core), fetch_(std::move(f)) {}
  HealthSnapshot get() {
    ForkSafeLock lock(holder_);
    const std::uint64_t n = core_.collection_number();
    if (n != taken_in_) {
      snap_ = fetch_();
      taken_in_ = n;
    }
    return snap_;
  }

 private:
  // A lock that a forked child can take over: fetching the snapshot takes
  // the pipeline's locks, and a fork() while a parent thread is in here would
  // otherwise leave the child's callbacks blocked forever. The holder is
  // recorded by process id; a holder from another process is a thread that
  // does not exist in this one.
  class ForkSafeLock {
   public:
    explicit ForkSafeLock(std::atomic<pid_t>& holder) : holder_(holder) {
      const pid_t self = ::getpid();
      for (;;) {
        pid_t seen = 0;
        if (holder_.compare_exchange_weak(seen, self, std::memory_order_acquire)) return;
        if (seen != 0 && seen != self &&
            holder_.compare_exchange_weak(seen, self, std::memory_order_acquire))
          return;
        std::this_thread::yield();
      }
    }
    ~ForkSafeLock() { holder_.store(0, std::memory_order_release); }

   private:
    std::atomic<pid_t>& holder_;
  };

  const MetricsCore& core_;
  std::function<HealthSnapshot()> fetch_;
  std::atomic<pid_t> holder_{0};
  std::uint64_t taken_in_ = ~0ull;
  HealthSnapshot snap_;
};

}  // namespace

void register_self_metrics(MetricsCore& core, std::function<HealthSnapshot()> health) {
  Metrics& m = core.facade();
  auto cache = std::make_shared<HealthCache>(core, std::move(health));
  constexpr std::size_t kTracks = static_cast<std::size_t>(Track::kCount);
  constexpr std::size_t kReasons = static_cast<std::size_t>(DropReason::kCount);

  m.create_observable_counter(
      "emp_telemetry.records",
      [cache](ObservableResult& r) {
        const HealthSnapshot h = cache->get();
        for (std::size_t t = 0; t < kTracks; ++t) {
          const auto track = to_string(static_cast<Track>(t));
          const TrackHealth& th = h.tracks[t];
          r.observe(th.offered, {{"track", track}, {"outcome", "offered"}});
          r.observe(th.accepted, {{"track", track}, {"outcome", "accepted"}});
          r.observe(th.written, {{"track", track}, {"outcome", "written"}});
        }
      },
      opts("{record}",
           "Telemetry records per track: offered to the client, accepted into its "
           "queues, written or exported (metrics: data points handed to export)"));
  m.create_observable_counter(
      "emp_telemetry.dropped",
      [cache](ObservableResult& r) {
        const HealthSnapshot h = cache->get();
        for (std::size_t t = 0; t < kTracks; ++t) {
          for (std::size_t d = 0; d < kReasons; ++d) {
            const std::uint64_t n = h.tracks[t].dropped[d];
            if (n == 0) continue;
            r.observe(n, {{"track", to_string(static_cast<Track>(t))},
                          {"reason", to_string(static_cast<DropReason>(d))}});
          }
        }
      },
      opts("{record}", "Telemetry records dropped, per track and reason"));
  m.create_observable_counter(
      "emp_telemetry.errors",
      [cache](ObservableResult& r) {
        const HealthSnapshot h = cache->get();
        for (std::size_t t = 0; t < kTracks; ++t) {
          r.observe(h.tracks[t].errors, {{"track", to_string(static_cast<Track>(t))}});
        }
      },
      opts("{error}", "I/O and delivery errors seen, per track"));
  m.create_observable_counter(
      "emp_telemetry.destination.delivered",
      [cache](ObservableResult& r) {
        const HealthSnapshot h = cache->get();
        for (const auto& d : h.destinations) {
          r.observe(d.delivered, {{"destination", d.name}, {"track", to_string(d.track)}});
        }
      },
      opts("{item}",
           "Items (spans, log records, data points) a destination "
           "accepted"));
  m.create_observable_counter(
      "emp_telemetry.destination.dropped",
      [cache](ObservableResult& r) {
        const HealthSnapshot h = cache->get();
        for (const auto& d : h.destinations) {
          for (std::size_t k = 0; k < kReasons; ++k) {
            if (d.dropped[k] == 0) continue;
            r.observe(d.dropped[k], {{"destination", d.name},
                                     {"track", to_string(d.track)},
                                     {"reason", to_string(static_cast<DropReason>(k))}});
          }
        }
      },
      opts("{item}", "Items a destination dropped, per reason"));
  m.create_observable_counter(
      "emp_telemetry.destination.requests",
      [cache](ObservableResult& r) {
        const HealthSnapshot h = cache->get();
        for (const auto& d : h.destinations) {
          r.observe(d.requests, {{"destination", d.name}, {"track", to_string(d.track)}});
        }
      },
      opts("{request}", "Export requests a destination attempted"));
  m.create_observable_counter(
      "emp_telemetry.destination.retried",
      [cache](ObservableResult& r) {
        const HealthSnapshot h = cache->get();
        for (const auto& d : h.destinations) {
          r.observe(d.retried, {{"destination", d.name}, {"track", to_string(d.track)}});
        }
      },
      opts("{request}", "Export requests that were retries"));
  m.create_observable_gauge(
      "emp_telemetry.destination.queue_bytes",
      [cache](ObservableResult& r) {
        const HealthSnapshot h = cache->get();
        for (const auto& d : h.destinations) {
          r.observe(d.queue_bytes, {{"destination", d.name}, {"track", to_string(d.track)}});
        }
      },
      opts("By", "Encoded bytes waiting in memory for a destination"));
  m.create_observable_gauge(
      "emp_telemetry.destination.spool_bytes",
      [cache](ObservableResult& r) {
        const HealthSnapshot h = cache->get();
        for (const auto& d : h.destinations) {
          r.observe(d.spool_bytes, {{"destination", d.name}, {"track", to_string(d.track)}});
        }
      },
      opts("By", "Bytes waiting in a destination's disk spool"));
  m.create_observable_gauge(
      "emp_telemetry.destination.up",
      [cache](ObservableResult& r) {
        const HealthSnapshot h = cache->get();
        for (const auto& d : h.destinations) {
          r.observe(d.state == "healthy" ? 1 : 0,
                    {{"destination", d.name}, {"track", to_string(d.track)}});
        }
      },
      opts("1", "1 while a destination is healthy, 0 while degraded or its circuit is open"));
  MetricsCore* c = &core;
  m.create_observable_counter(
      "emp_telemetry.metrics.overflowed",
      [c](ObservableResult& r) { r.observe(c->stats().overflowed); },
      opts("{measurement}", "Measurements aggregated into an overflow series (cardinality limit)"));
  m.create_observable_counter(
      "emp_telemetry.metrics.callback_failures",
      [c](ObservableResult& r) {
        const MetricsStats s = c->stats();
        r.observe(s.callback_errors, {{"reason", "threw"}});
        r.observe(s.callback_timeouts, {{"reason", "timeout"}});
      },
      opts("{callback}",
           "Observable callbacks that threw or were abandoned after the callback "
           "timeout"));
}

}  // namespace emp::telemetry::metrics
