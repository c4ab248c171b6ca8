// Per-thread xoshiro256** id generator, re-seeded after fork(); see ids.hpp.
#include "trace/ids.hpp"

#include <pthread.h>
#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

namespace emp::telemetry::trace {
namespace {

// Starts at 1 so that a zero-initialised thread state (generation 0) always
// seeds on first use.
std::atomic<std::uint64_t> g_fork_generation{1};

void on_fork_child() noexcept { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

void register_fork_handler() noexcept {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, &on_fork_child); });
}

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

// Plain data so the thread_local needs no constructor or TLS guard.
struct Xoshiro {
  std::uint64_t s[4];
  std::uint64_t generation;

  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    const std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

thread_local Xoshiro t_rng{};

// Fills `out` with kernel randomness; falls back to std::random_device and
// then to clock/address entropy if the kernel call is unavailable.
void seed_bytes(std::uint8_t* out, std::size_t n) noexcept {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = getrandom(out + got, n - got, 0);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else {
      break;
    }
  }
  if (got == n) return;
  std::uint64_t mix =
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  mix ^= reinterpret_cast<std::uintptr_t>(&mix);
  mix ^= std::hash<std::thread::id>{}(std::this_thread::get_id());
  try {
    std::random_device rd;
    mix ^= (static_cast<std::uint64_t>(rd()) << 32) | rd();
  } catch (...) {
  }
  for (std::size_t i = got; i < n; ++i) {
    out[i] = static_cast<std::uint8_t>(splitmix64(mix));
  }
}

[[gnu::noinline]] void reseed(Xoshiro& rng, std::uint64_t generation) noexcept {
  register_fork_handler();
  std::uint64_t seed[4];
  seed_bytes(reinterpret_cast<std::uint8_t*>(seed), sizeof(seed));
  // Run the kernel bytes through splitmix64 so the state is never all zero
  // (xoshiro's one forbidden state) even if the source misbehaves.
  for (int i = 0; i < 4; ++i) {
    std::uint64_t x = seed[i];
    rng.s[i] = splitmix64(x);
  }
  if ((rng.s[0] | rng.s[1] | rng.s[2] | rng.s[3]) == 0) rng.s[0] = 0x9e3779b97f4a7c15ull;
  rng.generation = generation;
}

Xoshiro& rng() noexcept {
  Xoshiro& r = t_rng;
  const std::uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (__builtin_expect(r.generation != generation, 0)) reseed(r, generation);
  return r;
}

}  // namespace

TraceId new_trace_id() noexcept {
  Xoshiro& r = rng();
  TraceId::Bytes b;
  for (;;) {
    const std::uint64_t hi = r.next();
    const std::uint64_t lo = r.next();
    if ((hi | lo) == 0) continue;
    std::memcpy(b.data(), &hi, 8);
    std::memcpy(b.data() + 8, &lo, 8);
    return TraceId(b);
  }
}

SpanId new_span_id() noexcept {
  Xoshiro& r = rng();
  SpanId::Bytes b;
  for (;;) {
    const std::uint64_t v = r.next();
    if (v == 0) continue;
    std::memcpy(b.data(), &v, 8);
    return SpanId(b);
  }
}

}  // namespace emp::telemetry::trace
