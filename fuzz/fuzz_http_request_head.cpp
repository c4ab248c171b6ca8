// Fuzzes the request-head parser of the Prometheus endpoint
// (src/metrics/http_request_head.hpp), which reads bytes any network peer
// can send. Invariants: no crash; a complete head lies within the input and
// kMaxHeadBytes, has a method and a path starting with '/'; an input of
// kMaxHeadBytes or more is never left incomplete (the server would buffer
// without bound); parsing a prefix of a complete head never completes
// differently.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "metrics/http_request_head.hpp"

using emp::telemetry::metrics::kMaxHeadBytes;
using emp::telemetry::metrics::parse_request_head;
using emp::telemetry::metrics::RequestHead;

namespace {
void check(bool condition) {
  if (!condition) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const RequestHead head = parse_request_head(in);
  if (size >= kMaxHeadBytes) check(head.state != RequestHead::State::kIncomplete);
  if (head.state == RequestHead::State::kComplete) {
    check(head.head_bytes <= size && head.head_bytes <= kMaxHeadBytes);
    check(!head.method.empty() && !head.path.empty() && head.path.front() == '/');
    // The same head followed by anything parses to the same request.
    const RequestHead again = parse_request_head(in.substr(0, head.head_bytes));
    check(again.state == RequestHead::State::kComplete && again.path == head.path &&
          again.method == head.method && again.head_bytes == head.head_bytes);
  }
  if (head.too_large) check(head.state == RequestHead::State::kBad);
  return 0;
}
