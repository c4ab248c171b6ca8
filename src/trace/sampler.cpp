// Samplers and their construction from settings; see sampler.hpp.
#include "trace/sampler.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/strings.hpp"

namespace emp::telemetry::trace {
namespace {

struct KindName {
  std::string_view name;
  SamplerKind kind;
};

constexpr KindName kKinds[] = {
    {"always_on", SamplerKind::kAlwaysOn},
    {"always_off", SamplerKind::kAlwaysOff},
    {"traceidratio", SamplerKind::kTraceIdRatio},
    {"parentbased_always_on", SamplerKind::kParentBasedAlwaysOn},
    {"parentbased_always_off", SamplerKind::kParentBasedAlwaysOff},
    {"parentbased_traceidratio", SamplerKind::kParentBasedTraceIdRatio},
};

// Named by the OpenTelemetry specification but not built into emp-telemetry.
constexpr std::string_view kUnsupportedKinds[] = {"jaeger_remote", "parentbased_jaeger_remote",
                                                  "xray"};

constexpr std::string_view kChoices =
    "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, "
    "parentbased_traceidratio";

bool is_parent_based(SamplerKind k) noexcept {
  return k == SamplerKind::kParentBasedAlwaysOn || k == SamplerKind::kParentBasedAlwaysOff ||
         k == SamplerKind::kParentBasedTraceIdRatio;
}

bool uses_ratio(SamplerKind k) noexcept {
  return k == SamplerKind::kTraceIdRatio || k == SamplerKind::kParentBasedTraceIdRatio;
}

// Values may come with line ends (files, CLI): spaces, tabs, CR and LF go.
constexpr std::string_view trim(std::string_view s) noexcept { return core::trim_whitespace(s); }
using core::to_lower;

// Settings are not secret; quotes are kept short so a hostile environment
// cannot flood the output.
std::string quote(std::string_view s) { return core::quote(s, 80); }

// A finite number in [0, 1]; nullopt otherwise. Rejects signs other than a
// leading '-' on zero, hex floats, and trailing characters.
std::optional<double> parse_ratio(std::string_view text) noexcept {
  text = trim(text);
  if (text.empty() || text.front() == '+') return std::nullopt;
  double v = 0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::general);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (!std::isfinite(v) || v < 0.0 || v > 1.0) return std::nullopt;
  return v == 0.0 ? 0.0 : v;  // folds -0 into 0
}

std::string format_ratio(double r) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", r);
  return buf;
}

bool valid_pattern_char(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && c != '=' && c != ',';
}

}  // namespace

std::uint64_t trace_id_randomness(const TraceId& trace_id) noexcept {
  std::uint64_t r = 0;
  for (std::size_t i = 8; i < 16; ++i) r = (r << 8) | trace_id.bytes()[i];
  return r;
}

RatioThreshold::RatioThreshold(double ratio) noexcept {
  if (!(ratio > 0.0)) ratio = 0.0;  // also catches NaN
  if (ratio > 1.0) ratio = 1.0;
  ratio_ = ratio;
  // 2^64 exactly; a product that rounds up to it means "every id".
  constexpr double kTwo64 = 18446744073709551616.0;
  const double scaled = ratio * kTwo64;
  all_ = scaled >= kTwo64;
  threshold_ = all_ ? 0 : static_cast<std::uint64_t>(scaled);
}

bool span_name_matches(std::string_view pattern, std::string_view name) noexcept {
  // Classic wildcard matching with one backtrack point: on a mismatch after
  // a '*', let that star absorb one more character and retry.
  std::size_t p = 0, n = 0;
  std::size_t star = std::string_view::npos, star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_n = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool SamplerConfig::Rule::matches(std::string_view span_name) const noexcept {
  switch (form) {
    case Form::kExact:
      return span_name == pattern;
    case Form::kPrefix:
      return span_name.size() + 1 >= pattern.size() &&
             span_name.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
    case Form::kGlob:
      break;
  }
  return span_name_matches(pattern, span_name);
}

const SamplerConfig::Rule* SamplerConfig::match(std::string_view span_name) const noexcept {
  for (const Rule& r : rules_) {
    if (r.matches(span_name)) return &r;
  }
  return nullptr;
}

bool SamplerConfig::sampled(const SpanContext* parent, const TraceId& trace_id,
                            std::string_view span_name) const noexcept {
  const bool has_parent = parent != nullptr && parent->is_valid();
  if (has_parent && is_parent_based(kind_)) {
    if (!parent->sampled()) return false;
    const Rule* rule = match(span_name);
    return rule == nullptr || rule->threshold.sampled(trace_id);
  }
  if (const Rule* rule = match(span_name)) return rule->threshold.sampled(trace_id);
  switch (kind_) {
    case SamplerKind::kAlwaysOn:
    case SamplerKind::kParentBasedAlwaysOn:
      return true;
    case SamplerKind::kAlwaysOff:
    case SamplerKind::kParentBasedAlwaysOff:
      return false;
    case SamplerKind::kTraceIdRatio:
    case SamplerKind::kParentBasedTraceIdRatio:
      return root_ratio_.sampled(trace_id);
  }
  return false;
}

std::string SamplerConfig::description() const {
  std::string root;
  switch (kind_) {
    case SamplerKind::kAlwaysOn:
    case SamplerKind::kParentBasedAlwaysOn:
      root = "AlwaysOnSampler";
      break;
    case SamplerKind::kAlwaysOff:
    case SamplerKind::kParentBasedAlwaysOff:
      root = "AlwaysOffSampler";
      break;
    case SamplerKind::kTraceIdRatio:
    case SamplerKind::kParentBasedTraceIdRatio:
      root = "TraceIdRatioBased{" + format_ratio(root_ratio_.ratio()) + "}";
      break;
  }
  std::string s = is_parent_based(kind_) ? "ParentBased{root=" + root + "}" : root;
  if (!rules_.empty()) {
    s += " rules=[";
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      if (i) s += ',';
      s += rules_[i].pattern + "=" + format_ratio(rules_[i].threshold.ratio());
    }
    s += ']';
  }
  s += always_export_errors_ ? " export_errors=true" : " export_errors=false";
  return s;
}

