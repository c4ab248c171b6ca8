// JSON text validation (RFC 8259) without building a document: job payloads
// are checked before the trace context is read from or written into them,
// on the application's thread, once per job step. The verdict is the same
// as nlohmann::json::accept() (fuzz_json_validate compares the two), at a
// fraction of its cost: one pass, no allocation but a bit per open
// container.
#pragma once

#include <cstddef>
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

// In text that json_valid() accepted, `text[i]` being the opening quote of
// a string: the index one past its closing quote. Jumps from quote to quote
// (memchr) and counts the backslashes before each: an odd run escapes it.
std::size_t json_string_end(std::string_view text, std::size_t i) noexcept;

}  // namespace emp::telemetry::encode
