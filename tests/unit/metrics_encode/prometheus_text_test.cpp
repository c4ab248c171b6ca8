// The Prometheus text exposition: a golden text for a counter, gauges and a
// histogram with units and labels that need escaping; the name translation
// table of the OpenTelemetry compatibility spec; label sanitizing and
// merging; family merging and type conflicts; skipped delta metrics and bad
// points; exponential histograms converted to cumulative buckets that agree
// with the recorded values; target_info and scope labels.
#include "encode/prometheus_text.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "unit/metrics_encode/metrics_samples.hpp"

namespace otlp = emp::telemetry::encode::otlp;
namespace enc = emp::telemetry::encode;
using enc::PrometheusType;
using otlp::AggregationTemporality;
using otlp::AnyValue;

namespace {

constexpr auto kCumulative = AggregationTemporality::kCumulative;

std::string render(const std::vector<otlp::MetricData>& metrics,
                   const enc::PrometheusTextOptions& options = {},
                   enc::PrometheusTextStats* stats = nullptr) {
  std::string out;
  enc::encode_prometheus_text(metrics, options, out, stats);
  return out;
}

TEST(PrometheusText, GoldenCounterGaugeHistogram) {
  std::vector<otlp::MetricData> metrics;

  auto requests = otlp::testing::sum_metric("http.server.requests", "{request}", true, kCumulative);
  requests.description = "Requests served.\nCounted \\ once.";
  requests.number_points = {
      otlp::testing::int_point(10, {{"http.request.method", AnyValue::string("GET")},
                                    {"http.response.status_code", AnyValue::integer(200)}}),
      otlp::testing::int_point(3, {{"http.request.method", AnyValue::string("POST")},
                                   {"url.path", AnyValue::string("/a\"b\\c\nd")}}),
  };
  metrics.push_back(requests);

  auto memory = otlp::testing::gauge_metric("process.memory.usage", "By");
  memory.description = "Resident memory.";
  memory.number_points = {otlp::testing::double_point(1.5e9)};
  metrics.push_back(memory);

  auto latency = otlp::testing::histogram_metric("http.server.request.duration", "s", kCumulative);
  latency.description = "Request latency.";
  latency.histogram_points = {
      otlp::testing::histogram_of({0.003, 0.004, 0.05, 0.5, 2}, {0.005, 0.01, 0.1, 1})};
  latency.histogram_points[0].sum = 2.557;
  latency.histogram_points[0].attributes = {{"http.route", AnyValue::string("/jobs/{id}")}};
  metrics.push_back(latency);

  auto depth = otlp::testing::sum_metric("emp.queue.depth", "{job}", false, kCumulative);
  depth.description = "";
  depth.number_points = {otlp::testing::int_point(-2, {{"queue", AnyValue::string("gpu")}})};
  metrics.push_back(depth);

  auto cpu = otlp::testing::gauge_metric("system.cpu.utilization", "1");
  cpu.description = "CPU use.";
  cpu.number_points = {otlp::testing::double_point(0.25, {{"cpu", AnyValue::integer(0)}})};
  metrics.push_back(cpu);

  const std::vector<otlp::KeyValue> const_labels = {
      {"service.instance.id", AnyValue::string("w-1")}};
  std::string out;
  enc::encode_prometheus_text(metrics, &const_labels, out);

  const std::string want =
      "# HELP http_server_requests_total Requests served.\\nCounted \\\\ once.\n"
      "# TYPE http_server_requests_total counter\n"
      "http_server_requests_total{http_request_method=\"GET\",http_response_status_code=\"200\","
      "service_instance_id=\"w-1\"} 10\n"
      "http_server_requests_total{http_request_method=\"POST\",service_instance_id=\"w-1\","
      "url_path=\"/a\\\"b\\\\c\\nd\"} 3\n"
      "# HELP process_memory_usage_bytes Resident memory.\n"
      "# TYPE process_memory_usage_bytes gauge\n"
      "process_memory_usage_bytes{service_instance_id=\"w-1\"} 1.5e+09\n"
      "# HELP http_server_request_duration_seconds Request latency.\n"
      "# TYPE http_server_request_duration_seconds histogram\n"
      "http_server_request_duration_seconds_bucket{http_route=\"/jobs/{id}\","
      "service_instance_id=\"w-1\",le=\"0.005\"} 2\n"
      "http_server_request_duration_seconds_bucket{http_route=\"/jobs/{id}\","
      "service_instance_id=\"w-1\",le=\"0.01\"} 2\n"
      "http_server_request_duration_seconds_bucket{http_route=\"/jobs/{id}\","
      "service_instance_id=\"w-1\",le=\"0.1\"} 3\n"
      "http_server_request_duration_seconds_bucket{http_route=\"/jobs/{id}\","
      "service_instance_id=\"w-1\",le=\"1\"} 4\n"
      "http_server_request_duration_seconds_bucket{http_route=\"/jobs/{id}\","
      "service_instance_id=\"w-1\",le=\"+Inf\"} 5\n"
      "http_server_request_duration_seconds_sum{http_route=\"/jobs/{id}\","
      "service_instance_id=\"w-1\"} 2.557\n"
      "http_server_request_duration_seconds_count{http_route=\"/jobs/{id}\","
      "service_instance_id=\"w-1\"} 5\n"
      "# TYPE emp_queue_depth gauge\n"
      "emp_queue_depth{queue=\"gpu\",service_instance_id=\"w-1\"} -2\n"
      "# HELP system_cpu_utilization_ratio CPU use.\n"
      "# TYPE system_cpu_utilization_ratio gauge\n"
      "system_cpu_utilization_ratio{cpu=\"0\",service_instance_id=\"w-1\"} 0.25\n";
  EXPECT_EQ(out, want);

  // Without constant labels a point without attributes has no braces.
  out.clear();
  enc::encode_prometheus_text(std::span(&memory, 1), nullptr, out);
  EXPECT_EQ(out,
            "# HELP process_memory_usage_bytes Resident memory.\n"
            "# TYPE process_memory_usage_bytes gauge\n"
            "process_memory_usage_bytes 1.5e+09\n");
}

struct NameCase {
  const char* name;
  const char* unit;
  PrometheusType type;
  const char* want;
};

TEST(PrometheusText, NameTranslationTable) {
  const auto C = PrometheusType::kCounter;
  const auto G = PrometheusType::kGauge;
  const auto H = PrometheusType::kHistogram;
  const NameCase cases[] = {
      {"http.server.duration", "s", H, "http_server_duration_seconds"},
      {"http.server.duration", "ms", H, "http_server_duration_milliseconds"},
      {"rpc.latency", "us", H, "rpc_latency_microseconds"},
      {"gc.pause", "ns", H, "gc_pause_nanoseconds"},
      {"uptime", "d", G, "uptime_days"},
      {"uptime", "h", G, "uptime_hours"},
      {"uptime", "min", G, "uptime_minutes"},
      {"system.memory.usage", "By", G, "system_memory_usage_bytes"},
      {"heap", "KiBy", G, "heap_kibibytes"},
      {"heap", "MiBy", G, "heap_mebibytes"},
      {"heap", "GiBy", G, "heap_gibibytes"},
      {"disk", "TBy", G, "disk_terabytes"},
      {"system.network.io", "By", C, "system_network_io_bytes_total"},
      {"requests", "{request}", C, "requests_total"},
      {"requests_total", "", C, "requests_total"},
      {"requests_total", "s", C, "requests_seconds_total"},
      {"requests_total_total", "", C, "requests_total_total"},
      {"total", "", C, "total_total"},
      {"duration_seconds", "s", H, "duration_seconds"},
      {"seconds", "s", G, "seconds"},
      {"seconds_before", "s", G, "seconds_before_seconds"},
      {"cpu.utilization", "1", G, "cpu_utilization_ratio"},
      {"cpu.utilization", "1", C, "cpu_utilization_total"},
      {"cpu.utilization", "1", H, "cpu_utilization"},
      {"error.ratio", "1", G, "error_ratio"},
      {"throughput", "By/s", G, "throughput_bytes_per_second"},
      {"rate", "1/s", G, "rate_per_second"},
      {"packets", "{packet}/s", C, "packets_per_second_total"},
      {"speed", "m/s", G, "speed_meters_per_second"},
      {"events", "{event}/min", G, "events_per_minute"},
      {"temp", "Cel", G, "temp_celsius"},
      {"temp", "K", G, "temp_kelvin"},
      {"power", "W", G, "power_watts"},
      {"clock", "Hz", G, "clock_hertz"},
      {"disk.free", "%", G, "disk_free_percent"},
      {"custom", "widgets", G, "custom_widgets"},
      {"custom", "foo bar", G, "custom_foo_bar"},
      {"custom", "widgets/fortnight", G, "custom_widgets_per_fortnight"},
      {"x", "{a}b{c}", G, "x_b"},
      {"x", " s ", G, "x_seconds"},
      {"x", "{unclosed", G, "x"},
      {"x_", "s", G, "x_seconds"},
      {"2xx.responses", "", C, "_2xx_responses_total"},
      {"a..b--c", "", G, "a_b_c"},
      {"ns:metric", "", G, "ns_metric"},
      {"_leading", "", G, "_leading"},
      {"__double", "", G, "_double"},
      {"\xC3\xBCn\xC3\xAF"
       "code",
       "", G, "_n_code"},
      {"CamelCase.Name", "", G, "CamelCase_Name"},
      {"", "s", G, ""},
  };
  for (const NameCase& c : cases) {
    EXPECT_EQ(enc::prometheus_metric_name(c.name, c.unit, c.type), c.want)
        << "name=\"" << c.name << "\" unit=\"" << c.unit << "\" type=" << static_cast<int>(c.type);
  }
  EXPECT_EQ(enc::prometheus_unit_suffix("By/s", PrometheusType::kGauge), "bytes_per_second");
  EXPECT_EQ(enc::prometheus_unit_suffix("{thing}", PrometheusType::kGauge), "");
  EXPECT_EQ(enc::prometheus_unit_suffix("1", PrometheusType::kGauge), "ratio");
  EXPECT_EQ(enc::prometheus_unit_suffix("1", PrometheusType::kCounter), "");
}

TEST(PrometheusText, LabelNames) {
  const std::pair<const char*, const char*> cases[] = {
      {"http.method", "http_method"},
      {"2fa", "key_2fa"},
      {"__reserved", "_reserved"},
      {"a-b c", "a_b_c"},
      {"\xC3\x84\xC3\x96", "_"},
      {"ok_name", "ok_name"},
      {"", ""},
      {"x..y", "x_y"},
      {"Upper.Case", "Upper_Case"},
  };
  for (const auto& [key, want] : cases) EXPECT_EQ(enc::prometheus_label_name(key), want) << key;
}

TEST(PrometheusText, LabelValuesOfEveryAttributeType) {
  auto g = otlp::testing::gauge_metric("v", "");
  g.description.clear();
  g.number_points = {otlp::testing::int_point(
      1, {{"s", AnyValue::string("caf\xC3\xA9 \xFF")},
          {"b", AnyValue::boolean(true)},
          {"i", AnyValue::integer(-7)},
          {"d", AnyValue::floating(0.1)},
          {"nan", AnyValue::floating(std::numeric_limits<double>::quiet_NaN())},
          {"by", AnyValue::bytes(std::string("\x00\xFF", 2))},
          {"arr", AnyValue::array_of({AnyValue::string("x\"y"), AnyValue::integer(2),
                                      AnyValue::floating(std::numeric_limits<double>::infinity()),
                                      AnyValue{}})},
          {"kv", AnyValue::kvlist_of({{"k", AnyValue::boolean(false)}})},
          {"empty", AnyValue{}},
          {"", AnyValue::string("dropped: no key")}})};
  EXPECT_EQ(render({g}),
            "# TYPE v gauge\n"
            "v{arr=\"[\\\"x\\\\\\\"y\\\",2,\\\"Infinity\\\",null]\",b=\"true\",by=\"AP8=\","
            "d=\"0.1\",empty=\"\",i=\"-7\",kv=\"{\\\"k\\\":false}\",nan=\"NaN\","
            "s=\"caf\xC3\xA9 \xEF\xBF\xBD\"} 1\n");
}

TEST(PrometheusText, CollidingLabelNamesAreMergedInKeyOrder) {
  auto g = otlp::testing::gauge_metric("m", "");
  g.description.clear();
  g.number_points = {otlp::testing::int_point(1, {{"a_b", AnyValue::string("2")},
                                                  {"a.b", AnyValue::string("1")},
                                                  {"a-b", AnyValue::string("0")}})};
  // '-' < '.' < '_' in byte order.
  EXPECT_EQ(render({g}), "# TYPE m gauge\nm{a_b=\"0;1;2\"} 1\n");
}

TEST(PrometheusText, SampleValueSpellings) {
  auto g = otlp::testing::gauge_metric("v", "");
  g.description.clear();
  for (const double d :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity(), -0.0, 1e-300, 123.0, 0.1}) {
    g.number_points.push_back(otlp::testing::double_point(d));
  }
  g.number_points.push_back(otlp::testing::int_point(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(render({g}),
            "# TYPE v gauge\nv NaN\nv +Inf\nv -Inf\nv 0\nv 1e-300\nv 123\nv 0.1\n"
            "v -9223372036854775808\n");
}

TEST(PrometheusText, SameNameMetricsFormOneFamily) {
  auto a = otlp::testing::gauge_metric("temp", "Cel");
  a.description.clear();  // the family takes the first non-empty description
  a.number_points = {otlp::testing::double_point(1, {{"gpu", AnyValue::string("0")}})};
  auto other = otlp::testing::gauge_metric("other", "");
  other.number_points = {otlp::testing::int_point(5)};
  auto b = otlp::testing::gauge_metric("temp", "Cel");
  b.description = "GPU temperature.";
  b.number_points = {otlp::testing::double_point(2, {{"gpu", AnyValue::string("1")}})};
  auto c = otlp::testing::gauge_metric("temp_celsius", "");  // same translated name
  c.description = "ignored, the family already has one";
  c.number_points = {otlp::testing::double_point(3, {{"gpu", AnyValue::string("2")}})};
  EXPECT_EQ(render({a, other, b, c}),
            "# HELP temp_celsius GPU temperature.\n"
            "# TYPE temp_celsius gauge\n"
            "temp_celsius{gpu=\"0\"} 1\n"
            "temp_celsius{gpu=\"1\"} 2\n"
            "temp_celsius{gpu=\"2\"} 3\n"
            "# HELP other gauge other\n"
            "# TYPE other gauge\n"
            "other 5\n");
}

TEST(PrometheusText, ConflictingTypesDropTheLaterMetric) {
  auto hist = otlp::testing::histogram_metric("jobs", "", kCumulative);
  hist.histogram_points = {otlp::testing::histogram_of({1}, {})};
  auto gauge = otlp::testing::gauge_metric("jobs", "");  // same name, other type
  gauge.number_points = {otlp::testing::int_point(1)};
  auto count = otlp::testing::gauge_metric("jobs.count", "");  // the histogram's _count
  count.number_points = {otlp::testing::int_point(1)};
  auto counter = otlp::testing::sum_metric("jobs", "", true, kCumulative);  // jobs_total: fine
  counter.number_points = {otlp::testing::int_point(4)};
  auto later_hist = otlp::testing::histogram_metric("x", "", kCumulative);  // x_bucket taken
  later_hist.histogram_points = {otlp::testing::histogram_of({1}, {})};
  auto bucket = otlp::testing::gauge_metric("x.bucket", "");
  bucket.number_points = {otlp::testing::int_point(9)};
  enc::PrometheusTextStats stats;
  const std::string out = render({hist, gauge, count, counter, bucket, later_hist}, {}, &stats);
  EXPECT_EQ(stats.skipped_conflicting_metrics, 3u);
  EXPECT_EQ(out,
            "# HELP jobs histogram jobs\n"
            "# TYPE jobs histogram\n"
            "jobs_bucket{le=\"+Inf\"} 1\n"
            "jobs_sum 1\n"
            "jobs_count 1\n"
            "# HELP jobs_total sum jobs\n"
            "# TYPE jobs_total counter\n"
            "jobs_total 4\n"
            "# HELP x_bucket gauge x.bucket\n"
            "# TYPE x_bucket gauge\n"
            "x_bucket 9\n");
}

TEST(PrometheusText, DeltaAndUnnamedMetricsAndBadPointsAreSkipped) {
  auto delta_sum = otlp::testing::sum_metric("a", "", true, AggregationTemporality::kDelta);
  delta_sum.number_points = {otlp::testing::int_point(1)};
  auto delta_updown = otlp::testing::sum_metric("b", "", false, AggregationTemporality::kDelta);
  auto unspecified = otlp::testing::histogram_metric("c", "", AggregationTemporality::kUnspecified);
  auto delta_exp = otlp::testing::exponential_metric("d", "", AggregationTemporality::kDelta);
  otlp::MetricData unnamed = otlp::testing::gauge_metric("", "");
  unnamed.number_points = {otlp::testing::int_point(1)};

  auto hist = otlp::testing::histogram_metric("h", "", kCumulative);
  hist.description.clear();
  auto wrong_size = otlp::testing::histogram_of({1, 2}, {1.5});
  wrong_size.bucket_counts.push_back(0);  // three counts for one bound
  auto not_increasing = otlp::testing::histogram_of({1, 2}, {2, 1});
  auto nan_bound = otlp::testing::histogram_of({1}, {std::numeric_limits<double>::quiet_NaN()});
  auto no_value = otlp::testing::histogram_of({1}, {});
  no_value.flags = 1;
  auto good = otlp::testing::histogram_of({1, 2}, {1.5});
  hist.histogram_points = {wrong_size, not_increasing, nan_bound, no_value, good};

  auto gauge = otlp::testing::gauge_metric("g", "");  // gauges have no temporality
  gauge.description.clear();
  gauge.temporality = AggregationTemporality::kDelta;
  gauge.number_points = {otlp::testing::int_point(3), otlp::testing::int_point(4)};
  gauge.number_points[0].flags = 1;

  enc::PrometheusTextStats stats;
  const std::string out =
      render({delta_sum, delta_updown, unspecified, delta_exp, unnamed, hist, gauge}, {}, &stats);
  EXPECT_EQ(stats.skipped_delta_metrics, 4u);
  EXPECT_EQ(stats.skipped_unnamed_metrics, 1u);
  EXPECT_EQ(stats.skipped_points, 5u);
  EXPECT_EQ(stats.skipped_conflicting_metrics, 0u);
  EXPECT_EQ(out,
            "# TYPE h histogram\n"
            "h_bucket{le=\"1.5\"} 1\n"
            "h_bucket{le=\"+Inf\"} 2\n"
            "h_sum 3\n"
            "h_count 2\n"
            "# TYPE g gauge\n"
            "g 4\n");
}

TEST(PrometheusText, HistogramEdgeBounds) {
  auto hist = otlp::testing::histogram_metric("h", "", kCumulative);
  hist.description.clear();
  const double inf = std::numeric_limits<double>::infinity();
  // A -Inf bound is a valid le; a +Inf bound would repeat the final bucket.
  auto p = otlp::testing::histogram_of({-5, 0, 7}, {-inf, 0, inf}, false, false);
  hist.histogram_points = {p};
  EXPECT_EQ(render({hist}),
            "# TYPE h histogram\n"
            "h_bucket{le=\"-Inf\"} 0\n"
            "h_bucket{le=\"0\"} 2\n"
            "h_bucket{le=\"+Inf\"} 3\n"
            "h_count 3\n");
}

TEST(PrometheusText, DefaultBoundsGiveSixteenBuckets) {
  auto hist = otlp::testing::histogram_metric("d", "s", kCumulative);
  hist.histogram_points = {otlp::testing::histogram_of(otlp::testing::latency_values(1000, 3),
                                                       otlp::testing::default_bounds())};
  const std::string out = render({hist});
  std::istringstream in(out);
  std::string line;
  std::uint64_t last = 0;
  int buckets = 0;
  while (std::getline(in, line)) {
    if (line.rfind("d_seconds_bucket{", 0) != 0) continue;
    ++buckets;
    const std::uint64_t v = std::stoull(line.substr(line.rfind(' ') + 1));
    EXPECT_GE(v, last) << line;  // cumulative
    last = v;
  }
  EXPECT_EQ(buckets, 16);
  EXPECT_EQ(last, 1000u);
  EXPECT_NE(out.find("d_seconds_bucket{le=\"10000\"}"), std::string::npos);
  EXPECT_NE(out.find("d_seconds_bucket{le=\"7500\"}"), std::string::npos);
}

// Parses "name_bucket{...le="X"} N" lines into le -> N.
std::map<double, std::uint64_t> buckets_of(const std::string& text, const std::string& name) {
  std::map<double, std::uint64_t> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + "_bucket{", 0) != 0) continue;
    const std::size_t le = line.find("le=\"") + 4;
    const std::string bound = line.substr(le, line.find('"', le) - le);
    const double b = bound == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(bound);
    EXPECT_EQ(out.count(b), 0u) << "repeated le in " << line;
    out[b] = std::stoull(line.substr(line.rfind(' ') + 1));
  }
  return out;
}

