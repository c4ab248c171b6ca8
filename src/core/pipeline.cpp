#include "core/pipeline.hpp"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <set>

#include "core/clock.hpp"

namespace emp::telemetry::core {

namespace {

using Clock = std::chrono::steady_clock;

// Producer-side counters of one track in one ring. Single writer (the ring's
// thread): updated with relaxed load+store, read by health() from anywhere.
struct ProducerCounters {
  std::atomic<std::uint64_t> offered{0};
  std::atomic<std::uint64_t> accepted{0};
  std::array<std::atomic<std::uint64_t>, kReasons> dropped{};
};
// offered, accepted, then one per drop reason.
using CounterArray = std::array<std::uint64_t, 2 + kReasons>;

void add_counters(CounterArray& into, const ProducerCounters& c) noexcept {
  into[0] += c.offered.load(std::memory_order_relaxed);
  into[1] += c.accepted.load(std::memory_order_relaxed);
  for (std::size_t r = 0; r < kReasons; ++r)
    into[2 + r] += c.dropped[r].load(std::memory_order_relaxed);
}

inline void bump(std::atomic<std::uint64_t>& c) noexcept {
  c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

std::atomic<std::uint64_t> g_next_engine_id{1};

}  // namespace

struct RingSlot {
  explicit RingSlot(std::size_t bytes) : ring(bytes) {}
  SpscRing ring;
  std::array<ProducerCounters, kTracks> counters;
  std::atomic<bool> producer_gone{false};  // its thread has exited
  std::atomic<bool> consumer_gone{false};  // its engine was destroyed
};

// Everything the background thread touches lives here, shared between the
// Pipeline and the thread, so that a thread stuck in a blocking write can be
// abandoned at a shutdown deadline without freeing memory under it.
class Engine : public std::enable_shared_from_this<Engine> {
 public:
  explicit Engine(Pipeline::Options o);
  ~Engine();

  // The calling thread's ring for this engine: the one it used last (the
  // inline fast path), else found or made by local_slot_slow().
  RingSlot* local_slot() noexcept;
  RingSlot* local_slot_slow() noexcept;
  // A full ring: wakes the background thread and, under kBlock, waits up
  // to the block timeout for room. nullptr when there is none.
  [[gnu::noinline, gnu::cold]] std::uint8_t* reserve_when_full(RingSlot& slot,
                                                               std::size_t n) noexcept;
  void wake() noexcept {
    if (!wake_pending.exchange(true, std::memory_order_acq_rel)) cv.notify_one();
  }
  void run() noexcept;
  bool drain_pass(std::size_t max_per_ring) noexcept;
  void drain_to_snapshot(Clock::time_point deadline) noexcept;
  bool write_out_all(Clock::time_point deadline) noexcept;
  bool flush_all(Clock::time_point deadline) noexcept;
  void tick_all(Clock::time_point now) noexcept;
  void retire_finished_rings() noexcept;
  void dispatch(const std::uint8_t* p, std::size_t n) noexcept {
    if (n == 0) return;
    std::uint8_t kind = p[0];
    if (kind < kMaxKinds && handlers[kind]) handlers[kind]->on_record(p + 1, n - 1);
  }

  // fork(): the child restarts the engine lazily, on its first call.
  void restart_after_fork() noexcept;
  void check_fork() noexcept;
  void start_thread();

  const Pipeline::Options options;
  std::uint64_t id;  // changes in a forked child so thread-local ring caches miss
  std::uint64_t fork_generation = 0;
  bool started = false;
  Accounting accounting;
  Diagnostics diagnostics;
  std::array<std::unique_ptr<RecordHandler>, kMaxKinds> handlers{};
  std::vector<std::function<DestinationHealth()>> destinations;
  std::array<TrackStats, kTracks> stats{};

  mutable std::mutex rings_mu;
  std::vector<std::shared_ptr<RingSlot>> rings;
  std::vector<std::shared_ptr<RingSlot>> pass_rings;  // drain_pass's copy; background thread only
  // Counts of rings whose thread exited and whose records were all consumed.
  std::array<CounterArray, kTracks> retired{};

