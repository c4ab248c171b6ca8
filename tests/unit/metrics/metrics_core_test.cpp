// Aggregation and collection of the metrics track, checked against
// hand-computed expectations: cumulative and delta temporality for every
// instrument kind, histogram shape, exact totals under concurrent recording,
// the cardinality limit, rejected values and names, conflicting
// registrations, and observable callbacks that throw or block.
#include "metrics/metrics_core.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/pipeline.hpp"
#include "emp/telemetry/metrics.hpp"

namespace emp::telemetry::metrics {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace otlp = encode::otlp;

// Diagnostics that stay off stderr and remember every report.
struct Reports {
  Reports() {
    diag.set_stderr(false);
    diag.set_callback([this](std::string_view key, std::string_view message) {
      std::lock_guard<std::mutex> lock(mu);
      all.emplace_back(std::string(key), std::string(message));
    });
  }
  std::size_t count(std::string_view key_prefix) {
    std::lock_guard<std::mutex> lock(mu);
    std::size_t n = 0;
    for (auto& [k, m] : all)
      if (k.rfind(key_prefix, 0) == 0) ++n;
    return n;
  }
  std::string text() {
    std::lock_guard<std::mutex> lock(mu);
    std::string s;
    for (auto& [k, m] : all) s += k + ": " + m + "\n";
    return s;
  }
  core::Diagnostics diag;
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> all;
};

CoreOptions options(Temporality t = Temporality::kCumulative, std::uint32_t limit = 2000) {
  CoreOptions o;
  o.temporality = t;
  o.cardinality_limit = limit;
  o.callback_timeout = 200ms;
  return o;
}

std::vector<otlp::MetricData> collect(MetricsCore& c, CollectFor t = CollectFor::kOtlp) {
  std::vector<otlp::MetricData> out;
  EXPECT_TRUE(c.collect(t, out, Clock::now() + 30s));
  return out;
}

const otlp::MetricData* find(const std::vector<otlp::MetricData>& v, std::string_view name) {
  for (auto& m : v)
    if (m.name == name) return &m;
  return nullptr;
}

// "k=v,k2=v2" in the exported order (keys sorted), typed values shown plainly.
std::string key_of(const std::vector<otlp::KeyValue>& kv) {
  std::string s;
  for (auto& a : kv) {
    if (!s.empty()) s += ",";
    s += a.key + "=";
    switch (a.value.type) {
      case otlp::AnyValue::Type::kString:
        s += "'" + a.value.str + "'";
        break;
      case otlp::AnyValue::Type::kInt:
        s += std::to_string(a.value.int_value);
        break;
      case otlp::AnyValue::Type::kBool:
        s += a.value.bool_value ? "true" : "false";
        break;
      case otlp::AnyValue::Type::kDouble:
        s += std::to_string(a.value.double_value) + "d";
        break;
      default:
        s += "?";
        break;
    }
  }
  return s;
}

std::map<std::string, const otlp::NumberPoint*> by_attrs(const otlp::MetricData& m) {
  std::map<std::string, const otlp::NumberPoint*> out;
  for (auto& p : m.number_points) out[key_of(p.attributes)] = &p;
  return out;
}

TEST(MetricsCore, CounterCumulativeTotalsPerAttributeSet) {
  Reports r;
  MetricsCore core(options(), nullptr, &r.diag);
  Metrics& m = core.facade();
  m.counter("jobs_processed_total", 1, {{"service_type", "comfyui"}, {"status", "completed"}});
  m.counter("jobs_processed_total", 2, {{"service_type", "comfyui"}, {"status", "completed"}});
  m.counter("jobs_processed_total", 5, {{"service_type", "comfyui"}, {"status", "failed"}});
  auto first = collect(core);
  const auto* md = find(first, "jobs_processed_total");
  ASSERT_NE(md, nullptr);
  EXPECT_EQ(md->kind, otlp::MetricKind::kSum);
  EXPECT_TRUE(md->monotonic);
  EXPECT_EQ(md->temporality, otlp::AggregationTemporality::kCumulative);
  auto pts = by_attrs(*md);
  ASSERT_EQ(pts.size(), 2u);
  const auto* done = pts["service_type='comfyui',status='completed'"];
  ASSERT_NE(done, nullptr);
  EXPECT_TRUE(done->is_int);
  EXPECT_EQ(done->int_value, 3);
  EXPECT_EQ(pts["service_type='comfyui',status='failed'"]->int_value, 5);
  const auto start = done->start_time_unix_nano;
  EXPECT_GT(start, 0u);
  EXPECT_GE(done->time_unix_nano, start);

  m.counter("jobs_processed_total", 4, {{"status", "completed"}, {"service_type", "comfyui"}});
  auto second = collect(core);
  pts = by_attrs(*find(second, "jobs_processed_total"));
  EXPECT_EQ(pts["service_type='comfyui',status='completed'"]->int_value, 7);
  EXPECT_EQ(pts["service_type='comfyui',status='completed'"]->start_time_unix_nano, start);
  EXPECT_EQ(pts["service_type='comfyui',status='failed'"]->int_value, 5);  // unchanged, still sent
  EXPECT_EQ(core.accepted(), 4u);
}

TEST(MetricsCore, DoublesMakeThePointsDoubles) {
  MetricsCore core(options(), nullptr, nullptr);
  Metrics& m = core.facade();
  m.counter("bytes_total", 2);
  m.counter("bytes_total", 0.5);
  auto v = collect(core);
  const auto& p = find(v, "bytes_total")->number_points.at(0);
  EXPECT_FALSE(p.is_int);
  EXPECT_DOUBLE_EQ(p.double_value, 2.5);
}

TEST(MetricsCore, DeltaCountersReportDifferencesAndPrometheusStaysCumulative) {
  MetricsCore core(options(Temporality::kDelta), nullptr, nullptr);
  Metrics& m = core.facade();
  Counter c = m.create_counter("requests", {});
  c.add(5, {{"route", "/a"}});
  auto a = collect(core);
  const auto* md = find(a, "requests");
  ASSERT_NE(md, nullptr);
  EXPECT_EQ(md->temporality, otlp::AggregationTemporality::kDelta);
  ASSERT_EQ(md->number_points.size(), 1u);
  EXPECT_EQ(md->number_points[0].int_value, 5);
  const auto t1 = md->number_points[0].time_unix_nano;

  c.add(3, {{"route", "/a"}});
  // A scrape in between sees the running total and does not move the baseline.
  auto prom = collect(core, CollectFor::kPrometheus);
  EXPECT_EQ(find(prom, "requests")->temporality, otlp::AggregationTemporality::kCumulative);
  EXPECT_EQ(find(prom, "requests")->number_points.at(0).int_value, 8);

  auto b = collect(core);
  md = find(b, "requests");
  ASSERT_NE(md, nullptr);
  ASSERT_EQ(md->number_points.size(), 1u);
  EXPECT_EQ(md->number_points[0].int_value, 3);
  EXPECT_EQ(md->number_points[0].start_time_unix_nano, t1);  // the previous export's time

  // Nothing recorded: no point at all.
  auto c3 = collect(core);
  EXPECT_EQ(find(c3, "requests"), nullptr);
}

TEST(MetricsCore, UpDownCountersStayCumulativeUnderDeltaAndLowMemory) {
  for (auto pref : {Temporality::kDelta, Temporality::kLowMemory}) {
    MetricsCore core(options(pref), nullptr, nullptr);
    Metrics& m = core.facade();
    m.up_down_counter("active_jobs", 3);
    m.up_down_counter("active_jobs", -1);
    m.counter("done", 1);
    auto a = collect(core);
    const auto* udc = find(a, "active_jobs");
    ASSERT_NE(udc, nullptr);
    EXPECT_FALSE(udc->monotonic);
    EXPECT_EQ(udc->temporality, otlp::AggregationTemporality::kCumulative);
    EXPECT_EQ(udc->number_points.at(0).int_value, 2);
    EXPECT_EQ(find(a, "done")->temporality, otlp::AggregationTemporality::kDelta);
    m.up_down_counter("active_jobs", -2);
    auto b = collect(core);
    EXPECT_EQ(find(b, "active_jobs")->number_points.at(0).int_value, 0);
  }
}

TEST(MetricsCore, GaugeKeepsTheLastValue) {
  MetricsCore core(options(Temporality::kDelta), nullptr, nullptr);
  Metrics& m = core.facade();
  m.gauge("active_jobs_count", 12, {{"service_type", "comfyui"}});
  m.gauge("active_jobs_count", 7, {{"service_type", "comfyui"}});
  m.gauge("gpu_temp", 61.5);
  auto a = collect(core);
  const auto* g = find(a, "active_jobs_count");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->kind, otlp::MetricKind::kGauge);
  ASSERT_EQ(g->number_points.size(), 1u);
  EXPECT_TRUE(g->number_points[0].is_int);
  EXPECT_EQ(g->number_points[0].int_value, 7);
  EXPECT_DOUBLE_EQ(find(a, "gpu_temp")->number_points.at(0).double_value, 61.5);
  // The last value is reported again at the next collection.
  auto b = collect(core);
  EXPECT_EQ(find(b, "active_jobs_count")->number_points.at(0).int_value, 7);
}

