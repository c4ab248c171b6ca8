// Base-2 exponential histogram aggregation (OpenTelemetry data model):
// buckets of base 2^(2^-scale) with upper-inclusive boundaries, at most
// `max_size` buckets per sign; when a value falls outside the window the
// scale drops (buckets merge pairwise) until it fits.
//
// ExpoHistogram is one series' cell: record() takes a per-series spin lock
// (rescaling merges buckets, which cannot be done with independent atomic
// counters) and never allocates. snapshot() copies the state for collection.
// ExpoSnapshot arithmetic (subtract) runs on the collecting thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "encode/otlp_metrics_types.hpp"

namespace emp::telemetry::metrics {

inline constexpr std::int32_t kExpoMinScale = -10;
inline constexpr std::int32_t kExpoMaxScale = 20;

// Bucket index of |v| > 0 at `scale` (upper-inclusive boundaries).
std::int32_t expo_index(double v, std::int32_t scale) noexcept;
// Lower boundary of bucket `index` at `scale` (for tests).
double expo_lower_boundary(std::int32_t index, std::int32_t scale) noexcept;

struct ExpoBuckets {
  std::int32_t offset = 0;
  std::vector<std::uint64_t> counts;  // counts[k] is bucket offset + k

  void downscale(std::int32_t change);
  std::uint64_t total() const noexcept;
};

struct ExpoSnapshot {
  std::int32_t scale = 0;
  std::uint64_t count = 0;
  std::uint64_t zero_count = 0;
  double sum = 0;
  double min = 0;
  double max = 0;
  bool has_min_max = false;
  ExpoBuckets positive;
  ExpoBuckets negative;
};

// cur - prev for cumulative snapshots of one series (prev is older; its
// scale is >= cur's). Counts never go below zero.
ExpoSnapshot subtract(const ExpoSnapshot& cur, ExpoSnapshot prev);

void to_point(const ExpoSnapshot& s, encode::otlp::ExponentialHistogramPoint& p);

class ExpoHistogram {
 public:
  ExpoHistogram(std::int32_t max_size, std::int32_t max_scale);
  ExpoHistogram(const ExpoHistogram&) = delete;
  ExpoHistogram& operator=(const ExpoHistogram&) = delete;

  void record(double v) noexcept;
  // The cumulative state; with `reset_min_max`, min/max start over (delta
  // export reports the interval's extremes).
  ExpoSnapshot snapshot(bool reset_min_max);
  // In a forked child only (no other thread exists): back to empty, with the
  // lock released whatever state the parent left it in.
  void reset_after_fork() noexcept;

 private:
  struct Side {
    std::int32_t offset = 0;
    std::int32_t len = 0;
    std::unique_ptr<std::uint64_t[]> c;
  };
  void lock() noexcept;
  void unlock() noexcept { lock_.store(false, std::memory_order_release); }
  void add(Side& s, std::int32_t index) noexcept;
  static void downscale(Side& s, std::int32_t change) noexcept;

  const std::int32_t max_size_;
  std::atomic<bool> lock_{false};
  const std::int32_t initial_scale_;
  std::int32_t scale_;
  std::uint64_t count_ = 0;
  std::uint64_t zero_count_ = 0;
  double sum_ = 0;
  double min_;
  double max_;
  Side pos_;
  Side neg_;
};

}  // namespace emp::telemetry::metrics
