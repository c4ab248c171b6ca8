// The client's own health as metrics, so an outage shows in the dashboards
// that watch the service: per track, records offered/accepted/written and
// dropped by reason; per destination, items delivered and dropped, requests,
// retries, queued and spooled bytes and whether it is up; and the metrics
// track's own overflow and callback failures. All observable, read from the
// same HealthSnapshot that Client::health() returns.
#pragma once

#include <functional>

#include "emp/telemetry/health.hpp"

namespace emp::telemetry::metrics {

class MetricsCore;

void register_self_metrics(MetricsCore& core, std::function<HealthSnapshot()> health);

}  // namespace emp::telemetry::metrics
