// The log track: structured JSON lines written by a background thread.
//
//   t.log().info("job done", {{"job_id", id}, {"duration_ms", 812}});
//   t.log().info("job {} done in {} ms", id, 812);   // fmt syntax, checked at compile time
//
// A call below the configured level costs one branch. Otherwise the caller's
// thread copies the message and fields into its own bounded queue and returns;
// it never touches a file and never throws. Format arguments that are
// numbers, booleans or strings are copied as they are and formatted on the
// background thread; any other argument (a type with its own fmt formatter,
// a float, a pointer) is formatted on the caller's thread. Thread-safe.
#pragma once

#include <atomic>
#include <concepts>
#include <cstdint>
#include <exception>
#include <limits>
#include <version>
#if defined(__cpp_lib_source_location)
#include <source_location>
#endif
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <fmt/core.h>

#include "emp/telemetry/config.hpp"
#include "emp/telemetry/field.hpp"

namespace emp::telemetry {

namespace core {
struct LogFrontend;
}

namespace log_detail {

#if defined(__cpp_lib_source_location)
using SourceLocation = std::source_location;
#else
// Compilers whose standard library lacks std::source_location (clang 14 with
// libstdc++ 12) still have the builtins it is made of.
struct SourceLocation {
  static constexpr SourceLocation current(const char* file = __builtin_FILE(),
                                          unsigned line = __builtin_LINE(),
                                          const char* function = __builtin_FUNCTION()) noexcept {
    SourceLocation l;
    l.file_ = file;
    l.line_ = line;
    l.function_ = function;
    return l;
  }
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr unsigned line() const noexcept { return line_; }
  constexpr const char* function_name() const noexcept { return function_; }

 private:
  const char* file_ = "";
  unsigned line_ = 0;
  const char* function_ = "";
};
#endif

// A plain message and where it was written (used when
// EMP_LOG_SOURCE_LOCATION is on; capturing it costs nothing at run time).
struct Message {
  template <typename S>
    requires std::convertible_to<const S&, std::string_view>
  Message(const S& s,  // NOLINT
          SourceLocation where = SourceLocation::current()) noexcept
      : text(s), where(where) {}
  std::string_view text;
  SourceLocation where;
};

// A format string checked against its arguments at compile time, and where
// it was written. fmt::runtime(s) passes a string only known at run time; a
// mistake in one is reported in the line (format_error), not thrown.
template <typename... Args>
struct FormatString {
  template <typename S>
    requires std::convertible_to<const S&, std::string_view>
  consteval FormatString(const S& s,  // NOLINT
                         SourceLocation where = SourceLocation::current())
      : format(s), where(where) {}
  FormatString(decltype(fmt::runtime("")) s,  // NOLINT
               SourceLocation where = SourceLocation::current()) noexcept
      : format(s), where(where) {}
  fmt::format_string<Args...> format;
  SourceLocation where;
};

// Arguments copied as typed values and formatted on the background thread.
// float is not among them: widened to double it would print more digits.
template <typename T>
concept Deferrable =
    std::same_as<T, bool> || std::same_as<T, double> ||
    (std::integral<T> && !std::same_as<T, char> && !std::same_as<T, wchar_t> &&
     !std::same_as<T, char8_t> && !std::same_as<T, char16_t> && !std::same_as<T, char32_t>) ||
    std::same_as<T, std::string_view> || std::same_as<T, std::string> ||
    std::same_as<T, const char*> || std::same_as<T, char*> ||
    (std::is_array_v<T> && std::same_as<std::remove_cv_t<std::remove_extent_t<T>>, char>);

template <typename T>
constexpr bool fits_deferred(const T& v) noexcept {
  if constexpr (std::unsigned_integral<T> && !std::same_as<T, bool> &&
                sizeof(T) >= sizeof(std::int64_t))
    return v <= static_cast<T>(std::numeric_limits<std::int64_t>::max());
  else if constexpr (std::same_as<T, const char*> || std::same_as<T, char*>)
    return v != nullptr;  // fmt reports a null C string; the caller's thread does that
  else
    return true;
}

template <typename T>
FieldValue deferred_value(const T& v) noexcept {
  if constexpr (std::is_array_v<T>)
    return FieldValue(std::string_view(v));
  else
    return FieldValue(v);
}

// The format overloads take over only where the arguments are not the
// fields of the plain form (a vector of Field) or the exception overload's.
template <typename... Args>
concept FormatArgs =
    sizeof...(Args) > 0 &&
    !(sizeof...(Args) == 1 && (std::convertible_to<const Args&, FieldList> && ...)) &&
    !(std::derived_from<std::remove_cvref_t<std::tuple_element_t<0, std::tuple<Args...>>>,
                        std::exception>);

}  // namespace log_detail

class Logger {
 public:
  using Fields = FieldList;
  using Message = log_detail::Message;
  template <typename... Args>
  using FormatString = log_detail::FormatString<std::type_identity_t<Args>...>;

  bool enabled(Level level) const noexcept {
    return static_cast<int>(level) >= min_level_->load(std::memory_order_relaxed);
  }

