// The Prometheus text exposition judged by Prometheus's own parser and
// linter: `promtool check metrics` (Debian package `prometheus`) reads a rich
// exposition (every family type, the converted exponential histogram,
// target_info, scope and constant labels, label values needing escapes,
// non-finite values, thousands of series) and must report nothing at all:
// no parse error and no lint finding. A second exposition uses every unit
// of the translation table; Prometheus recommends base units, so promtool
// may only report "use base unit" findings for the non-base ones
// (milliseconds, kibibytes, ...), which the OpenTelemetry spec asks for.
// Without promtool the test fails (it never skips), saying how to install it.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "encode/prometheus_text.hpp"
#include "unit/metrics_encode/metrics_samples.hpp"

namespace otlp = emp::telemetry::encode::otlp;
namespace enc = emp::telemetry::encode;
using otlp::AggregationTemporality;
using otlp::AnyValue;

namespace {

constexpr auto kCumulative = AggregationTemporality::kCumulative;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

class TempFile {
 public:
  TempFile() {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/emp_promtool_XXXXXX";
    const int fd = mkstemp(path_.data());
    if (fd >= 0) close(fd);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }
  void write(const std::string& data) const {
    std::ofstream(path_, std::ios::binary | std::ios::trunc) << data;
  }

 private:
  std::string path_;
};

// promtool from EMP_PROMTOOL or PATH; empty when absent.
std::string promtool() {
  const char* env = std::getenv("EMP_PROMTOOL");
  if (env != nullptr && *env != '\0') return env;
  std::string path;
  if (FILE* p = popen("command -v promtool 2>/dev/null", "r")) {
    char buf[4096];
    while (fgets(buf, sizeof buf, p) != nullptr) path += buf;
    pclose(p);
  }
  while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) path.pop_back();
  return path;
}

