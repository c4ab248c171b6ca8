#include "trace/span_handler.hpp"

#include <cstring>

#include "emp/telemetry/trace.hpp"

namespace emp::telemetry::trace {

namespace otlp = encode::otlp;
using Clock = std::chrono::steady_clock;

namespace {

class Reader {
 public:
  Reader(const std::uint8_t* p, std::size_t n) : p_(p), end_(p + n) {}
  template <typename T>
  bool get(T& v) {
    if (static_cast<std::size_t>(end_ - p_) < sizeof(T)) return false;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }
  bool bytes(std::size_t n, std::string_view& out) {
    if (static_cast<std::size_t>(end_ - p_) < n) return false;
    out = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }
  bool blob(std::string_view& out) {
    std::uint32_t n;
    return get(n) && bytes(n, out);
  }
  bool done() const { return p_ == end_; }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

// Sets `v` in place, keeping the capacity of its strings: the handler
// decodes every span into storage reused from earlier batches, so a steady
// stream of spans allocates nothing here.
void set_string(otlp::AnyValue& v, std::string_view s) {
  v.type = otlp::AnyValue::Type::kString;
  v.str.assign(s);
  v.array.clear();
  v.kvlist.clear();
}
void set_scalar(otlp::AnyValue& v, otlp::AnyValue::Type type) {
  v.type = type;
  v.array.clear();
  v.kvlist.clear();
}

// One of 64 bits for a key, from its length, first and last byte: keys with
// different bits differ, so only a key whose bit was seen can be a repeat.
std::uint64_t key_bit(std::string_view key) {
  if (key.empty()) return 1;
  const unsigned h = static_cast<unsigned>(key.size() * 7) +
                     static_cast<unsigned char>(key.front()) * 3u +
                     static_cast<unsigned char>(key.back());
  return std::uint64_t{1} << (h & 63);
}

// Decodes `count` attributes into `out`, reusing the KeyValues already there
// (their strings keep their capacity); what is left over is erased.
bool decode_attributes(std::string_view blob, std::uint32_t count, std::vector<otlp::KeyValue>& out,
                       std::uint32_t& dropped_duplicates) {
  using T = AttributeValue::Type;
  Reader r(reinterpret_cast<const std::uint8_t*>(blob.data()), blob.size());
  out.reserve(count);
  std::size_t used = 0;
  // The key_bit()s of the keys so far: the usual span (no key set twice) is
  // decoded without comparing every key with all before it.
  std::uint64_t seen = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint8_t type;
    std::uint16_t kl;
    std::string_view key;
    if (!r.get(type) || !r.get(kl) || !r.bytes(kl, key)) return false;
    // Setting a key again replaces its value (OpenTelemetry attribute rules).
    otlp::KeyValue* kv = nullptr;
    const std::uint64_t bit = key_bit(key);
    if ((seen & bit) != 0) {
      for (std::size_t k = 0; k < used; ++k) {
        if (out[k].key == key) {
          kv = &out[k];
          ++dropped_duplicates;
          break;
        }
      }
    }
    seen |= bit;
    if (kv == nullptr) {
      kv = used < out.size() ? &out[used] : &out.emplace_back();
      kv->key.assign(key);
      ++used;
    }
    otlp::AnyValue& v = kv->value;
    switch (static_cast<T>(type)) {
      case T::kString: {
        std::string_view s;
        if (!r.blob(s)) return false;
        set_string(v, s);
        break;
      }
      case T::kBool: {
        std::uint8_t b;
        if (!r.get(b)) return false;
        set_scalar(v, otlp::AnyValue::Type::kBool);
        v.bool_value = b != 0;
        break;
      }
      case T::kInt: {
        std::int64_t x;
        if (!r.get(x)) return false;
        set_scalar(v, otlp::AnyValue::Type::kInt);
        v.int_value = x;
        break;
      }
      case T::kDouble: {
        double x;
        if (!r.get(x)) return false;
        set_scalar(v, otlp::AnyValue::Type::kDouble);
        v.double_value = x;
        break;
      }
      case T::kStringArray:
      case T::kBoolArray:
      case T::kIntArray:
      case T::kDoubleArray: {
        std::uint32_t n;
        if (!r.get(n)) return false;
        std::vector<otlp::AnyValue> items;
        items.reserve(std::min<std::uint32_t>(n, 4096));
        for (std::uint32_t k = 0; k < n; ++k) {
          if (static_cast<T>(type) == T::kStringArray) {
            std::string_view s;
            if (!r.blob(s)) return false;
            items.push_back(otlp::AnyValue::string(s));
          } else if (static_cast<T>(type) == T::kBoolArray) {
            std::uint8_t b;
            if (!r.get(b)) return false;
            items.push_back(otlp::AnyValue::boolean(b != 0));
          } else if (static_cast<T>(type) == T::kIntArray) {
            std::int64_t x;
            if (!r.get(x)) return false;
            items.push_back(otlp::AnyValue::integer(x));
          } else {
            double x;
            if (!r.get(x)) return false;
            items.push_back(otlp::AnyValue::floating(x));
          }
        }
        v = otlp::AnyValue::array_of(std::move(items));
        break;
      }
      default:
        return false;
    }
  }
  out.erase(out.begin() + static_cast<std::ptrdiff_t>(used), out.end());
  return r.done();
}

void copy_id(std::array<std::uint8_t, 16>& to, const std::uint8_t* from) {
  std::memcpy(to.data(), from, 16);
}
void copy_id(std::array<std::uint8_t, 8>& to, const std::uint8_t* from) {
  std::memcpy(to.data(), from, 8);
}

}  // namespace

bool decode_span(const std::uint8_t* p, std::size_t n, otlp::SpanData& s) {
  if (n < 76) return false;
  copy_id(s.trace_id, p);
  copy_id(s.span_id, p + 16);
  copy_id(s.parent_span_id, p + 24);
  const std::uint8_t link_flags = p[32];
  s.has_parent = (link_flags & 1) != 0;
  s.flags = p[33] | otlp::kSpanFlagsContextHasIsRemote |
            ((link_flags & 2) ? otlp::kSpanFlagsContextIsRemote : 0);
  s.kind = static_cast<otlp::SpanKind>(p[34]);
  s.status.code = static_cast<otlp::StatusCode>(p[35]);
  std::int64_t start, end;
  std::memcpy(&start, p + 36, 8);
  std::memcpy(&end, p + 44, 8);
  s.start_time_unix_nano = static_cast<std::uint64_t>(start);
  s.end_time_unix_nano = static_cast<std::uint64_t>(end < start ? start : end);
  std::uint32_t u[6];
  std::memcpy(u, p + 52, sizeof u);
  s.dropped_attributes_count = u[0];
  s.dropped_events_count = u[1];
  s.dropped_links_count = u[2];
  Reader r(p + 76, n - 76);
  std::string_view name, msg, ts, attrs, events, links;
  if (!r.blob(name) || !r.blob(msg) || !r.blob(ts) || !r.blob(attrs) || !r.blob(events) ||
      !r.blob(links) || !r.done())
    return false;
  s.name.assign(name);
  s.status.message.assign(msg);
  s.trace_state.assign(ts);
  std::uint32_t dup = 0;
  if (!decode_attributes(attrs, u[3], s.attributes, dup)) return false;
  s.events.clear();
  Reader er(reinterpret_cast<const std::uint8_t*>(events.data()), events.size());
  for (std::uint32_t i = 0; i < u[4]; ++i) {
    otlp::SpanEvent e;
    std::int64_t t;
    std::string_view en, blob;
    std::uint32_t count, dropped;
    if (!er.get(t) || !er.blob(en) || !er.get(count) || !er.get(dropped) || !er.blob(blob))
      return false;
    e.time_unix_nano = static_cast<std::uint64_t>(t);
    e.name.assign(en);
    std::uint32_t edup = 0;
    if (!decode_attributes(blob, count, e.attributes, edup)) return false;
    e.dropped_attributes_count = dropped;
    s.events.push_back(std::move(e));
  }
  s.links.clear();
  Reader lr(reinterpret_cast<const std::uint8_t*>(links.data()), links.size());
  for (std::uint32_t i = 0; i < u[5]; ++i) {
    otlp::SpanLink l;
    std::string_view ids, lts, blob;
    std::uint8_t flags, remote;
    std::uint32_t count, dropped;
    if (!lr.bytes(24, ids) || !lr.get(flags) || !lr.get(remote) || !lr.blob(lts) ||
        !lr.get(count) || !lr.get(dropped) || !lr.blob(blob))
      return false;
    copy_id(l.trace_id, reinterpret_cast<const std::uint8_t*>(ids.data()));
    copy_id(l.span_id, reinterpret_cast<const std::uint8_t*>(ids.data()) + 16);
    l.flags =
        flags | otlp::kSpanFlagsContextHasIsRemote | (remote ? otlp::kSpanFlagsContextIsRemote : 0);
    l.trace_state.assign(lts);
    std::uint32_t ldup = 0;
    if (!decode_attributes(blob, count, l.attributes, ldup)) return false;
    l.dropped_attributes_count = dropped;
    s.links.push_back(std::move(l));
  }
  return true;
}

SpanHandler::SpanHandler(const BatchSettings& batch, const otlp::Resource& resource,
                         const otlp::Scope& scope, std::unique_ptr<deliver::DeliveryWorker> sink,
                         core::Accounting& accounting)
    : batch_settings_(batch),
      proto_prelude_(resource, scope),
      json_prelude_(resource, scope),
      sink_(std::move(sink)),
      accounting_(accounting),
      queue_limit_(batch.max_queue_size) {
  batch_.reserve(batch_settings_.max_export_batch_size);
}

void SpanHandler::on_record(const std::uint8_t* payload, std::size_t size) noexcept {
  try {
    if (!queue_limit_.admit_or_drop(count_, *sink_)) return;
    if (count_ == 0) batch_started_ = Clock::now();
    if (count_ == batch_.size()) batch_.emplace_back();
    otlp::SpanData& span = batch_[count_];
    if (!decode_span(payload, size, span)) {
      accounting_.dropped(Track::kTraces, DropReason::kRejected, 1);
      accounting_.diagnostics().report("span_decode", "internal error: malformed span dropped");
      return;
    }
    ++count_;
    if (tx_) tx_->add(span);
    if (count_ >= batch_settings_.max_export_batch_size) export_batch();
  } catch (...) {
    accounting_.dropped(Track::kTraces, DropReason::kMemoryCap, 1);
  }
}

void SpanHandler::export_batch() noexcept {
  if (count_ == 0) return;
  const std::size_t n = count_;
  const std::span<const otlp::SpanData> spans(batch_.data(), n);
  try {
    deliver::Payload p;
    p.signal = deliver::Signal::kTraces;
    p.items = n;
    p.content_type = sink_->content_type();
    p.bytes = sink_->take_buffer();
    p.bytes.reserve(n * 256);
    otlp::EncodeStats stats;
    if (p.content_type == deliver::ContentType::kJson) {
      otlp::encode_traces_request_json(json_prelude_, spans, p.bytes, &stats);
    } else {
      otlp::encode_traces_request(proto_prelude_, spans, p.bytes, &stats);
    }
    if (stats.invalid_utf8_strings)
      accounting_.invalid_utf8(Track::kTraces, stats.invalid_utf8_strings);
    count_ = 0;
    queue_limit_.submitted(n);
    sink_->submit(std::move(p));
  } catch (...) {
    count_ = 0;
    accounting_.dropped(Track::kTraces, DropReason::kMemoryCap, n);
  }
}

void SpanHandler::on_tick(Clock::time_point now) noexcept {
  if (count_ > 0 && now - batch_started_ >= batch_settings_.schedule_delay) export_batch();
}

bool SpanHandler::flush(Clock::time_point deadline) noexcept {
  export_batch();
  const bool ok = sink_->wait_idle(deadline);
  return (!tx_ || tx_->sink().wait_idle(deadline)) && ok;
}

void SpanHandler::close(Clock::time_point deadline) noexcept {
  export_batch();
  sink_->shutdown(deadline);
  if (tx_) tx_->sink().shutdown(deadline);
}

}  // namespace emp::telemetry::trace
