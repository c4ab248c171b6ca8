// Rewrites JSON text for a span attribute without building a document: the
// processing instrumentation attaches excerpts of job payloads and HTTP
// bodies on the application's thread, once per request, with the values
// under secret-looking keys masked. One pass over the text, no parse tree.
#pragma once

#include <string>
#include <string_view>

namespace emp::telemetry::encode {

// Appends `valid` (text for which json_valid() holds) to `out` without the
// whitespace between tokens, members and elements in their original order
// and spelling, except that an object member whose key (unescaped) makes
// `secret_key` return true and whose value is a string, number, true,
// false or null gets `mask_json` (a JSON value) in place of that value.
// Objects and arrays under such a key are walked, not masked, so that their
// own secret members are masked and the rest stays readable. Parsing the
// result gives what parsing `valid` and masking those values would give.
void append_json_masked(std::string_view valid, bool (*secret_key)(std::string_view) noexcept,
                        std::string_view mask_json, std::string& out);

}  // namespace emp::telemetry::encode
