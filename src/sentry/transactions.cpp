#include "sentry/transactions.hpp"

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "encode/json_lines.hpp"
#include "encode/otlp_decode.hpp"
#include "encode/sentry_envelope.hpp"
#include "trace/ids.hpp"

namespace emp::telemetry::sentry {

namespace otlp = encode::otlp;
using nlohmann::json;

namespace {

double seconds(std::uint64_t unix_nano) { return static_cast<double>(unix_nano) / 1e9; }

std::string hex(const std::uint8_t* p, std::size_t n) { return otlp::id_hex(p, n); }

// Sentry's span operation from the span's kind (its `op` groups spans in the
// performance views); the OTel name stays the description.
const char* op_of(const otlp::SpanData& s) {
  switch (s.kind) {
    case otlp::SpanKind::kServer:
      return "http.server";
    case otlp::SpanKind::kClient:
      return "http.client";
    case otlp::SpanKind::kProducer:
      return "queue.publish";
    case otlp::SpanKind::kConsumer:
      return "queue.process";
    default:
      return "function";
  }
}

const char* status_of(const otlp::SpanData& s) {
  return s.status.code == otlp::StatusCode::kError ? "internal_error" : "ok";
}

// Scalar attributes as Sentry span data; arrays and maps are left out.
json data_of(const otlp::SpanData& s) {
  json d = json::object();
  for (const auto& kv : s.attributes) {
    switch (kv.value.type) {
      case otlp::AnyValue::Type::kString:
        d[kv.key] = kv.value.str;
        break;
      case otlp::AnyValue::Type::kInt:
        d[kv.key] = kv.value.int_value;
        break;
      case otlp::AnyValue::Type::kDouble:
        d[kv.key] = kv.value.double_value;
        break;
      case otlp::AnyValue::Type::kBool:
        d[kv.key] = kv.value.bool_value;
        break;
      default:
        break;
    }
  }
  return d;
}

std::string rate_text(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", rate);
  return buf;
}

bool local_root(const otlp::SpanData& s) {
  return !s.has_parent || (s.flags & otlp::kSpanFlagsContextIsRemote) != 0;
}

}  // namespace

bool trace_sampled(const otlp::TraceId& id, double rate) noexcept {
  if (rate >= 1.0) return true;
  if (!(rate > 0.0)) return false;
  std::uint64_t low = 0;
  for (std::size_t i = 8; i < 16; ++i) low = (low << 8) | id[i];
  return static_cast<double>(low) < rate * 18446744073709551616.0;
}

std::string transaction_envelope(const otlp::SpanData& root,
                                 const std::vector<otlp::SpanData>& children,
                                 const TransactionSettings& settings) {
  const std::string trace_id = hex(root.trace_id.data(), root.trace_id.size());
  const std::string event_id = trace::new_trace_id().to_hex();
  json trace_ctx{
      {"trace_id", trace_id},     {"span_id", hex(root.span_id.data(), root.span_id.size())},
      {"op", op_of(root)},        {"status", status_of(root)},
      {"description", root.name}, {"data", data_of(root)}};
  if (root.has_parent) {
    trace_ctx["parent_span_id"] = hex(root.parent_span_id.data(), root.parent_span_id.size());
  }
  json spans = json::array();
  for (const auto& c : children) {
    json s{{"trace_id", trace_id},
           {"span_id", hex(c.span_id.data(), c.span_id.size())},
           {"op", op_of(c)},
           {"description", c.name},
           {"start_timestamp", seconds(c.start_time_unix_nano)},
           {"timestamp", seconds(c.end_time_unix_nano)},
           {"status", status_of(c)},
           {"data", data_of(c)}};
    if (c.has_parent) s["parent_span_id"] = hex(c.parent_span_id.data(), c.parent_span_id.size());
    spans.push_back(std::move(s));
  }
  json event{{"event_id", event_id},
             {"type", "transaction"},
             {"transaction", root.name},
             {"transaction_info", {{"source", "custom"}}},
             {"start_timestamp", seconds(root.start_time_unix_nano)},
             {"timestamp", seconds(root.end_time_unix_nano)},
             {"platform", "native"},
             {"contexts", {{"trace", std::move(trace_ctx)}}},
             {"spans", std::move(spans)}};
  if (!settings.environment.empty()) event["environment"] = settings.environment;
  if (!settings.release.empty()) event["release"] = settings.release;
  if (!settings.server_name.empty()) event["server_name"] = settings.server_name;
  if (!settings.service_name.empty()) event["tags"] = {{"service_name", settings.service_name}};

  // The dynamic sampling context: the trace's sampling decision as Sentry
  // reads it from the envelope header.
  json dsc{{"trace_id", trace_id},
           {"public_key", settings.public_key},
           {"sample_rate", rate_text(settings.sample_rate)},
           {"sampled", "true"},
           {"transaction", root.name}};
  if (!settings.environment.empty()) dsc["environment"] = settings.environment;
  if (!settings.release.empty()) dsc["release"] = settings.release;
  std::string sent_at;
  encode::append_rfc3339_millis(sent_at, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  std::string out = encode::sentry::envelope_header(
      {{"event_id", event_id}, {"sent_at", sent_at}, {"trace", std::move(dsc)}});
  encode::sentry::append_item(out, "transaction",
                              event.dump(-1, ' ', false, json::error_handler_t::replace));
  return out;
}

TransactionBuilder::TransactionBuilder(TransactionSettings settings,
                                       std::unique_ptr<deliver::DeliveryWorker> sink)
    : settings_(std::move(settings)), sink_(std::move(sink)) {}

void TransactionBuilder::evict_oldest() noexcept {
  while (!order_.empty()) {
    auto it = pending_.find(order_.front());
    order_.pop_front();
    if (it == pending_.end()) continue;
    orphaned_ += it->second.size();
    pending_spans_ -= it->second.size();
    pending_.erase(it);
    return;
  }
}

void TransactionBuilder::add(const otlp::SpanData& span) noexcept {
  try {
    if (!trace_sampled(span.trace_id, settings_.sample_rate)) return;
    if (!local_root(span)) {
      while (pending_spans_ >= kMaxPendingSpans && !pending_.empty()) evict_oldest();
      auto [it, fresh] = pending_.try_emplace(span.trace_id);
      if (fresh) {
        order_.push_back(span.trace_id);
        // Completed traces leave their ids behind; drop those now and then.
        if (order_.size() > 2 * kMaxPendingSpans) {
          std::deque<otlp::TraceId> live;
          for (const auto& id : order_)
            if (pending_.count(id)) live.push_back(id);
          order_.swap(live);
        }
      }
      if (it->second.size() >= kMaxSpansPerTransaction) {
        ++orphaned_;
        return;
      }
      it->second.push_back(span);
      ++pending_spans_;
      return;
    }
    std::vector<otlp::SpanData> children;
    if (auto it = pending_.find(span.trace_id); it != pending_.end()) {
      children = std::move(it->second);
      pending_spans_ -= children.size();
      pending_.erase(it);
    }
    deliver::Payload p;
    p.bytes = transaction_envelope(span, children, settings_);
    p.items = 1;
    p.signal = deliver::Signal::kTraces;
    sink_->submit(std::move(p));
  } catch (...) {
    ++orphaned_;  // out of memory: this span is not sent to Sentry
  }
}

}  // namespace emp::telemetry::sentry
