// Fuzzes the tracestate parser and TraceState mutation with arbitrary bytes.
// Properties: nothing crashes; at most 32 members survive, each with a valid
// key and value and no repeated key; the header form parses back to the same
// list with nothing dropped.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "emp/telemetry/propagation.hpp"

using namespace emp::telemetry;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_state(const TraceState& s) {
  check(s.size() <= TraceState::kMaxMembers);
  std::set<std::string> keys;
  for (const auto& m : s.members()) {
    check(TraceState::is_valid_key(m.key));
    check(TraceState::is_valid_value(m.value));
    check(keys.insert(m.key).second);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  const TracestateParseResult r = parse_tracestate(input);
  check_state(r.state);
  const std::string header = r.state.to_header();
  const TracestateParseResult again = parse_tracestate(header);
  check(again.dropped() == 0);
  check(again.state == r.state);
  check(again.state.to_header() == header);

  // Use the input as key=value pairs for set(): a set either fails and
  // changes nothing, or puts the member first.
  TraceState s = r.state;
  std::size_t pos = 0;
  int steps = 0;
  while (pos < input.size() && steps++ < 64) {
    std::size_t end = input.find(';', pos);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view item = input.substr(pos, end - pos);
    pos = end + 1;
    const std::size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    const TraceState before = s;
    if (s.set(key, value)) {
      check(s.members().front().key == key && s.members().front().value == value);
    } else {
      check(s == before);
    }
    check_state(s);
    if (!key.empty() && key[0] == 'x') s.erase(key.substr(1));
  }
  check_state(s);
  check(parse_tracestate(s.to_header()).state == s);
  return 0;
}