  // Producers that could not get a ring at all (allocation failure, thread exit).
  std::array<std::atomic<std::uint64_t>, kTracks> orphan_drops{};

  std::mutex mu;  // guards the control fields below; cv waits on it
  std::condition_variable cv;
  std::condition_variable done_cv;
  std::atomic<bool> wake_pending{false};
  std::uint64_t flush_requested = 0;
  std::uint64_t flush_done = 0;
  Clock::time_point flush_deadline{};
  bool flush_ok = true;
  bool stop_requested = false;
  Clock::time_point stop_deadline{};
  bool stopped = false;

  std::atomic<bool> closed{false};  // producers refuse new records
  // Guards counting against abandonment: once abandoned, nothing is counted.
  std::mutex accounting_mu;
  bool abandoned = false;
  bool io_failed_since_flush = false;
};

// ---------------------------------------------------------------- fork()

namespace {

std::atomic<std::uint64_t> g_fork_generation{0};

// Live engines, so the fork handlers can take their locks. Never destroyed:
// engines may outlive static destruction.
struct ForkRegistry {
  std::mutex mu;
  std::set<Engine*> engines;
};
ForkRegistry& fork_registry() {
  static ForkRegistry* r = new ForkRegistry();
  return *r;
}

// Threads are kept outside the engine so that detaching never races with the
// engine's own destruction.
struct ThreadRegistry {
  std::mutex mu;
  std::vector<std::pair<Engine*, std::thread>> threads;
};
ThreadRegistry& thread_registry() {
  static ThreadRegistry* r = new ThreadRegistry();  // never destroyed
  return *r;
}

// Lock order: fork registry, thread registry, then per engine: handler locks,
// rings, control, accounting, diagnostics. No other code path nests these
// in the opposite order.
void fork_prepare() {
  fork_registry().mu.lock();
  thread_registry().mu.lock();
  for (Engine* e : fork_registry().engines) {
    for (auto& h : e->handlers)
      if (h) h->prepare_fork();
    e->rings_mu.lock();
    e->mu.lock();
    e->accounting_mu.lock();
    e->diagnostics.lock_for_fork();
  }
  clock_detail::calibration().mu.lock();  // a leaf lock: taken last
}

void fork_release(bool child) {
  clock_detail::calibration().mu.unlock();
  for (Engine* e : fork_registry().engines) {
    e->diagnostics.unlock_after_fork();
    e->accounting_mu.unlock();
    e->mu.unlock();
    e->rings_mu.unlock();
    for (auto& h : e->handlers)
      if (h) h->release_fork_locks();
  }
  if (child) g_fork_generation.fetch_add(1, std::memory_order_release);
  thread_registry().mu.unlock();
  fork_registry().mu.unlock();
}

void fork_parent() { fork_release(false); }
void fork_child() { fork_release(true); }

}  // namespace

Engine::Engine(Pipeline::Options o)
    : options(o), id(g_next_engine_id.fetch_add(1)), accounting(this) {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(fork_prepare, fork_parent, fork_child); });
  if (!o.tsc_clock) core::use_system_clock();
  fork_generation = g_fork_generation.load(std::memory_order_acquire);
  std::lock_guard<std::mutex> lock(fork_registry().mu);
  fork_registry().engines.insert(this);
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(fork_registry().mu);
    fork_registry().engines.erase(this);
  }
  std::lock_guard<std::mutex> lock(rings_mu);
  for (auto& r : rings) r->consumer_gone.store(true, std::memory_order_release);
}

inline void Engine::check_fork() noexcept {
  if (fork_generation != g_fork_generation.load(std::memory_order_acquire)) [[unlikely]]
    restart_after_fork();
}

