#include "client/resource.hpp"

#include <unistd.h>

#include <climits>

namespace emp::telemetry {

namespace otlp = encode::otlp;

namespace {
std::string host_name() {
  char buf[HOST_NAME_MAX + 1] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}
}  // namespace

otlp::Resource make_resource(const Config& c) {
  otlp::Resource r;
  auto add = [&](std::string key, otlp::AnyValue v) {
    for (const auto& kv : r.attributes)
      if (kv.key == key) return;
    r.attributes.emplace_back(std::move(key), std::move(v));
  };
  add("service.name", otlp::AnyValue::string(c.service_name));
  if (!c.service_version.empty()) add("service.version", otlp::AnyValue::string(c.service_version));
  add("service.instance.id", otlp::AnyValue::string(c.machine_id));
  add("deployment.environment.name", otlp::AnyValue::string(c.environment_name));
  add("host.name", otlp::AnyValue::string(host_name()));
  add("process.pid", otlp::AnyValue::integer(static_cast<std::int64_t>(::getpid())));
  add("telemetry.sdk.name", otlp::AnyValue::string(kSdkName));
  add("telemetry.sdk.language", otlp::AnyValue::string("cpp"));
  add("telemetry.sdk.version", otlp::AnyValue::string(kSdkVersion));
  if (!c.service_type.empty()) {
    add("service.type", otlp::AnyValue::string(c.service_type));
    add("service_type", otlp::AnyValue::string(c.service_type));
  }
  add("machine_id", otlp::AnyValue::string(c.machine_id));
  if (!c.worker_id.empty()) add("worker_id", otlp::AnyValue::string(c.worker_id));
  for (const auto& [k, v] : c.resource_attributes) add(k, otlp::AnyValue::string(v));
  return r;
}

otlp::Scope make_scope() {
  otlp::Scope s;
  s.name = kSdkName;
  s.version = kSdkVersion;
  return s;
}

}  // namespace emp::telemetry
