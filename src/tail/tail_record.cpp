#include "tail/tail_record.hpp"

#include <array>
#include <nlohmann/json.hpp>
#include <vector>

#include "encode/msgpack_writer.hpp"

namespace emp::telemetry::tail {

namespace {

using nlohmann::json;
namespace mp = encode::msgpack;

// JSON nesting deeper than this is shipped as the raw line: the parser is
// recursive, the line comes from any program, and msgpack readers limit
// depth too (this project's forward server at 32, with the entry's own two
// levels around the record).
constexpr int kMaxDepth = 16;

bool depth_ok(std::string_view s) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

void write_value(mp::Writer& w, const json& v) {
  switch (v.type()) {
    case json::value_t::object:
      w.map_header(static_cast<std::uint32_t>(v.size()));
      for (auto it = v.begin(); it != v.end(); ++it) {
        w.str(it.key());
        write_value(w, it.value());
      }
      break;
    case json::value_t::array:
      w.array_header(static_cast<std::uint32_t>(v.size()));
      for (const json& e : v) write_value(w, e);
      break;
    case json::value_t::string:
      w.str(v.get_ref<const std::string&>());
      break;
    case json::value_t::boolean:
      w.boolean(v.get<bool>());
      break;
    case json::value_t::number_integer:
      w.integer(v.get<std::int64_t>());
      break;
    case json::value_t::number_unsigned:
      w.uinteger(v.get<std::uint64_t>());
      break;
    case json::value_t::number_float:
      w.float64(v.get<double>());
      break;
    default:
      w.nil();
      break;
  }
}

}  // namespace

LineOutcome append_tail_entry(std::string& entries, std::string_view line, std::string_view path,
                              std::int64_t time_unix_nano, const TailContext& ctx) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  LineOutcome out;
  json parsed;
  if (!line.empty() && line.front() == '{' && depth_ok(line)) {
    parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
    out.json = parsed.is_object();
  }
  std::string source = ctx.service_name;
  source += ':';
  source += ctx.machine_id;
  source += ':';
  source += path;
  const std::array<std::pair<std::string_view, std::string_view>, 6> meta{{
      {"service_name", ctx.service_name},
      {"service_type", ctx.service_type},
      {"environment", ctx.environment},
      {"machine_id", ctx.machine_id},
      {"log_file_path", path},
      {"source_identification", source},
  }};
  std::uint32_t n = out.json ? static_cast<std::uint32_t>(parsed.size()) : 1;
  for (const auto& [k, v] : meta)
    if (!out.json || !parsed.contains(std::string(k))) ++n;

  mp::Writer w(entries);
  w.array_header(2);
  w.event_time(time_unix_nano);
  w.map_header(n);
  if (out.json) {
    for (auto it = parsed.begin(); it != parsed.end(); ++it) {
      w.str(it.key());
      write_value(w, it.value());
    }
  } else {
    w.str("log");
    w.str(line);
  }
  for (const auto& [k, v] : meta) {
    if (out.json && parsed.contains(std::string(k))) continue;
    w.str(k);
    w.str(v);
  }
  out.invalid_utf8 = w.invalid_utf8_strings() > 0;
  return out;
}

}  // namespace emp::telemetry::tail
