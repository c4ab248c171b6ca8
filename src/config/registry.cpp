// The registry table built from EMP_CONFIG_VARIABLES; see registry.hpp.
#include "config/registry.hpp"

#include <algorithm>
#include <vector>

#include "emp/telemetry/config.hpp"

namespace emp::telemetry::config {

const std::array<VarSpec, kVarCount>& specs() noexcept {
#define EMP_CONFIG_VAR_SPEC(id, name, type, def, secret, lo, hi, presets, desc) \
  VarSpec{Var::id, name, type, def, secret, lo, hi, presets, desc},
  static constexpr std::array<VarSpec, kVarCount> kSpecs = {
      EMP_CONFIG_VARIABLES(EMP_CONFIG_VAR_SPEC)};
#undef EMP_CONFIG_VAR_SPEC
  return kSpecs;
}

const VarSpec* find_spec(std::string_view name) noexcept {
  // Sorted index built once; the registry is small, but finalize and
  // redaction look names up often enough that a linear scan adds up.
  struct Index {
    std::vector<const VarSpec*> sorted;
    Index() {
      for (const VarSpec& s : specs()) sorted.push_back(&s);
      std::sort(sorted.begin(), sorted.end(),
                [](const VarSpec* a, const VarSpec* b) { return a->name < b->name; });
    }
  };
  static const Index index;
  auto it = std::lower_bound(index.sorted.begin(), index.sorted.end(), name,
                             [](const VarSpec* s, std::string_view n) { return s->name < n; });
  if (it != index.sorted.end() && (*it)->name == name) return *it;
  return nullptr;
}

std::string_view type_text(Type type) noexcept {
  switch (type) {
    case Type::kName:
      return "string";
    case Type::kToken:
      return "secret";
    case Type::kHost:
      return "host";
    case Type::kPath:
      return "path";
    case Type::kRelativeFile:
      return "file name";
    case Type::kFile:
      return "file";
    case Type::kBool:
      return "bool";
    case Type::kPort:
      return "port";
    case Type::kUrl:
      return "url";
    case Type::kRate:
      return "rate";
    case Type::kLevel:
      return "level";
    case Type::kDuration:
      return "duration";
    case Type::kMillis:
      return "milliseconds";
    case Type::kSize:
      return "size";
    case Type::kUint:
      return "int";
    case Type::kEnvName:
      return "development|staging|production";
    case Type::kQueuePolicy:
      return "drop|block";
    case Type::kSampler:
      return "sampler";
    case Type::kSamplerArg:
      return "rate";
    case Type::kPropagators:
      return "list";
    case Type::kProtocol:
      return "http/protobuf|http/json";
    case Type::kCompression:
      return "gzip|none";
    case Type::kTemporality:
      return "cumulative|delta|lowmemory";
    case Type::kHeaders:
      return "key=value list";
    case Type::kAttributes:
      return "key=value list";
    case Type::kDsn:
      return "dsn";
    case Type::kSamplerRules:
      return "glob=ratio list";
    case Type::kUrlList:
      return "url list";
    case Type::kHostPortList:
      return "host[:port] list";
  }
  return "string";
}

bool is_computed_default(const VarSpec& spec) noexcept {
  return !spec.default_text.empty() && spec.default_text.front() == '<';
}

}  // namespace emp::telemetry::config

// Public view of the registry.
namespace emp::telemetry {

const std::vector<VariableInfo>& variables() noexcept {
  static const std::vector<VariableInfo> kInfos = [] {
    std::vector<VariableInfo> out;
    out.reserve(config::kVarCount);
    for (const config::VarSpec& s : config::specs()) {
      out.push_back(VariableInfo{s.name, config::type_text(s.type), s.default_text, s.secret,
                                 s.description, s.presets});
    }
    return out;
  }();
  return kInfos;
}

}  // namespace emp::telemetry
