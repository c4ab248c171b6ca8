// The span that is active on the current thread, as the log track sees it.
// The trace track sets it when a span becomes active (a scope); the log track
// reads it to put trace_id/span_id on each line. Kept in core so the log track
// does not depend on the trace track.
#pragma once

#include <cstdint>

namespace emp::telemetry::core {

struct ActiveSpanIds {
  std::uint8_t trace_id[16];
  std::uint8_t span_id[8];
};

// Null when no span is active on this thread.
inline thread_local const ActiveSpanIds* t_active_span = nullptr;

}  // namespace emp::telemetry::core
