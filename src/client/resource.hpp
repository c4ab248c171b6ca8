// The OTLP resource and instrumentation scope every track exports with,
// built once per client from its Config.
#pragma once

#include "emp/telemetry/config.hpp"
#include "encode/otlp_types.hpp"

namespace emp::telemetry {

// service.name, service.version, service.instance.id, deployment.environment.name,
// host.name, process.pid, telemetry.sdk.*, service.type plus the job-queue
// correlation keys (service_type, machine_id, worker_id), then
// OTEL_RESOURCE_ATTRIBUTES for keys not already set.
encode::otlp::Resource make_resource(const Config& config);
encode::otlp::Scope make_scope();

inline constexpr const char* kSdkName = "emp-telemetry";
inline constexpr const char* kSdkVersion = "0.1.0";

}  // namespace emp::telemetry
