// Prometheus text exposition 0.0.4 (see prometheus_text.hpp for the
// translation rules). Metrics are first grouped into families by their
// translated name, because the format requires all lines of one name to form
// a single group under one # TYPE line; each family is then written point by
// point, with the label set of a point rendered once and reused for all of
// its histogram lines.
#include "encode/prometheus_text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <unordered_map>

#include "core/strings.hpp"
#include "encode/json_lines.hpp"
#include "encode/otlp_proto.hpp"
#include "encode/proto_wire.hpp"

namespace emp::telemetry::encode {
namespace {

using otlp::AggregationTemporality;
using otlp::AnyValue;
using otlp::ExponentialHistogramPoint;
using otlp::HistogramPoint;
using otlp::KeyValue;
using otlp::MetricData;
using otlp::MetricKind;
using otlp::NumberPoint;

constexpr std::uint32_t kFlagNoRecordedValue = 1;  // metrics.v1.DataPointFlags
constexpr std::size_t kNoLimit = std::numeric_limits<std::size_t>::max();
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// UCUM units of the OpenTelemetry semantic conventions, as Prometheus words.
struct UnitWord {
  std::string_view ucum;
  std::string_view word;
};
constexpr UnitWord kUnitWords[] = {
    {"d", "days"},
    {"h", "hours"},
    {"min", "minutes"},
    {"s", "seconds"},
    {"ms", "milliseconds"},
    {"us", "microseconds"},
    {"ns", "nanoseconds"},
    {"By", "bytes"},
    {"KiBy", "kibibytes"},
    {"MiBy", "mebibytes"},
    {"GiBy", "gibibytes"},
    {"TiBy", "tebibytes"},
    {"KBy", "kilobytes"},
    {"MBy", "megabytes"},
    {"GBy", "gigabytes"},
    {"TBy", "terabytes"},
    {"bit", "bits"},
    {"m", "meters"},
    {"V", "volts"},
    {"A", "amperes"},
    {"J", "joules"},
    {"W", "watts"},
    {"g", "grams"},
    {"Cel", "celsius"},
    {"K", "kelvin"},
    {"Hz", "hertz"},
    {"MHz", "megahertz"},
    {"%", "percent"},
    {"1", ""},
};
// The denominator of "a/b" units: singular words ("bytes_per_second").
constexpr UnitWord kPerUnitWords[] = {
    {"s", "second"}, {"m", "minute"}, {"min", "minute"}, {"h", "hour"},
    {"d", "day"},    {"w", "week"},   {"mo", "month"},   {"y", "year"},
};

template <std::size_t N>
const std::string_view* find_word(const UnitWord (&table)[N], std::string_view ucum) {
  for (const UnitWord& u : table) {
    if (u.ucum == ucum) return &u.word;
  }
  return nullptr;
}

constexpr bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
constexpr bool is_name_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_';
}

// Appends `s` with every byte outside [a-zA-Z0-9_] as '_' and runs of '_'
// collapsed, including a run that starts at the end of what `out` holds.
void append_sanitized(std::string& out, std::string_view s) {
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    const char o = is_name_char(c) ? ch : '_';
    if (o == '_' && !out.empty() && out.back() == '_') continue;
    out.push_back(o);
  }
}

using core::trim;

