#include "forward/forward_log_output.hpp"

#include "deliver/spool.hpp"
#include "forward/forward_destination.hpp"
#include "forward/forward_protocol.hpp"

namespace emp::telemetry::forward {

using Clock = std::chrono::steady_clock;

namespace {
constexpr std::size_t kMaxBatchBytes = 1u << 20;
constexpr std::size_t kMaxOpenBatches = 64;
}  // namespace

ForwardLogOutput::ForwardLogOutput(const Config& c, std::unique_ptr<deliver::DeliveryWorker> sink)
    : service_name_(c.service_name),
      service_type_(c.service_type),
      machine_id_(c.machine_id),
      environment_(c.environment_name),
      worker_id_(c.worker_id),
      max_count_(c.log_batch.max_export_batch_size),
      delay_(c.log_batch.schedule_delay),
      gzip_(c.fluentd_compress),
      gzip_level_(c.compression_level),
      sink_(std::move(sink)) {
  ctx_.service_name = service_name_;
  ctx_.service_type = service_type_;
  ctx_.machine_id = machine_id_;
  ctx_.environment = environment_;
  ctx_.worker_id = worker_id_;
  limits_.max_message_bytes = c.max_message_bytes;
  limits_.max_field_bytes = c.max_field_bytes;
}

void ForwardLogOutput::add(const logs::DecodedLog& r, std::string_view path) noexcept {
  try {
    Batch* b = nullptr;
    for (Batch& x : batches_) {
      if (x.path == path) {
        b = &x;
        break;
      }
    }
    if (b == nullptr) {
      if (batches_.size() >= kMaxOpenBatches) export_all();
      if (batches_.size() >= kMaxOpenBatches) batches_.clear();
      b = &batches_.emplace_back();
      b->path.assign(path);
      b->tag = log_tag(service_type_, path);
    }
    if (b->count == 0) b->started = Clock::now();
    encode::LogRecordView view;
    view.time_unix_nano = r.time_unix_nano;
    view.level = r.level;
    view.message = r.message;
    view.fields = r.fields;
    view.log_file_path = path;
    view.trace_id = r.trace_id;
    view.span_id = r.span_id;
    append_log_entry(b->entries, view, ctx_, limits_);
    ++b->count;
    if (b->count >= max_count_ || b->entries.size() >= kMaxBatchBytes) export_batch(*b);
  } catch (...) {
    // Out of memory: this destination loses the record; the file still has it.
  }
}

void ForwardLogOutput::export_batch(Batch& b) noexcept {
  if (b.count == 0) return;
  try {
    deliver::Payload p = forward_payload(b.tag, b.entries, b.count, gzip_, gzip_level_);
    b.entries.clear();
    b.count = 0;
    sink_->submit(std::move(p));
  } catch (...) {
    b.entries.clear();
    b.count = 0;
  }
}

void ForwardLogOutput::export_all() noexcept {
  for (Batch& b : batches_) export_batch(b);
}

void ForwardLogOutput::on_tick(Clock::time_point now) noexcept {
  for (Batch& b : batches_) {
    if (b.count > 0 && now - b.started >= delay_) export_batch(b);
  }
}

bool ForwardLogOutput::flush(Clock::time_point deadline) noexcept {
  export_all();
  return sink_->wait_idle(deadline);
}

void ForwardLogOutput::close(Clock::time_point deadline) noexcept {
  export_all();
  sink_->shutdown(deadline);
}

void ForwardLogOutput::after_fork_child() noexcept {
  batches_.clear();
  sink_->after_fork_child();
}

deliver::Payload forward_payload(std::string_view tag, std::string_view entries, std::size_t count,
                                 bool gzip, int gzip_level) {
  deliver::Payload p;
  p.signal = deliver::Signal::kLogs;
  p.items = count;
  p.content_type = deliver::ContentType::kProtobuf;  // opaque to the worker and spool
  p.bytes.reserve(entries.size() + tag.size() + 64);
  if (!append_packed_forward(p.bytes, tag, entries, count, new_chunk_id(), gzip, gzip_level)) {
    p.bytes.clear();
    append_packed_forward(p.bytes, tag, entries, count, new_chunk_id(), false);
  }
  return p;
}

std::string stream_spool_directory(std::string_view root, std::string_view stream,
                                   std::string_view peer) {
  // Reuse the spool's own naming hash: its directory name is "<signal>-<hash>".
  const std::string named = deliver::spool_directory("", deliver::Signal::kLogs, peer);
  const std::string_view hash = std::string_view(named).substr(named.rfind('-') + 1);
  std::string out(root);
  if (!out.empty() && out.back() != '/') out += '/';
  for (char ch : stream) out.push_back(ch == '/' ? '-' : ch);
  out += '-';
  out += hash;
  return out;
}

std::unique_ptr<deliver::DeliveryWorker> make_forward_worker(const Config& c,
                                                             core::Accounting& accounting,
                                                             std::string_view stream) {
  ForwardSettings fs = forward_settings(c);
  deliver::DeliveryWorker::Options so;
  so.primary = false;
  so.memory_cap = c.delivery_memory_cap;
  so.retry = c.retry;
  so.circuit = c.circuit;
  so.export_timeout = c.fluentd_timeout;
  so.stream = std::string(stream);
  if (c.spool_enabled) {
    so.spool_dir = stream_spool_directory(c.spool_dir, so.stream,
                                          c.fluentd_host + ":" + std::to_string(c.fluentd_port));
    so.spool.max_bytes = c.spool_max_bytes;
  }
  // FLUENTD_FAILOVER_HOSTS: the same settings (TLS, key) toward other inputs.
  std::vector<std::unique_ptr<deliver::Destination>> dests;
  for (const ForwardEndpoint& e : c.fluentd_failover) {
    ForwardSettings f = fs;
    f.host = e.host;
    f.port = e.port;
    dests.push_back(std::make_unique<ForwardDestination>(std::move(f)));
  }
  dests.insert(dests.begin(), std::make_unique<ForwardDestination>(std::move(fs)));
  return std::make_unique<deliver::DeliveryWorker>(Track::kLogs, std::move(dests), accounting, so);
}

}  // namespace emp::telemetry::forward
