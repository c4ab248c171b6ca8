// The aggregation half of the metrics track: instruments, their series (one
// per attribute set) and the cells measurements are added to, and
// collection into the OTLP metrics data model.
//
// Recording (any thread): the instrument is found by name and the series by
// attribute set through LookupTables (lock-free reads); the cell is updated
// with relaxed atomics (sums and explicit histograms: the calling thread's own
// stripe, a plain load + store). A new name or attribute set takes the instrument's
// (or the registry's) lock once. Cells always hold cumulative state; a delta
// export is the difference from what the previous OTLP collection saw, which
// the collector remembers per series. So a Prometheus scrape (cumulative)
// and a delta OTLP export can read the same cells, nothing is reset under a
// writer's feet, and every measurement lands in exactly one interval.
//
// Collection (serialized by a lock): runs observable callbacks through the
// CallbackRunner (bounded time), then reads every series.
//
// Ownership: instruments and series live until the core is destroyed, so
// handles and bound handles stay valid for the core's lifetime.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/diagnostics.hpp"
#include "emp/telemetry/config.hpp"
#include "emp/telemetry/health.hpp"
#include "emp/telemetry/metrics.hpp"
#include "encode/otlp_metrics_types.hpp"
#include "metrics/attributes.hpp"
#include "metrics/callback_runner.hpp"
#include "metrics/deadline_mutex.hpp"
#include "metrics/exponential.hpp"
#include "metrics/lookup_table.hpp"

namespace emp::telemetry::core {
class Pipeline;
}

namespace emp::telemetry::metrics {

namespace otlp = encode::otlp;

class MetricsCore;
struct TallyBlock;

// Who a collection is for: OTLP export honours the temporality preference
// (and advances the delta baselines); Prometheus is always cumulative.
enum class CollectFor : std::uint8_t { kOtlp, kPrometheus };

// One thread's share of a synchronous sum or explicit-bucket histogram
// series. Only the thread holding the stripe writes it (relaxed load + store:
// no locked read-modify-write on the hot path); the collector reads it with
// relaxed loads and adds every stripe to the series' shared cells. Stripes
// pass between threads only through the stripe pool's lock, so every write
// is seen by the next holder and each measurement is counted exactly once.
struct alignas(64) StripeCells {
  std::atomic<std::int64_t> int_total{0};
  std::atomic<double> double_total{0};
  std::atomic<double> hist_sum{0};
  std::uint32_t bucket_count = 0;  // explicit histograms: bounds.size() + 1

  std::atomic<std::uint64_t>* buckets() noexcept {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(reinterpret_cast<char*>(this) +
                                                         sizeof(StripeCells));
  }
  // Null when memory ran out (the caller then uses the shared cells).
  static StripeCells* make(std::uint32_t bucket_count) noexcept;
  static void destroy(StripeCells* c) noexcept;
};

// Stripes per series: index 0 stands for the shared cells of the Series
// (threads past the pool's size and observable instruments use them with
// atomic read-modify-writes); 1..kStripes-1 are held by one thread each.
inline constexpr std::size_t kStripes = 16;
// Explicit histograms with at most this many bounds find the bucket by
// comparing against every bound (see bucket_of), longer ones by halving.
inline constexpr std::size_t kLinearBounds = 32;

struct alignas(64) Series {
  Series() = default;
  ~Series();
  Series(const Series&) = delete;
  Series& operator=(const Series&) = delete;

  std::uint64_t hash = 0;
  Instrument* instrument = nullptr;
  bool overflow = false;
  AttributeSet attributes;
  std::uint64_t start_unix_nano = 0;

