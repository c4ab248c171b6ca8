#include "logs/otlp_log_batcher.hpp"

#include "core/clock.hpp"

namespace emp::telemetry::logs {

namespace otlp = encode::otlp;
using Clock = std::chrono::steady_clock;

int severity_number(Level level) noexcept {
  switch (level) {
    case Level::kTrace:
      return 1;
    case Level::kDebug:
      return 5;
    case Level::kInfo:
      return 9;
    case Level::kWarn:
      return 13;
    case Level::kError:
      return 17;
    case Level::kCritical:
      return 21;  // FATAL
  }
  return 0;
}

std::string_view severity_text(Level level) noexcept {
  switch (level) {
    case Level::kTrace:
      return "TRACE";
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kError:
      return "ERROR";
    case Level::kCritical:
      return "FATAL";
  }
  return "";
}

OtlpLogBatcher::OtlpLogBatcher(const BatchSettings& batch, const otlp::Resource& resource,
                               const otlp::Scope& scope,
                               std::unique_ptr<deliver::DeliveryWorker> sink)
    : settings_(batch),
      proto_prelude_(resource, scope),
      json_prelude_(resource, scope),
      sink_(std::move(sink)),
      queue_limit_(batch.max_queue_size) {
  batch_.reserve(settings_.max_export_batch_size);
}

void OtlpLogBatcher::add(const DecodedLog& r, std::string_view log_file_path) noexcept {
  const std::size_t before = batch_.size();
  try {
    if (!queue_limit_.admit_or_drop(batch_.size(), *sink_)) return;
    if (batch_.empty()) batch_started_ = Clock::now();
    otlp::LogData& d = batch_.emplace_back();
    d.time_unix_nano = static_cast<std::uint64_t>(r.time_unix_nano);
    d.observed_time_unix_nano = static_cast<std::uint64_t>(core::now_unix_nano());
    d.severity_number = severity_number(r.level);
    d.severity_text.assign(severity_text(r.level));
    d.body = otlp::AnyValue::string(r.message);
    const bool event = (r.flags & kEvent) != 0;
    d.attributes.reserve(r.fields.size() + 1 + (event ? event_attributes_.size() : 0));
    d.attributes.emplace_back("log.file.path", otlp::AnyValue::string(log_file_path));
    if (event) {
      d.event_name.assign(r.message);
      for (const auto& [k, v] : event_attributes_)
        if (!v.empty()) d.attributes.emplace_back(k, otlp::AnyValue::string(v));
    }
    for (const Field& f : r.fields) {
      otlp::AnyValue v;
      switch (f.value.type()) {
        case FieldValue::Type::kString:
          v = otlp::AnyValue::string(f.value.as_string());
          break;
        case FieldValue::Type::kInt:
          v = otlp::AnyValue::integer(f.value.as_int());
          break;
        case FieldValue::Type::kDouble:
          v = otlp::AnyValue::floating(f.value.as_double());
          break;
        case FieldValue::Type::kBool:
          v = otlp::AnyValue::boolean(f.value.as_bool());
          break;
        case FieldValue::Type::kNull:
          break;  // an empty AnyValue
      }
      d.attributes.emplace_back(std::string(f.key), std::move(v));
    }
    if (r.trace_id) {
      d.has_trace_id = true;
      std::copy(r.trace_id, r.trace_id + 16, d.trace_id.begin());
      d.has_span_id = true;
      std::copy(r.span_id, r.span_id + 8, d.span_id.begin());
      d.flags = 0x01;
    }
    if (batch_.size() >= settings_.max_export_batch_size) export_batch();
  } catch (...) {
    // Out of memory: this destination loses the record; the file still has it.
    if (batch_.size() > before) batch_.pop_back();  // a half-built record
    queue_limit_.drop(*sink_, DropReason::kMemoryCap, 1);
  }
}

void OtlpLogBatcher::export_batch() noexcept {
  if (batch_.empty()) return;
  try {
    deliver::Payload p;
    p.signal = deliver::Signal::kLogs;
    p.items = batch_.size();
    p.content_type = sink_->content_type();
    if (p.content_type == deliver::ContentType::kJson) {
      otlp::encode_logs_request_json(json_prelude_, batch_, p.bytes);
    } else {
      otlp::encode_logs_request(proto_prelude_, batch_, p.bytes);
    }
    const std::size_t n = batch_.size();
    batch_.clear();
    queue_limit_.submitted(n);
    sink_->submit(std::move(p));
  } catch (...) {
    queue_limit_.drop(*sink_, DropReason::kMemoryCap, batch_.size());
    batch_.clear();
  }
}

void OtlpLogBatcher::on_tick(Clock::time_point now) noexcept {
  if (!batch_.empty() && now - batch_started_ >= settings_.schedule_delay) export_batch();
}

bool OtlpLogBatcher::flush(Clock::time_point deadline) noexcept {
  export_batch();
  return sink_->wait_idle(deadline);
}

void OtlpLogBatcher::close(Clock::time_point deadline) noexcept {
  export_batch();
  sink_->shutdown(deadline);
}

}  // namespace emp::telemetry::logs
