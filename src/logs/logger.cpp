// Logger::emit: the caller-side half of the log track. It measures the
// record, reserves space in the calling thread's ring and copies bytes; the
// rare oversize record takes a slow path that truncates values with a visible
// marker. Nothing here formats text or touches a file.
#include <atomic>
#include <cstring>
#include <exception>
#include <iterator>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/active_span.hpp"
#include "core/clock.hpp"
#include "core/ring.hpp"
#include "emp/telemetry/log.hpp"
#include "errors/stacktrace.hpp"
#include "logs/log_record.hpp"

#include <fmt/format.h>

namespace emp::telemetry {

namespace {

using core::LogFrontend;

inline std::size_t value_size(const FieldValue& v) noexcept {
  switch (v.type()) {
    case FieldValue::Type::kString:
      return 4 + v.as_string().size();
    case FieldValue::Type::kInt:
    case FieldValue::Type::kDouble:
      return 8;
    case FieldValue::Type::kBool:
      return 1;
    case FieldValue::Type::kNull:
      return 0;
  }
  return 0;
}

inline std::uint8_t* put_bytes(std::uint8_t* p, std::string_view s) noexcept {
  std::uint32_t n = static_cast<std::uint32_t>(s.size());
  std::memcpy(p, &n, 4);
  core::copy_into_record(p + 4, s.data(), n);
  return p + 4 + n;
}

// Encoded size of a field: a type byte, a 2-byte key length, the key, the value.
inline std::size_t field_size(const Field& fd) noexcept {
  return 3 + fd.key.size() + value_size(fd.value);
}

inline std::size_t fields_size(const Field* fields, std::size_t count) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < count; ++i) n += field_size(fields[i]);
  return n;
}

// Writes one record. `fields` must already respect every limit;
// `fields_bytes` is fields_size(fields, count), which the caller has.
void write_record(const LogFrontend& f, Track track, std::string_view file, Level level,
                  std::string_view message, const Field* fields, std::size_t count,
                  std::size_t fields_bytes, std::uint8_t extra_flags,
                  std::uint32_t fields_dropped, std::uint16_t format_args) noexcept {
  const core::ActiveSpanIds* span = core::t_active_span;
  std::uint8_t flags = extra_flags;
  std::size_t size = 12 + 4 + message.size() + fields_bytes;
  if (format_args) {
    flags |= logs::kFormat;
    size += 2;
  }
  if (span) {
    flags |= logs::kHasTrace;
    size += 24;
  }
  if (!file.empty()) {
    flags |= logs::kHasFile;
    size += 4 + file.size();
  }
  if (fields_dropped) {
    flags |= logs::kFieldsDropped;
    size += 4;
  }
  std::uint8_t* p = f.pipeline->begin(track, core::RecordKind::kLog, size);
  if (p == nullptr) return;  // counted by the pipeline
  p[0] = static_cast<std::uint8_t>(level);
  p[1] = flags;
  std::uint16_t n16 = static_cast<std::uint16_t>(count);
  std::memcpy(p + 2, &n16, 2);
  std::int64_t now = core::now_unix_nano();
  std::memcpy(p + 4, &now, 8);
  p += 12;
  if (format_args) {
    std::memcpy(p, &format_args, 2);
    p += 2;
  }
  if (span) {
    std::memcpy(p, span->trace_id, 16);
    std::memcpy(p + 16, span->span_id, 8);
    p += 24;
  }
  if (!file.empty()) p = put_bytes(p, file);
  p = put_bytes(p, message);
  for (std::size_t i = 0; i < count; ++i) {
    const Field& fd = fields[i];
    *p++ = static_cast<std::uint8_t>(fd.value.type());
    std::uint16_t kl = static_cast<std::uint16_t>(fd.key.size());
    std::memcpy(p, &kl, 2);
    core::copy_into_record(p + 2, fd.key.data(), kl);  // format arguments have no key
    p += 2 + kl;
    switch (fd.value.type()) {
      case FieldValue::Type::kString:
        p = put_bytes(p, fd.value.as_string());
        break;
      case FieldValue::Type::kInt: {
        std::int64_t v = fd.value.as_int();
        std::memcpy(p, &v, 8);
        p += 8;
        break;
      }
      case FieldValue::Type::kDouble: {
        double v = fd.value.as_double();
        std::memcpy(p, &v, 8);
        p += 8;
        break;
      }
      case FieldValue::Type::kBool:
        *p++ = fd.value.as_bool() ? 1 : 0;
        break;
      case FieldValue::Type::kNull:
        break;
    }
  }
  if (fields_dropped) std::memcpy(p, &fields_dropped, 4);
  f.pipeline->commit(track);
}

