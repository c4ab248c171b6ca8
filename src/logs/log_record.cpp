#include "logs/log_record.hpp"

#include <algorithm>
#include <cstring>
#include <exception>

#include <fmt/args.h>
#include <fmt/format.h>

namespace emp::telemetry::logs {

namespace {

class Reader {
 public:
  Reader(const std::uint8_t* p, std::size_t n) : p_(p), end_(p + n) {}
  bool take(std::size_t n, const std::uint8_t*& out) {
    if (static_cast<std::size_t>(end_ - p_) < n) return false;
    out = p_;
    p_ += n;
    return true;
  }
  template <typename T>
  bool get(T& v) {
    const std::uint8_t* q;
    if (!take(sizeof(T), q)) return false;
    std::memcpy(&v, q, sizeof(T));
    return true;
  }
  bool str32(std::string_view& s) {
    std::uint32_t n;
    const std::uint8_t* q;
    if (!get(n) || !take(n, q)) return false;
    s = std::string_view(reinterpret_cast<const char*>(q), n);
    return true;
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

}  // namespace

bool decode_log(const std::uint8_t* p, std::size_t n, DecodedLog& out) noexcept {
  Reader r(p, n);
  std::uint8_t level, flags;
  std::uint16_t count;
  if (!r.get(level) || !r.get(flags) || !r.get(count) || !r.get(out.time_unix_nano)) return false;
  if (level > static_cast<std::uint8_t>(Level::kCritical)) return false;
  out.level = static_cast<Level>(level);
  out.flags = flags;
  out.trace_id = out.span_id = nullptr;
  out.file = {};
  out.format_args = 0;
  // Arguments cut by the oversize path (kFieldsDropped) leave fewer fields
  // than arguments; apply_format reports that in the line.
  if ((flags & kFormat) && !r.get(out.format_args)) return false;
  if (flags & kHasTrace) {
    const std::uint8_t* ids;
    if (!r.take(24, ids)) return false;
    out.trace_id = ids;
    out.span_id = ids + 16;
  }
  if ((flags & kHasFile) && !r.str32(out.file)) return false;
  if (!r.str32(out.message)) return false;
  out.fields.clear();
  for (std::uint16_t i = 0; i < count; ++i) {
    std::uint8_t type;
    std::uint16_t kl;
    const std::uint8_t* key;
    if (!r.get(type) || !r.get(kl) || !r.take(kl, key)) return false;
    Field f;
    f.key = std::string_view(reinterpret_cast<const char*>(key), kl);
    switch (static_cast<FieldValue::Type>(type)) {
      case FieldValue::Type::kString: {
        std::string_view s;
        if (!r.str32(s)) return false;
        f.value = FieldValue(s);
        break;
      }
      case FieldValue::Type::kInt: {
        std::int64_t v;
        if (!r.get(v)) return false;
        f.value = FieldValue(v);
        break;
      }
      case FieldValue::Type::kDouble: {
        double v;
        if (!r.get(v)) return false;
        f.value = FieldValue(v);
        break;
      }
      case FieldValue::Type::kBool: {
        std::uint8_t v;
        if (!r.get(v)) return false;
        f.value = FieldValue(v != 0);
        break;
      }
      case FieldValue::Type::kNull: f.value = FieldValue(nullptr); break;
      default: return false;
    }
    try {
      out.fields.push_back(f);
    } catch (...) {
      return false;
    }
  }
  out.fields_dropped = 0;
  if ((flags & kFieldsDropped) && !r.get(out.fields_dropped)) return false;
  return true;
}

bool apply_format(DecodedLog& record, std::string& storage) noexcept {
  if (!(record.flags & kFormat)) return true;
  const std::size_t nargs = std::min<std::size_t>(record.format_args, record.fields.size());
  try {
    std::string error;
    if (nargs == record.format_args) {
      try {
        fmt::dynamic_format_arg_store<fmt::format_context> store;
        store.reserve(nargs, 0);
        for (std::size_t i = 0; i < nargs; ++i) {
          const FieldValue& v = record.fields[i].value;
          switch (v.type()) {
            case FieldValue::Type::kString: {
              const std::string_view s = v.as_string();
              store.push_back(fmt::string_view(s.data(), s.size()));
              break;
            }
            case FieldValue::Type::kInt: store.push_back(v.as_int()); break;
            case FieldValue::Type::kDouble: store.push_back(v.as_double()); break;
            case FieldValue::Type::kBool: store.push_back(v.as_bool()); break;
            case FieldValue::Type::kNull: store.push_back(fmt::string_view("null")); break;
          }
        }
        storage.clear();
        fmt::vformat_to(std::back_inserter(storage),
                        fmt::string_view(record.message.data(), record.message.size()), store);
      } catch (const fmt::format_error& e) {
        error = e.what();
      }
    } else {
      error = "arguments were cut: the record was over the size limit";
    }
    if (error.empty()) {
      record.message = storage;
      record.fields.erase(record.fields.begin(),
                          record.fields.begin() + static_cast<std::ptrdiff_t>(nargs));
    } else {
      static constexpr std::string_view kNames[] = {"arg0", "arg1", "arg2", "arg3",
                                                    "arg4", "arg5", "arg6", "arg7"};
      for (std::size_t i = 0; i < nargs; ++i)
        record.fields[i].key = i < std::size(kNames) ? kNames[i] : std::string_view("arg");
      storage = std::move(error);
      record.fields.push_back({"format_error", FieldValue(std::string_view(storage))});
    }
    record.flags = static_cast<std::uint8_t>(record.flags & ~kFormat);
    record.format_args = 0;
    return true;
  } catch (...) {
    return false;
  }
}

std::string truncate_with_marker(std::string_view s, std::size_t limit) {
  // "…" is 3 bytes; the count has at most 20 digits.
  constexpr std::size_t kMarkerMax = 3 + 12 + 20 + 7;
  std::size_t keep = limit > kMarkerMax ? limit - kMarkerMax : 0;
  if (keep > s.size()) keep = s.size();
  while (keep > 0 && keep < s.size() && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  std::string out(s.substr(0, keep));
  out += "\xE2\x80\xA6[truncated ";
  out += std::to_string(s.size() - keep);
  out += " bytes]";
  return out;
}

}  // namespace emp::telemetry::logs