TEST(MetricsCore, HistogramBucketsMatchTheBoundaries) {
  MetricsCore core(options(), nullptr, nullptr);
  Metrics& m = core.facade();
  // Default bounds [0,5,10,25,...,10000]; buckets are upper-inclusive.
  for (double v : {-1.0, 0.0, 5.0, 5.5, 28.5, 10000.0, 10000.5, 7.0})
    m.histogram("job_duration_seconds", v, {{"service_type", "comfyui"}}, "s");
  auto a = collect(core);
  const auto* h = find(a, "job_duration_seconds");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->kind, otlp::MetricKind::kHistogram);
  EXPECT_EQ(h->unit, "s");
  ASSERT_EQ(h->histogram_points.size(), 1u);
  const auto& p = h->histogram_points[0];
  ASSERT_EQ(p.bounds.size(), 15u);
  ASSERT_EQ(p.bucket_counts.size(), p.bounds.size() + 1);
  std::vector<std::uint64_t> want(16, 0);
  want[0] = 2;   // -1, 0   (<= 0)
  want[1] = 1;   // 5       (0, 5]
  want[2] = 2;   // 5.5, 7  (5, 10]
  want[4] = 1;   // 28.5    (25, 50]
  want[14] = 1;  // 10000   (7500, 10000]
  want[15] = 1;  // 10000.5 (10000, +inf)
  EXPECT_EQ(p.bucket_counts, want);
  std::uint64_t sum_counts = 0;
  for (auto c : p.bucket_counts) sum_counts += c;
  EXPECT_EQ(p.count, sum_counts);
  EXPECT_EQ(p.count, 8u);
  EXPECT_DOUBLE_EQ(p.sum, -1 + 0 + 5 + 5.5 + 28.5 + 10000 + 10000.5 + 7);
  EXPECT_TRUE(p.has_min_max);
  EXPECT_EQ(p.min, -1.0);
  EXPECT_EQ(p.max, 10000.5);
}

