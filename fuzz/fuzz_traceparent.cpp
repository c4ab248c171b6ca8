// Fuzzes the traceparent parser and the job-payload carrier with arbitrary
// bytes. Properties: nothing crashes; a parsed traceparent formats to a
// version-00 header that parses back to the same context; injecting into a
// payload that is accepted yields valid JSON from which the same context is
// extracted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "emp/telemetry/propagation.hpp"

using namespace emp::telemetry;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const ParseResult p = parse_traceparent(input);
  (void)p.describe();
  if (p.ok()) {
    check(p.error == PropagationError::kNone);
    check(p.context->is_valid());
    check((p.context->flags.value() & ~TraceFlags::kKnownBits) == 0);
    const std::string formatted = format_traceparent(*p.context);
    check(formatted.size() == 55);
    const ParseResult again = parse_traceparent(formatted);
    check(again.ok());
    check(*again.context == *p.context);
    check(format_traceparent(*again.context) == formatted);
  } else {
    check(p.error != PropagationError::kNone);
  }

  // The same bytes as a header value in a carrier.
  const ExtractResult h =
      extract_headers(std::map<std::string, std::string>{{"Traceparent", std::string(input)}});
  check(h.ok() == p.ok());

  // And as a job payload.
  const ExtractResult e = extract_from_job_payload(input);
  (void)e.describe();
  SpanContext ctx;
  ctx.trace_id = *TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");
  ctx.span_id = *SpanId::from_hex("00f067aa0ba902b7");
  ctx.flags = TraceFlags(TraceFlags::kSampled);
  ctx.trace_state.set("k", "v\"\\");
  PropagationError err = PropagationError::kMissing;
  const std::string out = inject_into_job_payload(input, ctx, &err);
  if (err == PropagationError::kNone) {
    check(nlohmann::json::accept(out));
    const ExtractResult back = extract_from_job_payload(out);
    check(back.ok());
    check(back.context->trace_id == ctx.trace_id && back.context->span_id == ctx.span_id);
    check(back.context->trace_state == ctx.trace_state);
  } else {
    check(out == input);
  }
  return 0;
}
