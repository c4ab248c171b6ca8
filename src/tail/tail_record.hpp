// One line of a tailed log file as a Fluentd forward PackedForward entry:
// [EventTime, record]. A line that is a JSON object keeps its keys and
// native value types; any other line (or an object nested deeper than 16
// levels) becomes {"log": "<line>"}. The
// service's metadata (service_name, service_type, environment, machine_id,
// source_identification, log_file_path) is added to every record unless the
// line already has a key of that name: a child process that writes its own
// service_name is the better witness of where the line came from.
//
// Pure: no I/O, no shared state. The line is outside input (any program may
// write the file), so it is parsed without trusting it: fuzz/fuzz_tail_line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace emp::telemetry::tail {

struct TailContext {
  std::string service_name;
  std::string service_type;
  std::string environment;
  std::string machine_id;
};

struct LineOutcome {
  bool json = false;          // the line was a JSON object
  bool invalid_utf8 = false;  // some bytes were replaced by U+FFFD
};

// Appends the entry for `line` (without its '\n'; a trailing '\r' is
// dropped) read from `path` at `time_unix_nano`.
LineOutcome append_tail_entry(std::string& entries, std::string_view line, std::string_view path,
                              std::int64_t time_unix_nano, const TailContext& ctx);

}  // namespace emp::telemetry::tail