void Engine::restart_after_fork() noexcept {
  static std::mutex restart_mu;  // first use in the child: never locked at fork time
  std::lock_guard<std::mutex> guard(restart_mu);
  std::uint64_t gen = g_fork_generation.load(std::memory_order_acquire);
  if (fork_generation == gen) return;
  try {
    // The parent's queued records belong to the parent; the child starts
    // with fresh queues, fresh counters and a new identity for ring caches.
    {
      std::lock_guard<std::mutex> lock(rings_mu);
      for (auto& r : rings) r->consumer_gone.store(true, std::memory_order_release);
      rings.clear();
      retired = {};
    }
    id = g_next_engine_id.fetch_add(1);
    for (auto& st : stats) {
      st.written = 0;
      st.errors = 0;
      st.invalid_utf8 = 0;
      st.truncated = 0;
      st.recovered = 0;
      for (auto& d : st.dropped) d = 0;
    }
    for (auto& o : orphan_drops) o = 0;
    // Condition variables that had waiters in the parent (its threads) keep
    // that state in the child and would block forever: make them anew.
    new (&cv) std::condition_variable();
    new (&done_cv) std::condition_variable();
    {
      std::lock_guard<std::mutex> lock(mu);
      flush_requested = flush_done = 0;
      flush_ok = true;
      wake_pending = false;
    }
    for (auto& h : handlers)
      if (h) h->after_fork_child();
    bool restart = false;
    {
      auto& reg = thread_registry();
      std::lock_guard<std::mutex> lock(reg.mu);
      for (auto it = reg.threads.begin(); it != reg.threads.end(); ++it) {
        if (it->first == this) {
          // The thread does not exist in the child: forget it without join
          // or detach, both of which would act on the parent's thread id.
          new (&it->second) std::thread();
          reg.threads.erase(it);
          restart = true;
          break;
        }
      }
    }
    fork_generation = gen;
    if (restart && !closed.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(mu);
      stopped = false;
      stop_requested = false;
    }
    if (restart && !closed.load(std::memory_order_acquire)) start_thread();
  } catch (...) {
    fork_generation = gen;
    diagnostics.report("fork_restart", "could not restart telemetry after fork()");
  }
}

void Engine::start_thread() {
  auto self = shared_from_this();
  std::thread t([self]() { self->run(); });
  auto& reg = thread_registry();
  std::lock_guard<std::mutex> lock(reg.mu);
  reg.threads.emplace_back(this, std::move(t));
  started = true;
}

// ---------------------------------------------------------------- TLS cache

namespace {

struct TlsEntry {
  std::uint64_t engine_id;
  std::shared_ptr<RingSlot> slot;
};

struct TlsCache {
  std::vector<TlsEntry> entries;
  ~TlsCache();
};

thread_local std::uint64_t t_last_id = 0;
thread_local RingSlot* t_last_slot = nullptr;
thread_local bool t_exiting = false;
thread_local TlsCache t_cache;

TlsCache::~TlsCache() {
  t_exiting = true;
  t_last_id = 0;
  t_last_slot = nullptr;
  for (auto& e : entries) e.slot->producer_gone.store(true, std::memory_order_release);
}

}  // namespace

inline RingSlot* Engine::local_slot() noexcept {
  if (t_last_id == id) [[likely]] return t_last_slot;
  return local_slot_slow();
}

RingSlot* Engine::local_slot_slow() noexcept {
  if (t_exiting) return nullptr;
  try {
    auto& cache = t_cache;
    // Forget rings of engines that no longer exist.
    std::erase_if(cache.entries, [](const TlsEntry& e) {
      return e.slot->consumer_gone.load(std::memory_order_acquire);
    });
    for (auto& e : cache.entries) {
      if (e.engine_id == id) {
        t_last_id = id;
        t_last_slot = e.slot.get();
        return t_last_slot;
      }
    }
    auto slot = std::make_shared<RingSlot>(options.ring_bytes);
    {
      std::lock_guard<std::mutex> lock(rings_mu);
      rings.push_back(slot);
    }
    cache.entries.push_back({id, slot});
    t_last_id = id;
    t_last_slot = slot.get();
    return t_last_slot;
  } catch (...) {
    return nullptr;
  }
}

// ---------------------------------------------------------------- backend

