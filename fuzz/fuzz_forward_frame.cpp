// libFuzzer target: the forward server's frame decoder (every mode, gzip,
// option maps) on arbitrary bytes, with the server's limits, and the viewer's
// turning of each decoded record into a row (`serve --forward-port`).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "forward/forward_protocol.hpp"
#include "viewer/ingest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace emp::telemetry;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  forward::DecodeLimits limits;
  limits.max_decompressed = 1u << 20;
  forward::FrameInfo info;
  std::string error;
  std::size_t events = 0;
  forward::decode_frame(
      in, limits,
      [&](const forward::Event& ev) {
        if (ev.record.size() > size) __builtin_trap();
        ++events;
        viewer::Batch batch;
        std::string why;
        if (viewer::add_forward_record(ev.tag, ev.time_unix_nano, ev.record, batch, why) &&
            batch.logs.size() != 1) {
          __builtin_trap();
        }
      },
      info, error);
  if (info.events != events) __builtin_trap();
  return 0;
}
