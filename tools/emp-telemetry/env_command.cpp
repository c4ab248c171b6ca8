// `emp-telemetry env`: prints the registry of environment variables
// (variables()) as a table, as JSON, or as the Markdown document
// docs/ENVIRONMENT.md. The Markdown form is the single source of that file: a
// test compares the two, so the documentation cannot drift from the code.
#include <algorithm>
#include <cstddef>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "emp/telemetry/config.hpp"

namespace emp::telemetry::cli {
namespace {

// A Markdown table cell: pipes would end the cell, newlines the row, and
// placeholders such as <machine_id> would be taken for HTML and vanish.
// Inside a code span (`code`) only the pipe needs escaping.
std::string md_escape(std::string_view text, bool code) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else if (!code && c == '<') {
      out += "&lt;";
    } else if (!code && c == '>') {
      out += "&gt;";
    } else {
      out += c;
    }
  }
  return out;
}

std::string md_cell(std::string_view text) { return md_escape(text, false); }

std::string md_code(std::string_view text) {
  if (text.empty()) return "-";
  if (text.find('`') != std::string_view::npos) return md_cell(text);
  return "`" + md_escape(text, true) + "`";
}

void print_markdown(const std::vector<VariableInfo>& vars) {
  std::cout
      << "# Environment variables\n"
         "\n"
         "Every variable the emp-telemetry client reads, generated from the registry in\n"
         "`src/config/registry.cpp` by `emp-telemetry env --markdown` (regenerate with\n"
         "`./run docs`; a test fails when this file and the registry differ).\n"
         "\n"
         "Precedence: a value set in code wins over the environment, which wins over the\n"
         "service preset (`api`, `webhook`, `machine`, `worker`), which wins over the\n"
         "default. An empty variable counts as unset. Invalid values are configuration\n"
         "errors that name the variable; `emp-telemetry config --check` lists them all.\n"
         "Secret values are never printed (shown as `***`).\n"
         "\n"
         "| Variable | Type | Default | Secret | Presets | Description |\n"
         "|---|---|---|---|---|---|\n";
  for (const auto& v : vars) {
    std::cout << "| " << md_code(v.name) << " | " << md_cell(v.type) << " | "
              << md_code(v.default_text) << " | " << (v.secret ? "yes" : "no") << " | "
              << md_cell(v.presets) << " | " << md_cell(v.description) << " |\n";
  }
}

void print_json(const std::vector<VariableInfo>& vars) {
  auto out = nlohmann::json::array();
  for (const auto& v : vars) {
    out.push_back({{"name", v.name},
                   {"type", v.type},
                   {"default", v.default_text},
                   {"secret", v.secret},
                   {"presets", v.presets},
                   {"description", v.description}});
  }
  std::cout << out.dump(2) << "\n";
}

void print_table(const std::vector<VariableInfo>& vars) {
  std::size_t name_w = 8, type_w = 4, default_w = 7, presets_w = 7;
  for (const auto& v : vars) {
    name_w = std::max(name_w, v.name.size());
    type_w = std::max(type_w, v.type.size());
    default_w = std::max(default_w, v.default_text.size());
    presets_w = std::max(presets_w, v.presets.size());
  }
  default_w = std::min<std::size_t>(default_w, 32);
  auto pad = [](std::string_view text, std::size_t width) {
    std::string s(text);
    return s.size() >= width ? s + " " : s + std::string(width - s.size() + 1, ' ');
  };
  std::cout << pad("VARIABLE", name_w) << pad("TYPE", type_w) << pad("DEFAULT", default_w)
            << pad("SECRET", 6) << pad("PRESETS", presets_w) << "DESCRIPTION\n";
  for (const auto& v : vars) {
    std::cout << pad(v.name, name_w) << pad(v.type, type_w)
              << pad(v.default_text.empty() ? "-" : v.default_text, default_w)
              << pad(v.secret ? "yes" : "no", 6) << pad(v.presets, presets_w) << v.description
              << "\n";
  }
}

// True when the registry entry applies to `preset` ("all" or a comma list).
bool applies_to(const VariableInfo& v, Preset preset) {
  if (v.presets == "all" || v.presets.empty()) return true;
  const std::string_view name = to_string(preset);
  std::string_view rest = v.presets;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == name) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

// With --preset, only the variables that apply to that preset are listed.
int run_env(const GlobalArgs& global, const EnvArgs& args) {
  std::vector<VariableInfo> vars;
  for (const auto& v : variables()) {
    if (!global.preset || applies_to(v, *global.preset)) vars.push_back(v);
  }
  if (args.markdown) {
    print_markdown(vars);
  } else if (args.json) {
    print_json(vars);
  } else {
    print_table(vars);
  }
  return 0;
}

}  // namespace emp::telemetry::cli
