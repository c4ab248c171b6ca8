// Typed key/value fields attached to log lines (and, later, events). A Field
// only *views* its key and string value: the telemetry call copies what it
// needs into its queue before returning, so temporaries are safe to pass.
//
//   t.log().info("job done", {{"job_id", id}, {"ms", 12}, {"ok", true}});
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>

namespace emp::telemetry {

class FieldValue {
 public:
  enum class Type : std::uint8_t { kNull = 0, kString = 1, kInt = 2, kDouble = 3, kBool = 4 };

  constexpr FieldValue() noexcept : type_(Type::kNull), i_(0) {}
  constexpr FieldValue(std::nullptr_t) noexcept : type_(Type::kNull), i_(0) {}  // NOLINT
  constexpr FieldValue(std::string_view s) noexcept  // NOLINT
      : type_(Type::kString), i_(0), s_(s) {}
  constexpr FieldValue(const char* s) noexcept  // NOLINT
      : type_(s ? Type::kString : Type::kNull), i_(0), s_(s ? std::string_view(s) : std::string_view()) {}
  FieldValue(const std::string& s) noexcept : type_(Type::kString), i_(0), s_(s) {}  // NOLINT
  template <typename B>
    requires std::same_as<B, bool>
  constexpr FieldValue(B b) noexcept : type_(Type::kBool), i_(b ? 1 : 0) {}  // NOLINT
  template <typename I>
    requires(std::integral<I> && !std::same_as<I, bool> && !std::same_as<I, char>)
  constexpr FieldValue(I v) noexcept  // NOLINT
      : type_(Type::kInt), i_(static_cast<std::int64_t>(v)) {}
  template <typename F>
    requires std::floating_point<F>
  constexpr FieldValue(F v) noexcept : type_(Type::kDouble), d_(static_cast<double>(v)) {}  // NOLINT

  constexpr Type type() const noexcept { return type_; }
  constexpr std::string_view as_string() const noexcept { return s_; }
  constexpr std::int64_t as_int() const noexcept { return i_; }
  constexpr double as_double() const noexcept { return d_; }
  constexpr bool as_bool() const noexcept { return i_ != 0; }

 private:
  Type type_;
  union {
    std::int64_t i_;
    double d_;
  };
  std::string_view s_;
};

struct Field {
  std::string_view key;
  FieldValue value;
};

}  // namespace emp::telemetry
