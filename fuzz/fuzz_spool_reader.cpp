// Fuzzes the disk spool's recovery and replay: the input becomes one or two
// segment files (sealed or left open by a "crash") and optionally a cursor
// file in an empty directory; the spool is opened and drained. It must not
// crash or hang, every record it returns must be bytes that really are in
// the files at the place it names, with a matching crc32, in order, and the
// spool must still accept and return a new record afterwards.
//
// Input: byte 0 = mode bits (1: first file is .open, 2: second file is .open,
// 4: next 24 bytes are the cursor file, 8: split the rest into two files at
// the position given by the next 2 bytes, 16: a 4 KiB byte cap), then data.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "deliver/spool.hpp"

namespace {

namespace fs = std::filesystem;
using emp::telemetry::deliver::Payload;
using emp::telemetry::deliver::Spool;
using emp::telemetry::deliver::SpoolOptions;
using emp::telemetry::deliver::SpoolRecord;

// A plain buffer rather than a std::string: the exit handler that removes
// the directory runs after static destructors.
char g_root[] = "/tmp/emp_fuzz_spool_XXXXXX";

std::string root() {
  static const bool made = [] {
    if (::mkdtemp(g_root) == nullptr) abort();
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(g_root, ec);
    });
    return true;
  }();
  (void)made;
  return g_root;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::uint32_t get32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  ++data;
  --size;
  const std::string dir = root() + "/spool";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) abort();

  if ((mode & 4) && size >= 24) {
    write_file(dir + "/cursor", std::string(reinterpret_cast<const char*>(data), 24));
    data += 24;
    size -= 24;
  }
  std::size_t split = size;
  const bool two = (mode & 8) && size >= 2;
  if (two) {
    split =
        (static_cast<std::size_t>(data[0]) | (static_cast<std::size_t>(data[1]) << 8)) % (size - 1);
    data += 2;
    size -= 2;
  }
  const std::string first(reinterpret_cast<const char*>(data), split);
  const std::string second(reinterpret_cast<const char*>(data) + split, size - split);
  write_file(dir + ((mode & 1) ? "/0000000001.open" : "/0000000001.seg"), first);
  if (two) write_file(dir + ((mode & 2) ? "/0000000002.open" : "/0000000002.seg"), second);

  SpoolOptions options;
  options.sync = false;
  options.max_record_bytes = 1 << 16;
  options.max_quarantine_files = 2;
  options.max_bytes = (mode & 16) ? 4096 : (1 << 20);
  auto opened = Spool::open(dir, options);
  if (!opened) abort();  // a writable directory must always open
  Spool& spool = *opened.value();

  std::uint64_t last_segment = 0, last_offset = 0;
  bool any = false;
  // Every record takes at least a 24-byte header, so this bounds the loop.
  for (std::size_t n = 0;; ++n) {
    const SpoolRecord* r = spool.peek();
    if (r == nullptr) break;
    if (n > size / 24 + 1) abort();  // more records than the files can hold
    const std::string& bytes = r->payload.bytes;
    if (r->crc != static_cast<std::uint32_t>(
                      crc32_z(0, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()))) {
      abort();
    }
    const std::string* file =
        r->segment == 1 ? &first : (two && r->segment == 2 ? &second : nullptr);
    if (file == nullptr) abort();
    if (r->offset + 24 + bytes.size() > file->size()) abort();
    if (std::memcmp(file->data() + r->offset + 24, bytes.data(), bytes.size()) != 0) abort();
    if (get32(*file, r->offset + 8) != bytes.size() ||
        get32(*file, r->offset + 12) != r->payload.items ||
        get32(*file, r->offset + 16) != r->crc) {
      abort();
    }
    if (any &&
        (r->segment < last_segment || (r->segment == last_segment && r->offset <= last_offset))) {
      abort();  // out of order or repeated
    }
    any = true;
    last_segment = r->segment;
    last_offset = r->offset;
    if (!spool.pop()) abort();
  }
  if (!spool.empty()) abort();

  Payload after;
  after.bytes = "after";
  after.items = 1;
  if (!spool.append(after).stored) abort();
  const SpoolRecord* r = spool.peek();
  if (r == nullptr || r->payload.bytes != "after" || !spool.pop()) abort();
  return 0;
}
