// Random trace and span ids for new spans. Generation is on the hot path of
// every start_span(), so each thread owns a xoshiro256** generator (no lock,
// no shared cache line) seeded from the kernel's CSPRNG (getrandom()).
//
// Fork safety: a child process inherits its parent's generator states, which
// would make both processes emit the same ids. A pthread_atfork() child
// handler (registered on first use) bumps a global fork generation; every
// thread's generator compares it (one relaxed load) and re-seeds when it
// changed. Processes created with a raw clone() syscall, bypassing
// fork()/atfork, are not detected.
//
// Ids are never all zero. Every bit comes from the generator, so trace ids
// satisfy W3C Level 2's "random-trace-id" flag (rightmost 7 bytes random)
// and the tracer may set TraceFlags::kRandom on roots it creates.
#pragma once

#include "emp/telemetry/trace_context.hpp"

namespace emp::telemetry::trace {

// A new random, valid trace id. Thread-safe, lock-free, never throws.
TraceId new_trace_id() noexcept;

// A new random, valid span id. Thread-safe, lock-free, never throws.
SpanId new_span_id() noexcept;

}  // namespace emp::telemetry::trace
