// JSON text validation (RFC 8259) without building a document: job payloads
// are checked before the trace context is read from or written into them,
// on the application's thread, once per job step. The verdict is the same
// as nlohmann::json::accept() (fuzz_json_validate compares the two), at a
// fraction of its cost: one pass, no allocation but a bit per open
// container.
#pragma once

#include <string_view>

namespace emp::telemetry::encode {

// True when `text` is one JSON value with optional whitespace around it
// (unlike nlohmann, a NUL byte does not end the input: bytes after the value
// make it invalid):
// strings of well-formed UTF-8 without raw control characters, escapes
// \" \\ \/ \b \f \n \r \t and \uXXXX (a high surrogate escape followed by a
// low one, never alone), numbers per the RFC grammar, any nesting depth. A
// leading UTF-8 byte order mark is skipped, as nlohmann's parser does.
bool json_valid(std::string_view text) noexcept;

}  // namespace emp::telemetry::encode