TEST(PrometheusText, ExponentialHistogramBecomesCumulativeBuckets) {
  // Negative values avoid bucket boundaries (those count one bucket up, as
  // documented); positive ones include exact boundaries (0.5, 4).
  const std::vector<double> values = {0.001, 0.3, 0.5,  4,    3.5,   100,  -2.5,
                                      -0.75, 0.0, 1e-9, 5000, -1e-7, -300, 17};
  for (const int scale : {-2, 0, 1, 3, 8}) {
    auto m = otlp::testing::exponential_metric("w", "s", kCumulative);
    m.exponential_points = {otlp::testing::exponential_of(values, scale, 1e-6)};
    const std::string out = render({m});
    const auto buckets = buckets_of(out, "w_seconds");
    ASSERT_FALSE(buckets.empty()) << scale;
    double prev = -std::numeric_limits<double>::infinity();
    std::uint64_t prev_count = 0;
    for (const auto& [le, n] : buckets) {
      EXPECT_GT(le, prev);
      EXPECT_GE(n, prev_count) << "scale " << scale << " le " << le;
      // Every bucket counts exactly the values at or below its bound.
      std::uint64_t want = 0;
      for (const double v : values) want += v <= le ? 1 : 0;
      EXPECT_EQ(n, want) << "scale " << scale << " le " << le << "\n" << out;
      prev = le;
      prev_count = n;
    }
    EXPECT_EQ(buckets.rbegin()->second, values.size());
    EXPECT_NE(out.find("# TYPE w_seconds histogram\n"), std::string::npos);
    EXPECT_NE(out.find("w_seconds_count " + std::to_string(values.size()) + "\n"),
              std::string::npos);
    EXPECT_NE(out.find("w_seconds_sum "), std::string::npos);
  }
}