// Bucket lookup with few bounds (all compared at once, padded to a multiple
// of four) and with many (halving) against std::lower_bound, on every bound,
// just beside each and far outside.
TEST(MetricsCore, HistogramBucketLookupAgreesWithLowerBound) {
  for (std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{4}, std::size_t{5},
                        kLinearBounds, kLinearBounds + 1, std::size_t{100}}) {
    MetricsCore core(options(), nullptr, nullptr);
    Metrics& m = core.facade();
    InstrumentOptions o;
    for (std::size_t i = 0; i < n; ++i) o.boundaries.push_back(static_cast<double>(i * i) - 7.5);
    Histogram h = m.create_histogram("lookup", o);
    std::vector<double> values{-1e300, 1e300};
    for (double b : o.boundaries) {
      values.push_back(b);
      values.push_back(std::nextafter(b, -1e308));
      values.push_back(std::nextafter(b, 1e308));
    }
    std::vector<std::uint64_t> want(n + 1, 0);
    for (double v : values) {
      h.record(v);
      ++want[static_cast<std::size_t>(
          std::lower_bound(o.boundaries.begin(), o.boundaries.end(), v) - o.boundaries.begin())];
    }
    auto a = collect(core);
    const auto* md = find(a, "lookup");
    ASSERT_NE(md, nullptr) << n;
    EXPECT_EQ(md->histogram_points.at(0).bucket_counts, want) << n << " bounds";
  }
}

