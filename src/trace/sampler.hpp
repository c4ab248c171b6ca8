// Head sampling: whether a new span is recorded and exported, decided once at
// start_span() before any other work. Implements the OpenTelemetry samplers
// named by OTEL_TRACES_SAMPLER (always_on, always_off, traceidratio and the
// three parentbased_* forms) plus emp's per-operation ratio rules
// (EMP_TRACES_SAMPLER_RULES, e.g. "job.*=1.0,process.ws_progress=0.01").
//
// Ratio decisions come from the trace id alone: bytes 8..15 read as a
// big-endian uint64 `r`, sampled when r < ratio * 2^64 (ratio 0 never,
// ratio 1 always). Every service therefore reaches the same decision for
// the same trace, and thresholds nest: a trace kept at ratio 0.01 is also
// kept at any ratio above 0.01.
//
// Rules. The first rule whose glob ('*' any run of characters, '?' exactly
// one) matches the span name gives the ratio for that span, and applies to:
//   * root spans (no valid parent), in place of the root sampler, and
//   * children of a sampled parent under a parentbased_* sampler, which lets
//     high-volume operations (ws_progress) be thinned inside sampled traces.
// A rule never revives a span whose parent was not sampled: that would
// produce a fragment of a trace whose root was dropped. Because decisions
// use the trace id, a rule's ratio is the fraction of *all* traces in which
// matching spans are kept: with traceidratio 0.25 and a rule at 0.01, 1% of
// traces (4% of the sampled ones) keep their matching spans, and all of
// them in those traces together. The non-parent-based samplers ignore the
// parent entirely (OpenTelemetry semantics), and so do their rules.
//
// `always_export_errors` is carried for the tracer, which applies it when a
// span ends (a dropped span that ends with an error status is still
// exported); the sampler itself does not look at it.
//
// Thread-safety: a SamplerConfig is immutable after construction;
// sampled() may be called from any number of threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emp/telemetry/config.hpp"
#include "emp/telemetry/expected.hpp"
#include "emp/telemetry/trace_context.hpp"

namespace emp::telemetry::trace {

inline constexpr std::string_view kSamplerVariable = "OTEL_TRACES_SAMPLER";
inline constexpr std::string_view kSamplerArgVariable = "OTEL_TRACES_SAMPLER_ARG";
inline constexpr std::string_view kSamplerRulesVariable = "EMP_TRACES_SAMPLER_RULES";

// The randomness a ratio decision is based on: trace id bytes 8..15 as a
// big-endian integer.
std::uint64_t trace_id_randomness(const TraceId& trace_id) noexcept;

// A probability turned into a threshold on trace_id_randomness().
class RatioThreshold {
 public:
  // `ratio` outside [0, 1] (or NaN) is clamped (NaN becomes 0); make_sampler
  // rejects such values before they get here.
  explicit RatioThreshold(double ratio = 1.0) noexcept;

  bool sampled(const TraceId& trace_id) const noexcept {
    return all_ || trace_id_randomness(trace_id) < threshold_;
  }
  double ratio() const noexcept { return ratio_; }

 private:
  double ratio_ = 1.0;
  std::uint64_t threshold_ = 0;
  bool all_ = true;  // ratio 1 cannot be expressed as a threshold below 2^64
};

// Glob match of a span name: '*' matches any run (including empty), '?'
// exactly one byte; everything else literally. Worst case O(|p|·|n|).
bool span_name_matches(std::string_view pattern, std::string_view name) noexcept;

class SamplerConfig {
 public:
  struct Rule {
    std::string pattern;
    RatioThreshold threshold;
    // How `pattern` is matched, chosen once: most rules are a plain name or
    // "prefix.*", which need no wildcard engine on the start_span() path.
    enum class Form : std::uint8_t { kExact, kPrefix, kGlob } form = Form::kGlob;

    bool matches(std::string_view span_name) const noexcept;
  };

  // parentbased_always_on, no rules, errors always exported: the
  // OpenTelemetry default.
  SamplerConfig() = default;

  // Whether a new span is sampled. `parent`: the parent span's context;
  // nullptr or an invalid context means a root span. `trace_id`: the new
  // span's trace id (the parent's, or a new one for a root). Never throws;
  // allocates nothing. The samplers here never add to the tracestate: a
  // sampled span carries its parent's, which the tracer copies itself.
  bool sampled(const SpanContext* parent, const TraceId& trace_id,
               std::string_view span_name) const noexcept;

  SamplerKind kind() const noexcept { return kind_; }
  // The traceidratio ratio; 1 for the samplers that take no ratio.
  double ratio() const noexcept { return root_ratio_.ratio(); }
  const std::vector<Rule>& rules() const noexcept { return rules_; }
  bool always_export_errors() const noexcept { return always_export_errors_; }

  // OpenTelemetry-style description for config dumps, e.g.
  // "ParentBased{root=TraceIdRatioBased{0.25}} rules=[job.*=1] export_errors=true".
  std::string description() const;

 private:
  friend Expected<SamplerConfig> make_sampler(SamplerKind, double, const std::vector<SamplerRule>&,
                                              bool);
  const Rule* match(std::string_view span_name) const noexcept;

  SamplerKind kind_ = SamplerKind::kParentBasedAlwaysOn;
  RatioThreshold root_ratio_{1.0};
  std::vector<Rule> rules_;
  bool always_export_errors_ = true;
};

// Builds a sampler from the textual settings:
//   sampler_name   OTEL_TRACES_SAMPLER, any case, surrounding spaces ignored;
//                  empty means parentbased_always_on.
//   arg            OTEL_TRACES_SAMPLER_ARG: the ratio in [0, 1] for
//                  traceidratio / parentbased_traceidratio (default 1.0
//                  when nullopt or empty); ignored by the other samplers.
//   rules          EMP_TRACES_SAMPLER_RULES: `glob=ratio` entries separated
//                  by ','; empty entries are skipped; the ratio follows the
//                  last '='.
// On failure returns every problem found, each naming its variable and, for
// rules, the rule's position and text.
Expected<SamplerConfig> make_sampler(std::string_view sampler_name,
                                     std::optional<std::string_view> arg, std::string_view rules,
                                     bool export_errors);

// Builds a sampler from already-parsed settings (e.g. a finalized Config).
// Still validates: ratios must be in [0, 1] and patterns non-empty.
Expected<SamplerConfig> make_sampler(SamplerKind kind, double ratio,
                                     const std::vector<SamplerRule>& rules, bool export_errors);

}  // namespace emp::telemetry::trace
