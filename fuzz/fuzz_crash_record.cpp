// Fuzzes the crash record parser: the file comes from disk after a crash and
// may be truncated, damaged or hostile. Parsing must never crash, hang or
// allocate without bound, and whatever it accepts must respect the caps and
// carry a CRC that matches the bytes.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <string_view>

#include "errors/crash_record.hpp"

using namespace emp::telemetry::errors;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_crash_record(bytes);
  if (!parsed) {
    if (parsed.errors().empty() || parsed.errors().front().message.empty()) abort();
    return 0;
  }
  const CrashRecord& r = parsed.value();
  if (r.frames.size() > kMaxCrashFrames || r.modules.size() > kMaxCrashModules) abort();
  for (const CrashModule& m : r.modules) {
    if (m.path.size() > kMaxCrashPath || m.build_id.size() > kMaxCrashBuildId) abort();
    if (m.image_size == 0) abort();
  }
  if (r.signal_name.empty()) abort();
  // Accepted means the last 12 bytes are the end section over the rest.
  if (size < 28) abort();
  uint32_t stored = 0;
  __builtin_memcpy(&stored, data + size - 4, 4);
  if (crc32_update(0, data, size - 12) != stored) abort();
  return 0;
}
