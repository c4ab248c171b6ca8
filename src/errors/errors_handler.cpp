// The errors track's background side; see errors_handler.hpp.
#include "errors/errors_handler.hpp"

#include <cstdio>

#include "client/resource.hpp"
#include "encode/sentry_envelope.hpp"
#include "errors/crash_record.hpp"
#include "errors/crash_report.hpp"
#include "trace/ids.hpp"

namespace emp::telemetry::errors {

namespace {

std::string hex(const std::uint8_t* b, std::size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[b[i] >> 4];
    out[2 * i + 1] = kHex[b[i] & 15];
  }
  return out;
}

nlohmann::json pairs_json(const StringPairs& pairs) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : pairs) j[k] = v;
  return j;
}

nlohmann::json breadcrumbs_json(const std::vector<Breadcrumb>& crumbs) {
  nlohmann::json values = nlohmann::json::array();
  for (const Breadcrumb& b : crumbs) {
    nlohmann::json j;
    j["timestamp"] = b.timestamp;
    j["type"] = b.type;
    if (!b.category.empty()) j["category"] = b.category;
    if (!b.message.empty()) j["message"] = b.message;
    j["level"] = to_string(b.level);
    if (!b.data.empty()) j["data"] = pairs_json(b.data);
    values.push_back(std::move(j));
  }
  return values;
}

// The modules the frames point into, for debug_meta.images.
std::vector<ModuleInfo> used_modules(const std::vector<Frame>& frames,
                                     const std::vector<ModuleInfo>& modules) {
  std::vector<ModuleInfo> out;
  for (const ModuleInfo& m : modules) {
    for (const Frame& f : frames) {
      if (m.contains(f.instruction_addr)) {
        out.push_back(m);
        break;
      }
    }
  }
  return out;
}

// The demangled type, with std::throw_with_nested's wrapper taken off: the
// user threw the type inside it (the nested cause is its own entry).
std::string exception_type_name(const char* raw) {
  std::string name = demangle(raw);
  constexpr std::string_view kWrapper = "std::_Nested_exception<";
  if (name.size() > kWrapper.size() + 1 && name.compare(0, kWrapper.size(), kWrapper) == 0 &&
      name.back() == '>')
    name = name.substr(kWrapper.size(), name.size() - kWrapper.size() - 1);
  return name;
}

}  // namespace

ErrorsHandler::ErrorsHandler(std::shared_ptr<ErrorsCore> core,
                             std::unique_ptr<deliver::DeliveryWorker> worker,
                             core::Accounting& accounting, Options options)
    : core_(std::move(core)),
      worker_(std::move(worker)),
      accounting_(accounting),
      options_(std::move(options)) {}

ErrorsHandler::~ErrorsHandler() = default;

std::vector<Frame> ErrorsHandler::symbolize(const std::uintptr_t* frames, std::size_t n) {
  std::vector<std::uint64_t> addrs(frames, frames + n);
  bool known = symbolizer_ != nullptr;
  if (known) {
    for (std::uint64_t a : addrs) {
      bool found = false;
      for (const ModuleInfo& m : symbolizer_->modules()) found = found || m.contains(a);
      if (!found) known = false;
    }
  }
  // A library loaded since the last look: read the module list again.
  if (!known) symbolizer_ = std::make_unique<Symbolizer>(loaded_modules());
  return symbolizer_->symbolize(addrs, false);
}

void ErrorsHandler::add_common(nlohmann::json& event) const {
  const ServiceInfo& s = options_.service;
  event["platform"] = "native";
  event["logger"] = kSdkName;
  event["sdk"] = {{"name", kSdkName}, {"version", kSdkVersion}};
  if (!s.environment.empty()) event["environment"] = s.environment;
  if (!s.release.empty()) event["release"] = s.release;
  if (!s.machine_id.empty()) event["server_name"] = s.machine_id;
  nlohmann::json& tags = event["tags"];
  if (!tags.is_object()) tags = nlohmann::json::object();
  auto tag = [&](const char* k, const std::string& v) {
    if (!v.empty() && !tags.contains(k)) tags[k] = v.substr(0, 200);
  };
  tag("service_name", s.service_name);
  tag("service_type", s.service_type);
  tag("machine_id", s.machine_id);
  tag("worker_id", s.worker_id);
}

