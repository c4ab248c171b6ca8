// Typed key/value fields attached to log lines, events and measurements. A Field
// only *views* its key and string value: the telemetry call copies what it
// needs into its queue before returning, so temporaries are safe to pass.
//
//   t.log().info("job done", {{"job_id", id}, {"ms", 12}, {"ok", true}});
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

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

// A view of fields given to a call: an inline braced list, or fields built
// at run time in a std::vector<Field>, an array or a std::span<const Field>.
// Never keep one built from a braced list: the list's array lives until the
// end of the full expression holding the call, which is as long as a
// telemetry call needs it (the call copies what it keeps).
class FieldList {
 public:
  constexpr FieldList() noexcept = default;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
  constexpr FieldList(std::initializer_list<Field> fields) noexcept  // NOLINT
      : data_(fields.begin()), size_(fields.size()) {}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  constexpr FieldList(std::span<const Field> fields) noexcept  // NOLINT
      : data_(fields.data()), size_(fields.size()) {}
  // Any contiguous range of Field: std::vector<Field>, std::array, Field[N].
  template <typename R>
    requires(!std::same_as<std::remove_cvref_t<R>, FieldList> &&
             std::convertible_to<const R&, std::span<const Field>>)
  constexpr FieldList(const R& fields) noexcept  // NOLINT
      : FieldList(std::span<const Field>(fields)) {}

  constexpr const Field* begin() const noexcept { return data_; }
  constexpr const Field* end() const noexcept { return data_ + size_; }
  constexpr const Field* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr const Field& operator[](std::size_t i) const noexcept { return data_[i]; }

 private:
  const Field* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace emp::telemetry