// Slow path: something is over a limit. Allocation is acceptable here.
void emit_oversize(const LogFrontend& f, Track track, std::string_view file, Level level,
                   std::string_view message, std::span<const Field> fields,
                   std::uint8_t flags, std::uint16_t format_args) noexcept {
  try {
    std::vector<std::string> storage;
    storage.reserve(fields.size() * 2 + 2);
    auto fit = [&](std::string_view s, std::size_t limit) -> std::string_view {
      if (s.size() <= limit) return s;
      flags |= logs::kTruncated;
      storage.push_back(logs::truncate_with_marker(s, limit));
      return storage.back();
    };
    std::string_view msg = fit(message, f.max_message_bytes);
    if (file.size() > 1024) file = file.substr(0, 1024);  // rejected later as a bad name
    std::vector<Field> out;
    out.reserve(fields.size());
    std::size_t budget = f.max_payload;
    std::size_t used = 12 + 2 + 24 + 4 + file.size() + 4 + msg.size() + 4;
    std::uint32_t dropped = 0;
    for (const Field& fd : fields) {
      Field g{fit(fd.key, f.max_key_bytes), fd.value};
      if (g.value.type() == FieldValue::Type::kString)
        g.value = FieldValue(fit(fd.value.as_string(), f.max_field_bytes));
      std::size_t need = 3 + g.key.size() + value_size(g.value);
      if (dropped || out.size() == 0xFFFF || used + need > budget) {
        ++dropped;
        continue;
      }
      used += need;
      out.push_back(g);
    }
    write_record(f, track, file, level, msg, out.data(), out.size(),
                 fields_size(out.data(), out.size()), flags, dropped, format_args);
  } catch (...) {
    // Out of memory on the slow path: the record is lost; nothing may escape.
  }
}

}  // namespace

namespace logs {

void emit(const LogFrontend& f, Track track, std::string_view file, Level level,
          std::string_view message, std::span<const Field> fields, std::uint8_t flags,
          std::uint16_t format_args) noexcept {
  bool oversize =
      message.size() > f.max_message_bytes || fields.size() > 0xFFFF || file.size() > 1024;
  // One pass: the limits and the encoded size of the fields.
  std::size_t fields_bytes = 0;
  for (const Field& fd : fields) {
    fields_bytes += field_size(fd);
    if (fd.key.size() > f.max_key_bytes) oversize = true;
    if (fd.value.type() == FieldValue::Type::kString &&
        fd.value.as_string().size() > f.max_field_bytes)
      oversize = true;
  }
  // 64: the fixed parts (header, trace ids, lengths) with room to spare.
  if (message.size() + fields_bytes + file.size() + 64 > f.max_payload) oversize = true;
  if (oversize) [[unlikely]] {
    emit_oversize(f, track, file, level, message, fields, flags, format_args);
    return;
  }
  write_record(f, track, file, level, message, fields.data(), fields.size(), fields_bytes, flags,
               0, format_args);
}

}  // namespace logs