  // Counters and up-down counters (synchronous: running totals; observable:
  // the last observed total).
  std::atomic<std::int64_t> int_total{0};
  std::atomic<double> double_total{0};
  // Gauges: the last value, as a double; `gauge_set` once there is one.
  std::atomic<double> gauge_value{0};
  std::atomic<bool> gauge_set{false};
  // Explicit-bucket histograms: bounds.size() + 1 counters.
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets;
  std::atomic<double> hist_sum{0};
  std::atomic<double> hist_min{0};
  std::atomic<double> hist_max{0};
  // Exponential histograms.
  std::unique_ptr<ExpoHistogram> expo;
  // Per-thread stripes of sums and explicit histograms, made by their
  // holder on its first measurement ([0] unused).
  std::atomic<StripeCells*> stripes[kStripes]{};

  // ---- collector-owned (under the collection lock) ----
  struct Baseline {
    std::int64_t int_total = 0;
    double double_total = 0;
    std::vector<std::uint64_t> buckets;
    double hist_sum = 0;
    ExpoSnapshot expo;
    std::uint64_t time_unix_nano = 0;  // 0: never exported
  } baseline;
  std::uint64_t observed_in = 0;  // observable: the collection that last observed it
  std::vector<otlp::KeyValue> exported_attributes;  // built on first export
};

struct Instrument {
  std::uint64_t hash = 0;  // of `name`
  std::string name;        // as first spelled
  std::string unit;
  std::string description;
  InstrumentKind kind = InstrumentKind::kCounter;
  bool valid = true;  // false: placeholder for a refused name
  MetricsCore* core = nullptr;
  std::vector<double> bounds;  // explicit histograms
  // `bounds` padded with +inf to a multiple of 4 when there are at most
  // kLinearBounds of them (else empty): counted with vector compares, which
  // have no chain of dependent loads as a binary search has.
  std::vector<double> linear_bounds;
  bool exponential = false;
  std::int32_t expo_max_size = 160;
  std::int32_t expo_max_scale = 20;
  std::atomic<bool> double_values{false};  // a double was recorded: export doubles
  std::atomic<std::uint32_t> reported{0};  // diagnostics already given (bit per problem)

  LookupTable<Series> table;
  std::mutex mu;                                // guards `series` and insertions
  std::vector<std::unique_ptr<Series>> series;  // mu (the overflow series excluded)
  std::atomic<bool> full{false};                // cardinality limit reached
  std::atomic<Series*> overflow{nullptr};
  std::atomic<std::uint64_t> overflowed{0};

  // Observable instruments.
  std::shared_ptr<const ObservableCallback> callback;
  std::shared_ptr<std::atomic<bool>> callback_busy;

  bool observable() const noexcept { return kind >= InstrumentKind::kObservableCounter; }
};

// A spelling of an instrument name in the lock-free name table.
struct NameEntry {
  std::uint64_t hash = 0;
  std::string spelling;
  Instrument* instrument = nullptr;
};

struct CoreOptions {
  bool enabled = true;
  Temporality temporality = Temporality::kCumulative;
  std::uint32_t cardinality_limit = 2000;  // attribute sets per instrument, overflow excluded
  std::chrono::milliseconds callback_timeout{1000};
  std::size_t max_names = 4096;  // distinct spellings (refused ones included)
};

// Checks an instrument name against the OpenTelemetry syntax.
bool valid_instrument_name(std::string_view name) noexcept;

class MetricsCore {
 public:
  // `pipeline` (may be null in tests) receives the caller-side drop counts;
  // `diagnostics` the reports.
  MetricsCore(CoreOptions options, core::Pipeline* pipeline, core::Diagnostics* diagnostics);
  ~MetricsCore();
  MetricsCore(const MetricsCore&) = delete;
  MetricsCore& operator=(const MetricsCore&) = delete;

  Metrics& facade() noexcept { return facade_; }
  const CoreOptions& options() const noexcept { return options_; }

