#include "logs/log_handler.hpp"

#include <unistd.h>

#include <cstdio>

namespace emp::telemetry::logs {

namespace {
// Buffered bytes per file before a write(2); bigger batches mean fewer syscalls.
constexpr std::size_t kWriteThreshold = 256 * 1024;

// A named file must stay inside the log directory: relative, no "..", no
// empty components, printable ASCII.
bool valid_file_name(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '/') return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7F) return false;
  return true;
}
}  // namespace

LogHandler::LogHandler(const Config& config, std::string log_dir, core::Accounting& accounting)
    : log_dir_(std::move(log_dir)),
      service_name_(config.service_name),
      service_type_(config.service_type),
      machine_id_(config.machine_id),
      environment_(config.environment_name),
      worker_id_(config.worker_id),
      max_file_bytes_(config.log_max_file_bytes),
      max_files_(config.log_max_files),
      echo_stderr_(config.log_to_stderr),
      echo_stdout_(config.log_to_stdout),
      write_log_files_(config.log_files),
      accounting_(accounting) {
  ctx_.service_name = service_name_;
  ctx_.service_type = service_type_;
  ctx_.machine_id = machine_id_;
  ctx_.environment = environment_;
  ctx_.worker_id = worker_id_;
  limits_.max_message_bytes = config.max_message_bytes;
  limits_.max_field_bytes = config.max_field_bytes;
  std::string reason;
  default_ = output_for(config.log_file, reason);
}

LogHandler::Output* LogHandler::output_for(std::string_view name, std::string& rejected) {
  auto it = outputs_.find(std::string(name));
  if (it != outputs_.end()) return it->second.get();
  if (default_ != nullptr) {
    if (!valid_file_name(name)) {
      rejected = "invalid file name (must be relative to the log directory, without '..')";
      return default_;
    }
    if (outputs_.size() >= kMaxFiles) {
      rejected = "too many distinct log files";
      return default_;
    }
  }
  sinks::FileSink::Options o;
  o.path = log_dir_ + "/" + std::string(name);
  o.max_bytes = max_file_bytes_;
  o.max_files = max_files_;
  auto out = std::make_unique<Output>(std::move(o));
  out->buffer.reserve(kWriteThreshold + 64 * 1024);
  Output* raw = out.get();
  outputs_.emplace(std::string(name), std::move(out));
  return raw;
}

void LogHandler::on_record(const std::uint8_t* payload, std::size_t size) noexcept {
  if (!decode_log(payload, size, decoded_)) {
    // The track is unknown here; a malformed record is a bug either way.
    accounting_.dropped(Track::kLogs, DropReason::kRejected, 1);
    accounting_.diagnostics().report("log_decode", "internal error: malformed log record dropped");
    return;
  }
  const Track track = (decoded_.flags & kEvent) ? Track::kEvents : Track::kLogs;
  if (!apply_format(decoded_, formatted_)) {
    accounting_.dropped(track, DropReason::kIoError, 1);
    accounting_.diagnostics().report("log_oom", "out of memory while formatting a log line");
    return;
  }
  try {
    if (track == Track::kEvents && events_ == nullptr) {
      std::string unused;
      events_ = output_for(kEventsFile, unused);
      events_->track = Track::kEvents;
    }
    Output* out = track == Track::kEvents ? events_ : default_;
    std::string rejected;
    std::string file_name;
    if (!decoded_.file.empty() && track == Track::kLogs) {
      file_name.assign(decoded_.file);
      out = output_for(file_name, rejected);
    }
    const Field* fields = decoded_.fields.data();
    std::size_t count = decoded_.fields.size();
    if (!rejected.empty() || decoded_.fields_dropped) {
      extra_.assign(decoded_.fields.begin(), decoded_.fields.end());
      if (!rejected.empty()) {
        extra_.push_back({"file_rejected", FieldValue(std::string_view(file_name))});
        extra_.push_back({"file_rejected_reason", FieldValue(std::string_view(rejected))});
      }
      if (decoded_.fields_dropped)
        extra_.push_back(
            {"fields_dropped", FieldValue(static_cast<std::int64_t>(decoded_.fields_dropped))});
      fields = extra_.data();
      count = extra_.size();
    }
    encode::LogRecordView view;
    view.time_unix_nano = decoded_.time_unix_nano;
    view.level = decoded_.level;
    view.message = decoded_.message;
    view.fields = std::span<const Field>(fields, count);
    view.log_file_path = out->sink.path();
    view.trace_id = decoded_.trace_id;
    view.span_id = decoded_.span_id;
    encode::LineStats stats;
    std::size_t before = out->buffer.size();
    encode::append_log_line(out->buffer, view, ctx_, limits_, stats);
    if (echo_stderr_) {
      std::fwrite(out->buffer.data() + before, 1, out->buffer.size() - before, stderr);
    }
    if (echo_stdout_ && out->track == Track::kLogs) {
      std::fwrite(out->buffer.data() + before, 1, out->buffer.size() - before, stdout);
    }
    ++out->lines;
    for (auto& o : outputs_extra_) o->add(decoded_, out->sink.path());
    if (stats.invalid_utf8) accounting_.invalid_utf8(track, 1);
    if (stats.truncated || (decoded_.flags & kTruncated) || decoded_.fields_dropped)
      accounting_.truncated(track, 1);
    if (out->buffer.size() >= kWriteThreshold) write_one(*out);
  } catch (...) {
    accounting_.dropped(track, DropReason::kIoError, 1);
    accounting_.diagnostics().report("log_oom", "out of memory while formatting a log line");
  }
}

bool LogHandler::write_one(Output& out) noexcept {
  if (out.lines == 0) return true;
  // Without log files the lines were handed to the other outputs already;
  // the file (opened lazily) is never created.
  const bool skip_file = !write_log_files_ && out.track == Track::kLogs;
  bool ok = skip_file || out.sink.write(out.buffer);
  if (ok) {
    accounting_.written(out.track, out.lines);
  } else {
    accounting_.dropped(out.track, DropReason::kIoError, out.lines);
    accounting_.error(out.track);
    accounting_.diagnostics().report("io_error:" + out.sink.path(),
                                     "log lines dropped: " + out.sink.last_error());
  }
  out.buffer.clear();
  out.lines = 0;
  return ok;
}

bool LogHandler::write_out(std::chrono::steady_clock::time_point) noexcept {
  bool ok = true;
  for (auto& [name, out] : outputs_) ok &= write_one(*out);
  return ok;
}

void LogHandler::after_fork_child() noexcept {
  // Lines buffered here were accepted by the parent, which still writes them.
  for (auto& [name, out] : outputs_) {
    out->buffer.clear();
    out->lines = 0;
  }
  for (auto& o : outputs_extra_) o->after_fork_child();
}

void LogHandler::begin_flush(std::chrono::steady_clock::time_point deadline) noexcept {
  for (auto& o : outputs_extra_) o->begin_flush(deadline);
}

bool LogHandler::flush(std::chrono::steady_clock::time_point deadline) noexcept {
  bool ok = write_out(deadline);
  for (auto& o : outputs_extra_) ok &= o->flush(deadline);
  return ok;
}

void LogHandler::on_tick(std::chrono::steady_clock::time_point now) noexcept {
  for (auto& o : outputs_extra_) o->on_tick(now);
}

void LogHandler::close(std::chrono::steady_clock::time_point deadline) noexcept {
  write_out(deadline);
  for (auto& o : outputs_extra_) o->close(deadline);
}

}  // namespace emp::telemetry::logs