namespace {

std::atomic<std::uint64_t> g_calls_without_client{0};

// default_log()'s logger before a default client is set has no frontend:
// each of its calls is counted here and goes no further.
bool without_client(const LogFrontend* front) noexcept {
  if (front != nullptr) return false;
  g_calls_without_client.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// The record's fields plus code.* fields when EMP_LOG_SOURCE_LOCATION is on
// (OpenTelemetry semantic conventions). Small lists stay on the stack.
template <typename Emit>
void with_location(const LogFrontend& f, FieldList fields, const log_detail::SourceLocation& where,
                   Emit&& emit) noexcept {
  if (!f.source_location) {
    emit(std::span<const Field>(fields.data(), fields.size()));
    return;
  }
  const Field loc[] = {
      {"code.file.path", FieldValue(where.file_name())},
      {"code.line.number", FieldValue(static_cast<std::int64_t>(where.line()))},
      {"code.function.name", FieldValue(where.function_name())},
  };
  constexpr std::size_t kStack = 16;
  if (fields.size() + std::size(loc) <= kStack) {
    Field all[kStack];
    std::size_t n = 0;
    for (const Field& fd : fields) all[n++] = fd;
    for (const Field& fd : loc) all[n++] = fd;
    emit(std::span<const Field>(all, n));
    return;
  }
  try {
    std::vector<Field> all(fields.begin(), fields.end());
    all.insert(all.end(), std::begin(loc), std::end(loc));
    emit(std::span<const Field>(all));
  } catch (...) {
    emit(std::span<const Field>(fields.data(), fields.size()));  // without the location
  }
}

}  // namespace

void Logger::emit(std::string_view file, Level level, std::string_view message, Fields fields,
                  const log_detail::SourceLocation& where) noexcept {
  if (without_client(front_)) return;
  with_location(*front_, fields, where, [&](std::span<const Field> all) {
    logs::emit(*front_, Track::kLogs, file, level, message, all, 0);
  });
}

void Logger::emit_deferred(Level level, std::string_view format, const Field* args,
                           std::size_t count, const log_detail::SourceLocation& where) noexcept {
  if (without_client(front_)) return;
  with_location(*front_, std::span<const Field>(args, count), where,
                [&](std::span<const Field> all) {
                  logs::emit(*front_, Track::kLogs, {}, level, format, all, 0,
                             static_cast<std::uint16_t>(count));
                });
}

void Logger::format_now(Level level, std::string_view format, fmt::format_args args,
                        const log_detail::SourceLocation& where) noexcept {
  if (without_client(front_)) return;
  // Most messages fit the buffer's inline storage: no allocation.
  fmt::memory_buffer buffer;
  std::string error;
  try {
    fmt::vformat_to(fmt::appender(buffer), fmt::string_view(format.data(), format.size()), args);
  } catch (const std::exception& e) {
    try {
      error = e.what();
    } catch (...) {
    }
  } catch (...) {
    error = "formatting failed";
  }
  if (error.empty()) {
    emit({}, level, std::string_view(buffer.data(), buffer.size()), {}, where);
    return;
  }
  // The format string as the message and the reason beside it; the
  // arguments could not be turned into text.
  const Field reason[] = {{"format_error", FieldValue(std::string_view(error))}};
  emit({}, level, format, reason, where);
}

void Logger::emit_exception(Level level, const Message& message, const std::exception& e,
                            Fields fields) noexcept {
  if (without_client(front_)) return;
  try {
    const std::string type = errors::demangle(typeid(e).name());
    std::vector<Field> all;
    all.reserve(fields.size() + 2);
    all.insert(all.end(), fields.begin(), fields.end());
    all.push_back({"exception.type", FieldValue(std::string_view(type))});
    all.push_back({"exception.message", FieldValue(std::string_view(e.what()))});
    emit({}, level, message.text, all, message.where);
  } catch (...) {
    // Out of memory: the line without the exception's fields.
    emit({}, level, message.text, fields, message.where);
  }
}

std::uint64_t calls_without_default_client() noexcept {
  return g_calls_without_client.load(std::memory_order_relaxed);
}

}  // namespace emp::telemetry