// A unit part as a word: from the table, else sanitized with no '_' at
// either end.
std::string unit_word(std::string_view part, const std::string_view* word) {
  if (word != nullptr) return std::string(*word);
  std::string out;
  append_sanitized(out, part);
  while (!out.empty() && out.front() == '_') out.erase(0, 1);
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

bool ends_with_token(std::string_view name, std::string_view token) {
  if (name == token) return true;
  return name.size() > token.size() && name.ends_with(token) &&
         name[name.size() - token.size() - 1] == '_';
}

void append_join(std::string& out, std::string_view token) {
  if (!out.empty() && out.back() != '_') out.push_back('_');
  out.append(token);
}

void append_u64(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_i64(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Sample values and le bounds: what Go's strconv.ParseFloat reads back
// exactly, with Prometheus's spellings of the non-finite values.
void append_double(std::string& out, double d) {
  if (std::isnan(d)) {
    out.append("NaN");
  } else if (std::isinf(d)) {
    out.append(d > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, d == 0.0 ? 0.0 : d);  // no "-0"
    out.append(buf, r.ptr);
  }
}

void append_base64(std::string& out, std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size();
  while (n >= 3) {
    const std::uint32_t v = (p[0] << 16) | (p[1] << 8) | p[2];
    out.push_back(kBase64[v >> 18]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out.push_back(kBase64[(v >> 6) & 63]);
    out.push_back(kBase64[v & 63]);
    p += 3;
    n -= 3;
  }
  if (n > 0) {
    const std::uint32_t v = (p[0] << 16) | (n == 2 ? p[1] << 8 : 0);
    out.push_back(kBase64[v >> 18]);
    out.push_back(kBase64[(v >> 12) & 63]);
    out.push_back(n == 2 ? kBase64[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
}

// Arrays and maps in label values: plain JSON of the values (not the OTLP
// AnyValue wrapping), as the attribute specification asks of non-OTLP
// formats.
void append_json_value(std::string& out, const AnyValue& v, int depth) {
  if (depth >= otlp::kMaxAnyValueDepth) {
    out.append("null");
    return;
  }
  LineStats unused;
  switch (v.type) {
    case AnyValue::Type::kEmpty:
      out.append("null");
      return;
    case AnyValue::Type::kString:
      append_json_string(out, v.str, kNoLimit, unused);
      return;
    case AnyValue::Type::kBool:
      out.append(v.bool_value ? "true" : "false");
      return;
    case AnyValue::Type::kInt:
      append_i64(out, v.int_value);
      return;
    case AnyValue::Type::kDouble:
      if (std::isfinite(v.double_value)) {
        append_double(out, v.double_value);
      } else {
        out.append(std::isnan(v.double_value) ? "\"NaN\""
                   : v.double_value > 0       ? "\"Infinity\""
                                              : "\"-Infinity\"");
      }
      return;
    case AnyValue::Type::kBytes:
      out.push_back('"');
      append_base64(out, v.str);
      out.push_back('"');
      return;
    case AnyValue::Type::kArray: {
      out.push_back('[');
      for (std::size_t i = 0; i < v.array.size(); ++i) {
        if (i != 0) out.push_back(',');
        append_json_value(out, v.array[i], depth + 1);
      }
      out.push_back(']');
      return;
    }
    case AnyValue::Type::kKvList: {
      out.push_back('{');
      for (std::size_t i = 0; i < v.kvlist.size(); ++i) {
        if (i != 0) out.push_back(',');
        append_json_string(out, v.kvlist[i].key, kNoLimit, unused);
        out.push_back(':');
        append_json_value(out, v.kvlist[i].value, depth + 1);
      }
      out.push_back('}');
      return;
    }
  }
}

// The attribute value as label text, before escaping.
void append_attribute_text(std::string& out, const AnyValue& v) {
  switch (v.type) {
    case AnyValue::Type::kEmpty:
      return;
    case AnyValue::Type::kString:
      out.append(v.str);
      return;
    case AnyValue::Type::kBool:
      out.append(v.bool_value ? "true" : "false");
      return;
    case AnyValue::Type::kInt:
      append_i64(out, v.int_value);
      return;
    case AnyValue::Type::kDouble:
      append_double(out, v.double_value);
      return;
    case AnyValue::Type::kBytes:
      append_base64(out, v.str);
      return;
    case AnyValue::Type::kArray:
    case AnyValue::Type::kKvList:
      append_json_value(out, v, 0);
      return;
  }
}

// Escapes for label values (quotes too) and HELP text (no quotes), with
// ill-formed UTF-8 replaced by U+FFFD.
void append_escaped(std::string& out, std::string_view s, bool escape_quote) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\\') {
        out.append("\\\\");
      } else if (c == '\n') {
        out.append("\\n");
      } else if (c == '"' && escape_quote) {
        out.append("\\\"");
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    std::size_t bad = 0;
    const std::size_t n = wire::utf8_sequence_at(s, i, &bad);
    if (n != 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out.append(wire::kReplacementChar, 3);
      i += bad;
    }
  }
}

struct Label {
  std::string name;
  std::string_view key;  // original attribute key: orders merged values
  std::string value;     // unescaped
};

// Sorts by name and merges labels whose names collide: values joined with
// ';' in the order of their original keys.
void merge_labels(std::vector<Label>& labels) {
  std::sort(labels.begin(), labels.end(), [](const Label& a, const Label& b) {
    return a.name != b.name ? a.name < b.name : a.key < b.key;
  });
  std::size_t w = 0;
  for (std::size_t r = 0; r < labels.size(); ++r) {
    if (w > 0 && labels[w - 1].name == labels[r].name) {
      labels[w - 1].value.push_back(';');
      labels[w - 1].value.append(labels[r].value);
      continue;
    }
    if (w != r) labels[w] = std::move(labels[r]);
    ++w;
  }
  labels.resize(w);
}

void append_labels_from(std::vector<Label>& labels, const std::vector<KeyValue>& attrs) {
  for (const KeyValue& kv : attrs) {
    Label l{prometheus_label_name(kv.key), kv.key, {}};
    if (l.name.empty()) continue;
    append_attribute_text(l.value, kv.value);
    labels.push_back(std::move(l));
  }
}

struct Family {
  std::string name;
  PrometheusType type;
  std::string_view help;
  std::vector<const MetricData*> metrics;
};

constexpr std::size_t kReservedName = std::numeric_limits<std::size_t>::max();

class Renderer {
 public:
  Renderer(const PrometheusTextOptions& options, std::string& out, PrometheusTextStats& stats)
      : out_(out), stats_(stats) {
    if (options.scope != nullptr) {
      if (!options.scope->name.empty()) {
        fixed_.push_back({"otel_scope_name", "otel_scope_name", options.scope->name});
      }
      if (!options.scope->version.empty()) {
        fixed_.push_back({"otel_scope_version", "otel_scope_version", options.scope->version});
      }
    }
    if (options.const_labels != nullptr) append_labels_from(fixed_, *options.const_labels);
    merge_labels(fixed_);
  }

  void target_info(const otlp::Resource& resource) {
    std::vector<Label> labels;
    append_labels_from(labels, resource.attributes);
    merge_labels(labels);
    out_.append("# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info");
    if (!labels.empty()) {
      out_.push_back('{');
      render_labels(labels);
      out_.append(inner_);
      out_.push_back('}');
    }
    out_.append(" 1\n");
  }

  void family(const Family& f) {
    if (!f.help.empty()) {
      out_.append("# HELP ");
      out_.append(f.name);
      out_.push_back(' ');
      append_escaped(out_, f.help, false);
      out_.push_back('\n');
    }
    out_.append("# TYPE ");
    out_.append(f.name);
    switch (f.type) {
      case PrometheusType::kCounter:
        out_.append(" counter\n");
        break;
      case PrometheusType::kGauge:
        out_.append(" gauge\n");
        break;
      case PrometheusType::kHistogram:
        out_.append(" histogram\n");
        break;
    }
    const bool histogram = f.type == PrometheusType::kHistogram;
    for (const MetricData* m : f.metrics) {
      switch (m->kind) {
        case MetricKind::kSum:
        case MetricKind::kGauge:
          for (const NumberPoint& p : m->number_points) {
            if (skip(p.flags)) continue;
            point_labels(p.attributes, false);
            number_line(f.name, p);
          }
          break;
        case MetricKind::kHistogram:
          for (const HistogramPoint& p : m->histogram_points) {
            if (skip(p.flags) || !valid_buckets(p)) continue;
            point_labels(p.attributes, histogram);
            histogram_lines(f.name, p);
          }
          break;
        case MetricKind::kExponentialHistogram:
          for (const ExponentialHistogramPoint& p : m->exponential_points) {
            if (skip(p.flags)) continue;
            point_labels(p.attributes, histogram);
            exponential_lines(f.name, p);
          }
          break;
      }
    }
  }

 private:
  bool skip(std::uint32_t flags) {
    if ((flags & kFlagNoRecordedValue) == 0) return false;
    ++stats_.skipped_points;
    return true;
  }

  bool valid_buckets(const HistogramPoint& p) {
    bool ok = p.bucket_counts.size() == p.bounds.size() + 1 ||
              (p.bucket_counts.empty() && p.bounds.empty());
    for (std::size_t i = 0; ok && i < p.bounds.size(); ++i) {
      if (std::isnan(p.bounds[i]) || (i > 0 && !(p.bounds[i] > p.bounds[i - 1]))) ok = false;
    }
    if (!ok) ++stats_.skipped_points;
    return ok;
  }

  // Renders into inner_ the label list of a point without braces:
  // a="x",b="y". Attributes whose names are taken by a fixed label (or "le"
  // on a histogram) become exported_<name>.
  void point_labels(const std::vector<KeyValue>& attrs, bool histogram) {
    labels_.clear();
    append_labels_from(labels_, attrs);
    for (Label& l : labels_) {
      const bool taken = (histogram && l.name == "le") ||
                         std::any_of(fixed_.begin(), fixed_.end(),
                                     [&](const Label& f) { return f.name == l.name; });
      if (taken) l.name.insert(0, "exported_");
    }
    for (const Label& f : fixed_) labels_.push_back(f);
    merge_labels(labels_);
    render_labels(labels_);
  }

  void render_labels(const std::vector<Label>& labels) {
    inner_.clear();
    for (const Label& l : labels) {
      if (!inner_.empty()) inner_.push_back(',');
      inner_.append(l.name);
      inner_.append("=\"");
      append_escaped(inner_, l.value, true);
      inner_.push_back('"');
    }
  }

  void series(std::string_view name, std::string_view suffix) {
    out_.append(name);
    out_.append(suffix);
    if (!inner_.empty()) {
      out_.push_back('{');
      out_.append(inner_);
      out_.push_back('}');
    }
    out_.push_back(' ');
  }

  void number_line(std::string_view name, const NumberPoint& p) {
    series(name, {});
    if (p.is_int) {
      append_i64(out_, p.int_value);
    } else {
      append_double(out_, p.double_value);
    }
    out_.push_back('\n');
  }

  void bucket_line(std::string_view name, double le, std::uint64_t cumulative) {
    out_.append(name);
    out_.append("_bucket{");
    out_.append(inner_);
    if (!inner_.empty()) out_.push_back(',');
    out_.append("le=\"");
    append_double(out_, le);
    out_.append("\"} ");
    append_u64(out_, cumulative);
    out_.push_back('\n');
  }

  void tail_lines(std::string_view name, std::uint64_t count, bool has_sum, double sum) {
    bucket_line(name, std::numeric_limits<double>::infinity(), count);
    if (has_sum) {
      series(name, "_sum");
      append_double(out_, sum);
      out_.push_back('\n');
    }
    series(name, "_count");
    append_u64(out_, count);
    out_.push_back('\n');
  }

  void histogram_lines(std::string_view name, const HistogramPoint& p) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < p.bounds.size(); ++i) {
      cumulative += p.bucket_counts[i];
      // A +Inf bound would repeat the final bucket; what remains goes there.
      if (std::isinf(p.bounds[i]) && p.bounds[i] > 0) break;
      bucket_line(name, p.bounds[i], cumulative);
    }
    tail_lines(name, p.count, p.has_sum, p.sum);
  }

  // base^index with base = 2^(2^-scale).
  static double exponential_boundary(std::int32_t scale, std::int64_t index) {
    // Negated in 64 bits: -INT32_MIN does not fit an int32. Scales beyond
    // +-1100 put every boundary at 0, 1 or infinity anyway.
    const auto shift =
        static_cast<int>(std::clamp<std::int64_t>(-std::int64_t{scale}, -1100, 1100));
    const double exponent = std::ldexp(static_cast<double>(index), shift);
    if (exponent > 4096) return std::numeric_limits<double>::infinity();
    if (exponent < -4096) return 0.0;
    if (scale <= 0) return std::ldexp(1.0, static_cast<int>(exponent));
    return std::exp2(exponent);
  }

  void exponential_lines(std::string_view name, const ExponentialHistogramPoint& p) {
    std::uint64_t cumulative = 0;
    double last = -std::numeric_limits<double>::infinity();
    // A bound that does not increase (or is not finite) is not written: its
    // count is carried into the next written bucket.
    const auto bound = [&](double le) {
      if (!(le > last) || !std::isfinite(le)) return;
      last = le;
      bucket_line(name, le, cumulative);
    };
    // Negative bucket i holds [-base^(i+1), -base^i): highest index first.
    const auto& neg = p.negative.counts;
    for (std::size_t k = neg.size(); k-- > 0;) {
      cumulative += neg[k];
      bound(-exponential_boundary(p.scale, p.negative.offset + static_cast<std::int64_t>(k)));
    }
    cumulative += p.zero_count;
    bound(std::abs(p.zero_threshold));
    // Positive bucket i holds (base^i, base^(i+1)]: exactly an le bucket.
    const auto& pos = p.positive.counts;
    for (std::size_t k = 0; k < pos.size(); ++k) {
      cumulative += pos[k];
      bound(exponential_boundary(p.scale, p.positive.offset + static_cast<std::int64_t>(k) + 1));
    }
    tail_lines(name, p.count, p.has_sum, p.sum);
  }

  std::string& out_;
  PrometheusTextStats& stats_;
  std::vector<Label> fixed_;   // scope and constant labels, merged and sorted
  std::vector<Label> labels_;  // scratch: one point's labels
  std::string inner_;          // scratch: one point's rendered labels
};

}  // namespace

std::string prometheus_unit_suffix(std::string_view unit, PrometheusType type) {
  // Annotations in braces carry no unit ("{request}", "{packet}/s").
  std::string plain;
  bool in_braces = false;
  for (const char c : unit) {
    if (c == '{') {
      in_braces = true;
    } else if (c == '}' && in_braces) {
      in_braces = false;
    } else if (!in_braces) {
      plain.push_back(c);
    }
  }
  const std::string_view u = trim(plain);
  if (u == "1") return type == PrometheusType::kGauge ? "ratio" : "";
  const std::size_t slash = u.find('/');
  const std::string_view main = trim(u.substr(0, slash));
  std::string out = unit_word(main, find_word(kUnitWords, main));
  if (slash != std::string_view::npos) {
    const std::string_view per = trim(u.substr(slash + 1));
    const std::string per_word = unit_word(per, find_word(kPerUnitWords, per));
    if (!per_word.empty()) {
      append_join(out, "per_");
      out.append(per_word);
    }
  }
  return out;
}

std::string prometheus_metric_name(std::string_view name, std::string_view unit,
                                   PrometheusType type) {
  std::string out;
  append_sanitized(out, name);
  if (out.empty()) return out;
  const bool counter = type == PrometheusType::kCounter;
  // The unit goes before the type suffix: look for it, and add it, in front
  // of an existing "_total".
  if (counter && out.size() > 6 && out.ends_with("_total")) out.resize(out.size() - 6);
  const std::string unit_suffix = prometheus_unit_suffix(unit, type);
  if (!unit_suffix.empty() && !ends_with_token(out, unit_suffix)) append_join(out, unit_suffix);
  if (counter) append_join(out, "total");
  if (is_digit(static_cast<unsigned char>(out.front()))) out.insert(0, "_");
  return out;
}

std::string prometheus_label_name(std::string_view key) {
  std::string out;
  append_sanitized(out, key);
  if (!out.empty() && is_digit(static_cast<unsigned char>(out.front()))) out.insert(0, "key_");
  return out;
}

void encode_prometheus_text(std::span<const MetricData> metrics,
                            const std::vector<KeyValue>* const_labels, std::string& out) {
  PrometheusTextOptions options;
  options.const_labels = const_labels;
  encode_prometheus_text(metrics, options, out, nullptr);
}

void encode_prometheus_text(std::span<const MetricData> metrics,
                            const PrometheusTextOptions& options, std::string& out,
                            PrometheusTextStats* stats) {
  PrometheusTextStats local;
  PrometheusTextStats& st = stats != nullptr ? *stats : local;

  // Every series name in use -> its family (or kReservedName).
  std::unordered_map<std::string, std::size_t> taken;
  std::vector<Family> families;
  const bool with_target_info =
      options.resource != nullptr && !options.resource->attributes.empty();
  if (with_target_info) taken.emplace("target_info", kReservedName);

  for (const MetricData& m : metrics) {
    PrometheusType type = PrometheusType::kGauge;
    switch (m.kind) {
      case MetricKind::kGauge:
        type = PrometheusType::kGauge;
        break;
      case MetricKind::kSum:
        type = m.monotonic ? PrometheusType::kCounter : PrometheusType::kGauge;
        break;
      case MetricKind::kHistogram:
      case MetricKind::kExponentialHistogram:
        type = PrometheusType::kHistogram;
        break;
    }
    if (m.kind != MetricKind::kGauge && m.temporality != AggregationTemporality::kCumulative) {
      ++st.skipped_delta_metrics;
      continue;
    }
    std::string name = prometheus_metric_name(m.name, m.unit, type);
    if (name.empty()) {
      ++st.skipped_unnamed_metrics;
      continue;
    }
    const auto found = taken.find(name);
    if (found != taken.end()) {
      const std::size_t i = found->second;
      if (i == kReservedName || families[i].name != name || families[i].type != type) {
        ++st.skipped_conflicting_metrics;
        continue;
      }
      families[i].metrics.push_back(&m);
      if (families[i].help.empty()) families[i].help = m.description;
      continue;
    }
    std::vector<std::string> series{name};
    if (type == PrometheusType::kHistogram) {
      series.push_back(name + "_bucket");
      series.push_back(name + "_sum");
      series.push_back(name + "_count");
    }
    if (std::any_of(series.begin(), series.end(),
                    [&](const std::string& s) { return taken.count(s) != 0; })) {
      ++st.skipped_conflicting_metrics;
      continue;
    }
    for (std::string& s : series) taken.emplace(std::move(s), families.size());
    families.push_back(Family{std::move(name), type, m.description, {&m}});
  }

  Renderer r(options, out, st);
  if (with_target_info) r.target_info(*options.resource);
  for (const Family& f : families) r.family(f);
}

}  // namespace emp::telemetry::encode
