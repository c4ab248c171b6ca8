// gzip: libdeflate's one-shot compressor into a buffer of its worst-case
// bound, and zlib's chunked inflate that stops at the caller's output limit.
#include "encode/gzip.hpp"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>

namespace emp::telemetry::encode {
namespace {

constexpr int kGzipWindowBits = 16 + MAX_WBITS;
// zlib counts in uInt; feed larger buffers in pieces of this size.
constexpr std::size_t kMaxChunk = 1u << 30;

void set_error(std::string* error, const char* what, const z_stream& zs) {
  if (error == nullptr) return;
  *error = what;
  if (zs.msg != nullptr) {
    *error += ": ";
    *error += zs.msg;
  }
}

// A libdeflate compressor holds its hash tables (hundreds of KiB at the low
// levels): allocating one per request would cost more than compressing a
// typical batch, so each thread keeps the last one it used.
struct CachedCompressor {
  libdeflate_compressor* compressor = nullptr;
  int level = -1;

  void reset() noexcept {
    if (compressor != nullptr) libdeflate_free_compressor(compressor);
    compressor = nullptr;
    level = -1;
  }
  ~CachedCompressor() { reset(); }
};

thread_local CachedCompressor thread_compressor;

}  // namespace

bool gzip_compress(std::string_view in, std::string& out, int level) noexcept {
  out.clear();
  if (level < kGzipMinLevel || level > kGzipMaxLevel) return false;
  CachedCompressor& cached = thread_compressor;
  if (cached.compressor == nullptr || cached.level != level) {
    cached.reset();
    cached.compressor = libdeflate_alloc_compressor(level);
    if (cached.compressor == nullptr) return false;
    cached.level = level;
  }
  try {
    out.resize(libdeflate_gzip_compress_bound(cached.compressor, in.size()));
  } catch (...) {
    out.clear();
    return false;
  }
  // The bound is libdeflate's worst case for this compressor, so 0 (output
  // did not fit) cannot happen; it is still treated as a failure.
  const std::size_t produced =
      libdeflate_gzip_compress(cached.compressor, in.data(), in.size(), out.data(), out.size());
  if (produced == 0) {
    out.clear();
    return false;
  }
  out.resize(produced);
  return true;
}

bool gzip_decompress(std::string_view in, std::string& out, std::size_t max_out,
                     std::string* error) noexcept {
  out.clear();
  try {
    z_stream zs{};
    if (inflateInit2(&zs, kGzipWindowBits) != Z_OK) {
      set_error(error, "gzip: cannot initialise zlib", zs);
      return false;
    }
    auto* next_in = reinterpret_cast<const Bytef*>(in.data());
    std::size_t in_left = in.size();
    int rc = Z_OK;
    constexpr std::size_t kStep = 64 * 1024;
    while (true) {
      if (zs.avail_in == 0 && in_left > 0) {
        const std::size_t chunk = std::min(in_left, kMaxChunk);
        zs.next_in = const_cast<Bytef*>(next_in);
        zs.avail_in = static_cast<uInt>(chunk);
        next_in += chunk;
        in_left -= chunk;
      }
      const std::size_t have = out.size();
      // One byte past the limit tells "exactly max_out" from "more".
      const std::size_t room = std::min(kStep, max_out + 1 - std::min(have, max_out + 1));
      if (room == 0) {
        inflateEnd(&zs);
        out.clear();
        if (error) *error = "gzip: decompressed size exceeds " + std::to_string(max_out) + " bytes";
        return false;
      }
      out.resize(have + room);
      zs.next_out = reinterpret_cast<Bytef*>(out.data() + have);
      zs.avail_out = static_cast<uInt>(room);
      rc = inflate(&zs, Z_NO_FLUSH);
      out.resize(have + (room - zs.avail_out));
      if (rc == Z_STREAM_END) break;
      if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_left == 0) {
        set_error(error, "gzip: truncated input", zs);
        inflateEnd(&zs);
        out.clear();
        return false;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        set_error(error, rc == Z_DATA_ERROR ? "gzip: corrupt input" : "gzip: inflate failed", zs);
        inflateEnd(&zs);
        out.clear();
        return false;
      }
    }
    const bool trailing = zs.avail_in != 0 || in_left != 0;
    inflateEnd(&zs);
    if (out.size() > max_out) {
      out.clear();
      if (error) *error = "gzip: decompressed size exceeds " + std::to_string(max_out) + " bytes";
      return false;
    }
    if (trailing) {
      out.clear();
      if (error) *error = "gzip: unexpected bytes after the gzip member";
      return false;
    }
    return true;
  } catch (...) {
    out.clear();
    if (error) *error = "gzip: out of memory";
    return false;
  }
}

}  // namespace emp::telemetry::encode
