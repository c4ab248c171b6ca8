// `emp-telemetry config`: finalizes the configuration exactly as a service
// would (code > environment > env file > preset > default) and prints where
// each track goes, then every variable with the origin of its value (or only
// those FILTER selects), or every problem found. Values come from
// Config::settings, which is already redacted, so secrets never reach output.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "emp/telemetry/config.hpp"
#include "emp/telemetry/expected.hpp"
#include "text.hpp"

namespace emp::telemetry::cli {
namespace {

void print_problems(const Errors& errors) {
  for (const auto& e : errors) std::cerr << e.to_string() << "\n";
  std::cerr << count_noun(errors.size(), "problem") << " in the configuration\n";
}

// LOG_DIR must be a directory this process can write, or creatable: its
// nearest existing ancestor writable. finalize() does not touch the
// filesystem for it (a service creates it lazily), so the check is here.
std::optional<Error> log_dir_problem(const Config& config) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::absolute(config.log_dir.empty() ? "./telemetry-out" : config.log_dir, ec)
                           .lexically_normal();
  if (ec) return Error{"LOG_DIR", "cannot resolve " + config.log_dir + ": " + ec.message()};
  fs::path existing = dir;
  while (!fs::exists(existing, ec) && existing.has_parent_path() &&
         existing != existing.parent_path()) {
    existing = existing.parent_path();
  }
  const std::string shown = "\"" + dir.string() + "\"";
  if (!fs::is_directory(existing, ec)) {
    return Error{"LOG_DIR", shown + " cannot be created: " + existing.string() +
                                " exists and is not a directory"};
  }
  if (::access(existing.c_str(), W_OK | X_OK) != 0) {
    const std::string why = std::strerror(errno);
    return Error{"LOG_DIR", existing == dir ? shown + " is not writable (" + why + ")"
                                            : shown + " cannot be created: " + existing.string() +
                                                  " is not writable (" + why + ")"};
  }
  return std::nullopt;
}

nlohmann::json errors_json(const Errors& errors) {
  auto out = nlohmann::json::array();
  for (const auto& e : errors) {
    out.push_back({{"subject", e.subject}, {"message", e.message}, {"text", e.to_string()}});
  }
  return out;
}

// Groups a FILTER may name: a variable belongs when its name contains one of
// the group's parts.
bool in_group(std::string_view group, std::string_view name) {
  static const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> kGroups = {
      {"identity", {"SERVICE_", "MACHINE_ID", "WORKER_ID", "TELEMETRY_ENV", "RESOURCE_ATTRIBUTES"}},
      {"logs", {"LOG_", "LOGS", "BLRP"}},
      {"traces", {"TRACES", "BSP_", "SPAN_", "SAMPLER", "PROPAGATORS"}},
      {"metrics", {"METRIC", "PROMETHEUS"}},
      {"otlp", {"OTLP"}},
      {"delivery",
       {"RETRY", "CIRCUIT", "SPOOL", "QUEUE", "DELIVERY", "FLUSH", "SHUTDOWN", "STATUS"}},
      {"prometheus", {"PROMETHEUS"}},
      {"dash0", {"DASH0"}},
      {"fluentd", {"FLUENTD"}},
      {"sentry", {"SENTRY"}},
  };
  for (const auto& [g, parts] : kGroups) {
    if (g != group) continue;
    for (std::string_view part : parts) {
      if (name.find(part) != std::string_view::npos) return true;
    }
  }
  return false;
}

bool selected(const ConfigArgs& args, const std::string& name) {
  if (args.filters.empty()) return true;
  for (const std::string& f : args.filters) {
    std::string lower = f, upper = f;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (in_group(lower, name) || name.find(upper) != std::string::npos) return true;
  }
  return false;
}

nlohmann::json config_json(const Config& config, const ConfigArgs& args) {
  nlohmann::json out;
  out["valid"] = true;
  out["preset"] = std::string(to_string(config.preset));
  out["service_type"] = config.service_type;
  out["environment"] = std::string(to_string(config.environment));
  out["local_fallback"] = config.local_fallback;
  out["routes"] = describe_routes(config);
  auto settings = nlohmann::json::array();
  for (const auto& s : config.settings) {
    if (!selected(args, s.name)) continue;
    nlohmann::json item;
    item["name"] = s.name;
    item["value"] = s.set ? nlohmann::json(s.display) : nlohmann::json(nullptr);
    item["origin"] = s.set ? std::string(to_string(s.origin)) : std::string("unset");
    if (s.set && s.origin == Origin::kEnvFile) item["file"] = s.from;
    item["secret"] = s.secret;
    settings.push_back(std::move(item));
  }
  out["settings"] = std::move(settings);
  out["notices"] = config.notices;
  return out;
}

void print_table(const Config& config, const ConfigArgs& args) {
  std::size_t name_width = 8;
  std::size_t value_width = 5;
  for (const auto& s : config.settings) {
    if (!selected(args, s.name)) continue;
    name_width = std::max(name_width, s.name.size());
    value_width = std::max(value_width, s.set ? s.display.size() : std::size_t{7});
  }
  // Very long values (URLs, lists) would push the origin column off screen.
  value_width = std::min<std::size_t>(value_width, 48);

  std::cout << "preset: " << (config.preset == Preset::kNone ? "none" : to_string(config.preset))
            << "   service_type: " << config.service_type
            << "   environment: " << to_string(config.environment)
            << (config.local_fallback ? "   (local files fallback)" : "") << "\n\n";
  std::cout << "where each track goes:\n";
  for (const std::string& route : describe_routes(config)) std::cout << "  " << route << "\n";
  std::cout << "\n";
  auto pad = [](const std::string& text, std::size_t width) {
    return text.size() >= width ? text + " " : text + std::string(width - text.size() + 1, ' ');
  };
  std::cout << pad("VARIABLE", name_width) << " " << pad("VALUE", value_width) << " ORIGIN\n";
  std::size_t shown = 0;
  for (const auto& s : config.settings) {
    if (!selected(args, s.name)) continue;
    ++shown;
    const std::string value = s.set ? s.display : "(unset)";
    std::string origin = s.set ? std::string(to_string(s.origin)) : "-";
    if (s.set && s.origin == Origin::kEnvFile) origin += " " + s.from;
    std::cout << pad(s.name, name_width) << " " << pad(value, value_width) << " " << origin << "\n";
  }
  if (shown == 0) std::cout << "(no variable matches the filter)\n";
  if (!config.notices.empty()) {
    std::cout << "\nnotices:\n";
    for (const auto& n : config.notices) std::cout << "  " << n << "\n";
  }
}

}  // namespace

int run_config(const GlobalArgs& global, const ConfigArgs& args) {
  Options options = base_options(global);
  Expected<Config> config = finalize(options);
  if (config) {
    if (auto problem = log_dir_problem(config.value())) config = Errors{std::move(*problem)};
  }

  if (!config) {
    if (args.json && !args.check) {
      nlohmann::json out;
      out["valid"] = false;
      out["errors"] = errors_json(config.errors());
      std::cout << out.dump(2) << "\n";
    }
    print_problems(config.errors());
    return 1;
  }
  if (args.check) {
    for (const std::string& n : config->notices) std::cerr << n << "\n";
    std::cout << "configuration is valid (" << config->settings.size() << " variables)\n";
    return 0;
  }
  if (args.json) {
    std::cout << config_json(config.value(), args).dump(2) << "\n";
  } else {
    print_table(config.value(), args);
  }
  return 0;
}

}  // namespace emp::telemetry::cli