  void trace(Message message, Fields fields = {}) noexcept { log(Level::kTrace, message, fields); }
  void debug(Message message, Fields fields = {}) noexcept { log(Level::kDebug, message, fields); }
  void info(Message message, Fields fields = {}) noexcept { log(Level::kInfo, message, fields); }
  void warn(Message message, Fields fields = {}) noexcept { log(Level::kWarn, message, fields); }
  void error(Message message, Fields fields = {}) noexcept { log(Level::kError, message, fields); }
  void critical(Message message, Fields fields = {}) noexcept {
    log(Level::kCritical, message, fields);
  }
  void log(Level level, Message message, Fields fields = {}) noexcept {
    if (enabled(level)) emit({}, level, message.text, fields, message.where);
  }

  // fmt-style: `info("job {} done in {} ms", id, ms)`. The message is the
  // formatted text; the arguments are not fields (use the form above for
  // fields you want to query).
  template <typename... Args>
    requires log_detail::FormatArgs<Args...>
  void trace(FormatString<Args...> format, Args&&... args) noexcept {
    log_format(Level::kTrace, format, args...);
  }
  template <typename... Args>
    requires log_detail::FormatArgs<Args...>
  void debug(FormatString<Args...> format, Args&&... args) noexcept {
    log_format(Level::kDebug, format, args...);
  }
  template <typename... Args>
    requires log_detail::FormatArgs<Args...>
  void info(FormatString<Args...> format, Args&&... args) noexcept {
    log_format(Level::kInfo, format, args...);
  }
  template <typename... Args>
    requires log_detail::FormatArgs<Args...>
  void warn(FormatString<Args...> format, Args&&... args) noexcept {
    log_format(Level::kWarn, format, args...);
  }
  template <typename... Args>
    requires log_detail::FormatArgs<Args...>
  void error(FormatString<Args...> format, Args&&... args) noexcept {
    log_format(Level::kError, format, args...);
  }
  template <typename... Args>
    requires log_detail::FormatArgs<Args...>
  void critical(FormatString<Args...> format, Args&&... args) noexcept {
    log_format(Level::kCritical, format, args...);
  }
  template <typename... Args>
    requires log_detail::FormatArgs<Args...>
  void log(Level level, FormatString<Args...> format, Args&&... args) noexcept {
    log_format(level, format, args...);
  }

  // With the exception that led here: the record also carries
  // `exception.type` (the demangled dynamic type) and `exception.message`
  // (what()), the OpenTelemetry semantic-convention names, in the JSON line
  // and as OTLP log attributes. An error line also becomes a breadcrumb of
  // the errors track, as every error line does.
  void error(Message message, const std::exception& e, Fields fields = {}) noexcept {
    if (enabled(Level::kError)) emit_exception(Level::kError, message, e, fields);
  }
  void critical(Message message, const std::exception& e, Fields fields = {}) noexcept {
    if (enabled(Level::kCritical)) emit_exception(Level::kCritical, message, e, fields);
  }
  void log(Level level, Message message, const std::exception& e, Fields fields = {}) noexcept {
    if (enabled(level)) emit_exception(level, message, e, fields);
  }

  // Writes to a named file instead of the default one. A relative `path` is
  // resolved under the log directory; it may not escape it ("..") — such a
  // record goes to the default file with a `file_rejected` field.
  void write_to_file(std::string_view path, Level level, Message message,
                     Fields fields = {}) noexcept {
    if (enabled(level)) emit(path, level, message.text, fields, message.where);
  }

  // Changes the minimum level at run time.
  void set_level(Level level) noexcept {
    min_level_->store(static_cast<int>(level), std::memory_order_relaxed);
  }

 private:
  friend class Client;
  friend Logger& default_log() noexcept;
  Logger(core::LogFrontend* front, std::atomic<int>* min_level) noexcept
      : front_(front), min_level_(min_level) {}

  template <typename Format, typename... Args>
  void log_format(Level level, const Format& format, const Args&... args) noexcept {
    if (!enabled(level)) return;
    const fmt::string_view view = format.format;
    const std::string_view text(view.data(), view.size());
    if constexpr ((log_detail::Deferrable<std::remove_cvref_t<Args>> && ...)) {
      if ((log_detail::fits_deferred(args) && ...)) {
        const Field values[] = {Field{{}, log_detail::deferred_value(args)}...};
        emit_deferred(level, text, values, sizeof...(Args), format.where);
        return;
      }
    }
    format_now(level, text, fmt::make_format_args(args...), format.where);
  }

  void emit(std::string_view file, Level level, std::string_view message, Fields fields,
            const log_detail::SourceLocation& where) noexcept;
  void emit_exception(Level level, const Message& message, const std::exception& e,
                      Fields fields) noexcept;
  void emit_deferred(Level level, std::string_view format, const Field* args, std::size_t count,
                     const log_detail::SourceLocation& where) noexcept;
  void format_now(Level level, std::string_view format, fmt::format_args args,
                  const log_detail::SourceLocation& where) noexcept;

  core::LogFrontend* front_;
  std::atomic<int>* min_level_;
};

// The process-wide default client's logger, for code that cannot be handed
// a Client. Before a default is set (Client::set_default in client.hpp) and
// after it is cleared, calls are counted (calls_without_default_client())
// and dropped; they never crash.
Logger& default_log() noexcept;
std::uint64_t calls_without_default_client() noexcept;

}  // namespace emp::telemetry