bool Engine::drain_pass(std::size_t max_per_ring) noexcept {
  try {
    std::lock_guard<std::mutex> lock(rings_mu);
    pass_rings = rings;  // reuses the copy's storage: no allocation per pass
  } catch (...) {
    return false;  // no memory for the copy: the next pass tries again
  }
  bool any = false;
  for (auto& slot : pass_rings) {
    std::uint64_t limit = slot->ring.write_position();
    std::size_t n = slot->ring.consume_until(
        limit, max_per_ring, [this](const std::uint8_t* p, std::size_t sz) { dispatch(p, sz); });
    any |= n > 0;
  }
  pass_rings.clear();  // keeps no finished thread's ring alive
  return any;
}

void Engine::drain_to_snapshot(Clock::time_point deadline) noexcept {
  std::vector<std::pair<std::shared_ptr<RingSlot>, std::uint64_t>> targets;
  {
    std::lock_guard<std::mutex> lock(rings_mu);
    for (auto& r : rings) targets.emplace_back(r, r->ring.write_position());
  }
  for (auto& [slot, limit] : targets) {
    while (slot->ring.read_position() < limit) {
      slot->ring.consume_until(limit, 4096,
                               [this](const std::uint8_t* p, std::size_t sz) { dispatch(p, sz); });
      if (Clock::now() >= deadline) return;
    }
  }
}

bool Engine::write_out_all(Clock::time_point deadline) noexcept {
  bool ok = true;
  for (auto& h : handlers)
    if (h) ok &= h->write_out(deadline);
  return ok;
}

bool Engine::flush_all(Clock::time_point deadline) noexcept {
  bool ok = true;
  for (auto& h : handlers)
    if (h) h->begin_flush(deadline);
  for (auto& h : handlers)
    if (h) ok &= h->flush(deadline);
  return ok;
}

void Engine::tick_all(Clock::time_point now) noexcept {
  for (auto& h : handlers)
    if (h) h->on_tick(now);
}

void Engine::retire_finished_rings() noexcept {
  std::lock_guard<std::mutex> lock(rings_mu);
  std::erase_if(rings, [this](const std::shared_ptr<RingSlot>& r) {
    if (!r->producer_gone.load(std::memory_order_acquire) || !r->ring.empty()) return false;
    for (std::size_t t = 0; t < kTracks; ++t) add_counters(retired[t], r->counters[t]);
    return true;
  });
}

void Engine::run() noexcept {
  auto next_tick = Clock::now() + options.flush_interval;
  // The TSC clock's mapping (clock.hpp) is refreshed on its own schedule,
  // not the flush interval's, which may be an hour.
  constexpr auto kClockEvery = std::chrono::milliseconds(100);
  auto next_clock = Clock::now() + std::chrono::milliseconds(20);
  if (options.tsc_clock) core::recalibrate_clock();
  auto idle_wait = std::chrono::microseconds(100);
  constexpr auto kMaxIdleWait = std::chrono::microseconds(5000);
  for (;;) {
    std::uint64_t flush_seq;
    bool stop;
    Clock::time_point deadline;
    Clock::time_point flush_deadline_copy;
    {
      std::lock_guard<std::mutex> lock(mu);
      flush_seq = flush_requested;
      flush_deadline_copy = flush_deadline;
      stop = stop_requested;
      deadline = stop_deadline;
    }
    if (stop) {
      drain_to_snapshot(deadline);
      // Producers may have slipped records in after the snapshot; take them too.
      drain_to_snapshot(deadline);
      tick_all(Clock::now());
      for (auto& h : handlers)
        if (h) h->begin_flush(deadline);
      for (auto& h : handlers)
        if (h) h->begin_close(deadline);
      bool ok = flush_all(deadline);
      for (auto& h : handlers)
        if (h) h->close(deadline);
      std::lock_guard<std::mutex> lock(mu);
      flush_done = flush_requested;
      flush_ok = ok;
      stopped = true;
      done_cv.notify_all();
      return;
    }
    if (flush_seq != 0 && flush_seq != flush_done) {
      drain_to_snapshot(flush_deadline_copy);
      bool ok = flush_all(flush_deadline_copy);
      {
        std::lock_guard<std::mutex> a(accounting_mu);
        ok = ok && !io_failed_since_flush;
        io_failed_since_flush = false;
      }
      std::lock_guard<std::mutex> lock(mu);
      flush_done = flush_seq;
      // A flush asked for during this pass set its own deadline: keep it
      // for the next pass.
      if (flush_requested == flush_seq) flush_deadline = Clock::time_point{};
      flush_ok = ok;
      done_cv.notify_all();
      continue;
    }
    bool any = drain_pass(1024);
    auto now = Clock::now();
    if (options.tsc_clock && now >= next_clock) {
      core::recalibrate_clock();
      next_clock = now + kClockEvery;
    }
    if (now >= next_tick) {
      tick_all(now);
      write_out_all(now + options.flush_interval);
      retire_finished_rings();
      next_tick = now + options.flush_interval;
    }
    if (any) {
      idle_wait = std::chrono::microseconds(100);
      continue;
    }
    // Idle: write out what is buffered so files stay fresh, then sleep a
    // little longer each time (producers wake us when a ring fills up).
    write_out_all(now + options.flush_interval);
    std::unique_lock<std::mutex> lock(mu);
    if (!stop_requested && flush_requested == flush_done &&
        !wake_pending.load(std::memory_order_acquire)) {
      cv.wait_for(lock, std::min<Clock::duration>(idle_wait, next_tick - now));
    }
    wake_pending.store(false, std::memory_order_release);
    idle_wait = std::min<std::chrono::microseconds>(idle_wait * 2, kMaxIdleWait);
  }
}