TEST(MetricsCore, HistogramDeltaResetsMinMaxAndCounts) {
  MetricsCore core(options(Temporality::kDelta), nullptr, nullptr);
  Metrics& m = core.facade();
  InstrumentOptions o;
  o.boundaries = {1, 2, 4};
  Histogram h = m.create_histogram("latency", o);
  h.record(0.5);
  h.record(3);
  auto a = collect(core);
  const auto& p1 = find(a, "latency")->histogram_points.at(0);
  EXPECT_EQ(p1.bucket_counts, (std::vector<std::uint64_t>{1, 0, 1, 0}));
  EXPECT_EQ(p1.min, 0.5);
  EXPECT_EQ(p1.max, 3);
  h.record(9);
  auto b = collect(core);
  const auto* md = find(b, "latency");
  ASSERT_NE(md, nullptr);
  const auto& p2 = md->histogram_points.at(0);
  EXPECT_EQ(p2.bucket_counts, (std::vector<std::uint64_t>{0, 0, 0, 1}));
  EXPECT_EQ(p2.count, 1u);
  EXPECT_DOUBLE_EQ(p2.sum, 9);
  EXPECT_EQ(p2.min, 9);
  EXPECT_EQ(p2.max, 9);
  EXPECT_EQ(find(collect(core), "latency"), nullptr);
}

TEST(MetricsCore, InvalidBoundariesFallBackToTheDefault) {
  Reports r;
  MetricsCore core(options(), nullptr, &r.diag);
  InstrumentOptions o;
  o.boundaries = {1, 1, 2};
  core.facade().create_histogram("h", o).record(1);
  auto v = collect(core);
  EXPECT_EQ(find(v, "h")->histogram_points.at(0).bounds.size(), 15u);
  EXPECT_EQ(r.count("metrics_bounds:h"), 1u) << r.text();
}

TEST(MetricsCore, ConcurrentRecordingGivesExactTotals) {
  MetricsCore core(options(Temporality::kDelta), nullptr, nullptr);
  Metrics& m = core.facade();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  Counter counter = m.create_counter("c");
  std::atomic<bool> go{false};
  std::atomic<int> running{kThreads};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      BoundCounter bound = counter.bind({{"kind", "bound"}});
      for (int i = 0; i < kPerThread; ++i) {
        // A new attribute set per thread, a shared one, a bound handle, a
        // double counter, a histogram and an up-down counter.
        m.counter("c", 1, {{"kind", "shared"}});
        counter.add(2, {{"thread", t}});
        bound.add(1);
        m.counter("d", 0.5);
        m.histogram("h", i % 20, {{"parity", i % 2 == 0}});
        m.up_down_counter("u", (i % 2 == 0) ? 3 : -1);
      }
      running.fetch_sub(1);
    });
  }
  // Delta collections run while the threads record: every measurement must
  // land in exactly one interval.
  std::map<std::string, std::int64_t> c_totals;
  double d_total = 0;
  std::uint64_t h_count = 0;
  double h_sum = 0;
  go.store(true);
  auto absorb = [&](const std::vector<otlp::MetricData>& v) {
    if (auto* c = find(v, "c"))
      for (auto& p : c->number_points) c_totals[key_of(p.attributes)] += p.int_value;
    if (auto* d = find(v, "d"))
      for (auto& p : d->number_points) d_total += p.double_value;
    if (auto* h = find(v, "h")) {
      for (auto& p : h->histogram_points) {
        std::uint64_t n = 0;
        for (auto b : p.bucket_counts) n += b;
        EXPECT_EQ(n, p.count);
        h_count += p.count;
        h_sum += p.sum;
      }
    }
  };
  for (int i = 0; i < 10000 && running.load() > 0; ++i) {
    absorb(collect(core));
    std::this_thread::sleep_for(2ms);
  }
  for (auto& th : threads) th.join();
  auto last = collect(core);
  absorb(last);
  EXPECT_EQ(c_totals["kind='shared'"], kThreads * kPerThread);
  EXPECT_EQ(c_totals["kind='bound'"], kThreads * kPerThread);
  for (int t = 0; t < kThreads; ++t)
    EXPECT_EQ(c_totals["thread=" + std::to_string(t)], 2 * kPerThread);
  EXPECT_DOUBLE_EQ(d_total, 0.5 * kThreads * kPerThread);
  EXPECT_EQ(h_count, static_cast<std::uint64_t>(kThreads) * kPerThread);
  // sum of i%20 over 20000 values = 1000 * (0+...+19) per thread.
  EXPECT_DOUBLE_EQ(h_sum, kThreads * 1000.0 * 190);
  const auto* u = find(last, "u");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->number_points.at(0).int_value, kThreads * (kPerThread / 2) * 2);
  EXPECT_EQ(core.accepted(), static_cast<std::uint64_t>(kThreads) * kPerThread * 6);
}