nlohmann::json ErrorsHandler::event_json(PendingEvent& p) {
  ErrorEvent& e = p.event;
  nlohmann::json j;
  j["event_id"] = e.event_id;
  j["timestamp"] = e.timestamp;
  j["level"] = to_string(e.level);
  if (!e.message.empty()) j["message"] = {{"formatted", e.message}};

  const std::vector<Frame> frames = symbolize(p.frames, p.frame_count);
  nlohmann::json stacktrace = {{"frames", sentry_frames_json(frames)}};
  if (!e.exceptions.empty()) {
    nlohmann::json values = nlohmann::json::array();
    for (std::size_t i = 0; i < e.exceptions.size(); ++i) {
      const CapturedException& ex = e.exceptions[i];
      nlohmann::json v;
      v["type"] = ex.type;
      v["value"] = ex.value;
      v["mechanism"] = {{"type", "generic"}, {"handled", true}};
      if (i + 1 == e.exceptions.size()) {
        // The outermost exception was caught here: the stack is its.
        v["stacktrace"] = stacktrace;
        v["thread_id"] = p.thread_id;
      }
      values.push_back(std::move(v));
    }
    j["exception"]["values"] = std::move(values);
  } else {
    j["threads"]["values"] = nlohmann::json::array(
        {{{"id", p.thread_id}, {"current", true}, {"crashed", false}, {"stacktrace", stacktrace}}});
  }
  j["debug_meta"]["images"] =
      sentry_debug_images_json(used_modules(frames, symbolizer_->modules()));

  const ErrorScope& scope = e.scope;
  j["tags"] = pairs_json(scope.tags);
  nlohmann::json contexts = nlohmann::json::object();
  for (const auto& [name, fields] : scope.contexts) contexts[name] = pairs_json(fields);
  if (p.has_trace) {
    contexts["trace"] = {
        {"type", "trace"}, {"trace_id", hex(p.trace_id, 16)}, {"span_id", hex(p.span_id, 8)}};
  }
  j["contexts"] = std::move(contexts);
  if (!scope.fingerprint.empty()) j["fingerprint"] = scope.fingerprint;
  if (scope.user) {
    nlohmann::json u = nlohmann::json::object();
    if (!scope.user->id.empty()) u["id"] = scope.user->id;
    if (!scope.user->username.empty()) u["username"] = scope.user->username;
    if (!scope.user->email.empty()) u["email"] = scope.user->email;
    if (!scope.user->ip_address.empty()) u["ip_address"] = scope.user->ip_address;
    j["user"] = std::move(u);
  }
  j["breadcrumbs"]["values"] = breadcrumbs_json(core_->breadcrumbs(p.breadcrumbs_until));
  add_common(j);
  return j;
}

void ErrorsHandler::submit(const nlohmann::json& event) noexcept {
  try {
    deliver::Payload payload;
    payload.items = 1;
    payload.content_type = deliver::ContentType::kJson;
    payload.bytes = options_.envelopes
                        ? encode::sentry::event_envelope(event)
                        : event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    worker_->submit(std::move(payload));
  } catch (...) {
    accounting_.dropped(Track::kErrors, DropReason::kMemoryCap, 1);
  }
}

void ErrorsHandler::on_record(const std::uint8_t* payload, std::size_t size) noexcept {
  if (size < 1 || payload[0] == 0) {
    // The capture found the pending queue full after reserving its record.
    accounting_.dropped(Track::kErrors, DropReason::kQueueFull, 1);
    return;
  }
  std::unique_ptr<PendingEvent> p = core_->pop();
  if (!p) {
    accounting_.dropped(Track::kErrors, DropReason::kQueueFull, 1);
    return;
  }
  try {
    for (std::size_t i = 0; i < p->event.exceptions.size(); ++i) {
      if (i < p->raw_types.size() && p->raw_types[i] != nullptr)
        p->event.exceptions[i].type = exception_type_name(p->raw_types[i]);
    }
    if (auto hook = core_->before_send()) {
      bool keep = false;
      try {
        keep = (*hook)(p->event);
      } catch (...) {
        keep = false;
      }
      if (!keep) {
        core_->reports->add("before_send", "error");
        accounting_.dropped(Track::kErrors, DropReason::kRejected, 1);
        core_->recycle(std::move(p));
        return;
      }
    }
    submit(event_json(*p));
  } catch (...) {
    accounting_.dropped(Track::kErrors, DropReason::kMemoryCap, 1);
  }
  core_->recycle(std::move(p));
}

