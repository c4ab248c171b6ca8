// Names of the configuration enums and Config::raw; see config.hpp.
#include "emp/telemetry/config.hpp"

#include "core/strings.hpp"

namespace emp::telemetry {

std::string_view to_string(Preset preset) noexcept {
  switch (preset) {
    case Preset::kNone:
      return "";
    case Preset::kApi:
      return "api";
    case Preset::kWebhook:
      return "webhook";
    case Preset::kMachine:
      return "machine";
    case Preset::kWorker:
      return "worker";
  }
  return "";
}

std::string_view to_string(DeploymentEnv env) noexcept {
  switch (env) {
    case DeploymentEnv::kDevelopment:
      return "development";
    case DeploymentEnv::kStaging:
      return "staging";
    case DeploymentEnv::kProduction:
      return "production";
  }
  return "development";
}

std::string_view to_string(Level level) noexcept {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string_view to_string(Origin origin) noexcept {
  switch (origin) {
    case Origin::kDefault:
      return "default";
    case Origin::kPreset:
      return "preset";
    case Origin::kEnvironment:
      return "env";
    case Origin::kCode:
      return "code";
  }
  return "default";
}

std::string_view to_string(QueueFullPolicy policy) noexcept {
  return policy == QueueFullPolicy::kBlock ? "block" : "drop";
}

std::string_view to_string(OtlpProtocol protocol) noexcept {
  switch (protocol) {
    case OtlpProtocol::kHttpProtobuf:
      return "http/protobuf";
    case OtlpProtocol::kHttpJson:
      return "http/json";
    case OtlpProtocol::kGrpc:
      return "grpc";
  }
  return "http/protobuf";
}

std::string_view to_string(Temporality temporality) noexcept {
  switch (temporality) {
    case Temporality::kCumulative:
      return "cumulative";
    case Temporality::kDelta:
      return "delta";
    case Temporality::kLowMemory:
      return "lowmemory";
  }
  return "cumulative";
}

std::string_view to_string(SamplerKind sampler) noexcept {
  switch (sampler) {
    case SamplerKind::kAlwaysOn:
      return "always_on";
    case SamplerKind::kAlwaysOff:
      return "always_off";
    case SamplerKind::kTraceIdRatio:
      return "traceidratio";
    case SamplerKind::kParentBasedAlwaysOn:
      return "parentbased_always_on";
    case SamplerKind::kParentBasedAlwaysOff:
      return "parentbased_always_off";
    case SamplerKind::kParentBasedTraceIdRatio:
      return "parentbased_traceidratio";
  }
  return "parentbased_always_on";
}

std::optional<Preset> parse_preset(std::string_view text) noexcept {
  for (Preset p : {Preset::kApi, Preset::kWebhook, Preset::kMachine, Preset::kWorker}) {
    if (core::iequals(text, to_string(p))) return p;
  }
  if (text.empty() || text == "none") return Preset::kNone;
  return std::nullopt;
}

std::optional<std::string> Config::raw(std::string_view name) const {
  auto it = raw_.find(name);
  if (it == raw_.end()) return std::nullopt;
  return it->second;
}

}  // namespace emp::telemetry