TEST(MetricsCore, CardinalityOverflowGoesToOneSeriesWithExactTotals) {
  Reports r;
  MetricsCore core(options(), nullptr, &r.diag);
  Metrics& m = core.facade();
  for (int i = 0; i < 2000; ++i) m.counter("per_job", 1, {{"job", i}});
  auto a = collect(core);
  EXPECT_EQ(find(a, "per_job")->number_points.size(), 2000u);
  EXPECT_EQ(r.count("metrics_cardinality:"), 0u);

  // The 2001st set and every later one share the overflow series.
  for (int i = 2000; i < 2100; ++i) m.counter("per_job", 2, {{"job", i}});
  m.counter("per_job", 5, {{"job", 7}});                      // a known set keeps its series
  m.counter("per_job", 1, {{"job", 99999}, {"job", 99999}});  // duplicate keys, unknown set
  Counter c = m.create_counter("per_job");
  BoundCounter late = c.bind({{"job", "late"}});
  late.add(10);
  auto b = collect(core);
  const auto* md = find(b, "per_job");
  ASSERT_NE(md, nullptr);
  ASSERT_EQ(md->number_points.size(), 2001u);
  auto pts = by_attrs(*md);
  ASSERT_NE(pts["otel.metric.overflow=true"], nullptr);
  EXPECT_EQ(pts["otel.metric.overflow=true"]->int_value, 100 * 2 + 1 + 10);
  EXPECT_EQ(pts["job=7"]->int_value, 6);
  std::int64_t total = 0;
  for (auto& p : md->number_points) total += p.int_value;
  EXPECT_EQ(total, 2000 + 200 + 5 + 1 + 10);
  EXPECT_EQ(core.stats().overflowed, 102u);
  EXPECT_EQ(r.count("metrics_cardinality:per_job"), 1u);
}

TEST(MetricsCore, NonFiniteValuesAndNegativeCounterIncrementsAreRejected) {
  Reports r;
  core::Pipeline pipe(core::Pipeline::Options{});
  MetricsCore core(options(), &pipe, &r.diag);
  Metrics& m = core.facade();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  m.counter("c", nan);
  m.counter("c", inf);
  m.counter("c", -1);
  m.counter("c", 2);
  m.histogram("h", -inf);
  m.histogram("h", 1.5);
  m.gauge("g", nan);
  m.up_down_counter("u", -4);  // fine for an up-down counter
  auto v = collect(core);
  EXPECT_EQ(find(v, "c")->number_points.at(0).int_value, 2);
  EXPECT_TRUE(find(v, "c")->number_points.at(0).is_int);
  EXPECT_EQ(find(v, "h")->histogram_points.at(0).count, 1u);
  EXPECT_EQ(find(v, "g"), nullptr);
  EXPECT_EQ(find(v, "u")->number_points.at(0).int_value, -4);
  EXPECT_EQ(core.stats().rejected_values, 5u);
  HealthSnapshot h = pipe.health();
  core.add_health(h);
  const auto& t = h.track(Track::kMetrics);
  // Measurements are counted apart from the track's data points (none were
  // exported here), so the data-point identity is not disturbed.
  EXPECT_EQ(t.measurements, 8u);
  EXPECT_EQ(t.measurements_dropped[static_cast<std::size_t>(DropReason::kRejected)], 5u);
  EXPECT_EQ(t.dropped_total(), 0u);
  EXPECT_EQ(t.offered, 0u);
  // One report per instrument and problem, not per call.
  EXPECT_EQ(r.count("metrics_value:c"), 2u) << r.text();  // non-finite, then negative
  EXPECT_EQ(r.count("metrics_value:h"), 1u);
  pipe.shutdown(1s);
}