void ErrorsHandler::send_crash_records() noexcept {
  if (options_.crash_dir.empty()) return;
  try {
    CrashReadResult found = read_crash_records(options_.crash_dir);
    for (const DamagedCrashFile& d : found.damaged) {
      accounting_.diagnostics().report(
          "errors", "damaged crash record " + d.file + ": " + d.reason + "; set aside");
      set_aside_damaged(d);
    }
    for (const CrashRecord& record : found.records) {
      nlohmann::json event = sentry_crash_event_json(crash_event_data(record));
      const TraceId id = trace::new_trace_id();
      event["event_id"] = id.to_hex();
      for (const std::string& blob : record.contexts) {
        // Blobs are the crashed process's own JSON; anything else is kept as text.
        nlohmann::json parsed = nlohmann::json::parse(blob, nullptr, false);
        if (parsed.is_object() && parsed.contains("breadcrumbs")) {
          event["breadcrumbs"]["values"] = parsed["breadcrumbs"];
        } else if (parsed.is_object()) {
          for (auto it = parsed.begin(); it != parsed.end(); ++it)
            event["contexts"]["crashed_process"][it.key()] = it.value();
        }
      }
      add_common(event);
      accounting_.recovered(Track::kErrors, 1);
      submit(event);
      // The worker has it now (in memory, and in its spool when there is one).
      remove_crash_record(record);
    }
  } catch (...) {
    accounting_.diagnostics().report("errors", "the crash records could not be read");
  }
}

void ErrorsHandler::on_tick(std::chrono::steady_clock::time_point now) noexcept {
  if (!started_) {
    started_ = true;
    last_report_ = now;
    send_crash_records();
  }
  // Reports ride along with events; with no event for a while they go alone,
  // as Sentry's SDKs send them about every 30 s (and at shutdown).
  if (now - last_report_ >= kReportInterval) {
    last_report_ = now;
    submit_reports_only();
  }
  if (options_.crash_context == nullptr) return;
  const std::uint64_t seq = core_->breadcrumb_seq();
  if (seq == context_seq_) return;
  context_seq_ = seq;
  try {
    nlohmann::json blob;
    std::vector<Breadcrumb> crumbs = core_->breadcrumbs();
    // The latest ones that fit the crash context's fixed buffer.
    std::string text;
    for (std::size_t keep = crumbs.size();; keep /= 2) {
      std::vector<Breadcrumb> tail(crumbs.end() - static_cast<std::ptrdiff_t>(keep), crumbs.end());
      blob["breadcrumbs"] = breadcrumbs_json(tail);
      text = blob.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      if (text.size() <= options_.crash_context->capacity() || keep == 0) break;
    }
    options_.crash_context->set(text);
  } catch (...) {
  }
}

void ErrorsHandler::submit_reports_only() noexcept {
  if (!options_.envelopes || core_->reports->empty()) return;
  try {
    deliver::Payload payload;
    payload.items = 0;
    payload.content_type = deliver::ContentType::kJson;
    payload.bytes = encode::sentry::envelope_header(nlohmann::json::object());
    worker_->submit(std::move(payload));
  } catch (...) {
  }
}

bool ErrorsHandler::flush(std::chrono::steady_clock::time_point deadline) noexcept {
  if (!started_) on_tick(std::chrono::steady_clock::now());
  return worker_->wait_idle(deadline);
}

void ErrorsHandler::begin_close(std::chrono::steady_clock::time_point deadline) noexcept {
  submit_reports_only();
  worker_->begin_shutdown(deadline);
}

void ErrorsHandler::close(std::chrono::steady_clock::time_point deadline) noexcept {
  worker_->shutdown(deadline);
}

}  // namespace emp::telemetry::errors