struct Check {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// `promtool check metrics < file`.
Check check_metrics(const std::string& exposition) {
  Check r;
  const std::string tool = promtool();
  if (tool.empty()) {
    ADD_FAILURE() << "promtool was not found on PATH: run `./run setup` (installs the Debian "
                     "package `prometheus`, which provides /usr/bin/promtool)";
    return r;
  }
  TempFile file;
  file.write(exposition);
  const std::string cmd =
      shell_quote(tool) + " check metrics < " + shell_quote(file.path()) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "cannot run " << cmd;
    return r;
  }
  char buf[65536];
  std::size_t got;
  while ((got = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, got);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::vector<otlp::KeyValue> labels(std::size_t i) {
  return {{"queue", AnyValue::string(i % 3 == 0 ? "gpu" : "default")},
          {"worker.id", AnyValue::string("w-" + std::to_string(i))},
          {"attempt", AnyValue::integer(static_cast<std::int64_t>(i % 4))},
          {"retried", AnyValue::boolean(i % 2 == 1)}};
}

// Every family type and feature, in units Prometheus accepts as base units.
std::vector<otlp::MetricData> lint_clean_metrics() {
  namespace t = otlp::testing;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<otlp::MetricData> out;

  auto jobs = t::sum_metric("emp.jobs.completed", "{job}", true, kCumulative);
  jobs.description = "Jobs completed.\nEach \\ counted once.";
  for (std::size_t i = 0; i < 300; ++i) {
    jobs.number_points.push_back(t::int_point(static_cast<std::int64_t>(i * 7), labels(i)));
  }
  jobs.number_points.push_back(t::int_point(
      1,
      {{"note", AnyValue::string("quote \" backslash \\ newline \n caf\xC3\xA9 \xF0\x9F\x98\x80")},
       {"path", AnyValue::string("/jobs/{id}")},
       {"tags", AnyValue::array_of({AnyValue::string("a"), AnyValue::integer(1)})},
       {"weird key!", AnyValue::string("x")},
       {"9lives", AnyValue::string("y")}}));
  out.push_back(jobs);

  auto cpu = t::sum_metric("emp.cpu.time", "s", true, kCumulative);
  cpu.description = "CPU time used.";
  cpu.number_points = {t::double_point(12.25, {{"mode", AnyValue::string("user")}}),
                       t::double_point(0.5, {{"mode", AnyValue::string("system")}})};
  out.push_back(cpu);

  auto depth = t::sum_metric("emp.queue.depth", "{job}", false, kCumulative);
  depth.description = "Jobs waiting.";
  depth.number_points = {t::int_point(-1), t::int_point(5, {{"queue", AnyValue::string("gpu")}})};
  out.push_back(depth);

  auto memory = t::gauge_metric("emp.memory.usage", "By");
  memory.description = "Resident memory.";
  memory.number_points = {
      t::double_point(1.5e9), t::double_point(inf, {{"k", AnyValue::string("inf")}}),
      t::double_point(-inf, {{"k", AnyValue::string("-inf")}}),
      t::double_point(std::numeric_limits<double>::quiet_NaN(), {{"k", AnyValue::string("nan")}})};
  out.push_back(memory);

  auto util = t::gauge_metric("emp.gpu.utilization", "1");
  util.description = "GPU busy fraction.";
  util.number_points = {t::double_point(0.75, {{"gpu", AnyValue::integer(0)}})};
  out.push_back(util);

  auto temp = t::gauge_metric("emp.gpu.temperature", "Cel");
  temp.description = "GPU temperature.";
  temp.number_points = {t::double_point(61.5, {{"gpu", AnyValue::integer(0)}})};
  out.push_back(temp);

  auto duration = t::histogram_metric("emp.job.duration", "s", kCumulative);
  duration.description = "Job run time.";
  for (std::uint32_t i = 0; i < 60; ++i) {
    duration.histogram_points.push_back(
        t::histogram_of(t::latency_values(50 + i, i), t::default_bounds()));
    duration.histogram_points.back().attributes = labels(i);
  }
  out.push_back(duration);

  auto size = t::histogram_metric("emp.payload.size", "By", kCumulative);
  size.description = "Payload sizes.";
  size.histogram_points = {t::histogram_of({10, 900, 5000, 1e7}, {1024, 65536, 1048576}),
                           t::histogram_of({}, {}, false, false)};
  size.histogram_points[1].attributes = {{"kind", AnyValue::string("empty")}};
  out.push_back(size);

  auto wait = t::exponential_metric("emp.job.wait", "s", kCumulative);
  wait.description = "Queue wait time.";
  wait.exponential_points = {t::exponential_of({0.001, 0.02, 0.3, 4, 50, 600, -1.5, 0.0}, 2, 1e-9),
                             t::exponential_of({1, 2, 3}, -1)};
  wait.exponential_points[1].attributes = {{"queue", AnyValue::string("gpu")}};
  out.push_back(wait);

  // A second instrument with the same translated name joins the family.
  auto jobs_again = t::sum_metric("emp_jobs_completed_total", "", true, kCumulative);
  jobs_again.description = "";
  jobs_again.number_points = {t::int_point(2, {{"queue", AnyValue::string("other")}})};
  out.push_back(jobs_again);
  return out;
}

TEST(PrometheusPromtool, RichExpositionIsParsedAndLintClean) {
  otlp::Resource resource = otlp::testing::sample_resource();
  resource.attributes.emplace_back("host.name", AnyValue::string("node-\"1\"\n"));
  otlp::Scope scope;
  scope.name = "emp-telemetry";
  scope.version = "0.1.0";
  const std::vector<otlp::KeyValue> const_labels = {{"env", AnyValue::string("staging")}};
  enc::PrometheusTextOptions options;
  options.resource = &resource;
  options.scope = &scope;
  options.const_labels = &const_labels;

  const auto metrics = lint_clean_metrics();
  std::string text;
  enc::PrometheusTextStats stats;
  enc::encode_prometheus_text(metrics, options, text, &stats);
  EXPECT_EQ(stats.skipped_conflicting_metrics + stats.skipped_delta_metrics + stats.skipped_points +
                stats.skipped_unnamed_metrics,
            0u);
  std::size_t lines = 0;
  for (const char c : text) lines += c == '\n';
  EXPECT_GT(lines, 1500u);

  const Check r = check_metrics(text);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "") << "promtool reported:\n" << r.output;
}

TEST(PrometheusPromtool, EveryTranslatedUnitParses) {
  namespace t = otlp::testing;
  auto metrics = t::rich_metrics(200);
  const char* units[] = {"d",    "h",    "min",     "s",    "ms",      "us",       "ns",
                         "By",   "KiBy", "MiBy",    "GiBy", "TiBy",    "KBy",      "MBy",
                         "GBy",  "TBy",  "bit",     "m",    "V",       "A",        "J",
                         "W",    "g",    "Cel",     "K",    "Hz",      "%",        "1",
                         "By/s", "1/s",  "{x}/min", "m/s",  "widgets", "{request}"};
  int i = 0;
  for (const char* unit : units) {
    auto g = t::gauge_metric("emp.unit.g" + std::to_string(i), unit);
    g.number_points = {t::double_point(i)};
    auto c = t::sum_metric("emp.unit.c" + std::to_string(i), unit, true, kCumulative);
    c.number_points = {t::int_point(i)};
    auto h = t::histogram_metric("emp.unit.h" + std::to_string(i), unit, kCumulative);
    h.histogram_points = {t::histogram_of({1, 2, 3}, {0.5, 2.5})};
    metrics.insert(metrics.end(), {g, c, h});
    ++i;
  }
  std::string text;
  enc::encode_prometheus_text(metrics, nullptr, text);

  const Check r = check_metrics(text);
  ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 3)  // 3: lint findings only
      << "exit " << r.exit_code << "\n"
      << r.output;
  const std::regex allowed(
      R"(^[a-zA-Z_][a-zA-Z0-9_]* use base unit "[a-z]+" instead of "[a-z]+"$)");
  std::istringstream in(r.output);
  std::string line;
  int findings = 0;
  while (std::getline(in, line)) {
    EXPECT_TRUE(std::regex_match(line, allowed)) << "unexpected promtool output: " << line;
    ++findings;
  }
  EXPECT_EQ(r.exit_code == 3, findings > 0) << r.output;
}

}  // namespace
