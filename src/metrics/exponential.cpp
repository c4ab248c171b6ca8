#include "metrics/exponential.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

namespace emp::telemetry::metrics {

std::int32_t expo_index(double v, std::int32_t scale) noexcept {
  int exp = 0;
  const double frac = std::frexp(v, &exp);  // v = frac * 2^exp, frac in [0.5, 1)
  const bool power_of_two = frac == 0.5;
  if (scale <= 0) {
    // v = 1.m * 2^(exp-1); an exact power of two is the upper boundary of
    // the bucket below.
    std::int32_t e = exp - 1;
    if (power_of_two) e -= 1;
    return e >> -scale;
  }
  if (power_of_two) return ((exp - 1) << scale) - 1;
  const double factor = std::ldexp(1.0 / std::log(2.0), scale);
  const double idx = std::ceil(std::log(v) * factor) - 1;
  // log() rounding can land one bucket off right next to a boundary; the
  // boundaries themselves decide.
  auto i = static_cast<std::int32_t>(idx);
  if (v <= expo_lower_boundary(i, scale)) {
    --i;
  } else if (v > expo_lower_boundary(i + 1, scale)) {
    ++i;
  }
  return i;
}

double expo_lower_boundary(std::int32_t index, std::int32_t scale) noexcept {
  if (scale <= 0) return std::ldexp(1.0, index << -scale);
  // 2^(index / 2^scale), split so the power of two part stays exact.
  const std::int32_t whole = index >> scale;
  const std::int32_t part = index - (whole << scale);
  return std::ldexp(std::exp2(std::ldexp(static_cast<double>(part), -scale)), whole);
}

void ExpoBuckets::downscale(std::int32_t change) {
  if (change <= 0 || counts.empty()) return;
  const std::int32_t new_offset = offset >> change;
  const std::int32_t last = (offset + static_cast<std::int32_t>(counts.size()) - 1) >> change;
  std::vector<std::uint64_t> out(static_cast<std::size_t>(last - new_offset + 1), 0);
  for (std::size_t k = 0; k < counts.size(); ++k) {
    out[static_cast<std::size_t>(((offset + static_cast<std::int32_t>(k)) >> change) -
                                 new_offset)] += counts[k];
  }
  offset = new_offset;
  counts = std::move(out);
}

std::uint64_t ExpoBuckets::total() const noexcept {
  std::uint64_t n = 0;
  for (auto c : counts) n += c;
  return n;
}

namespace {
void subtract_buckets(ExpoBuckets& out, const ExpoBuckets& cur, const ExpoBuckets& prev) {
  out = cur;
  for (std::size_t k = 0; k < prev.counts.size(); ++k) {
    const std::int64_t idx =
        static_cast<std::int64_t>(prev.offset) + static_cast<std::int64_t>(k) - out.offset;
    if (idx < 0 || idx >= static_cast<std::int64_t>(out.counts.size())) continue;
    auto& c = out.counts[static_cast<std::size_t>(idx)];
    c = c >= prev.counts[k] ? c - prev.counts[k] : 0;
  }
  // Trim empty ends.
  std::size_t first = 0;
  while (first < out.counts.size() && out.counts[first] == 0) ++first;
  if (first == out.counts.size()) {
    out.counts.clear();
    out.offset = 0;
    return;
  }
  std::size_t last = out.counts.size();
  while (last > first && out.counts[last - 1] == 0) --last;
  out.counts = std::vector<std::uint64_t>(out.counts.begin() + static_cast<std::ptrdiff_t>(first),
                                          out.counts.begin() + static_cast<std::ptrdiff_t>(last));
  out.offset += static_cast<std::int32_t>(first);
}
}  // namespace

ExpoSnapshot subtract(const ExpoSnapshot& cur, ExpoSnapshot prev) {
  if (prev.scale > cur.scale) {
    prev.positive.downscale(prev.scale - cur.scale);
    prev.negative.downscale(prev.scale - cur.scale);
    prev.scale = cur.scale;
  }
  ExpoSnapshot out;
  out.scale = cur.scale;
  out.count = cur.count >= prev.count ? cur.count - prev.count : 0;
  out.zero_count = cur.zero_count >= prev.zero_count ? cur.zero_count - prev.zero_count : 0;
  out.sum = cur.sum - prev.sum;
  out.min = cur.min;
  out.max = cur.max;
  out.has_min_max = cur.has_min_max;
  subtract_buckets(out.positive, cur.positive, prev.positive);
  subtract_buckets(out.negative, cur.negative, prev.negative);
  return out;
}

void to_point(const ExpoSnapshot& s, encode::otlp::ExponentialHistogramPoint& p) {
  p.scale = s.scale;
  p.count = s.count;
  p.zero_count = s.zero_count;
  p.sum = s.sum;
  p.has_sum = true;
  p.has_min_max = s.has_min_max && s.count > 0;
  p.min = s.min;
  p.max = s.max;
  p.positive.offset = s.positive.offset;
  p.positive.counts = s.positive.counts;
  p.negative.offset = s.negative.offset;
  p.negative.counts = s.negative.counts;
}

ExpoHistogram::ExpoHistogram(std::int32_t max_size, std::int32_t max_scale)
    : max_size_(std::clamp<std::int32_t>(max_size, 2, 16384)),
      initial_scale_(std::clamp(max_scale, kExpoMinScale, kExpoMaxScale)),
      scale_(initial_scale_),
      min_(std::numeric_limits<double>::infinity()),
      max_(-std::numeric_limits<double>::infinity()) {
  pos_.c.reset(new std::uint64_t[static_cast<std::size_t>(max_size_)]());
  neg_.c.reset(new std::uint64_t[static_cast<std::size_t>(max_size_)]());
}

void ExpoHistogram::lock() noexcept {
  int spins = 0;
  while (lock_.exchange(true, std::memory_order_acquire)) {
    while (lock_.load(std::memory_order_relaxed)) {
      if (++spins > 64) std::this_thread::yield();
    }
  }
}

void ExpoHistogram::downscale(Side& s, std::int32_t change) noexcept {
  if (change <= 0 || s.len == 0) return;
  const std::int32_t new_offset = s.offset >> change;
  for (std::int32_t k = 0; k < s.len; ++k) {
    // Targets never run ahead of the source index, so merging in place is safe.
    const std::int32_t j = ((s.offset + k) >> change) - new_offset;
    const std::uint64_t v = s.c[k];
    s.c[k] = 0;
    s.c[j] += v;
  }
  s.len = ((s.offset + s.len - 1) >> change) - new_offset + 1;
  s.offset = new_offset;
}

void ExpoHistogram::add(Side& s, std::int32_t index) noexcept {
  if (s.len == 0) {
    s.offset = index;
    s.len = 1;
    s.c[0] = 1;
    return;
  }
  if (index < s.offset) {
    const std::int32_t shift = s.offset - index;
    std::memmove(&s.c[shift], &s.c[0], static_cast<std::size_t>(s.len) * sizeof(std::uint64_t));
    std::memset(&s.c[0], 0, static_cast<std::size_t>(shift) * sizeof(std::uint64_t));
    s.offset = index;
    s.len += shift;
    s.c[0] += 1;
  } else if (index >= s.offset + s.len) {
    const std::int32_t pos = index - s.offset;
    for (std::int32_t k = s.len; k < pos; ++k) s.c[k] = 0;
    s.c[pos] = 1;
    s.len = pos + 1;
  } else {
    s.c[index - s.offset] += 1;
  }
}

void ExpoHistogram::record(double v) noexcept {
  lock();
  ++count_;
  sum_ += v;
  if (v < min_) min_ = v;
  if (v > max_) max_ = v;
  if (v == 0) {
    ++zero_count_;
    unlock();
    return;
  }
  const double a = std::fabs(v);
  Side& side = v > 0 ? pos_ : neg_;
  std::int32_t index = expo_index(a, scale_);
  if (side.len > 0) {
    std::int64_t lo = std::min<std::int64_t>(side.offset, index);
    std::int64_t hi = std::max<std::int64_t>(side.offset + side.len - 1, index);
    std::int32_t change = 0;
    while (hi - lo + 1 > max_size_) {
      lo >>= 1;
      hi >>= 1;
      ++change;
    }
    if (change > 0) {
      change = std::min(change, scale_ - kExpoMinScale);
      downscale(pos_, change);
      downscale(neg_, change);
      scale_ -= change;
      index = expo_index(a, scale_);
    }
  }
  add(side, index);
  unlock();
}

ExpoSnapshot ExpoHistogram::snapshot(bool reset_min_max) {
  ExpoSnapshot s;
  lock();
  s.scale = scale_;
  s.count = count_;
  s.zero_count = zero_count_;
  s.sum = sum_;
  s.has_min_max = min_ <= max_;
  s.min = min_;
  s.max = max_;
  if (reset_min_max) {
    min_ = std::numeric_limits<double>::infinity();
    max_ = -std::numeric_limits<double>::infinity();
  }
  try {
    s.positive.offset = pos_.offset;
    s.positive.counts.assign(&pos_.c[0], &pos_.c[0] + pos_.len);
    s.negative.offset = neg_.offset;
    s.negative.counts.assign(&neg_.c[0], &neg_.c[0] + neg_.len);
  } catch (...) {
    unlock();
    throw;
  }
  unlock();
  return s;
}

void ExpoHistogram::reset_after_fork() noexcept {
  lock_.store(false, std::memory_order_relaxed);
  count_ = zero_count_ = 0;
  sum_ = 0;
  min_ = std::numeric_limits<double>::infinity();
  max_ = -std::numeric_limits<double>::infinity();
  pos_.len = neg_.len = 0;
  pos_.offset = neg_.offset = 0;
  scale_ = initial_scale_;
}

}  // namespace emp::telemetry::metrics