// ---------------------------------------------------------------- Accounting

void Accounting::written(Track t, std::uint64_t n) noexcept {
  std::lock_guard<std::mutex> lock(engine_->accounting_mu);
  if (engine_->abandoned) return;
  engine_->stats[static_cast<std::size_t>(t)].written.fetch_add(n, std::memory_order_relaxed);
}
void Accounting::dropped(Track t, DropReason r, std::uint64_t n) noexcept {
  std::lock_guard<std::mutex> lock(engine_->accounting_mu);
  if (engine_->abandoned) return;
  engine_->stats[static_cast<std::size_t>(t)].dropped[static_cast<std::size_t>(r)].fetch_add(
      n, std::memory_order_relaxed);
  if (r == DropReason::kIoError) engine_->io_failed_since_flush = true;
}
void Accounting::error(Track t) noexcept {
  engine_->stats[static_cast<std::size_t>(t)].errors.fetch_add(1, std::memory_order_relaxed);
}
void Accounting::invalid_utf8(Track t, std::uint64_t n) noexcept {
  engine_->stats[static_cast<std::size_t>(t)].invalid_utf8.fetch_add(n, std::memory_order_relaxed);
}
void Accounting::truncated(Track t, std::uint64_t n) noexcept {
  engine_->stats[static_cast<std::size_t>(t)].truncated.fetch_add(n, std::memory_order_relaxed);
}
void Accounting::recovered(Track t, std::uint64_t n) noexcept {
  engine_->stats[static_cast<std::size_t>(t)].recovered.fetch_add(n, std::memory_order_relaxed);
}
Diagnostics& Accounting::diagnostics() noexcept { return engine_->diagnostics; }

// ---------------------------------------------------------------- Pipeline

Pipeline::Pipeline(Options options) : engine_(std::make_shared<Engine>(options)) {}

Pipeline::~Pipeline() { shutdown(std::chrono::milliseconds(0)); }

void Pipeline::add_handler(RecordKind kind, std::unique_ptr<RecordHandler> handler) {
  engine_->handlers[static_cast<std::size_t>(kind)] = std::move(handler);
}
void Pipeline::add_destination(std::function<DestinationHealth()> health) {
  engine_->destinations.push_back(std::move(health));
}
Accounting& Pipeline::accounting() noexcept { return engine_->accounting; }
Diagnostics& Pipeline::diagnostics() noexcept { return engine_->diagnostics; }

void Pipeline::start() { engine_->start_thread(); }

std::size_t Pipeline::max_payload() const noexcept {
  std::size_t c = 4096;
  while (c < engine_->options.ring_bytes) c <<= 1;
  return c / 4 - SpscRing::kHeader - 1;  // minus the header and the kind byte
}