  // ---- recording (any thread) ----
  void record(InstrumentKind kind, std::string_view name, std::string_view unit, Value v,
              MetricAttributes attributes) noexcept;
  void record_on(Instrument* inst, Value v, MetricAttributes attributes) noexcept;
  void apply_bound(Series* s, Value v) noexcept;
  // The series for `attributes` (the overflow series past the limit); null
  // for refused instruments, after close() or when memory ran out.
  Series* resolve(Instrument* inst, MetricAttributes attributes) noexcept;
  // Registers (or finds) an instrument. Null when refused (reported).
  Instrument* create(InstrumentKind kind, std::string_view name, const InstrumentOptions& options,
                     ObservableCallback callback = nullptr) noexcept;
  // A refused handle's call.
  void reject_unregistered() noexcept;

  // ---- collection (any thread; one at a time) ----
  // Fills `out` with one MetricData per instrument that has points. False
  // when the collection lock could not be taken by `deadline`. Observable
  // callbacks each get min(callback timeout, time left); `cancel` ends their
  // waits early (shutdown).
  bool collect(CollectFor target, std::vector<otlp::MetricData>& out,
               std::chrono::steady_clock::time_point deadline,
               const std::atomic<bool>* cancel = nullptr);

  // Later recording calls are counted as dropped (shutdown).
  void close() noexcept { closed_.store(true, std::memory_order_release); }
  bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }

  // Adds the measurements accepted on every thread to the metrics track's
  // offered and accepted counts (the pipeline only sees drops).
  void add_health(HealthSnapshot& h) const noexcept;
  std::uint64_t accepted() const noexcept;
  MetricsStats stats() const noexcept;
  void count_exported(std::uint64_t points) noexcept {
    exported_points_.fetch_add(points, std::memory_order_relaxed);
  }
  core::Diagnostics& diagnostics() noexcept { return *diagnostics_; }

  // ---- fork() ----
  // Around fork() every lock of the core is held, so the child never inherits
  // one taken by a thread that does not exist there. In the child, the first
  // call into the core (recording, collection, flush...) resets it: the
  // parent's measurements belong to the parent, the child starts from zero
  // with fresh locks and a new callback thread. The owner (MetricsTrack)
  // adds its own locks and threads through these hooks.
  struct ForkHooks {
    std::function<void()> prepare;  // take the owner's locks
    std::function<void()> release;  // give them back (parent and child)
    std::function<void()> child;    // restart the owner's threads in the child
  };
  void set_fork_hooks(ForkHooks hooks) { fork_hooks_ = std::move(hooks); }
  void check_fork() noexcept {
    if (fork_generation_.load(std::memory_order_relaxed) != current_fork_generation()) [[unlikely]]
      after_fork_child();
  }
  static std::uint64_t current_fork_generation() noexcept;
  void lock_for_fork() noexcept;
  void unlock_after_fork() noexcept;
  // The number of the collection running now (or the last one); lets
  // callbacks of one collection share work.
  std::uint64_t collection_number() const noexcept {
    return collect_seq_.load(std::memory_order_acquire);
  }
  void set_prometheus_port(std::uint16_t port) noexcept {
    prometheus_port_.store(port, std::memory_order_relaxed);
  }
  std::uint16_t prometheus_port() const noexcept {
    return prometheus_port_.load(std::memory_order_relaxed);
  }

