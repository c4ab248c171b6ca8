// Logger::emit: the caller-side half of the log track. It measures the
// record, reserves space in the calling thread's ring and copies bytes; the
// rare oversize record takes a slow path that truncates values with a visible
// marker. Nothing here formats text or touches a file.
#include <cstring>
#include <string>
#include <typeinfo>
#include <vector>

#include "core/active_span.hpp"
#include "core/clock.hpp"
#include "emp/telemetry/log.hpp"
#include "errors/stacktrace.hpp"
#include "logs/log_record.hpp"

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
  if (n) std::memcpy(p + 4, s.data(), n);
  return p + 4 + n;
}

// Writes one record. `fields` must already respect every limit.
void write_record(const LogFrontend& f, Track track, std::string_view file, Level level,
                  std::string_view message, const Field* fields, std::size_t count,
                  std::uint8_t extra_flags, std::uint32_t fields_dropped) noexcept {
  const core::ActiveSpanIds* span = core::t_active_span;
  std::uint8_t flags = extra_flags;
  std::size_t size = 12 + 4 + message.size();
  if (span) {
    flags |= logs::kHasTrace;
    size += 24;
  }
  if (!file.empty()) {
    flags |= logs::kHasFile;
    size += 4 + file.size();
  }
  for (std::size_t i = 0; i < count; ++i)
    size += 3 + fields[i].key.size() + value_size(fields[i].value);
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
    std::memcpy(p + 2, fd.key.data(), kl);
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
                   std::uint8_t flags) noexcept {
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
    std::size_t used = 12 + 24 + 4 + file.size() + 4 + msg.size() + 4;
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
    write_record(f, track, file, level, msg, out.data(), out.size(), flags, dropped);
  } catch (...) {
    // Out of memory on the slow path: the record is lost; nothing may escape.
  }
}

}  // namespace

namespace logs {

void emit(const LogFrontend& f, Track track, std::string_view file, Level level,
          std::string_view message, std::span<const Field> fields, std::uint8_t flags) noexcept {
  bool oversize =
      message.size() > f.max_message_bytes || fields.size() > 0xFFFF || file.size() > 1024;
  std::size_t total = message.size();
  for (const Field& fd : fields) {
    total += fd.key.size() + 8;
    if (fd.key.size() > f.max_key_bytes) oversize = true;
    if (fd.value.type() == FieldValue::Type::kString) {
      std::size_t n = fd.value.as_string().size();
      total += n;
      if (n > f.max_field_bytes) oversize = true;
    }
  }
  if (total + file.size() + 64 > f.max_payload) oversize = true;
  if (oversize) [[unlikely]] {
    emit_oversize(f, track, file, level, message, fields, flags);
    return;
  }
  write_record(f, track, file, level, message, fields.data(), fields.size(), flags, 0);
}

}  // namespace logs

void Logger::emit(std::string_view file, Level level, std::string_view message,
                  Fields fields) noexcept {
  logs::emit(*front_, Track::kLogs, file, level, message,
             std::span<const Field>(fields.begin(), fields.size()), 0);
}

void Logger::emit_exception(Level level, std::string_view message, const std::exception& e,
                            Fields fields) noexcept {
  try {
    const std::string type = errors::demangle(typeid(e).name());
    std::vector<Field> all;
    all.reserve(fields.size() + 2);
    all.insert(all.end(), fields.begin(), fields.end());
    all.push_back({"exception.type", FieldValue(std::string_view(type))});
    all.push_back({"exception.message", FieldValue(std::string_view(e.what()))});
    logs::emit(*front_, Track::kLogs, {}, level, message, std::span<const Field>(all), 0);
  } catch (...) {
    // Out of memory: the line without the exception's fields.
    emit({}, level, message, fields);
  }
}

}  // namespace emp::telemetry