Expected<SamplerConfig> make_sampler(std::string_view sampler_name,
                                     std::optional<std::string_view> arg, std::string_view rules,
                                     bool export_errors) {
  Errors errors;

  SamplerKind kind = SamplerKind::kParentBasedAlwaysOn;
  const std::string name = to_lower(trim(sampler_name));
  if (!name.empty()) {
    bool found = false;
    for (const KindName& k : kKinds) {
      if (k.name == name) {
        kind = k.kind;
        found = true;
      }
    }
    if (!found) {
      bool unsupported = false;
      for (std::string_view u : kUnsupportedKinds) unsupported |= (u == name);
      errors.push_back(
          Error{std::string(kSamplerVariable),
                quote(sampler_name) +
                    (unsupported ? " is not supported by this build" : " is not a known sampler") +
                    "; expected one of " + std::string(kChoices)});
    }
  }

  double ratio = 1.0;
  if (uses_ratio(kind) && arg && !trim(*arg).empty()) {
    if (auto r = parse_ratio(*arg)) {
      ratio = *r;
    } else {
      errors.push_back(Error{std::string(kSamplerArgVariable),
                             quote(*arg) +
                                 " is not a sampling ratio: expected a number in [0, 1]"
                                 " (e.g. 0.25) for sampler " +
                                 name});
    }
  }

  std::vector<SamplerRule> parsed;
  std::size_t index = 0;
  std::size_t pos = 0;
  while (pos <= rules.size()) {
    std::size_t comma = rules.find(',', pos);
    if (comma == std::string_view::npos) comma = rules.size();
    const std::string_view member = trim(rules.substr(pos, comma - pos));
    pos = comma + 1;
    ++index;
    if (member.empty()) continue;
    const std::string where = "rule " + std::to_string(index) + " " + quote(member) + ": ";
    auto add_error = [&](std::string msg) {
      errors.push_back(Error{std::string(kSamplerRulesVariable), where + msg});
    };
    const std::size_t eq = member.rfind('=');
    if (eq == std::string_view::npos) {
      add_error("expected glob=ratio, e.g. job.*=1.0");
      continue;
    }
    const std::string_view pattern = trim(member.substr(0, eq));
    const std::string_view ratio_text = trim(member.substr(eq + 1));
    bool ok = true;
    if (pattern.empty()) {
      add_error("the span name pattern before '=' is empty");
      ok = false;
    } else {
      for (char c : pattern) {
        if (!valid_pattern_char(c)) {
          add_error("the pattern must not contain spaces, '=' or control characters");
          ok = false;
          break;
        }
      }
    }
    const std::optional<double> r = parse_ratio(ratio_text);
    if (!r) {
      add_error("ratio " + quote(ratio_text) + " is not a number in [0, 1]");
      ok = false;
    }
    if (ok) parsed.push_back(SamplerRule{std::string(pattern), *r});
  }

  if (!errors.empty()) return errors;
  return make_sampler(kind, ratio, parsed, export_errors);
}

Expected<SamplerConfig> make_sampler(SamplerKind kind, double ratio,
                                     const std::vector<SamplerRule>& rules, bool export_errors) {
  Errors errors;
  const bool kind_known = kind == SamplerKind::kAlwaysOn || kind == SamplerKind::kAlwaysOff ||
                          uses_ratio(kind) || is_parent_based(kind);
  if (!kind_known) {
    errors.push_back(Error{std::string(kSamplerVariable), "unknown sampler kind"});
  }
  if (uses_ratio(kind) && !(ratio >= 0.0 && ratio <= 1.0)) {
    errors.push_back(Error{std::string(kSamplerArgVariable),
                           "sampling ratio " + format_ratio(ratio) + " is outside [0, 1]"});
  }
  SamplerConfig config;
  config.kind_ = kind;
  config.root_ratio_ = RatioThreshold(uses_ratio(kind) ? ratio : 1.0);
  config.always_export_errors_ = export_errors;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const SamplerRule& rule = rules[i];
    const std::string where = "rule " + std::to_string(i + 1) + " " + quote(rule.pattern) + ": ";
    if (rule.pattern.empty()) {
      errors.push_back(Error{std::string(kSamplerRulesVariable), where + "empty pattern"});
      continue;
    }
    if (!(rule.ratio >= 0.0 && rule.ratio <= 1.0)) {
      errors.push_back(Error{std::string(kSamplerRulesVariable),
                             where + "ratio " + format_ratio(rule.ratio) + " is outside [0, 1]"});
      continue;
    }
    SamplerConfig::Rule r{rule.pattern, RatioThreshold(rule.ratio)};
    const std::size_t wild = r.pattern.find_first_of("*?");
    if (wild == std::string::npos) {
      r.form = SamplerConfig::Rule::Form::kExact;
    } else if (wild == r.pattern.size() - 1 && r.pattern.back() == '*') {
      r.form = SamplerConfig::Rule::Form::kPrefix;
    }
    config.rules_.push_back(std::move(r));
  }
  if (!errors.empty()) return errors;
  return config;
}

}  // namespace emp::telemetry::trace