 private:
  TallyBlock* tally() noexcept;
  TallyBlock* tally_slow() noexcept;
  void bump_accepted() noexcept;
  void drop(DropReason reason) noexcept;
  Instrument* find_name(std::string_view name) const noexcept;
  Instrument* register_name(InstrumentKind kind, std::string_view name, std::string_view unit,
                            const InstrumentOptions* options) noexcept;
  Instrument* make_instrument(InstrumentKind kind, std::string_view name, std::string_view unit,
                              const InstrumentOptions* options);
  // Reports a conflicting registration once; `count`: a measurement was refused.
  void conflict(Instrument* inst, InstrumentKind kind, std::string_view unit, bool count) noexcept;
  // False (counted, reported once) for NaN, infinities and negative counter
  // increments; `measurement`: an application call, counted in health.
  bool check_value(const Instrument* inst, const Value& v, bool measurement) noexcept {
    const bool bad = v.is_double ? !(v.d - v.d == 0) || (v.d < 0 && monotonic(inst->kind))
                                 : v.i < 0 && monotonic(inst->kind);
    return !bad || reject_value(inst, v, measurement);
  }
  static bool monotonic(InstrumentKind k) noexcept {
    return k == InstrumentKind::kCounter || k == InstrumentKind::kObservableCounter;
  }
  // Counts and reports a bad value; returns false.
  bool reject_value(const Instrument* inst, const Value& v, bool measurement) noexcept;
  void update(Instrument* inst, Series* s, const Value& v) noexcept;
  Series* resolve_canonical(Instrument* inst, AttributeSet&& set);
  Series* new_series(Instrument* inst, AttributeSet&& set, std::uint64_t hash, bool overflow);
  Series* overflow_series(Instrument* inst);
  void run_callbacks(const std::vector<Instrument*>& list, std::uint64_t seq,
                     std::chrono::steady_clock::time_point deadline,
                     const std::atomic<bool>* cancel);
  void apply_observations(Instrument* inst, ObservationBuffer& buffer, std::uint64_t seq);
  void collect_instrument(Instrument* inst, CollectFor target, std::uint64_t seq, std::uint64_t now,
                          std::vector<otlp::MetricData>& out);
  otlp::AggregationTemporality temporality_for(InstrumentKind kind, CollectFor target) const;

  void after_fork_child() noexcept;

  const CoreOptions options_;
  core::Pipeline* const pipeline_;
  std::unique_ptr<core::Diagnostics> own_diagnostics_;
  core::Diagnostics* diagnostics_;
  const std::uint64_t id_;
  Metrics facade_;
  std::atomic<bool> closed_{false};
  std::atomic<std::uint16_t> prometheus_port_{0};
  // What refused registrations (conflicting kind or unit) hand out: calls
  // through it are counted as rejected.
  Instrument refused_handle_;

  // Instrument registry.
  mutable std::mutex registry_mu_;
  LookupTable<NameEntry> names_;
  std::vector<std::unique_ptr<NameEntry>> name_entries_;      // registry_mu_
  std::vector<std::unique_ptr<Instrument>> instruments_;      // registry_mu_ (valid ones)
  std::vector<std::unique_ptr<Instrument>> refused_;          // registry_mu_ (placeholders)
  std::map<std::string, Instrument*, std::less<>> by_lower_;  // registry_mu_
  bool names_full_reported_ = false;                          // registry_mu_

  // Per-thread accepted tallies.
  mutable std::mutex tally_mu_;
  std::vector<std::shared_ptr<TallyBlock>> tallies_;  // tally_mu_
  std::atomic<std::uint64_t> orphan_accepted_{0};

  // Collection.
  DeadlineMutex collect_mu_;
  CallbackRunner runner_;                      // collect_mu_
  std::atomic<std::uint64_t> collect_seq_{0};  // written under collect_mu_

  // fork()
  ForkHooks fork_hooks_;
  std::atomic<std::uint64_t> fork_generation_{0};

  // Stats.
  std::atomic<std::uint64_t> rejected_values_{0};
  std::atomic<std::uint64_t> rejected_names_{0};
  std::atomic<std::uint64_t> rejected_conflicts_{0};
  std::atomic<std::uint64_t> rejected_other_{0};
  std::atomic<std::uint64_t> shutdown_drops_{0};
  std::atomic<std::uint64_t> callback_errors_{0};
  std::atomic<std::uint64_t> callback_timeouts_{0};
  std::atomic<std::uint64_t> callbacks_skipped_{0};
  std::atomic<std::uint64_t> collections_{0};
  std::atomic<std::uint64_t> exported_points_{0};
  // Measurements refused before aggregation, by reason (TrackHealth::measurements_dropped).
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(DropReason::kCount)>
      measurement_drops_{};
};

}  // namespace emp::telemetry::metrics