TEST(MetricsCore, InvalidNamesAreReportedOnceAndCounted) {
  Reports r;
  core::Pipeline pipe(core::Pipeline::Options{});
  MetricsCore core(options(), &pipe, &r.diag);
  Metrics& m = core.facade();
  const std::string long_ok = "a" + std::string(254, 'b');
  const std::string too_long = "a" + std::string(255, 'b');
  for (int i = 0; i < 3; ++i) {
    m.counter("", 1);
    m.counter("1jobs", 1);
    m.counter("jobs processed", 1);
    m.counter(too_long, 1);
    m.counter("jobs\xff", 1);
  }
  m.counter(long_ok, 1);
  m.counter("ok.name-with/all_chars9", 1);
  Counter bad = m.create_counter("9lives");
  EXPECT_FALSE(bad.valid());
  bad.add(1);
  auto v = collect(core);
  EXPECT_NE(find(v, long_ok), nullptr);
  EXPECT_NE(find(v, "ok.name-with/all_chars9"), nullptr);
  EXPECT_EQ(v.size(), 2u);
  EXPECT_EQ(r.count("metrics_name:"), 6u) << r.text();
  EXPECT_EQ(core.stats().rejected_names, 16u);
  HealthSnapshot h = pipe.health();
  core.add_health(h);
  EXPECT_EQ(h.track(Track::kMetrics)
                .measurements_dropped[static_cast<std::size_t>(DropReason::kRejected)],
            16u);
  EXPECT_TRUE(valid_instrument_name("a"));
  EXPECT_TRUE(valid_instrument_name("A.b_c-d/e"));
  EXPECT_FALSE(valid_instrument_name("_a"));
  EXPECT_FALSE(valid_instrument_name("a:b"));
  pipe.shutdown(1s);
}

TEST(MetricsCore, ConflictingKindOrUnitIsACountedNoOp) {
  Reports r;
  MetricsCore core(options(), nullptr, &r.diag);
  Metrics& m = core.facade();
  m.histogram("job_duration_seconds", 1.5, {}, "s");
  m.counter("job_duration_seconds", 1);                // other kind
  m.counter("job_duration_seconds", 1);                // reported once
  m.histogram("job_duration_seconds", 2.0, {}, "ms");  // other unit
  m.histogram("job_duration_seconds", 3.0, {});        // no unit given: fine
  Counter refused = m.create_counter("job_duration_seconds");
  EXPECT_FALSE(refused.valid());
  refused.add(1);
  InstrumentOptions seconds;
  seconds.unit = "s";
  EXPECT_TRUE(m.create_histogram("job_duration_seconds", seconds).valid());
  EXPECT_TRUE(m.create_histogram("JOB_DURATION_SECONDS").valid());  // names are case-insensitive
  auto v = collect(core);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].kind, otlp::MetricKind::kHistogram);
  EXPECT_EQ(v[0].histogram_points.at(0).count, 2u);
  EXPECT_EQ(core.stats().rejected_conflicts, 4u);
  EXPECT_EQ(r.count("metrics_conflict:job_duration_seconds"), 2u) << r.text();  // kind, unit
}

TEST(MetricsCore, NamesAreCaseInsensitiveAndKeepTheFirstSpelling) {
  MetricsCore core(options(), nullptr, nullptr);
  Metrics& m = core.facade();
  m.counter("Jobs.Done", 1);
  m.counter("jobs.done", 1);
  m.counter("JOBS.DONE", 1);
  auto v = collect(core);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "Jobs.Done");
  EXPECT_EQ(v[0].number_points.at(0).int_value, 3);
}

TEST(MetricsCore, AttributeSetsIgnoreOrderNullsAndKeepTheLastRepeatedKey) {
  MetricsCore core(options(), nullptr, nullptr);
  Metrics& m = core.facade();
  m.counter("x", 1, {{"a", "1"}, {"b", 2}});
  m.counter("x", 1, {{"b", 2}, {"a", "1"}});
  m.counter("x", 1, {{"a", "1"}, {"b", 2}, {"n", nullptr}});
  m.counter("x", 1, {{"a", "0"}, {"b", 2}, {"a", "1"}});
  m.counter("x", 1, {{"a", 1}, {"b", 2}});       // int 1 is not "1"
  m.counter("x", 1, {{"a", true}, {"b", 2.0}});  // nor are true and 2.0
  m.counter("x", 1);
  auto v = collect(core);
  auto pts = by_attrs(*find(v, "x"));
  ASSERT_EQ(pts.size(), 4u);
  EXPECT_EQ(pts["a='1',b=2"]->int_value, 4);
  EXPECT_EQ(pts["a=1,b=2"]->int_value, 1);
  EXPECT_EQ(pts["a=true,b=2.000000d"]->int_value, 1);
  EXPECT_EQ(pts[""]->int_value, 1);
}

