// The log track: structured JSON lines written by a background thread.
//
//   t.log().info("job done", {{"job_id", id}, {"duration_ms", 812}});
//
// A call below the configured level costs one branch. Otherwise the caller's
// thread copies the message and fields into its own bounded queue and returns;
// it never formats, never touches a file and never throws. Thread-safe.
#pragma once

#include <atomic>
#include <exception>
#include <initializer_list>
#include <string_view>

#include "emp/telemetry/config.hpp"
#include "emp/telemetry/field.hpp"

namespace emp::telemetry {

namespace core {
struct LogFrontend;
}

class Logger {
 public:
  using Fields = std::initializer_list<Field>;

  bool enabled(Level level) const noexcept {
    return static_cast<int>(level) >= min_level_->load(std::memory_order_relaxed);
  }

  void debug(std::string_view message, Fields fields = {}) noexcept {
    if (enabled(Level::kDebug)) emit({}, Level::kDebug, message, fields);
  }
  void info(std::string_view message, Fields fields = {}) noexcept {
    if (enabled(Level::kInfo)) emit({}, Level::kInfo, message, fields);
  }
  void warn(std::string_view message, Fields fields = {}) noexcept {
    if (enabled(Level::kWarn)) emit({}, Level::kWarn, message, fields);
  }
  void error(std::string_view message, Fields fields = {}) noexcept {
    if (enabled(Level::kError)) emit({}, Level::kError, message, fields);
  }
  void log(Level level, std::string_view message, Fields fields = {}) noexcept {
    if (enabled(level)) emit({}, level, message, fields);
  }

  // With the exception that led here: the record also carries
  // `exception.type` (the demangled dynamic type) and `exception.message`
  // (what()), the OpenTelemetry semantic-convention names, in the JSON line
  // and as OTLP log attributes. An error line also becomes a breadcrumb of
  // the errors track, as every error line does.
  void error(std::string_view message, const std::exception& e, Fields fields = {}) noexcept {
    if (enabled(Level::kError)) emit_exception(Level::kError, message, e, fields);
  }
  void log(Level level, std::string_view message, const std::exception& e,
           Fields fields = {}) noexcept {
    if (enabled(level)) emit_exception(level, message, e, fields);
  }

  // Writes to a named file instead of the default one. A relative `path` is
  // resolved under the log directory; it may not escape it ("..") — such a
  // record goes to the default file with a `file_rejected` field.
  void write_to_file(std::string_view path, Level level, std::string_view message,
                     Fields fields = {}) noexcept {
    if (enabled(level)) emit(path, level, message, fields);
  }

  // Changes the minimum level at run time.
  void set_level(Level level) noexcept {
    min_level_->store(static_cast<int>(level), std::memory_order_relaxed);
  }

 private:
  friend class Client;
  Logger(core::LogFrontend* front, std::atomic<int>* min_level) noexcept
      : front_(front), min_level_(min_level) {}
  void emit(std::string_view file, Level level, std::string_view message, Fields fields) noexcept;
  void emit_exception(Level level, std::string_view message, const std::exception& e,
                      Fields fields) noexcept;

  core::LogFrontend* front_;
  std::atomic<int>* min_level_;
};

}  // namespace emp::telemetry
