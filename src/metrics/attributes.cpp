#include "metrics/attributes.hpp"

#include <algorithm>

namespace emp::telemetry::metrics {

AttributeSet canonicalize(MetricAttributes attrs) {
  AttributeSet out;
  out.reserve(attrs.size());
  for (const Field& f : attrs) {
    const auto type = f.value.type();
    if (type == FieldValue::Type::kNull) continue;
    StoredAttribute a;
    a.key = std::string(f.key);
    a.type = type;
    a.scalar = scalar_of(f.value);
    if (type == FieldValue::Type::kString) a.str = std::string(f.value.as_string());
    out.push_back(std::move(a));
  }
  // Stable, so that among repeated keys the caller's last one comes last.
  std::stable_sort(out.begin(), out.end(), [](const StoredAttribute& x, const StoredAttribute& y) {
    return x.key < y.key;
  });
  std::size_t w = 0;
  for (std::size_t r = 0; r < out.size(); ++r) {
    if (r + 1 < out.size() && out[r + 1].key == out[r].key) continue;  // a later value wins
    if (w != r) out[w] = std::move(out[r]);
    ++w;
  }
  out.resize(w);
  return out;
}

std::vector<encode::otlp::KeyValue> to_key_values(const AttributeSet& set) {
  namespace otlp = encode::otlp;
  std::vector<otlp::KeyValue> out;
  out.reserve(set.size());
  for (const auto& a : set) {
    otlp::AnyValue v;
    switch (a.type) {
      case FieldValue::Type::kString:
        v = otlp::AnyValue::string(a.str);
        break;
      case FieldValue::Type::kBool:
        v = otlp::AnyValue::boolean(a.scalar != 0);
        break;
      case FieldValue::Type::kInt:
        v = otlp::AnyValue::integer(static_cast<std::int64_t>(a.scalar));
        break;
      case FieldValue::Type::kDouble: {
        double d;
        std::memcpy(&d, &a.scalar, 8);
        v = otlp::AnyValue::floating(d);
        break;
      }
      default:
        break;
    }
    out.emplace_back(a.key, std::move(v));
  }
  return out;
}

}  // namespace emp::telemetry::metrics
