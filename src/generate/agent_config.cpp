#include "generate/agent_config.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "core/file_modes.hpp"
#include "core/strings.hpp"
#include "encode/json_lines.hpp"
#include "forward/forward_protocol.hpp"

namespace emp::telemetry::generate {

namespace {

// A YAML double-quoted scalar: JSON's string syntax is a subset of it.
std::string yq(std::string_view s) {
  std::string out;
  encode::LineStats stats;
  encode::append_json_string(out, s, SIZE_MAX, stats);
  return out;
}

// Fluent Bit's tail input must also match the names rotation gives the file
// ("app.log.1", "app.log-20261205"): lines written just before a rename are
// otherwise missed when a file rotates faster than the input refreshes.
std::string with_rotated(const std::string& path) {
  if (!path.empty() && path.back() == '*') return path;
  return path + "*";
}

std::string tag_of(const Config& c, const AgentFile& f) {
  return f.tag.empty() ? forward::log_tag(c.service_type, f.path) : f.tag;
}

std::string source_of(const Config& c, const AgentFile& f) {
  return c.service_name + ":" + c.machine_id + ":" + f.path;
}

std::string dash0_base(const Config& c, std::string_view reference) {
  std::string base = c.dash0_otlp_base_url.empty() ? std::string(reference) : c.dash0_otlp_base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

std::string dataset(const Config& c) {
  return c.dash0_dataset.empty() ? "default" : c.dash0_dataset;
}

// Values written into a configuration; a control character would end a
// classic-format line or a YAML scalar early and change the meaning.
std::optional<Error> check_values(const Config& c, const std::vector<AgentFile>& files) {
  auto bad = [](std::string_view v) { return core::has_control(v); };
  for (const AgentFile& f : files) {
    if (bad(f.path) || bad(f.tag) || f.path.empty())
      return Error{"generate", "the file " + core::quote(f.path) + " (tag " + core::quote(f.tag) +
                                   ") is empty or has a control character; nothing was written"};
    if (f.path.find(' ') != std::string::npos || f.tag.find(' ') != std::string::npos)
      return Error{"generate", "the file " + core::quote(f.path) + " (tag " + core::quote(f.tag) +
                                   ") has a space, which the agents' configuration formats "
                                   "cannot hold in these keys; nothing was written"};
  }
  for (std::string_view v :
       {std::string_view(c.service_name), std::string_view(c.service_type),
        std::string_view(c.environment_name), std::string_view(c.machine_id),
        std::string_view(c.fluentd_host), std::string_view(c.fluentd_ca_file),
        std::string_view(c.fluentd_username), std::string_view(c.dash0_dataset),
        std::string_view(c.dash0_otlp_base_url)}) {
    if (bad(v))
      return Error{"generate", "a configuration value has a control character: " + core::quote(v) +
                                   "; nothing was written"};
  }
  return std::nullopt;
}

// ---- Fluent Bit ----

struct Section {
  std::string name;  // INPUT, FILTER, OUTPUT, SERVICE
  std::vector<std::pair<std::string, std::string>> keys;
};

std::vector<Section> fluent_bit_sections(const Config& c, const std::vector<AgentFile>& files,
                                         const std::string& out_dir) {
  std::vector<Section> out;
  out.push_back({"SERVICE", {{"Flush", "1"}, {"Log_Level", "info"}}});
  // One position database per input: inputs do not share one.
  int n = 0;
  for (const AgentFile& f : files) {
    const std::string db =
        (std::filesystem::path(out_dir) / ("fluent-bit-tail-" + std::to_string(++n) + ".db"))
            .string();
    out.push_back({"INPUT",
                   {{"Name", "tail"},
                    {"Tag", tag_of(c, f)},
                    {"Path", with_rotated(f.path)},
                    {"Path_Key", "log_file_path"},
                    {"DB", db},
                    {"Read_from_Head", "true"},
                    {"Refresh_Interval", "1"},
                    {"Rotate_Wait", "5"},
                    {"Buffer_Max_Size", "32k"},
                    {"Skip_Long_Lines", "off"},
                    {"Mem_Buf_Limit", "16MB"}}});
  }
  for (const AgentFile& f : files) {
    out.push_back({"FILTER",
                   {{"Name", "record_modifier"},
                    {"Match", tag_of(c, f)},
                    {"Record", "source_identification " + source_of(c, f)}}});
  }
  out.push_back({"FILTER",
                 {{"Name", "record_modifier"},
                  {"Match", "*"},
                  {"Record", "service_name " + c.service_name},
                  {"Record", "service_type " + c.service_type},
                  {"Record", "environment " + c.environment_name},
                  {"Record", "machine_id " + c.machine_id}}});
  Section fwd{"OUTPUT",
              {{"Name", "forward"},
               {"Match", "*"},
               {"Host", c.fluentd_host.empty() ? "${FLUENTD_HOST}" : c.fluentd_host},
               {"Port", std::to_string(c.fluentd_port)},
               {"Retry_Limit", "False"}}};
  if (c.fluentd_secure) {
    fwd.keys.push_back({"tls", "on"});
    fwd.keys.push_back({"tls.verify", c.fluentd_tls_verify ? "on" : "off"});
    if (!c.fluentd_ca_file.empty()) fwd.keys.push_back({"tls.ca_file", c.fluentd_ca_file});
  }
  if (!c.fluentd_shared_key.empty()) {
    fwd.keys.push_back({"Shared_Key", "${FLUENTD_SHARED_KEY}"});
    fwd.keys.push_back({"Self_Hostname", c.machine_id});
  }
  if (!c.fluentd_username.empty()) {
    fwd.keys.push_back({"Username", c.fluentd_username});
    fwd.keys.push_back({"Password", "${FLUENTD_PASSWORD}"});
  }
  if (c.fluentd_compress) fwd.keys.push_back({"Compress", "gzip"});
  out.push_back(std::move(fwd));
  return out;
}

std::string header_comment(const Config& c, std::string_view agent, char mark) {
  std::string out;
  out += mark;
  out += " ";
  out += agent;
  out += " configuration for ";
  out += c.service_name;
  out += " (";
  out += c.service_type;
  out += ", ";
  out += c.environment_name;
  out += "), generated by emp-telemetry generate.\n";
  out += mark;
  out += " Secrets are read from the environment when the agent starts; none is written here.\n";
  return out;
}

std::string fluent_bit_classic(const Config& c, const std::vector<Section>& sections) {
  std::string out = header_comment(c, "Fluent Bit", '#');
  for (const Section& s : sections) {
    out += "\n[" + s.name + "]\n";
    std::size_t width = 0;
    for (const auto& [k, v] : s.keys) width = std::max(width, k.size());
    for (const auto& [k, v] : s.keys) {
      out += "    " + k + std::string(width + 1 - k.size(), ' ') + v + "\n";
    }
  }
  return out;
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string fluent_bit_yaml(const Config& c, const std::vector<Section>& sections) {
  std::string out = header_comment(c, "Fluent Bit", '#');
  out += "service:\n";
  for (const auto& [k, v] : sections.front().keys) out += "  " + lower(k) + ": " + yq(v) + "\n";
  out += "pipeline:\n";
  for (const char* kind : {"INPUT", "FILTER", "OUTPUT"}) {
    out += std::string("  ") + lower(kind) + "s:\n";
    for (const Section& s : sections) {
      if (s.name != kind) continue;
      bool first = true;
      std::vector<std::string> records;
      for (const auto& [k, v] : s.keys) {
        if (k == "Record") {
          records.push_back(v);
          continue;
        }
        out += first ? "    - " : "      ";
        first = false;
        out += lower(k) + ": " + yq(v) + "\n";
      }
      if (!records.empty()) {
        out += "      record:\n";
        for (const std::string& r : records) out += "        - " + yq(r) + "\n";
      }
    }
  }
  return out;
}

// ---- Fluentd ----

// A Fluentd string value: double-quoted, so "#{...}" is evaluated and
// nothing else is (a '#' in a value would start an embedded expression).
std::string fq(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\' || ch == '#') out += '\\';
    out += ch;
  }
  out += '"';
  return out;
}

std::string fluentd_conf(const Config& c) {
  std::string out = header_comment(c, "Fluentd", '#');
  out += "\n<source>\n  @type forward\n  bind 0.0.0.0\n  port " + std::to_string(c.fluentd_port) +
         "\n";
  if (!c.fluentd_shared_key.empty() || !c.fluentd_username.empty()) {
    out += "  <security>\n    self_hostname " +
           fq(c.fluentd_host.empty() ? "fluentd" : c.fluentd_host) +
           "\n    shared_key \"#{ENV['FLUENTD_SHARED_KEY']}\"\n";
    if (!c.fluentd_username.empty()) {
      out += "    user_auth true\n    <user>\n      username " + fq(c.fluentd_username) +
             "\n      password \"#{ENV['FLUENTD_PASSWORD']}\"\n    </user>\n";
    }
    out += "  </security>\n";
  }
  out += "</source>\n";
  out += "\n<filter **>\n  @type record_transformer\n  <record>\n";
  out += "    service_name " + fq(c.service_name) + "\n";
  out += "    service_type " + fq(c.service_type) + "\n";
  out += "    environment " + fq(c.environment_name) + "\n";
  out += "    machine_id " + fq(c.machine_id) + "\n";
  out += "  </record>\n</filter>\n";
  const std::string base = c.dash0_otlp_base_url.empty()
                               ? "\"#{ENV['DASH0_OTLP_BASE_URL']}/logs/json\""
                               : fq(dash0_base(c, "") + "/logs/json");
  out += "\n<match **>\n  @type http\n  endpoint " + base + "\n";
  out += "  http_method post\n  content_type application/json\n  json_array true\n";
  // A double-quoted value, so Fluentd evaluates the key's reference when it
  // starts; the hash is then read from the resulting JSON text.
  out += "  headers \"{\\\"Authorization\\\":\\\"Bearer #{ENV['DASH0_API_KEY']}\\\",";
  out += "\\\"Dash0-Dataset\\\":" + fq(yq(dataset(c))).substr(1, fq(yq(dataset(c))).size() - 2) +
         "}\"\n";
  out += "  <format>\n    @type json\n  </format>\n";
  out += "  <buffer>\n    flush_interval 5s\n    retry_max_interval 30s\n  </buffer>\n";
  out += "</match>\n";
  return out;
}

// ---- OpenTelemetry Collector ----

std::string otel_collector_yaml(const Config& c) {
  std::string out = header_comment(c, "OpenTelemetry Collector", '#');
  out += "receivers:\n  otlp:\n    protocols:\n";
  out += "      grpc:\n        endpoint: \"0.0.0.0:4317\"\n";
  out += "      http:\n        endpoint: \"0.0.0.0:4318\"\n";
  out += "processors:\n  resource:\n    attributes:\n";
  auto attr = [&](std::string_view key, std::string_view value) {
    out +=
        "      - key: " + yq(key) + "\n        value: " + yq(value) + "\n        action: insert\n";
  };
  attr("service.name", c.service_name);
  attr("service.type", c.service_type);
  attr("service.instance.id", c.machine_id);
  attr("deployment.environment.name", c.environment_name);
  out += "  batch:\n    timeout: 5s\n    send_batch_size: 512\n";
  out += "exporters:\n  otlphttp/dash0:\n";
  out += "    endpoint: " + yq(dash0_base(c, "${env:DASH0_OTLP_BASE_URL}")) + "\n";
  out += "    headers:\n";
  out += "      Authorization: \"Bearer ${env:DASH0_API_KEY}\"\n";
  out += "      Dash0-Dataset: " + yq(dataset(c)) + "\n";
  out += "service:\n  pipelines:\n";
  for (const char* signal : {"traces", "metrics", "logs"}) {
    out += std::string("    ") + signal +
           ":\n      receivers: [otlp]\n      processors: [resource, batch]\n"
           "      exporters: [otlphttp/dash0]\n";
  }
  return out;
}

}  // namespace

std::vector<AgentFile> files_to_tail(const Config& c, const std::vector<AgentFile>& extra) {
  std::vector<AgentFile> out;
  if (c.log_files) {
    const std::filesystem::path p =
        std::filesystem::absolute(std::filesystem::path(c.log_dir) / c.log_file);
    out.push_back({p.lexically_normal().string(), ""});
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

Expected<GeneratedFile> render_agent_config(Agent agent, AgentFormat format, const Config& c,
                                            const std::vector<AgentFile>& files,
                                            const std::string& out_dir) {
  try {
    if (auto e = check_values(c, files)) return *e;
    switch (agent) {
      case Agent::kFluentBit: {
        if (files.empty())
          return Error{"generate",
                       "fluent-bit: no file to tail (the log track writes no file "
                       "and no --file was given); nothing was written"};
        const auto sections = fluent_bit_sections(c, files, out_dir);
        if (format == AgentFormat::kYaml)
          return GeneratedFile{"fluent-bit.yaml", fluent_bit_yaml(c, sections)};
        return GeneratedFile{"fluent-bit.conf", fluent_bit_classic(c, sections)};
      }
      case Agent::kFluentd:
        return GeneratedFile{"fluentd.conf", fluentd_conf(c)};
      case Agent::kOtelCollector:
        return GeneratedFile{"otel-collector.yaml", otel_collector_yaml(c)};
    }
    return Error{"generate", "unknown agent"};
  } catch (...) {
    return Error{"generate", "out of memory; nothing was written"};
  }
}

}  // namespace emp::telemetry::generate

namespace emp::telemetry {

bool parse_agent(std::string_view name, Agent& out) noexcept {
  if (name == "fluent-bit")
    out = Agent::kFluentBit;
  else if (name == "fluentd")
    out = Agent::kFluentd;
  else if (name == "otel-collector")
    out = Agent::kOtelCollector;
  else
    return false;
  return true;
}

Expected<std::string> write_agent_config(Agent agent, AgentFormat format, const Config& config,
                                         const std::vector<AgentFile>& files,
                                         const std::string& dir) noexcept {
  try {
    auto file = generate::render_agent_config(agent, format, config,
                                              generate::files_to_tail(config, files), dir);
    if (!file) return file.errors();
    std::error_code ec;
    if (!core::make_directories(dir, ec))
      return Error{"generate",
                   "cannot create " + dir + ": " + ec.message() + "; nothing was written"};
    const std::string path = (std::filesystem::path(dir) / file->name).string();
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
      out << file->content;
      out.close();
      if (!out) {
        std::filesystem::remove(tmp, ec);
        return Error{"generate", "cannot write " + path + "; nothing was written"};
      }
    }
    ::chmod(tmp.c_str(), core::kFileMode);
    std::filesystem::rename(tmp, path, ec);
    if (ec) return Error{"generate", "cannot write " + path + ": " + ec.message()};
    return path;
  } catch (...) {
    return Error{"generate", "out of memory; nothing was written"};
  }
}

}  // namespace emp::telemetry