TEST(MetricsCore, BoundHandlesSkipTheLookup) {
  MetricsCore core(options(), nullptr, nullptr);
  Metrics& m = core.facade();
  auto done = m.create_counter("jobs").bind({{"status", "completed"}});
  auto gauge = m.create_gauge("queue").bind({});
  auto hist = m.create_histogram("dur").bind({{"k", 1}});
  auto udc = m.create_up_down_counter("active").bind({});
  EXPECT_TRUE(done.valid());
  done.add(2);
  done.add(3);
  m.counter("jobs", 1, {{"status", "completed"}});  // the same series by name
  gauge.record(4);
  hist.record(12.0);
  udc.add(-2);
  BoundCounter none;
  none.add(1);  // a default handle does nothing
  auto v = collect(core);
  EXPECT_EQ(find(v, "jobs")->number_points.at(0).int_value, 6);
  EXPECT_EQ(find(v, "queue")->number_points.at(0).int_value, 4);
  EXPECT_EQ(find(v, "dur")->histogram_points.at(0).bucket_counts.at(3), 1u);
  EXPECT_EQ(find(v, "active")->number_points.at(0).int_value, -2);
}

TEST(MetricsCore, ExponentialHistogramOption) {
  MetricsCore core(options(), nullptr, nullptr);
  InstrumentOptions o;
  o.exponential = true;
  o.exponential_max_size = 20;
  Histogram h = core.facade().create_histogram("sizes", o);
  for (int i = 1; i <= 1000; ++i) h.record(i);
  h.record(0);
  h.record(-3.0);
  auto v = collect(core);
  const auto* md = find(v, "sizes");
  ASSERT_NE(md, nullptr);
  EXPECT_EQ(md->kind, otlp::MetricKind::kExponentialHistogram);
  const auto& p = md->exponential_points.at(0);
  EXPECT_EQ(p.count, 1002u);
  EXPECT_EQ(p.zero_count, 1u);
  std::uint64_t pos = 0, neg = 0;
  for (auto c : p.positive.counts) pos += c;
  for (auto c : p.negative.counts) neg += c;
  EXPECT_EQ(pos, 1000u);
  EXPECT_EQ(neg, 1u);
  EXPECT_LE(p.positive.counts.size(), 20u);
  EXPECT_LT(p.scale, 20);
  EXPECT_DOUBLE_EQ(p.sum, 500500.0 - 3.0);
  EXPECT_EQ(p.min, -3.0);
  EXPECT_EQ(p.max, 1000.0);
}

TEST(MetricsCore, ObservableInstrumentsReportWhatTheCallbackSaw) {
  MetricsCore core(options(Temporality::kDelta), nullptr, nullptr);
  Metrics& m = core.facade();
  std::atomic<int> total{10};
  std::atomic<int> depth{3};
  ASSERT_TRUE(m.create_observable_counter("bytes_read", [&](ObservableResult& r) {
    r.observe(total.load(), {{"disk", "sda"}});
  }));
  ASSERT_TRUE(m.create_observable_gauge("queue_depth",
                                        [&](ObservableResult& r) { r.observe(depth.load()); }));
  ASSERT_TRUE(m.create_observable_up_down_counter(
      "in_flight", [&](ObservableResult& r) { r.observe(depth.load() - 1); }));
  // A second callback for a name is refused.
  EXPECT_FALSE(m.create_observable_gauge("queue_depth", [](ObservableResult& r) { r.observe(1); }));
  auto a = collect(core);
  EXPECT_EQ(find(a, "bytes_read")->temporality, otlp::AggregationTemporality::kDelta);
  EXPECT_EQ(find(a, "bytes_read")->number_points.at(0).int_value, 10);
  EXPECT_EQ(find(a, "queue_depth")->number_points.at(0).int_value, 3);
  EXPECT_EQ(find(a, "in_flight")->temporality, otlp::AggregationTemporality::kCumulative);
  total = 25;
  depth = 9;
  auto b = collect(core);
  EXPECT_EQ(find(b, "bytes_read")->number_points.at(0).int_value, 15);  // delta of totals
  EXPECT_EQ(find(b, "queue_depth")->number_points.at(0).int_value, 9);
  EXPECT_EQ(find(b, "in_flight")->number_points.at(0).int_value, 8);
  auto prom = collect(core, CollectFor::kPrometheus);
  EXPECT_EQ(find(prom, "bytes_read")->number_points.at(0).int_value, 25);
}

