#include "encode/json_validate.hpp"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "encode/proto_wire.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace emp::telemetry::encode {

namespace {

bool is_ws(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Validator {
 public:
  explicit Validator(std::string_view t) : t_(t) {}

  bool run() {
    if (t_.substr(0, 3) == "\xEF\xBB\xBF") i_ = 3;
    skip_ws();
    if (!value()) return false;
    skip_ws();
    return i_ == t_.size();
  }

 private:
  void skip_ws() noexcept {
    while (i_ < t_.size() && is_ws(t_[i_])) ++i_;
  }
  bool at(char c) const noexcept { return i_ < t_.size() && t_[i_] == c; }

  // Iterative over containers: `open_` holds one bit per open container
  // (true = object), so nesting depth costs no stack.
  bool value() {
    for (;;) {
      if (i_ >= t_.size()) return false;
      const char c = t_[i_];
      bool scalar_done = false;
      if (c == '{') {
        ++i_;
        skip_ws();
        if (at('}')) {
          ++i_;
          scalar_done = true;
        } else {
          open_.push_back(true);
          if (!member_key()) return false;
          continue;
        }
      } else if (c == '[') {
        ++i_;
        skip_ws();
        if (at(']')) {
          ++i_;
          scalar_done = true;
        } else {
          open_.push_back(false);
          continue;
        }
      } else if (c == '"') {
        if (!string()) return false;
        scalar_done = true;
      } else if (c == '-' || is_digit(c)) {
        if (!number()) return false;
        scalar_done = true;
      } else if (!literal("true") && !literal("false") && !literal("null")) {
        return false;
      } else {
        scalar_done = true;
      }
      (void)scalar_done;
      // A value ended: close containers or move to the next element.
      for (;;) {
        if (open_.empty()) return true;
        skip_ws();
        if (i_ >= t_.size()) return false;
        const bool object = open_.back();
        if (t_[i_] == ',') {
          ++i_;
          skip_ws();
          if (object && !member_key()) return false;
          break;  // the next value
        }
        if (t_[i_] == (object ? '}' : ']')) {
          ++i_;
          open_.pop_back();
          continue;
        }
        return false;
      }
    }
  }

  // "key" ws ':' ws, positioned at the member's value.
  bool member_key() {
    if (!at('"') || !string()) return false;
    skip_ws();
    if (!at(':')) return false;
    ++i_;
    skip_ws();
    return true;
  }

  bool literal(std::string_view word) noexcept {
    if (t_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  bool digits() noexcept {
    const std::size_t from = i_;
    while (i_ < t_.size() && is_digit(t_[i_])) ++i_;
    return i_ > from;
  }

  bool number() {
    const std::size_t from = i_;
    if (at('-')) ++i_;
    if (at('0')) {
      ++i_;
    } else if (!digits()) {
      return false;
    }
    const std::size_t int_digits = i_ - from;
    bool floating = false;
    if (at('.')) {
      ++i_;
      if (!digits()) return false;
      floating = true;
    }
    if (at('e') || at('E')) {
      ++i_;
      if (at('+') || at('-')) ++i_;
      if (!digits()) return false;
      floating = true;
    }
    // Like nlohmann's parser: a number read as a double (a fraction, an
    // exponent, or too long for a 64-bit integer) must not overflow it.
    if (floating || int_digits > 19) {
      const std::string token(t_.substr(from, i_ - from));
      if (std::isinf(std::strtod(token.c_str(), nullptr))) return false;
    }
    return true;
  }

  // \uXXXX at i_ (past the backslash and 'u'): the code unit, or -1.
  long hex4() noexcept {
    if (t_.size() - i_ < 4) return -1;
    long v = 0;
    for (int k = 0; k < 4; ++k) {
      const int h = hex_value(t_[i_ + static_cast<std::size_t>(k)]);
      if (h < 0) return -1;
      v = v * 16 + h;
    }
    i_ += 4;
    return v;
  }

  // Skips plain bytes (printable ASCII other than '"' and '\\'), sixteen
  // at a time: most of a payload is such bytes inside strings.
  void skip_plain() noexcept {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (t_.size() - i_ >= 16) {
      const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t_.data() + i_));
      // Signed, a byte of 0x80 and up is below 0x20 too: one compare finds
      // control characters and the start of every multi-byte sequence.
      const __m128i special = _mm_or_si128(
          _mm_cmplt_epi8(w, space),
          _mm_or_si128(_mm_cmpeq_epi8(w, quote), _mm_cmpeq_epi8(w, backslash)));
      const unsigned mask = static_cast<unsigned>(_mm_movemask_epi8(special));
      if (mask != 0) {
        i_ += static_cast<std::size_t>(__builtin_ctz(mask));
        return;
      }
      i_ += 16;
    }
#endif
  }

  bool string() noexcept {
    ++i_;  // the opening quote
    while (i_ < t_.size()) {
      skip_plain();
      if (i_ >= t_.size()) break;
      const unsigned char c = static_cast<unsigned char>(t_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= t_.size()) return false;
        const char e = t_[i_++];
        if (e == 'u') {
          const long u = hex4();
          if (u < 0) return false;
          if (u >= 0xDC00 && u <= 0xDFFF) return false;  // a low surrogate alone
          if (u >= 0xD800 && u <= 0xDBFF) {
            if (t_.substr(i_, 2) != "\\u") return false;
            i_ += 2;
            const long low = hex4();
            if (low < 0xDC00 || low > 0xDFFF) return false;
          }
        } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                   e != 'r' && e != 't') {
          return false;
        }
        continue;
      }
      if (c < 0x80) {
        ++i_;
        continue;
      }
      std::size_t bad = 0;
      const std::size_t n = wire::utf8_sequence_at(t_, i_, &bad);
      if (n == 0) return false;
      i_ += n;
    }
    return false;
  }

  std::string_view t_;
  std::size_t i_ = 0;
  std::vector<bool> open_;
};

}  // namespace

std::size_t json_string_end(std::string_view t, std::size_t i) noexcept {
  ++i;
  while (i < t.size()) {
    const void* q = std::memchr(t.data() + i, '"', t.size() - i);
    if (q == nullptr) return t.size();
    const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(q) - t.data());
    std::size_t slashes = 0;
    while (at - slashes > i && t[at - slashes - 1] == '\\') ++slashes;
    if (slashes % 2 == 0) return at + 1;
    i = at + 1;
  }
  return t.size();
}

bool json_valid(std::string_view text) noexcept {
  try {
    return Validator(text).run();
  } catch (...) {
    return false;  // no memory for the container stack
  }
}

}  // namespace emp::telemetry::encode
