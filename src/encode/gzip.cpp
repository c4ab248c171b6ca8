// zlib-backed gzip: one-shot deflate into a deflateBound-sized buffer, and a
// chunked inflate that stops at the caller's output limit.
#include "encode/gzip.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>

namespace emp::telemetry::encode {
namespace {

constexpr int kGzipWindowBits = 16 + MAX_WBITS;
constexpr int kMemLevel = 8;
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

}  // namespace

bool gzip_compress(std::string_view in, std::string& out, int level) noexcept {
  out.clear();
  if (level < -1 || level > 9) return false;
  try {
    z_stream zs{};
    if (deflateInit2(&zs, level, Z_DEFLATED, kGzipWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
      return false;
    }
    // deflateBound covers the zlib wrapper; the gzip header and trailer are
    // larger by 12 bytes, and the chunked feed adds a few per chunk.
    const std::size_t bound =
        deflateBound(&zs, static_cast<uLong>(std::min<std::size_t>(in.size(), ULONG_MAX))) + 32 +
        (in.size() / kMaxChunk + 1) * 16;
    out.resize(bound);
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    std::size_t out_left = out.size();
    auto* next_in = reinterpret_cast<const Bytef*>(in.data());
    std::size_t in_left = in.size();
    int rc = Z_OK;
    while (rc == Z_OK) {
      const std::size_t in_chunk = std::min(in_left, kMaxChunk);
      const std::size_t out_chunk = std::min(out_left, kMaxChunk);
      zs.next_in = const_cast<Bytef*>(next_in);
      zs.avail_in = static_cast<uInt>(in_chunk);
      zs.avail_out = static_cast<uInt>(out_chunk);
      const int flush = (in_chunk == in_left) ? Z_FINISH : Z_NO_FLUSH;
      rc = deflate(&zs, flush);
      const std::size_t used_in = in_chunk - zs.avail_in;
      const std::size_t used_out = out_chunk - zs.avail_out;
      next_in += used_in;
      in_left -= used_in;
      out_left -= used_out;
      if (rc == Z_BUF_ERROR && out_left > 0) rc = Z_OK;  // more input to feed
      if (rc == Z_OK && out_left == 0) rc = Z_BUF_ERROR;
    }
    const std::size_t produced = out.size() - out_left;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
      out.clear();
      return false;
    }
    out.resize(produced);
    return true;
  } catch (...) {
    out.clear();
    return false;
  }
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