// Out of line: the waiting loop's registers and calls would otherwise cost
// every begin() a larger prologue.
std::uint8_t* Engine::reserve_when_full(RingSlot& slot, std::size_t n) noexcept {
  wake();
  if (options.policy != QueueFullPolicy::kBlock) return nullptr;
  auto until = Clock::now() + options.block_timeout;
  int spins = 0;
  // A few yields for a queue that is about to drain, then naps that
  // double up to 1 ms: many blocked threads must not take the cores
  // the background thread needs to drain their queues.
  auto nap = std::chrono::microseconds(50);
  std::uint8_t* p = nullptr;
  while (p == nullptr && Clock::now() < until) {
    if (++spins < 16) {
      std::this_thread::yield();
    } else {
      wake();
      std::this_thread::sleep_for(std::min<Clock::duration>(nap, until - Clock::now()));
      nap = std::min(nap * 2, std::chrono::microseconds(1000));
    }
    p = slot.ring.reserve(n);
  }
  return p;
}

std::uint8_t* Pipeline::begin(Track track, RecordKind kind, std::size_t size) noexcept {
  Engine& e = *engine_;
  e.check_fork();
  const auto t = static_cast<std::size_t>(track);
  RingSlot* slot = e.local_slot();
  if (slot == nullptr) {
    e.orphan_drops[t].fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  auto& c = slot->counters[t];
  bump(c.offered);
  if (e.closed.load(std::memory_order_acquire)) {
    bump(c.dropped[static_cast<std::size_t>(DropReason::kShutdown)]);
    return nullptr;
  }
  if (size + 1 + SpscRing::kHeader > slot->ring.max_record()) {
    bump(c.dropped[static_cast<std::size_t>(DropReason::kTooLarge)]);
    return nullptr;
  }
  std::uint8_t* p = slot->ring.reserve(size + 1);
  if (p == nullptr) [[unlikely]] {
    p = e.reserve_when_full(*slot, size + 1);
    if (p == nullptr) {
      bump(c.dropped[static_cast<std::size_t>(DropReason::kQueueFull)]);
      return nullptr;
    }
  }
  p[0] = static_cast<std::uint8_t>(kind);
  return p + 1;
}

void Pipeline::drop(Track track, DropReason reason) noexcept {
  Engine& e = *engine_;
  e.check_fork();
  const auto t = static_cast<std::size_t>(track);
  RingSlot* slot = e.local_slot();
  if (slot == nullptr) {
    e.orphan_drops[t].fetch_add(1, std::memory_order_relaxed);
    return;
  }
  bump(slot->counters[t].offered);
  bump(slot->counters[t].dropped[static_cast<std::size_t>(reason)]);
}

void Pipeline::commit(Track track) noexcept {
  RingSlot* slot = t_last_slot;  // begin() just set it for this engine
  slot->ring.commit();
  bump(slot->counters[static_cast<std::size_t>(track)].accepted);
}

bool Pipeline::flush(std::chrono::milliseconds timeout) noexcept {
  Engine& e = *engine_;
  e.check_fork();
  auto deadline = Clock::now() + timeout;
  std::unique_lock<std::mutex> lock(e.mu);
  if (e.stopped) return e.flush_ok;
  std::uint64_t seq = ++e.flush_requested;
  // Concurrent flushes share one pass; it honours the latest deadline.
  e.flush_deadline = std::max(e.flush_deadline, deadline);
  e.cv.notify_one();
  bool done =
      e.done_cv.wait_until(lock, deadline, [&] { return e.flush_done >= seq || e.stopped; });
  return done && e.flush_ok;
}

bool Pipeline::shutdown(std::chrono::milliseconds timeout) noexcept {
  Engine& e = *engine_;
  e.check_fork();
  auto deadline = Clock::now() + timeout;
  e.closed.store(true, std::memory_order_release);
  std::thread worker;
  {
    auto& reg = thread_registry();
    std::lock_guard<std::mutex> lock(reg.mu);
    for (auto it = reg.threads.begin(); it != reg.threads.end(); ++it) {
      if (it->first == &e) {
        worker = std::move(it->second);
        reg.threads.erase(it);
        break;
      }
    }
  }
  if (!worker.joinable()) {
    std::lock_guard<std::mutex> lock(e.mu);
    return e.stopped ? e.flush_ok : true;  // never started, or already shut down
  }
  bool finished;
  {
    std::unique_lock<std::mutex> lock(e.mu);
    e.stop_requested = true;
    // Handlers aim early so the thread is normally joined, not abandoned,
    // when the caller's deadline arrives: what a cut export leaves in memory
    // still has to reach the spool, and that disk write (with its fsync) took
    // more than 100 ms on a loaded machine under sanitizers.
    auto margin = std::min<Clock::duration>(timeout / 4, std::chrono::milliseconds(500));
    e.stop_deadline = deadline - margin;
    e.cv.notify_one();
    finished = e.done_cv.wait_until(lock, deadline, [&] { return e.stopped; });
  }
  if (finished) {
    worker.join();
  } else {
    {
      std::lock_guard<std::mutex> lock(e.accounting_mu);
      e.abandoned = true;
    }
    e.diagnostics.report("shutdown_deadline",
                         "shutdown deadline passed while the background thread was blocked; "
                         "records still queued are counted as dropped (shutdown)");
    worker.detach();
  }
  std::lock_guard<std::mutex> lock(e.mu);
  return finished && e.flush_ok;
}

HealthSnapshot Pipeline::health() const noexcept {
  engine_->check_fork();
  const Engine& e = *engine_;
  HealthSnapshot s;
  std::array<CounterArray, kTracks> prod{};
  {
    std::lock_guard<std::mutex> lock(e.rings_mu);
    prod = e.retired;
    for (auto& r : e.rings)
      for (std::size_t t = 0; t < kTracks; ++t) add_counters(prod[t], r->counters[t]);
  }
  bool finished = e.closed.load(std::memory_order_acquire);
  bool worker_done;
  {
    std::lock_guard<std::mutex> lock(const_cast<Engine&>(e).mu);
    worker_done = e.stopped;
  }
  bool abandoned;
  {
    std::lock_guard<std::mutex> lock(const_cast<Engine&>(e).accounting_mu);
    abandoned = e.abandoned;
  }
  try {
    for (const auto& d : e.destinations) s.destinations.push_back(d());
  } catch (...) {
  }
  for (std::size_t t = 0; t < kTracks; ++t) {
    auto& th = s.tracks[t];
    auto& st = e.stats[t];
    std::uint64_t orphans = e.orphan_drops[t].load(std::memory_order_relaxed);
    th.offered = prod[t][0] + orphans;
    th.accepted = prod[t][1];
    th.written = st.written.load(std::memory_order_relaxed);
    th.errors = st.errors.load(std::memory_order_relaxed);
    th.invalid_utf8 = st.invalid_utf8.load(std::memory_order_relaxed);
    th.truncated = st.truncated.load(std::memory_order_relaxed);
    th.recovered = st.recovered.load(std::memory_order_relaxed);
    th.offered += th.recovered;
    th.accepted += th.recovered;
    // Accepted records can only be dropped by the backend; the rest were
    // dropped before they reached a queue.
    std::uint64_t after_accept = th.written;
    for (std::size_t r = 0; r < kReasons; ++r) {
      std::uint64_t backend = st.dropped[r].load(std::memory_order_relaxed);
      after_accept += backend;
      th.dropped[r] = backend + prod[t][2 + r];
    }
    th.dropped[static_cast<std::size_t>(DropReason::kQueueFull)] += orphans;
    for (const auto& d : s.destinations)
      if (d.primary && static_cast<std::size_t>(d.track) == t) th.spooled += d.spooled;
    after_accept += th.spooled;
    if (finished && (worker_done || abandoned)) {
      // Whatever was accepted and neither written nor dropped never left a
      // queue before the end: it is lost to shutdown.
      if (th.accepted > after_accept)
        th.dropped[static_cast<std::size_t>(DropReason::kShutdown)] += th.accepted - after_accept;
    }
  }
  try {
    s.last_error = e.diagnostics.last_error();
  } catch (...) {
  }
  return s;
}

}  // namespace emp::telemetry::core