TEST(MetricsCore, ACallbackThatThrowsIsCaughtAndReported) {
  Reports r;
  MetricsCore core(options(), nullptr, &r.diag);
  Metrics& m = core.facade();
  std::atomic<int> calls{0};
  ASSERT_TRUE(m.create_observable_gauge("broken", [&](ObservableResult& res) {
    res.observe(1);
    if (calls.fetch_add(1) % 2 == 0) throw std::runtime_error("sensor unplugged");
  }));
  ASSERT_TRUE(m.create_observable_gauge("fine", [](ObservableResult& res) { res.observe(5); }));
  m.counter("sync", 1);
  auto a = collect(core);
  EXPECT_EQ(find(a, "broken"), nullptr);  // observations of a failed call are dropped
  EXPECT_EQ(find(a, "fine")->number_points.at(0).int_value, 5);
  EXPECT_NE(find(a, "sync"), nullptr);
  auto b = collect(core);  // the next call succeeds
  EXPECT_EQ(find(b, "broken")->number_points.at(0).int_value, 1);
  EXPECT_EQ(core.stats().callback_errors, 1u);
  EXPECT_EQ(r.count("metrics_callback_error:broken"), 1u);
  EXPECT_NE(r.text().find("sensor unplugged"), std::string::npos);
}

TEST(MetricsCore, ACallbackThatBlocksIsAbandonedAndTheCollectionGoesOn) {
  Reports r;
  MetricsCore core(options(), nullptr, &r.diag);  // callback timeout 200 ms
  Metrics& m = core.facade();
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<int> entered{0};
  ASSERT_TRUE(m.create_observable_gauge("stuck", [&](ObservableResult& res) {
    entered.fetch_add(1);
    res.observe(1);
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, 20s, [&] { return release; });  // bounded even if the test fails
    res.observe(2);                                   // after abandonment: ignored
  }));
  ASSERT_TRUE(m.create_observable_gauge("after", [](ObservableResult& res) { res.observe(7); }));
  m.gauge("sync", 3);

  auto a = collect(core);  // returns although "stuck" never does
  EXPECT_EQ(find(a, "stuck"), nullptr);
  EXPECT_EQ(find(a, "after")->number_points.at(0).int_value, 7);
  EXPECT_EQ(find(a, "sync")->number_points.at(0).int_value, 3);
  EXPECT_EQ(core.stats().callback_timeouts, 1u);

  auto b = collect(core);  // still blocked: skipped, not run twice
  EXPECT_EQ(entered.load(), 1);
  EXPECT_EQ(core.stats().callbacks_skipped, 1u);
  EXPECT_EQ(find(b, "after")->number_points.at(0).int_value, 7);

  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  // Once it has returned it runs again; it returns at once now.
  std::vector<otlp::MetricData> c;
  for (int i = 0; i < 200; ++i) {
    c = collect(core);
    if (find(c, "stuck") != nullptr) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_NE(find(c, "stuck"), nullptr);
  EXPECT_EQ(entered.load(), 2);
  EXPECT_EQ(r.count("metrics_callback_timeout:stuck"), 1u) << r.text();
}

TEST(MetricsCore, AfterCloseMeasurementsCountAsShutdownDrops) {
  core::Pipeline pipe(core::Pipeline::Options{});
  MetricsCore core(options(), &pipe, nullptr);
  Metrics& m = core.facade();
  auto bound = m.create_counter("c").bind({});
  m.counter("c", 1);
  core.close();
  m.counter("c", 1);
  bound.add(1);
  auto v = collect(core);
  EXPECT_EQ(find(v, "c")->number_points.at(0).int_value, 1);
  HealthSnapshot h = pipe.health();
  core.add_health(h);
  const auto& t = h.track(Track::kMetrics);
  EXPECT_EQ(t.measurements_dropped[static_cast<std::size_t>(DropReason::kShutdown)], 2u);
  EXPECT_EQ(t.measurements, 3u);
  pipe.shutdown(1s);
}

TEST(MetricsCore, DisabledCoreIgnoresEverything) {
  CoreOptions o = options();
  o.enabled = false;
  MetricsCore core(o, nullptr, nullptr);
  Metrics& m = core.facade();
  EXPECT_FALSE(m.enabled());
  m.counter("c", 1);
  EXPECT_FALSE(m.create_counter("c").valid());
  EXPECT_TRUE(collect(core).empty());
  EXPECT_EQ(core.accepted(), 0u);
}

}  // namespace
}  // namespace emp::telemetry::metrics
