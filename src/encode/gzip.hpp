// gzip (RFC 1952) compression for request bodies sent with
// Content-Encoding: gzip, and bounded decompression for tests, the forward
// server and the loopback collector. Compression is libdeflate's whole-buffer
// gzip compressor (2-3x zlib's speed at a better ratio on OTLP bodies, see
// BENCHMARKS.md "Compression"); decompression is zlib's streaming inflate, so
// the output limit holds while inflating.
// Thread-safe: each thread keeps its own compressor; decompression uses a
// zlib stream per call.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace emp::telemetry::encode {

// Compression levels, libdeflate's scale: 0 stores, 1 is fastest, 1..9 are
// close to zlib's levels of the same number in size, 10..12 are slow and
// smallest. EMP_COMPRESSION_LEVEL is validated against this range.
inline constexpr int kGzipMinLevel = 0;
inline constexpr int kGzipMaxLevel = 12;
// Chosen by measurement on OTLP batches (BENCHMARKS.md "Compression"): level 1
// is the fastest and still smaller than zlib's level 1.
inline constexpr int kGzipDefaultLevel = 1;

// Replaces `out` with the gzip member holding `in`. Returns false (out
// cleared) on a level outside [kGzipMinLevel, kGzipMaxLevel] or when memory
// runs out. The calling thread's compressor is kept for its next call at the
// same level (one per thread, replaced when the level changes), so steady
// export compresses without allocating beyond `out`.
bool gzip_compress(std::string_view in, std::string& out, int level = kGzipDefaultLevel) noexcept;

// Replaces `out` with the decompressed content of the single gzip member in
// `in`. Returns false (out cleared, `error` set when given) when the input is
// not gzip, is corrupt or truncated (CRC and length are checked), has bytes
// after the member, or would decompress to more than `max_out` bytes; the
// limit is enforced while inflating, so a compression bomb costs at most
// `max_out` bytes of memory.
bool gzip_decompress(std::string_view in, std::string& out, std::size_t max_out,
                     std::string* error = nullptr) noexcept;

}  // namespace emp::telemetry::encode
