// The OTLP destination of one signal, ready for a track to submit encoded
// export requests to: the configured collector over OTLP/HTTP, or, with no
// collector configured, a local OTLP/JSON-lines file. Either way the batches
// go through the shared delivery worker (retry, breaker, memory cap, spool).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/pipeline.hpp"
#include "deliver/signal.hpp"
#include "deliver/worker.hpp"
#include "emp/telemetry/config.hpp"

namespace emp::telemetry::otlp {

// `file` is the local file name under `dir` used when `exp` names no URL;
// `kind` console (OTEL_*_EXPORTER=console) writes OTLP/JSON lines to stdout.
// `primary`: outcomes count in the track's own counters (see DeliveryWorker).
std::unique_ptr<deliver::DeliveryWorker> make_otlp_worker(
    ExporterKind kind, Track track, deliver::Signal signal, const OtlpExport& exp, const Config& c,
    const std::string& dir, std::string_view file, core::Accounting& accounting, bool primary);

}  // namespace emp::telemetry::otlp
