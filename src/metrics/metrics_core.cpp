#include "metrics/metrics_core.hpp"

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <set>

#include "core/clock.hpp"
#include "core/pipeline.hpp"
#include "core/strings.hpp"

namespace emp::telemetry::metrics {

using Clock = std::chrono::steady_clock;

// One thread's count of accepted measurements. Single writer (its thread),
// read by health() from anywhere.
struct TallyBlock {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<bool> core_gone{false};
};

namespace {

constexpr std::uint64_t kNameSeed = 0x6e616d65;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Diagnostics given once per instrument (bits of Instrument::reported; the
// low bits are the InstrumentKind of a conflicting call).
constexpr std::uint32_t kReportedUnit = 1u << 16;
constexpr std::uint32_t kReportedNonFinite = 1u << 17;
constexpr std::uint32_t kReportedNegative = 1u << 18;
constexpr std::uint32_t kReportedOverflow = 1u << 19;
constexpr std::uint32_t kReportedThrew = 1u << 20;
constexpr std::uint32_t kReportedTimeout = 1u << 21;
constexpr std::uint32_t kReportedBusy = 1u << 22;
constexpr std::uint32_t kReportedCallback = 1u << 24;

std::atomic<std::uint64_t> g_next_core_id{1};

// fork(): live cores, so the atfork handlers can take their locks. Never
// destroyed: cores may outlive static destruction.
struct CoreRegistry {
  std::mutex mu;
  std::set<MetricsCore*> cores;
};
CoreRegistry& core_registry() {
  static CoreRegistry* r = new CoreRegistry();
  return *r;
}
std::atomic<std::uint64_t> g_fork_generation{0};

// The stripe this thread writes: 0 not yet asked for, 1..kStripes-1 its own,
// kStripeShared none (pool exhausted, thread exiting, or out of memory).
constexpr unsigned kStripeShared = 0xff;
__attribute__((tls_model("initial-exec"))) thread_local std::uint8_t t_stripe = 0;

// Which stripes are held (bit k: stripe k; bit 0 always set). Never
// destroyed: threads may release stripes during static destruction.
struct StripePool {
  std::mutex mu;
  std::uint32_t held = 1;
};
StripePool& stripe_pool() {
  static StripePool* p = new StripePool();
  return *p;
}
static_assert(kStripes <= 32 && kStripes < kStripeShared);

// Gives the thread's stripe back when it exits, so a later thread can take
// it over (the pool's lock orders the two holders' writes).
struct StripeLease {
  bool held = false;
  ~StripeLease() {
    const unsigned k = t_stripe;
    t_stripe = kStripeShared;
    if (held && k != 0 && k < kStripes) {
      std::lock_guard<std::mutex> lock(stripe_pool().mu);
      stripe_pool().held &= ~(1u << k);
    }
  }
};
thread_local StripeLease t_lease;

void fork_prepare() {
  stripe_pool().mu.lock();
  core_registry().mu.lock();
  for (MetricsCore* c : core_registry().cores) c->lock_for_fork();
}
void fork_parent() {
  for (MetricsCore* c : core_registry().cores) c->unlock_after_fork();
  core_registry().mu.unlock();
  stripe_pool().mu.unlock();
}
void fork_child() {
  for (MetricsCore* c : core_registry().cores) c->unlock_after_fork();
  g_fork_generation.fetch_add(1, std::memory_order_release);
  core_registry().mu.unlock();
  // Only this thread exists in the child: every other stripe is free again.
  const unsigned k = t_stripe;
  stripe_pool().held = 1u | (k != 0 && k < kStripes ? 1u << k : 0u);
  stripe_pool().mu.unlock();
}

struct TallyCache {
  std::vector<std::pair<std::uint64_t, std::shared_ptr<TallyBlock>>> entries;
  ~TallyCache();
};

// The last core this thread recorded into, read on every measurement:
// initial-exec keeps the access a single instruction in a static library.
__attribute__((tls_model("initial-exec"))) thread_local std::uint64_t t_core_id = 0;
__attribute__((tls_model("initial-exec"))) thread_local TallyBlock* t_block = nullptr;
__attribute__((tls_model("initial-exec"))) thread_local bool t_exiting = false;

// Per-thread memory of recently used series, so a repeated one-liner call
// skips hashing and the table probes: a slot is picked from cheap features
// of the call (name and value lengths, a few bytes) and its series is
// verified by comparing name, kind, unit and attributes in place. Tagged
// with the core's id, which is never reused, so an entry of a destroyed
// core can never match.
struct HotEntry {
  std::uint64_t core_id;
  Series* series;
};
constexpr std::size_t kHotSlots = 16;
__attribute__((tls_model("initial-exec"))) thread_local HotEntry t_hot[kHotSlots];
thread_local TallyCache t_cache;

TallyCache::~TallyCache() {
  t_exiting = true;
  t_core_id = 0;
  t_block = nullptr;
}

// Takes a free stripe for this thread (kStripeShared when none is left).
__attribute__((noinline)) unsigned acquire_stripe() noexcept {
  unsigned k = kStripeShared;
  if (!t_exiting) {
    StripePool& pool = stripe_pool();
    std::lock_guard<std::mutex> lock(pool.mu);
    const std::uint32_t free_bits = ~pool.held & ((kStripes >= 32 ? 0u : 1u << kStripes) - 1u);
    if (free_bits != 0) {
      k = static_cast<unsigned>(__builtin_ctz(free_bits));
      pool.held |= 1u << k;
    }
  }
  if (k != kStripeShared) t_lease.held = true;  // registers the release at thread exit
  t_stripe = static_cast<std::uint8_t>(k);
  return k;
}

__attribute__((noinline)) StripeCells* new_stripe(Instrument* inst, Series* s,
                                                  unsigned k) noexcept {
  const std::uint32_t nb = inst->kind == InstrumentKind::kHistogram
                               ? static_cast<std::uint32_t>(inst->bounds.size() + 1)
                               : 0;
  StripeCells* c = StripeCells::make(nb);
  if (c != nullptr) s->stripes[k].store(c, std::memory_order_release);  // for the collector
  return c;
}

// This thread's cells in `s`, or null: use the shared cells with atomic
// read-modify-writes.
__attribute__((always_inline)) inline StripeCells* my_stripe(Instrument* inst, Series* s) noexcept {
  unsigned k = t_stripe;
  if (k - 1u >= kStripes - 1u) [[unlikely]] {
    if (k != 0) return nullptr;
    k = acquire_stripe();
    if (k == kStripeShared) return nullptr;
  }
  // Only this thread stores into slot k while it holds the stripe.
  StripeCells* c = s->stripes[k].load(std::memory_order_relaxed);
  if (c == nullptr) [[unlikely]]
    c = new_stripe(inst, s, k);
  return c;
}

// Single-writer updates: plain load + store, no lock prefix.
inline void add_own(std::atomic<std::int64_t>& a, std::int64_t v) noexcept {
  a.store(static_cast<std::int64_t>(static_cast<std::uint64_t>(a.load(std::memory_order_relaxed)) +
                                    static_cast<std::uint64_t>(v)),
          std::memory_order_relaxed);
}
inline void add_own(std::atomic<double>& a, double v) noexcept {
  a.store(a.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}
inline void add_own(std::atomic<std::uint64_t>& a, std::uint64_t v) noexcept {
  a.store(a.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}

// The bucket of `x` (OpenTelemetry: bucket i is (b[i-1], b[i]]): the number
// of bounds below x, i.e. lower_bound. Up to kLinearBounds bounds, every
// bound is compared at once, four to a vector (the +inf padding is never
// below a finite x, and non-finite values are rejected before this); longer
// lists take a branchless halving (conditional moves), since measurements
// spread over the buckets would mispredict a branchy search about every
// other step.
inline std::size_t bucket_of(const Instrument& inst, double x) noexcept {
  const std::vector<double>& lin = inst.linear_bounds;
  if (!lin.empty()) [[likely]] {
    // 16-byte vectors: one SSE2 compare each on x86-64's baseline.
    using Doubles = double __attribute__((vector_size(16)));
    using Mask = long long __attribute__((vector_size(16)));
    const Doubles xs = {x, x};
    Mask below0 = {0, 0}, below1 = {0, 0};
    for (std::size_t i = 0; i < lin.size(); i += 4) {
      Doubles b0, b1;
      std::memcpy(&b0, lin.data() + i, sizeof b0);
      std::memcpy(&b1, lin.data() + i + 2, sizeof b1);
      below0 -= (b0 < xs);  // a true lane is -1
      below1 -= (b1 < xs);
    }
    const Mask below = below0 + below1;
    return static_cast<std::size_t>(below[0] + below[1]);
  }
  const std::vector<double>& b = inst.bounds;
  std::size_t n = b.size();
  if (n == 0) return 0;
  const double* base = b.data();
  while (n > 1) {
    const std::size_t half = n / 2;
    base = base[half] < x ? base + half : base;
    n -= half;
  }
  return static_cast<std::size_t>(base - b.data()) + (*base < x);
}

// Totals of a series: its shared cells plus every stripe.
std::int64_t int_total_of(const Series* s) noexcept {
  auto t = static_cast<std::uint64_t>(s->int_total.load(std::memory_order_relaxed));
  for (std::size_t k = 1; k < kStripes; ++k)
    if (StripeCells* c = s->stripes[k].load(std::memory_order_acquire))
      t += static_cast<std::uint64_t>(c->int_total.load(std::memory_order_relaxed));
  return static_cast<std::int64_t>(t);
}
double double_total_of(const Series* s) noexcept {
  double t = s->double_total.load(std::memory_order_relaxed);
  for (std::size_t k = 1; k < kStripes; ++k)
    if (StripeCells* c = s->stripes[k].load(std::memory_order_acquire))
      t += c->double_total.load(std::memory_order_relaxed);
  return t;
}

// A name as it may appear in a diagnostic: printable ASCII, bounded.
std::string shown(std::string_view s) { return core::printable_excerpt(s, 80); }

inline std::size_t hot_slot(std::string_view name, MetricAttributes a) noexcept {
  std::size_t h = name.size() * 0x9E3779B1u;
  if (!name.empty()) {
    h += static_cast<unsigned char>(name.back()) * 131u +
         static_cast<unsigned char>(name[name.size() / 2]);
  }
  const std::size_t n = a.size() < 4 ? a.size() : 4;
  for (std::size_t i = 0; i < n; ++i) {
    const FieldValue& v = a[i].value;
    if (v.type() == FieldValue::Type::kString) {
      const std::string_view str = v.as_string();
      h = h * 31 + str.size() * 7 + (str.empty() ? 0 : static_cast<unsigned char>(str.back()));
    } else {
      h = h * 31 + static_cast<std::size_t>(scalar_of(v));
    }
  }
  return (h ^ (h >> 7) ^ (h >> 13)) & (kHotSlots - 1);
}

bool distinct_keys(MetricAttributes attrs) noexcept {
  for (std::size_t i = 1; i < attrs.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (attrs[i].key == attrs[j].key) return false;
  return true;
}

bool is_sum(InstrumentKind k) noexcept {
  return k == InstrumentKind::kCounter || k == InstrumentKind::kUpDownCounter ||
         k == InstrumentKind::kObservableCounter || k == InstrumentKind::kObservableUpDownCounter;
}
bool is_monotonic(InstrumentKind k) noexcept {
  return k == InstrumentKind::kCounter || k == InstrumentKind::kObservableCounter;
}
bool is_gauge(InstrumentKind k) noexcept {
  return k == InstrumentKind::kGauge || k == InstrumentKind::kObservableGauge;
}

inline double as_double(const Value& v) noexcept {
  return v.is_double ? v.d : static_cast<double>(v.i);
}

inline void mark_double(Instrument* inst) noexcept {
  if (!inst->double_values.load(std::memory_order_relaxed))
    inst->double_values.store(true, std::memory_order_relaxed);
}

}  // namespace

bool valid_instrument_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 255) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  if (!alpha(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!(alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' || c == '/'))
      return false;
  }
  return true;
}

StripeCells* StripeCells::make(std::uint32_t bucket_count) noexcept {
  const std::size_t bytes = sizeof(StripeCells) + bucket_count * sizeof(std::atomic<std::uint64_t>);
  void* raw = ::operator new (bytes, std::align_val_t{alignof(StripeCells)}, std::nothrow);
  if (raw == nullptr) return nullptr;
  auto* c = new (raw) StripeCells();
  c->bucket_count = bucket_count;
  auto* b = reinterpret_cast<char*>(raw) + sizeof(StripeCells);
  for (std::uint32_t i = 0; i < bucket_count; ++i)
    new (b + i * sizeof(std::atomic<std::uint64_t>)) std::atomic<std::uint64_t>(0);
  return c;
}

void StripeCells::destroy(StripeCells* c) noexcept {
  if (c == nullptr) return;
  c->~StripeCells();  // the bucket atomics are trivially destructible
  ::operator delete (static_cast<void*>(c), std::align_val_t{alignof(StripeCells)});
}

Series::~Series() {
  for (auto& slot : stripes) StripeCells::destroy(slot.load(std::memory_order_relaxed));
}

MetricsCore::MetricsCore(CoreOptions options, core::Pipeline* pipeline,
                         core::Diagnostics* diagnostics)
    : options_(options),
      pipeline_(pipeline),
      own_diagnostics_(diagnostics ? nullptr : std::make_unique<core::Diagnostics>()),
      diagnostics_(diagnostics ? diagnostics : own_diagnostics_.get()),
      id_(g_next_core_id.fetch_add(1)),
      facade_(this),
      names_(64) {
  refused_handle_.valid = false;
  refused_handle_.core = this;
  refused_handle_.name = "(refused)";
  // Registered after the pipeline's handlers, so they run before them at
  // fork() (prepare handlers run in reverse order): the metrics sink's lock
  // is taken before the pipeline's accounting lock its thread may want.
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(fork_prepare, fork_parent, fork_child); });
  fork_generation_.store(g_fork_generation.load(std::memory_order_acquire),
                         std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(core_registry().mu);
  core_registry().cores.insert(this);
}

MetricsCore::~MetricsCore() {
  {
    std::lock_guard<std::mutex> lock(core_registry().mu);
    core_registry().cores.erase(this);
  }
  std::lock_guard<std::mutex> lock(tally_mu_);
  for (auto& t : tallies_) t->core_gone.store(true, std::memory_order_release);
}

std::uint64_t MetricsCore::current_fork_generation() noexcept {
  return g_fork_generation.load(std::memory_order_relaxed);
}

// Lock order: the owner's locks, the registry, each instrument, the tallies;
// no other path nests them the other way round.
void MetricsCore::lock_for_fork() noexcept {
  if (fork_hooks_.prepare) fork_hooks_.prepare();
  registry_mu_.lock();
  for (auto& inst : instruments_) inst->mu.lock();
  tally_mu_.lock();
}

void MetricsCore::unlock_after_fork() noexcept {
  tally_mu_.unlock();
  for (auto it = instruments_.rbegin(); it != instruments_.rend(); ++it) (*it)->mu.unlock();
  registry_mu_.unlock();
  if (fork_hooks_.release) fork_hooks_.release();
}

void MetricsCore::after_fork_child() noexcept {
  static std::mutex restart_mu;  // first locked in the child: never held at fork time
  std::lock_guard<std::mutex> guard(restart_mu);
  const std::uint64_t gen = g_fork_generation.load(std::memory_order_acquire);
  if (fork_generation_.load(std::memory_order_relaxed) == gen) return;
  // A collection may have been running in the parent: its lock would stay
  // taken forever here.
  new (&collect_mu_) DeadlineMutex();
  runner_.forget_after_fork();
  const auto now = static_cast<std::uint64_t>(core::now_unix_nano());
  {
    std::lock_guard<std::mutex> lock(registry_mu_);
    for (auto& inst : instruments_) {
      std::lock_guard<std::mutex> ilock(inst->mu);
      if (inst->callback_busy) inst->callback_busy->store(false, std::memory_order_relaxed);
      inst->overflowed.store(0, std::memory_order_relaxed);
      for (auto& s : inst->series) {
        s->int_total.store(0, std::memory_order_relaxed);
        s->double_total.store(0, std::memory_order_relaxed);
        s->gauge_set.store(false, std::memory_order_relaxed);
        s->gauge_value.store(0, std::memory_order_relaxed);
        if (s->buckets) {
          for (std::size_t k = 0; k <= inst->bounds.size(); ++k)
            s->buckets[k].store(0, std::memory_order_relaxed);
          s->hist_sum.store(0, std::memory_order_relaxed);
          s->hist_min.store(kInf, std::memory_order_relaxed);
          s->hist_max.store(-kInf, std::memory_order_relaxed);
        }
        if (s->expo) s->expo->reset_after_fork();
        for (std::size_t k = 1; k < kStripes; ++k) {
          StripeCells* c = s->stripes[k].load(std::memory_order_relaxed);
          if (c == nullptr) continue;
          c->int_total.store(0, std::memory_order_relaxed);
          c->double_total.store(0, std::memory_order_relaxed);
          c->hist_sum.store(0, std::memory_order_relaxed);
          for (std::uint32_t b = 0; b < c->bucket_count; ++b)
            c->buckets()[b].store(0, std::memory_order_relaxed);
        }
        s->baseline = Series::Baseline{};
        s->observed_in = 0;
        s->start_unix_nano = now;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(tally_mu_);
    for (auto& t : tallies_) t->accepted.store(0, std::memory_order_relaxed);
  }
  orphan_accepted_.store(0, std::memory_order_relaxed);
  for (auto* c : {&rejected_values_, &rejected_names_, &rejected_conflicts_, &rejected_other_,
                  &shutdown_drops_, &callback_errors_, &callback_timeouts_, &callbacks_skipped_,
                  &collections_, &exported_points_}) {
    c->store(0, std::memory_order_relaxed);
  }
  for (auto& c : measurement_drops_) c.store(0, std::memory_order_relaxed);
  if (fork_hooks_.child) fork_hooks_.child();
  fork_generation_.store(gen, std::memory_order_relaxed);
}

// ---------------------------------------------------------------- counting

__attribute__((always_inline)) inline TallyBlock* MetricsCore::tally() noexcept {
  if (t_core_id == id_) [[likely]]
    return t_block;
  return tally_slow();
}

TallyBlock* MetricsCore::tally_slow() noexcept {
  if (t_exiting) return nullptr;
  try {
    auto& cache = t_cache;
    std::erase_if(cache.entries, [](const auto& e) {
      return e.second->core_gone.load(std::memory_order_acquire);
    });
    for (auto& e : cache.entries) {
      if (e.first == id_) {
        t_core_id = id_;
        t_block = e.second.get();
        return t_block;
      }
    }
    auto block = std::make_shared<TallyBlock>();
    {
      std::lock_guard<std::mutex> lock(tally_mu_);
      tallies_.push_back(block);
    }
    cache.entries.emplace_back(id_, block);
    t_core_id = id_;
    t_block = block.get();
    return t_block;
  } catch (...) {
    return nullptr;
  }
}

__attribute__((always_inline)) inline void MetricsCore::bump_accepted() noexcept {
  if (TallyBlock* b = tally()) {
    b->accepted.store(b->accepted.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  } else {
    orphan_accepted_.fetch_add(1, std::memory_order_relaxed);
  }
}

void MetricsCore::drop(DropReason reason) noexcept {
  measurement_drops_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t MetricsCore::accepted() const noexcept {
  std::uint64_t n = orphan_accepted_.load(std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(tally_mu_);
  for (auto& t : tallies_) n += t->accepted.load(std::memory_order_relaxed);
  return n;
}

void MetricsCore::add_health(HealthSnapshot& h) const noexcept {
  // The track's own counters are in data points, the unit its destinations
  // resolve (written, dropped, spooled); measurements are counted apart.
  const std::uint64_t points = exported_points_.load(std::memory_order_relaxed);
  auto& t = h.tracks[static_cast<std::size_t>(Track::kMetrics)];
  t.offered += points;
  t.accepted += points;
  t.measurements += accepted();
  for (std::size_t r = 0; r < measurement_drops_.size(); ++r) {
    const std::uint64_t n = measurement_drops_[r].load(std::memory_order_relaxed);
    t.measurements += n;
    t.measurements_dropped[r] += n;
  }
}

MetricsStats MetricsCore::stats() const noexcept {
  MetricsStats s;
  {
    std::lock_guard<std::mutex> lock(registry_mu_);
    s.instruments = instruments_.size();
    for (auto& inst : instruments_) {
      std::lock_guard<std::mutex> ilock(inst->mu);
      s.series += inst->series.size();
      s.overflowed += inst->overflowed.load(std::memory_order_relaxed);
    }
  }
  s.rejected_values = rejected_values_.load(std::memory_order_relaxed);
  s.rejected_names = rejected_names_.load(std::memory_order_relaxed);
  s.rejected_conflicts = rejected_conflicts_.load(std::memory_order_relaxed);
  s.callback_errors = callback_errors_.load(std::memory_order_relaxed);
  s.callback_timeouts = callback_timeouts_.load(std::memory_order_relaxed);
  s.callbacks_skipped = callbacks_skipped_.load(std::memory_order_relaxed);
  s.collections = collections_.load(std::memory_order_relaxed);
  s.exported_points = exported_points_.load(std::memory_order_relaxed);
  return s;
}

// ---------------------------------------------------------------- registry

Instrument* MetricsCore::find_name(std::string_view name) const noexcept {
  const std::uint64_t h = hash_string(name, kNameSeed);
  const NameEntry* e = names_.find(h, [&](const NameEntry& n) { return same(n.spelling, name); });
  return e ? e->instrument : nullptr;
}

Instrument* MetricsCore::make_instrument(InstrumentKind kind, std::string_view name,
                                         std::string_view unit, const InstrumentOptions* options) {
  auto inst = std::make_unique<Instrument>();
  inst->hash = hash_string(name, kNameSeed);
  inst->name = std::string(name);
  inst->unit = std::string(unit);
  inst->kind = kind;
  inst->core = this;
  if (options) inst->description = std::string(options->description);
  if (kind == InstrumentKind::kHistogram) {
    if (options && options->exponential) {
      inst->exponential = true;
      inst->expo_max_size = std::clamp<std::int32_t>(options->exponential_max_size, 2, 16384);
      inst->expo_max_scale =
          std::clamp<std::int32_t>(options->exponential_max_scale, kExpoMinScale, kExpoMaxScale);
    } else {
      bool ok = options && !options->boundaries.empty();
      if (ok) {
        const auto& b = options->boundaries;
        for (std::size_t i = 0; i < b.size() && ok; ++i) {
          ok = std::isfinite(b[i]) && (i == 0 || b[i] > b[i - 1]);
        }
        if (!ok) {
          diagnostics_->report("metrics_bounds:" + shown(name),
                               "histogram '" + shown(name) +
                                   "': bucket boundaries must be finite and strictly increasing; "
                                   "using the default boundaries");
        }
      }
      if (ok && options->boundaries.size() <= 4096) {
        inst->bounds = options->boundaries;
      } else {
        inst->bounds.assign(std::begin(kDefaultHistogramBoundaries),
                            std::end(kDefaultHistogramBoundaries));
      }
      if (inst->bounds.size() <= kLinearBounds) {
        inst->linear_bounds = inst->bounds;
        inst->linear_bounds.resize((inst->bounds.size() + 3) / 4 * 4,
                                   std::numeric_limits<double>::infinity());
      }
    }
  }
  if (kind >= InstrumentKind::kObservableCounter) {
    inst->callback_busy = std::make_shared<std::atomic<bool>>(false);
  }
  Instrument* raw = inst.get();
  instruments_.push_back(std::move(inst));
  return raw;
}

Instrument* MetricsCore::register_name(InstrumentKind kind, std::string_view name,
                                       std::string_view unit,
                                       const InstrumentOptions* options) noexcept {
  try {
    std::lock_guard<std::mutex> lock(registry_mu_);
    if (Instrument* i = find_name(name)) return i;
    if (name_entries_.size() >= options_.max_names) {
      if (!names_full_reported_) {
        names_full_reported_ = true;
        diagnostics_->report("metrics_names_full",
                             "more than " + std::to_string(options_.max_names) +
                                 " distinct metric instrument names; measurements for new names "
                                 "are dropped (rejected)");
      }
      return nullptr;
    }
    auto add_spelling = [&](Instrument* inst) {
      auto e = std::make_unique<NameEntry>();
      e->hash = hash_string(name, kNameSeed);
      e->spelling = std::string(name);
      e->instrument = inst;
      name_entries_.push_back(std::move(e));
      names_.insert(name_entries_.back().get());
    };
    if (!valid_instrument_name(name)) {
      auto p = std::make_unique<Instrument>();
      p->valid = false;
      p->kind = kind;
      p->core = this;
      p->name = std::string(name.substr(0, 256));
      diagnostics_->report(
          "metrics_name:" + shown(name),
          "metric instrument name \"" + shown(name) +
              "\" is invalid (it must match [A-Za-z][A-Za-z0-9_.\\-/]{0,254}); its measurements "
              "are dropped (rejected)");
      refused_.push_back(std::move(p));
      add_spelling(refused_.back().get());
      return refused_.back().get();
    }
    std::string key = core::to_lower(name);
    if (auto it = by_lower_.find(key); it != by_lower_.end()) {
      // Names are case-insensitive: another spelling of a known instrument.
      add_spelling(it->second);
      return it->second;
    }
    Instrument* inst = make_instrument(kind, name, unit, options);
    by_lower_.emplace(std::move(key), inst);
    add_spelling(inst);
    return inst;
  } catch (...) {
    return nullptr;
  }
}

Instrument* MetricsCore::create(InstrumentKind kind, std::string_view name,
                                const InstrumentOptions& options,
                                ObservableCallback callback) noexcept {
  if (!options_.enabled) return nullptr;
  const bool observable = kind >= InstrumentKind::kObservableCounter;
  if (observable && !callback) {
    diagnostics_->report("metrics_callback:" + shown(name),
                         "observable instrument '" + shown(name) + "' needs a callback; refused");
    return &refused_handle_;
  }
  Instrument* inst = find_name(name);
  bool created = false;
  if (inst == nullptr) {
    try {
      std::lock_guard<std::mutex> lock(registry_mu_);
      // Register under the lock so an observable instrument is published
      // with its callback already in place.
      inst = find_name(name);
      if (inst == nullptr && valid_instrument_name(name) &&
          !by_lower_.count(core::to_lower(name)) && name_entries_.size() < options_.max_names) {
        inst = make_instrument(kind, name, options.unit, &options);
        if (observable) {
          inst->callback = std::make_shared<const ObservableCallback>(std::move(callback));
        }
        by_lower_.emplace(core::to_lower(name), inst);
        auto e = std::make_unique<NameEntry>();
        e->hash = hash_string(name, kNameSeed);
        e->spelling = std::string(name);
        e->instrument = inst;
        name_entries_.push_back(std::move(e));
        names_.insert(name_entries_.back().get());
        created = true;
      }
    } catch (...) {
      return &refused_handle_;
    }
    if (inst == nullptr) inst = register_name(kind, name, options.unit, &options);
  }
  if (inst == nullptr) return &refused_handle_;
  if (!inst->valid) return inst;  // reported when the name was first seen
  if (inst->kind != kind || (!options.unit.empty() && options.unit != inst->unit)) {
    conflict(inst, kind, options.unit, /*count=*/false);  // no measurement yet
    return &refused_handle_;
  }
  if (observable && !created) {
    const std::uint32_t bit = kReportedCallback;
    if ((inst->reported.fetch_or(bit) & bit) == 0) {
      diagnostics_->report("metrics_callback:" + shown(name),
                           "observable instrument '" + shown(name) +
                               "' already has a callback; the second registration was refused");
    }
    return &refused_handle_;
  }
  return inst;
}

void MetricsCore::conflict(Instrument* inst, InstrumentKind kind, std::string_view unit,
                           bool count) noexcept {
  if (count) {
    rejected_conflicts_.fetch_add(1, std::memory_order_relaxed);
    drop(DropReason::kRejected);
  }
  const bool kind_differs = inst->kind != kind;
  const std::uint32_t bit = kind_differs ? (1u << static_cast<unsigned>(kind)) : kReportedUnit;
  if ((inst->reported.fetch_or(bit, std::memory_order_relaxed) & bit) != 0) return;
  try {
    std::string what = "metric instrument '" + inst->name + "' is a " +
                       std::string(to_string(inst->kind)) + " with unit \"" + inst->unit + "\"";
    what += kind_differs ? "; a " + std::string(to_string(kind)) + " call"
                         : "; a call with unit \"" + shown(unit) + "\"";
    what += " conflicts with it and is dropped (rejected)";
    diagnostics_->report("metrics_conflict:" + inst->name, std::move(what));
  } catch (...) {
  }
}

void MetricsCore::reject_unregistered() noexcept {
  if (!options_.enabled) return;
  rejected_conflicts_.fetch_add(1, std::memory_order_relaxed);
  drop(DropReason::kRejected);
}

// ---------------------------------------------------------------- recording

bool MetricsCore::reject_value(const Instrument* inst, const Value& v, bool measurement) noexcept {
  const std::uint32_t bit =
      v.is_double && !std::isfinite(v.d) ? kReportedNonFinite : kReportedNegative;
  rejected_values_.fetch_add(1, std::memory_order_relaxed);
  if (measurement) drop(DropReason::kRejected);
  auto* mutable_inst = const_cast<Instrument*>(inst);
  if ((mutable_inst->reported.fetch_or(bit, std::memory_order_relaxed) & bit) == 0) {
    try {
      diagnostics_->report(
          "metrics_value:" + inst->name,
          "metric instrument '" + inst->name + "': " +
              (bit == kReportedNonFinite ? std::string("NaN or infinite value")
                                         : std::string("negative increment of a counter")) +
              " dropped (rejected); further ones are counted silently");
    } catch (...) {
    }
  }
  return false;
}

__attribute__((always_inline)) inline void MetricsCore::update(Instrument* inst, Series* s,
                                                               const Value& v) noexcept {
  switch (inst->kind) {
    case InstrumentKind::kCounter:
    case InstrumentKind::kUpDownCounter:
      if (StripeCells* c = my_stripe(inst, s)) [[likely]] {
        if (v.is_double) {
          add_own(c->double_total, v.d);
          mark_double(inst);
        } else {
          add_own(c->int_total, v.i);
        }
      } else if (v.is_double) {
        s->double_total.fetch_add(v.d, std::memory_order_relaxed);
        mark_double(inst);
      } else {
        s->int_total.fetch_add(v.i, std::memory_order_relaxed);
      }
      break;
    case InstrumentKind::kGauge:
      if (v.is_double) mark_double(inst);
      s->gauge_value.store(as_double(v), std::memory_order_relaxed);
      if (!s->gauge_set.load(std::memory_order_relaxed))
        s->gauge_set.store(true, std::memory_order_release);
      break;
    case InstrumentKind::kHistogram: {
      const double x = as_double(v);
      if (s->expo) {
        s->expo->record(x);
        break;
      }
      const std::size_t idx = bucket_of(*inst, x);
      if (StripeCells* c = my_stripe(inst, s)) [[likely]] {
        add_own(c->buckets()[idx], 1);
        add_own(c->hist_sum, x);
      } else {
        s->buckets[idx].fetch_add(1, std::memory_order_relaxed);
        s->hist_sum.fetch_add(x, std::memory_order_relaxed);
      }
      double m = s->hist_min.load(std::memory_order_relaxed);
      while (x < m && !s->hist_min.compare_exchange_weak(m, x, std::memory_order_relaxed)) {
      }
      m = s->hist_max.load(std::memory_order_relaxed);
      while (x > m && !s->hist_max.compare_exchange_weak(m, x, std::memory_order_relaxed)) {
      }
      break;
    }
    default:
      break;
  }
  if (s->overflow) inst->overflowed.fetch_add(1, std::memory_order_relaxed);
}

void MetricsCore::record(InstrumentKind kind, std::string_view name, std::string_view unit, Value v,
                         MetricAttributes attributes) noexcept {
  if (!options_.enabled) return;
  check_fork();
  if (closed()) {
    shutdown_drops_.fetch_add(1, std::memory_order_relaxed);
    drop(DropReason::kShutdown);
    return;
  }
  HotEntry& hot = t_hot[hot_slot(name, attributes)];
  if (hot.core_id == id_) {
    Series* s = hot.series;
    Instrument* inst = s->instrument;
    if (inst->kind == kind && same(name, inst->name) && (unit.empty() || same(unit, inst->unit)) &&
        (attributes.size() <= 64 ? equals_input(s->attributes, attributes)
                                 : equals_positional(s->attributes, attributes))) {
      if (!check_value(inst, v, /*measurement=*/true)) return;
      update(inst, s, v);
      bump_accepted();
      return;
    }
  }
  Instrument* inst = find_name(name);
  if (inst == nullptr) {
    inst = register_name(kind, name, unit, nullptr);
    if (inst == nullptr) {
      rejected_names_.fetch_add(1, std::memory_order_relaxed);
      drop(DropReason::kRejected);
      return;
    }
  }
  if (!inst->valid) {
    rejected_names_.fetch_add(1, std::memory_order_relaxed);
    drop(DropReason::kRejected);
    return;
  }
  if (inst->kind != kind || (!unit.empty() && unit != inst->unit)) {
    conflict(inst, kind, unit, /*count=*/true);
    return;
  }
  if (!check_value(inst, v, /*measurement=*/true)) return;
  Series* s = resolve(inst, attributes);
  if (s == nullptr) {
    drop(DropReason::kMemoryCap);
    return;
  }
  update(inst, s, v);
  bump_accepted();
  hot = HotEntry{id_, s};
}

void MetricsCore::record_on(Instrument* inst, Value v, MetricAttributes attributes) noexcept {
  if (!options_.enabled) return;
  check_fork();
  if (closed()) {
    shutdown_drops_.fetch_add(1, std::memory_order_relaxed);
    drop(DropReason::kShutdown);
    return;
  }
  if (!inst->valid || inst->observable()) {
    (inst == &refused_handle_ ? rejected_conflicts_ : rejected_names_)
        .fetch_add(1, std::memory_order_relaxed);
    drop(DropReason::kRejected);
    return;
  }
  if (!check_value(inst, v, /*measurement=*/true)) return;
  Series* s = resolve(inst, attributes);
  if (s == nullptr) {
    drop(DropReason::kMemoryCap);
    return;
  }
  update(inst, s, v);
  bump_accepted();
}

void MetricsCore::apply_bound(Series* s, Value v) noexcept {
  check_fork();
  if (closed()) {
    shutdown_drops_.fetch_add(1, std::memory_order_relaxed);
    drop(DropReason::kShutdown);
    return;
  }
  Instrument* inst = s->instrument;
  if (!check_value(inst, v, /*measurement=*/true)) return;
  update(inst, s, v);
  bump_accepted();
}

Series* MetricsCore::resolve(Instrument* inst, MetricAttributes attributes) noexcept {
  if (!inst->valid || inst->observable()) return nullptr;
  bool simple;
  const std::uint64_t h = hash_input(attributes, simple);
  if (simple) {
    Series* s = inst->table.find(
        h, [&](const Series& x) { return equals_input(x.attributes, attributes); });
    if (s != nullptr) return s;
    // Past the limit nothing new is inserted, so a miss on a well-formed set
    // is final: straight to the overflow series, no allocation.
    if (inst->full.load(std::memory_order_acquire) && distinct_keys(attributes)) {
      return inst->overflow.load(std::memory_order_acquire);
    }
  }
  try {
    return resolve_canonical(inst, canonicalize(attributes));
  } catch (...) {
    return nullptr;
  }
}

Series* MetricsCore::new_series(Instrument* inst, AttributeSet&& set, std::uint64_t hash,
                                bool overflow) {
  auto s = std::make_unique<Series>();
  s->hash = hash;
  s->instrument = inst;
  s->overflow = overflow;
  s->attributes = std::move(set);
  s->start_unix_nano = static_cast<std::uint64_t>(core::now_unix_nano());
  if (inst->kind == InstrumentKind::kHistogram) {
    if (inst->exponential) {
      s->expo = std::make_unique<ExpoHistogram>(inst->expo_max_size, inst->expo_max_scale);
    } else {
      s->buckets.reset(new std::atomic<std::uint64_t>[inst->bounds.size() + 1]);
      for (std::size_t i = 0; i <= inst->bounds.size(); ++i)
        s->buckets[i].store(0, std::memory_order_relaxed);
      s->hist_min.store(kInf, std::memory_order_relaxed);
      s->hist_max.store(-kInf, std::memory_order_relaxed);
    }
  }
  Series* raw = s.get();
  inst->series.push_back(std::move(s));
  if (!overflow) inst->table.insert(raw);
  return raw;
}

Series* MetricsCore::resolve_canonical(Instrument* inst, AttributeSet&& set) {
  const std::uint64_t h = hash_set(set);
  auto eq = [&](const Series& x) { return x.attributes == set; };
  if (Series* s = inst->table.find(h, eq)) return s;
  if (inst->full.load(std::memory_order_acquire))
    return inst->overflow.load(std::memory_order_acquire);
  std::lock_guard<std::mutex> lock(inst->mu);
  if (Series* s = inst->table.find(h, eq)) return s;
  if (inst->full.load(std::memory_order_relaxed))
    return inst->overflow.load(std::memory_order_relaxed);
  if (inst->series.size() >= options_.cardinality_limit) {
    AttributeSet marker(1);
    marker[0].key = "otel.metric.overflow";
    marker[0].type = FieldValue::Type::kBool;
    marker[0].scalar = 1;
    const std::uint64_t mh = hash_set(marker);
    Series* o = new_series(inst, std::move(marker), mh, /*overflow=*/true);
    inst->overflow.store(o, std::memory_order_release);
    inst->full.store(true, std::memory_order_release);
    if ((inst->reported.fetch_or(kReportedOverflow) & kReportedOverflow) == 0) {
      diagnostics_->report("metrics_cardinality:" + inst->name,
                           "metric instrument '" + inst->name +
                               "' reached its cardinality limit (" +
                               std::to_string(options_.cardinality_limit) +
                               " attribute sets); measurements with new attribute sets go to one "
                               "series with otel.metric.overflow=true");
    }
    return o;
  }
  return new_series(inst, std::move(set), h, /*overflow=*/false);
}

// ---------------------------------------------------------------- collection

otlp::AggregationTemporality MetricsCore::temporality_for(InstrumentKind kind,
                                                          CollectFor target) const {
  using T = otlp::AggregationTemporality;
  if (target == CollectFor::kPrometheus) return T::kCumulative;
  const Temporality pref = options_.temporality;
  switch (kind) {
    case InstrumentKind::kCounter:
    case InstrumentKind::kHistogram:
      return pref == Temporality::kCumulative ? T::kCumulative : T::kDelta;
    case InstrumentKind::kObservableCounter:
      return pref == Temporality::kDelta ? T::kDelta : T::kCumulative;
    default:
      return T::kCumulative;
  }
}

void MetricsCore::run_callbacks(const std::vector<Instrument*>& list, std::uint64_t seq,
                                Clock::time_point deadline, const std::atomic<bool>* cancel) {
  for (Instrument* inst : list) {
    if (!inst->observable() || !inst->callback) continue;
    const auto now = Clock::now();
    if (inst->callback_busy->load(std::memory_order_acquire) || now >= deadline) {
      callbacks_skipped_.fetch_add(1, std::memory_order_relaxed);
      if (now < deadline && (inst->reported.fetch_or(kReportedBusy) & kReportedBusy) == 0) {
        diagnostics_->report("metrics_callback_busy:" + inst->name,
                             "observable callback of '" + inst->name +
                                 "' is still running from an earlier collection; skipped");
      }
      continue;
    }
    auto job = std::make_shared<CallbackJob>();
    job->callback = inst->callback;
    job->buffer = std::make_shared<ObservationBuffer>();
    job->busy = inst->callback_busy;
    const auto limit = std::min(deadline, now + options_.callback_timeout);
    const auto r = runner_.run(job, limit, cancel);
    switch (r.outcome) {
      case CallbackRunner::Outcome::kDone:
        apply_observations(inst, *job->buffer, seq);
        break;
      case CallbackRunner::Outcome::kThrew:
        callback_errors_.fetch_add(1, std::memory_order_relaxed);
        if ((inst->reported.fetch_or(kReportedThrew) & kReportedThrew) == 0) {
          diagnostics_->report("metrics_callback_error:" + inst->name,
                               "observable callback of '" + inst->name + "' threw (" +
                                   shown(r.error) +
                                   "); its observations of that collection are dropped");
        }
        break;
      case CallbackRunner::Outcome::kTimedOut:
        callback_timeouts_.fetch_add(1, std::memory_order_relaxed);
        if ((inst->reported.fetch_or(kReportedTimeout) & kReportedTimeout) == 0) {
          diagnostics_->report(
              "metrics_callback_timeout:" + inst->name,
              "observable callback of '" + inst->name + "' did not return within " +
                  std::to_string(options_.callback_timeout.count()) +
                  " ms; abandoned for this collection and skipped until it returns");
        }
        break;
      case CallbackRunner::Outcome::kCancelled:
        break;
    }
  }
}

void MetricsCore::apply_observations(Instrument* inst, ObservationBuffer& buffer,
                                     std::uint64_t seq) {
  std::vector<ObservationBuffer::Observation> items;
  std::uint64_t over = 0;
  {
    std::lock_guard<std::mutex> lock(buffer.mu);
    items = std::move(buffer.items);
    over = buffer.over_limit;
    buffer.closed = true;
  }
  // Observations are the reader's own reads, not the application's
  // measurements: they are not counted in the track's health, only in stats.
  rejected_values_.fetch_add(over, std::memory_order_relaxed);
  for (auto& o : items) {
    if (!check_value(inst, o.value, /*measurement=*/false)) continue;
    Series* s = resolve_canonical(inst, std::move(o.attributes));
    if (s == nullptr) continue;
    const bool first = s->observed_in != seq;
    if (is_sum(inst->kind)) {
      // An observation is the current total: it replaces the previous one,
      // except in the overflow series, which adds up every set it stands for.
      if (first || !s->overflow) {
        s->int_total.store(0, std::memory_order_relaxed);
        s->double_total.store(0, std::memory_order_relaxed);
      }
      if (o.value.is_double) {
        s->double_total.fetch_add(o.value.d, std::memory_order_relaxed);
        mark_double(inst);
      } else {
        s->int_total.fetch_add(o.value.i, std::memory_order_relaxed);
      }
    } else {
      if (o.value.is_double) mark_double(inst);
      s->gauge_value.store(as_double(o.value), std::memory_order_relaxed);
      s->gauge_set.store(true, std::memory_order_release);
    }
    s->observed_in = seq;
    if (s->overflow) inst->overflowed.fetch_add(1, std::memory_order_relaxed);
  }
}

void MetricsCore::collect_instrument(Instrument* inst, CollectFor target, std::uint64_t seq,
                                     std::uint64_t now, std::vector<otlp::MetricData>& out) {
  std::vector<Series*> list;
  {
    std::lock_guard<std::mutex> lock(inst->mu);
    list.reserve(inst->series.size());
    for (auto& s : inst->series) list.push_back(s.get());
  }
  if (list.empty()) return;
  otlp::MetricData md;
  md.name = inst->name;
  md.description = inst->description;
  md.unit = inst->unit;
  md.temporality = temporality_for(inst->kind, target);
  const bool delta = md.temporality == otlp::AggregationTemporality::kDelta;
  const bool advance = target == CollectFor::kOtlp;  // only OTLP moves the delta baselines
  const bool doubles = inst->double_values.load(std::memory_order_relaxed);
  const bool observable = inst->observable();
  auto attributes_of = [](Series* s) -> const std::vector<otlp::KeyValue>& {
    if (s->exported_attributes.size() != s->attributes.size())
      s->exported_attributes = to_key_values(s->attributes);
    return s->exported_attributes;
  };

  if (is_sum(inst->kind)) {
    md.kind = otlp::MetricKind::kSum;
    md.monotonic = is_monotonic(inst->kind);
    for (Series* s : list) {
      if (observable && s->observed_in != seq) continue;
      std::int64_t i = int_total_of(s);
      double d = double_total_of(s);
      std::uint64_t start = s->start_unix_nano;
      if (delta) {
        const std::int64_t di = static_cast<std::int64_t>(
            static_cast<std::uint64_t>(i) - static_cast<std::uint64_t>(s->baseline.int_total));
        const double dd = d - s->baseline.double_total;
        if (s->baseline.time_unix_nano != 0) start = s->baseline.time_unix_nano;
        if (advance) {
          s->baseline.int_total = i;
          s->baseline.double_total = d;
          s->baseline.time_unix_nano = now;
        }
        if (!observable && di == 0 && dd == 0) continue;
        i = di;
        d = dd;
      }
      otlp::NumberPoint p;
      p.attributes = attributes_of(s);
      p.start_time_unix_nano = start;
      p.time_unix_nano = now;
      if (doubles) {
        p.double_value = static_cast<double>(i) + d;
      } else {
        p.is_int = true;
        p.int_value = i;
      }
      md.number_points.push_back(std::move(p));
    }
  } else if (is_gauge(inst->kind)) {
    md.kind = otlp::MetricKind::kGauge;
    for (Series* s : list) {
      if (observable ? s->observed_in != seq : !s->gauge_set.load(std::memory_order_acquire))
        continue;
      const double x = s->gauge_value.load(std::memory_order_relaxed);
      otlp::NumberPoint p;
      p.attributes = attributes_of(s);
      p.time_unix_nano = now;
      if (!doubles && std::fabs(x) < 9.2e18 && x == std::trunc(x)) {
        p.is_int = true;
        p.int_value = static_cast<std::int64_t>(x);
      } else {
        p.double_value = x;
      }
      md.number_points.push_back(std::move(p));
    }
  } else if (inst->exponential) {
    md.kind = otlp::MetricKind::kExponentialHistogram;
    for (Series* s : list) {
      ExpoSnapshot snap = s->expo->snapshot(advance && delta);
      std::uint64_t start = s->start_unix_nano;
      ExpoSnapshot shown_snap;
      if (delta) {
        if (s->baseline.time_unix_nano != 0) start = s->baseline.time_unix_nano;
        ExpoSnapshot prev = s->baseline.expo;
        if (s->baseline.time_unix_nano == 0) prev.scale = snap.scale;
        shown_snap = subtract(snap, std::move(prev));
        if (advance) {
          s->baseline.expo = snap;
          s->baseline.time_unix_nano = now;
        }
      } else {
        shown_snap = std::move(snap);
      }
      if (shown_snap.count == 0) continue;
      otlp::ExponentialHistogramPoint p;
      to_point(shown_snap, p);
      if (target == CollectFor::kPrometheus) p.has_min_max = false;
      p.attributes = attributes_of(s);
      p.start_time_unix_nano = start;
      p.time_unix_nano = now;
      md.exponential_points.push_back(std::move(p));
    }
  } else {
    md.kind = otlp::MetricKind::kHistogram;
    const std::size_t nb = inst->bounds.size() + 1;
    for (Series* s : list) {
      std::vector<std::uint64_t> counts(nb);
      std::uint64_t count = 0;
      double sum = s->hist_sum.load(std::memory_order_relaxed);
      for (std::size_t k = 0; k < nb; ++k)
        counts[k] = s->buckets[k].load(std::memory_order_relaxed);
      for (std::size_t t = 1; t < kStripes; ++t) {
        StripeCells* c = s->stripes[t].load(std::memory_order_acquire);
        if (c == nullptr) continue;
        const std::size_t n = std::min<std::size_t>(nb, c->bucket_count);
        for (std::size_t k = 0; k < n; ++k)
          counts[k] += c->buckets()[k].load(std::memory_order_relaxed);
        sum += c->hist_sum.load(std::memory_order_relaxed);
      }
      for (std::size_t k = 0; k < nb; ++k) count += counts[k];
      double mn = kInf, mx = -kInf;
      if (target == CollectFor::kOtlp) {
        if (delta) {
          mn = s->hist_min.exchange(kInf, std::memory_order_relaxed);
          mx = s->hist_max.exchange(-kInf, std::memory_order_relaxed);
        } else {
          mn = s->hist_min.load(std::memory_order_relaxed);
          mx = s->hist_max.load(std::memory_order_relaxed);
        }
      }
      std::uint64_t start = s->start_unix_nano;
      if (delta) {
        auto& base = s->baseline;
        if (base.time_unix_nano != 0) start = base.time_unix_nano;
        if (base.buckets.size() != nb) base.buckets.assign(nb, 0);
        std::vector<std::uint64_t> cur = counts;
        count = 0;
        for (std::size_t k = 0; k < nb; ++k) {
          counts[k] = counts[k] >= base.buckets[k] ? counts[k] - base.buckets[k] : 0;
          count += counts[k];
        }
        const double dsum = sum - base.hist_sum;
        if (advance) {
          base.buckets = std::move(cur);
          base.hist_sum = sum;
          base.time_unix_nano = now;
        }
        sum = dsum;
      }
      if (count == 0) continue;
      otlp::HistogramPoint p;
      p.attributes = attributes_of(s);
      p.start_time_unix_nano = start;
      p.time_unix_nano = now;
      p.count = count;
      p.sum = sum;
      p.bucket_counts = std::move(counts);
      p.bounds = inst->bounds;
      p.has_min_max = mn <= mx;
      if (p.has_min_max) {
        p.min = mn;
        p.max = mx;
      }
      md.histogram_points.push_back(std::move(p));
    }
  }
  if (!md.number_points.empty() || !md.histogram_points.empty() || !md.exponential_points.empty()) {
    out.push_back(std::move(md));
  }
}

bool MetricsCore::collect(CollectFor target, std::vector<otlp::MetricData>& out,
                          Clock::time_point deadline, const std::atomic<bool>* cancel) {
  check_fork();
  std::unique_lock<DeadlineMutex> lock(collect_mu_, std::defer_lock);
  if (!lock.try_lock_until(deadline)) return false;
  const std::uint64_t seq = collect_seq_.fetch_add(1, std::memory_order_acq_rel) + 1;
  collections_.fetch_add(1, std::memory_order_relaxed);
  std::vector<Instrument*> list;
  {
    std::lock_guard<std::mutex> rlock(registry_mu_);
    list.reserve(instruments_.size());
    for (auto& i : instruments_) list.push_back(i.get());
  }
  run_callbacks(list, seq, deadline, cancel);
  const auto now = static_cast<std::uint64_t>(core::now_unix_nano());
  for (Instrument* inst : list) collect_instrument(inst, target, seq, now, out);
  return true;
}

}  // namespace emp::telemetry::metrics