TEST(PrometheusText, ExponentialHistogramExtremes) {
  auto m = otlp::testing::exponential_metric("x", "", kCumulative);
  m.description.clear();
  otlp::ExponentialHistogramPoint p;  // buckets beyond the double range fold into +Inf
  p.scale = 0;
  p.count = 3;
  p.has_sum = false;
  p.positive.offset = 1020;
  p.positive.counts = {1, 1, 1};          // bounds 2^1021, 2^1022, 2^1023 (all finite) ...
  otlp::ExponentialHistogramPoint q = p;  // ... but 2^2048 and 2^-2048 are not
  q.scale = 20;
  q.positive.offset = std::numeric_limits<std::int32_t>::max() - 2;
  q.negative.offset = std::numeric_limits<std::int32_t>::min();
  q.negative.counts = {2};
  q.count = 5;
  m.exponential_points = {p, q};
  const std::string out = render({m});
  const auto first = out.substr(0, out.find("x_count 3\n"));
  EXPECT_NE(first.find("x_bucket{le=\"0\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(first.find("x_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << out;
  EXPECT_EQ(buckets_of(first, "x").size(), 5u) << out;  // 0, three finite bounds, +Inf
  EXPECT_NE(out.find("x_bucket{le=\"+Inf\"} 5\n"), std::string::npos) << out;

  // Hostile scales: every bound is 0, 1 or infinite; nothing overflows.
  for (const std::int32_t scale : {std::numeric_limits<std::int32_t>::min(),
                                   std::numeric_limits<std::int32_t>::max(), -1100, 1100}) {
    otlp::ExponentialHistogramPoint r = p;
    r.scale = scale;
    r.positive.offset = -1;
    r.negative.offset = 1;
    r.negative.counts = {1, 1};
    r.count = 5;
    m.exponential_points = {r};
    const auto b = buckets_of(render({m}), "x");
    ASSERT_FALSE(b.empty()) << scale;
    EXPECT_EQ(b.rbegin()->second, 5u) << scale;
  }
}

TEST(PrometheusText, TargetInfoScopeAndReservedLabels) {
  otlp::Resource resource = otlp::testing::sample_resource();
  otlp::Scope scope;
  scope.name = "emp-telemetry";
  scope.version = "0.1.0";
  const std::vector<otlp::KeyValue> const_labels = {{"job", AnyValue::string("worker")}};
  enc::PrometheusTextOptions options;
  options.resource = &resource;
  options.scope = &scope;
  options.const_labels = &const_labels;

  auto hist = otlp::testing::histogram_metric("h", "", kCumulative);
  hist.description.clear();
  hist.histogram_points = {otlp::testing::histogram_of({1}, {})};
  hist.histogram_points[0].attributes = {{"le", AnyValue::string("a")},
                                         {"job", AnyValue::string("b")},
                                         {"otel.scope.name", AnyValue::string("c")}};
  auto clash = otlp::testing::gauge_metric("target.info", "");  // reserved by target_info
  clash.number_points = {otlp::testing::int_point(1)};
  auto le_gauge = otlp::testing::gauge_metric("g", "");  // "le" only matters on histograms
  le_gauge.description.clear();
  le_gauge.number_points = {otlp::testing::int_point(2, {{"le", AnyValue::string("x")}})};

  enc::PrometheusTextStats stats;
  std::string out;
  enc::encode_prometheus_text(std::vector{hist, clash, le_gauge}, options, out, &stats);
  EXPECT_EQ(stats.skipped_conflicting_metrics, 1u);
  const std::string labels =
      "exported_job=\"b\",exported_le=\"a\",exported_otel_scope_name=\"c\",job=\"worker\","
      "otel_scope_name=\"emp-telemetry\",otel_scope_version=\"0.1.0\"";
  EXPECT_EQ(out,
            "# HELP target_info Target metadata\n"
            "# TYPE target_info gauge\n"
            "target_info{process_pid=\"4242\",service_name=\"emp-worker\","
            "service_version=\"1.2.3\",telemetry_sdk_language=\"cpp\"} 1\n"
            "# TYPE h histogram\n"
            "h_bucket{" +
                labels +
                ",le=\"+Inf\"} 1\n"
                "h_sum{" +
                labels +
                "} 1\n"
                "h_count{" +
                labels +
                "} 1\n"
                "# TYPE g gauge\n"
                "g{job=\"worker\",le=\"x\",otel_scope_name=\"emp-telemetry\","
                "otel_scope_version=\"0.1.0\"} 2\n");

  // An empty resource gives no target_info, and frees the name.
  otlp::Resource empty;
  options.resource = &empty;
  options.scope = nullptr;
  options.const_labels = nullptr;
  out.clear();
  enc::encode_prometheus_text(std::vector{clash}, options, out);
  EXPECT_EQ(out, "# HELP target_info gauge target.info\n# TYPE target_info gauge\ntarget_info 1\n");
}

TEST(PrometheusText, ExemplarsAreDropped) {
  auto counter = otlp::testing::sum_metric("c", "", true, kCumulative);
  counter.description.clear();
  counter.number_points = {otlp::testing::int_point(1)};
  counter.number_points[0].exemplars = {otlp::testing::sample_exemplar(1, true)};
  EXPECT_EQ(render({counter}), "# TYPE c_total counter\nc_total 1\n");
}

TEST(PrometheusText, RichCollectionRendersEveryCumulativeMetric) {
  const auto metrics = otlp::testing::rich_metrics(200);
  enc::PrometheusTextStats stats;
  const std::string out = render(metrics, {}, &stats);
  EXPECT_EQ(stats.skipped_delta_metrics,
            4u);  // bytes.sent, credit.balance, payload.size, wait.delta
  EXPECT_EQ(stats.skipped_unnamed_metrics, 1u);
  EXPECT_EQ(stats.skipped_points, 1u);  // the temperature point without a value
  EXPECT_EQ(stats.skipped_conflicting_metrics, 0u);
  for (const char* family :
       {"# TYPE emp_jobs_processed_total counter\n", "# TYPE emp_jobs_inflight gauge\n",
        "# TYPE emp_gpu_temperature_celsius gauge\n", "# TYPE emp_gpu_utilization_ratio gauge\n",
        "# TYPE emp_job_duration_milliseconds histogram\n",
        "# TYPE emp_job_wait_seconds histogram\n", "# TYPE emp_worker_load_ratio gauge\n",
        "# TYPE emp_worker_tasks_total counter\n"}) {
    EXPECT_NE(out.find(family), std::string::npos) << family;
  }
  std::size_t lines = 0;
  for (const char c : out) lines += c == '\n';
  EXPECT_GT(lines, 400u);
  EXPECT_EQ(out.back(), '\n');
}

}  // namespace
