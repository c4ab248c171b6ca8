// gzip (RFC 1952) compression for request bodies sent with
// Content-Encoding: gzip, and bounded decompression for tests and the
// loopback collector. Thin wrappers over zlib (deflateInit2/inflateInit2 with
// 16 + MAX_WBITS, which selects the gzip wrapper).
// Thread-safe: every call uses its own zlib stream.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace emp::telemetry::encode {

// Replaces `out` with the gzip member holding `in`. `level` is zlib's: 0 (store)
// to 9 (smallest), or -1 for zlib's default. Returns false (out cleared) on a
// level outside that range or a zlib failure (out of memory).
bool gzip_compress(std::string_view in, std::string& out, int level = 6) noexcept;

// Replaces `out` with the decompressed content of the single gzip member in
// `in`. Returns false (out cleared, `error` set when given) when the input is
// not gzip, is corrupt or truncated (CRC and length are checked), has bytes
// after the member, or would decompress to more than `max_out` bytes; the
// limit is enforced while inflating, so a compression bomb costs at most
// `max_out` bytes of memory.
bool gzip_decompress(std::string_view in, std::string& out, std::size_t max_out,
                     std::string* error = nullptr) noexcept;

}  // namespace emp::telemetry::encode
