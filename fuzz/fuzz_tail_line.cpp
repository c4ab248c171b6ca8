// Fuzzes the encoding of one tailed log line (any program writes those
// files). Whatever the bytes, the entry must be one complete msgpack value
// [EventTime, map] that the project's reader accepts and turns into JSON,
// the map must hold the metadata keys, and a line that is not a JSON object
// must come back under "log".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "encode/msgpack_reader.hpp"
#include "tail/tail_record.hpp"

namespace {

[[noreturn]] void fail(const char* why) {
  std::fprintf(stderr, "fuzz_tail_line: %s\n", why);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace tail = emp::telemetry::tail;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  tail::TailContext ctx{"svc", "worker", "development", "m1"};
  std::string entry;
  const tail::LineOutcome o = tail::append_tail_entry(entry, line, "/var/log/x.log", 1, ctx);
  std::string json;
  namespace mp = emp::telemetry::encode::msgpack;
  if (mp::to_json(entry, json) != mp::Status::kOk) fail("entry does not decode");
  const auto parsed = nlohmann::json::parse(json, nullptr, false);
  if (!parsed.is_array() || parsed.size() != 2 || !parsed[1].is_object())
    fail("entry is not [time, map]");
  const auto& rec = parsed[1];
  for (const char* k : {"service_type", "environment", "machine_id", "log_file_path"})
    if (!rec.contains(k)) fail("metadata key missing");
  if (!o.json && !rec.contains("log")) fail("plain line without \"log\"");
  return 0;
}
