// The viewer's network side: over HTTP (cpp-httplib) the OTLP and Sentry
// receivers, the read API and the page; the Fluentd forward input on its own
// port. Receivers decode on their connection threads and hand rows to the
// Store, whose writer thread owns the disk.
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "emp/telemetry/viewer.hpp"
#include "encode/otlp_decode.hpp"
#include "encode/proto_wire.hpp"
#include "forward/forward_server.hpp"
#include "viewer/ingest.hpp"
#include "viewer/query.hpp"
#include "viewer/sentry_envelope.hpp"
#include "viewer/store.hpp"
#include "viewer/web_page.hpp"

#ifdef EMP_HAVE_HTTPLIB
#include <httplib.h>
#endif

namespace emp::telemetry {

using nlohmann::json;
namespace otlp = encode::otlp;
namespace wire = encode::wire;

namespace {

// google.rpc.Status{code, message}: the body OTLP/HTTP asks for on errors.
std::string status_proto(int code, const std::string& message) {
  const std::size_t msg_len = wire::utf8_sanitized_size(message);
  std::string out(1 + wire::varint_size(static_cast<std::uint64_t>(code)) + 1 +
                      wire::len_prefixed_size(msg_len),
                  '\0');
  auto* p = reinterpret_cast<std::uint8_t*>(out.data());
  p = wire::put_varint(p, wire::make_tag(1, wire::WireType::kVarint));
  p = wire::put_varint(p, static_cast<std::uint64_t>(code));
  p = wire::put_varint(p, wire::make_tag(2, wire::WireType::kLen));
  p = wire::put_varint(p, msg_len);
  bool replaced = false;
  wire::put_utf8_sanitized(p, message, &replaced);
  return out;
}

std::int64_t int_param(const std::string& v, std::int64_t fallback, std::int64_t lo,
                       std::int64_t hi) {
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
    return fallback;
  }
  return std::clamp<std::int64_t>(std::stoll(v), lo, hi);
}

}  // namespace

struct Viewer::Impl {
  ViewerOptions options;
  std::unique_ptr<viewer::Store> store;
  std::mutex reader_mutex;
  std::unique_ptr<viewer::StoreReader> reader;  // guarded by reader_mutex
  std::atomic<std::uint64_t> accepted{0}, invalid{0}, busy{0}, forward_frames{0},
      forward_refused{0};
  std::unique_ptr<forward::ForwardServer> forward;
  std::atomic<std::uint16_t> port{0};
#ifdef EMP_HAVE_HTTPLIB
  httplib::Server server;
#endif
  std::thread thread;
  std::atomic<bool> exited{false};
  bool stopped = false;
  viewer::StoreStats final_store_stats;  // kept when stop() closes the store
};

#ifdef EMP_HAVE_HTTPLIB
namespace {

// One forward connection's frames into the store. A frame is stored whole
// or not at all: when the store is behind (or a record is not msgpack) the
// frame gets no ack, and the sender's at-least-once delivery sends it again.
class ForwardIngest final : public forward::FrameReceiver {
 public:
  explicit ForwardIngest(Viewer::Impl* v) : v_(v) {}
  void event(const forward::Event& ev) override {
    if (!ok_) return;
    try {
      ok_ = viewer::add_forward_record(ev.tag, ev.time_unix_nano, ev.record, batch_, error_);
    } catch (...) {
      ok_ = false;
      error_ = "out of memory";
    }
  }
  bool end_frame(const forward::FrameInfo&) override {
    const bool ok = ok_ && (batch_.rows() == 0 || v_->store->submit(std::move(batch_)) ==
                                                      viewer::Store::Submit::kAccepted);
    batch_ = viewer::Batch{};
    ok_ = true;
    (ok ? v_->forward_frames : v_->forward_refused).fetch_add(1);
    return ok;
  }
  void abort_frame() override {
    batch_ = viewer::Batch{};
    ok_ = true;
    v_->forward_refused.fetch_add(1);
  }

 private:
  Viewer::Impl* v_;
  viewer::Batch batch_;
  bool ok_ = true;
  std::string error_;
};

enum class Signal { kTraces, kMetrics, kLogs };

struct Ingest {
  Viewer::Impl* v;

  // Reads the (already gunzipped) body, bounded.
  bool read_body(const httplib::ContentReader& reader, std::string& body, bool* too_big) const {
    const std::size_t cap = v->options.max_body_bytes;
    return reader([&](const char* data, std::size_t n) {
      if (body.size() + n > cap) {
        *too_big = true;
        return false;
      }
      body.append(data, n);
      return true;
    });
  }

  void otlp(Signal signal, const httplib::Request& req, httplib::Response& res,
            const httplib::ContentReader& reader) const {
    std::string type = req.get_header_value("Content-Type");
    type = type.substr(0, type.find(';'));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    const bool is_json = type == "application/json";
    const bool is_proto = type == "application/x-protobuf" || type == "application/protobuf";
    const auto reject = [&](int http, int code, const std::string& message) {
      v->invalid.fetch_add(1, std::memory_order_relaxed);
      res.status = http;
      if (is_json) {
        res.set_content(json({{"code", code}, {"message", message}}).dump(), "application/json");
      } else {
        res.set_content(status_proto(code, message), "application/x-protobuf");
      }
    };
    if (!is_json && !is_proto) {
      reject(415, 3,
             "unsupported Content-Type '" + type +
                 "' (expected application/x-protobuf or application/json)");
      return;
    }
    std::string body;
    bool too_big = false;
    if (!read_body(reader, body, &too_big)) {
      if (too_big) {
        reject(413, 8,
               "request body over " + std::to_string(v->options.max_body_bytes) +
                   " bytes (after decompression)");
      } else {
        reject(400, 3, "could not read the request body (truncated or bad gzip)");
      }
      return;
    }
    viewer::Batch batch;
    std::string error;
    bool ok = false;
    switch (signal) {
      case Signal::kTraces: {
        otlp::TracesRequest r;
        ok = is_json ? otlp::decode_traces_json(body, r, error)
                     : otlp::decode_traces_proto(body, r, error);
        if (ok) viewer::add_traces(r, batch);
        break;
      }
      case Signal::kMetrics: {
        otlp::MetricsRequest r;
        ok = is_json ? otlp::decode_metrics_json(body, r, error)
                     : otlp::decode_metrics_proto(body, r, error);
        if (ok) viewer::add_metrics(r, batch);
        break;
      }
      case Signal::kLogs: {
        otlp::LogsRequest r;
        ok = is_json ? otlp::decode_logs_json(body, r, error)
                     : otlp::decode_logs_proto(body, r, error);
        if (ok) viewer::add_logs(r, batch);
        break;
      }
    }
    if (!ok) {
      reject(400, 3,
             "malformed " + std::string(is_json ? "OTLP/JSON" : "OTLP protobuf") +
                 " request: " + error);
      return;
    }
    if (!submit(std::move(batch), res)) {
      if (is_json) {
        res.set_content(json({{"code", 14}, {"message", "viewer store is behind"}}).dump(),
                        "application/json");
      } else {
        res.set_content(status_proto(14, "viewer store is behind"), "application/x-protobuf");
      }
      return;
    }
    // An empty Export*ServiceResponse: everything accepted.
    if (is_json) {
      res.set_content("{}", "application/json");
    } else {
      res.set_content("", "application/x-protobuf");
    }
  }

  // False (with 503 and Retry-After set) when the store is behind.
  bool submit(viewer::Batch&& batch, httplib::Response& res) const {
    if (batch.rows() != 0 &&
        v->store->submit(std::move(batch)) != viewer::Store::Submit::kAccepted) {
      v->busy.fetch_add(1, std::memory_order_relaxed);
      res.status = 503;
      res.set_header("Retry-After", "1");
      return false;
    }
    v->accepted.fetch_add(1, std::memory_order_relaxed);
    res.status = 200;
    return true;
  }

  void envelope(const httplib::Request& req, httplib::Response& res,
                const httplib::ContentReader& reader) const {
    const auto reject = [&](int http, const std::string& detail) {
      v->invalid.fetch_add(1, std::memory_order_relaxed);
      res.status = http;
      res.set_content(json({{"detail", detail}}).dump(), "application/json");
    };
    std::string body;
    bool too_big = false;
    if (!read_body(reader, body, &too_big)) {
      reject(too_big ? 413 : 400, too_big ? "envelope too large" : "could not read the body");
      return;
    }
    viewer::Batch batch;
    viewer::EnvelopeResult result;
    std::string error;
    if (!viewer::parse_sentry_envelope(body, batch, result, error)) {
      reject(400, "malformed envelope: " + error);
      return;
    }
    if (!submit(std::move(batch), res)) {
      res.set_content(json({{"detail", "viewer store is behind"}}).dump(), "application/json");
      return;
    }
    res.set_content(json({{"id", result.event_id}}).dump(), "application/json");
  }
};

}  // namespace
#endif

Expected<std::unique_ptr<Viewer>> Viewer::start(const ViewerOptions& options) noexcept {
#ifndef EMP_HAVE_HTTPLIB
  return Error{"viewer", "this build has no HTTP server (cpp-httplib was not found at build time)"};
#else
  try {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    viewer::StoreOptions so;
    so.path = options.db_path;
    so.max_bytes = options.max_bytes;
    so.max_age = options.max_age;
    so.max_pending_bytes = options.max_pending_bytes;
    std::string error;
    impl->store = viewer::Store::open(so, error);
    if (!impl->store) return Error{"--db", error};
    impl->reader = viewer::StoreReader::open(options.db_path, error);
    if (!impl->reader) return Error{"--db", error};

    Impl* v = impl.get();
    auto& svr = impl->server;
    const unsigned threads = std::max(1u, options.threads);
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // SO_REUSEADDR only: the default's SO_REUSEPORT would let two viewers
    // share a port silently.
    svr.set_socket_options([](int sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    svr.set_read_timeout(10, 0);
    svr.set_write_timeout(10, 0);
    // cpp-httplib's stop() waits for every connection's keep-alive wait to
    // end, and that wait does not look at stop: a short idle timeout is what
    // keeps stop() (and SIGTERM of `serve`) from taking as long as the
    // longest idle client. Senders reconnect for their next batch.
    svr.set_keep_alive_timeout(2);
    svr.set_payload_max_length(options.max_body_bytes);

    const Ingest ingest{v};
    svr.Post("/v1/traces", [ingest](const httplib::Request& req, httplib::Response& res,
                                    const httplib::ContentReader& r) {
      ingest.otlp(Signal::kTraces, req, res, r);
    });
    svr.Post("/v1/metrics", [ingest](const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& r) {
      ingest.otlp(Signal::kMetrics, req, res, r);
    });
    svr.Post("/v1/logs", [ingest](const httplib::Request& req, httplib::Response& res,
                                  const httplib::ContentReader& r) {
      ingest.otlp(Signal::kLogs, req, res, r);
    });
    svr.Post(R"(/api/([^/]+)/envelope/?)",
             [ingest](const httplib::Request& req, httplib::Response& res,
                      const httplib::ContentReader& r) { ingest.envelope(req, res, r); });

    // Read API. `read` runs f on the shared reader connection.
    const auto read = [v](auto&& f) {
      std::lock_guard lock(v->reader_mutex);
      return f(*v->reader);
    };
    const auto send_json = [](httplib::Response& res, const json& j) {
      res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
    };
    const auto not_found = [send_json](httplib::Response& res, const std::string& what) {
      res.status = 404;
      send_json(res, json{{"error", what + " not found"}});
    };
    svr.Get("/api/jobs", [read, send_json](const httplib::Request& req, httplib::Response& res) {
      const auto limit = int_param(req.get_param_value("limit"), 100, 1, 10000);
      const std::string service = req.get_param_value("service");
      send_json(res, read([&](viewer::StoreReader& r) { return r.jobs(int(limit), service); }));
    });
    svr.Get(R"(/api/jobs/(.+))",
            [read, send_json, not_found](const httplib::Request& req, httplib::Response& res) {
              const std::string id = req.matches[1];
              auto doc = read([&](viewer::StoreReader& r) { return r.job(id); });
              if (!doc) return not_found(res, "job " + id);
              send_json(res, *doc);
            });
    svr.Get(R"(/api/traces/([0-9a-fA-F]{32}))",
            [read, send_json, not_found](const httplib::Request& req, httplib::Response& res) {
              std::string id = req.matches[1];
              std::transform(id.begin(), id.end(), id.begin(), ::tolower);
              auto doc = read([&](viewer::StoreReader& r) { return r.trace(id); });
              if (!doc) return not_found(res, "trace " + id);
              send_json(res, *doc);
            });
    svr.Get(R"(/api/errors/(.+))",
            [read, send_json, not_found](const httplib::Request& req, httplib::Response& res) {
              const std::string id = req.matches[1];
              auto doc = read([&](viewer::StoreReader& r) { return r.error(id); });
              if (!doc) return not_found(res, "error " + id);
              send_json(res, *doc);
            });
    svr.Get("/api/search", [read, send_json](const httplib::Request& req, httplib::Response& res) {
      const std::string q = req.get_param_value("q");
      if (q.empty()) {
        res.status = 400;
        return send_json(res, json{{"error", "missing query parameter q"}});
      }
      const auto limit = int_param(req.get_param_value("limit"), 200, 1, 10000);
      send_json(res, read([&](viewer::StoreReader& r) { return r.search(q, int(limit)); }));
    });
    svr.Get("/api/stats", [v, read, send_json](const httplib::Request&, httplib::Response& res) {
      json j = read([](viewer::StoreReader& r) { return r.stats(); });
      const auto s = v->store->stats();
      j["requests_accepted"] = v->accepted.load();
      j["requests_invalid"] = v->invalid.load();
      j["forward_frames"] = v->forward_frames.load();
      j["forward_refused"] = v->forward_refused.load();
      j["requests_busy"] = v->busy.load();
      j["rows_committed"] = s.rows_committed;
      j["rows_write_failed"] = s.rows_write_failed;
      j["rows_evicted"] = s.rows_evicted;
      j["pending_bytes"] = s.pending_bytes;
      j["last_error"] = s.last_error;
      send_json(res, j);
    });

    // Pages: the same document everywhere, with the first view's data inline.
    const auto page = [read](httplib::Response& res, const json& initial) {
      res.set_content(
          viewer::render_page(initial.dump(-1, ' ', false, json::error_handler_t::replace)),
          "text/html; charset=utf-8");
    };
    svr.Get("/", [read, page](const httplib::Request&, httplib::Response& res) {
      page(res, read([](viewer::StoreReader& r) { return r.jobs(200); }));
    });
    svr.Get(R"(/jobs/(.+))", [read, page](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1];
      auto doc = read([&](viewer::StoreReader& r) { return r.job(id); });
      if (!doc) res.status = 404;
      page(res, doc ? *doc : json(nullptr));
    });
    svr.Get(R"(/traces/([0-9a-fA-F]{32}))",
            [read, page](const httplib::Request& req, httplib::Response& res) {
              std::string id = req.matches[1];
              std::transform(id.begin(), id.end(), id.begin(), ::tolower);
              auto doc = read([&](viewer::StoreReader& r) { return r.trace(id); });
              if (!doc) res.status = 404;
              page(res, doc ? *doc : json(nullptr));
            });
    svr.Get(R"(/errors/(.+))", [read, page](const httplib::Request& req, httplib::Response& res) {
      const std::string id = req.matches[1];
      auto doc = read([&](viewer::StoreReader& r) { return r.error(id); });
      if (!doc) res.status = 404;
      page(res, doc ? *doc : json(nullptr));
    });
    svr.Get("/search",
            [page](const httplib::Request&, httplib::Response& res) { page(res, json(nullptr)); });

    int bound = 0;
    if (options.port == 0) {
      bound = svr.bind_to_any_port(options.host);
    } else {
      bound = svr.bind_to_port(options.host, options.port) ? options.port : -1;
    }
    if (bound <= 0) {
      return Error{"--port", "could not listen on " + options.host + ":" +
                                 std::to_string(options.port) +
                                 " (address in use or not an address of this machine)"};
    }
    impl->port.store(static_cast<std::uint16_t>(bound));
    impl->thread = std::thread([v] {
      v->server.listen_after_bind();
      v->exited.store(true, std::memory_order_release);
    });
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!v->server.is_running() && !v->exited.load(std::memory_order_acquire) &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!v->server.is_running()) {
      v->server.stop();
      if (v->thread.joinable()) v->thread.join();
      return Error{"--port", "the HTTP server did not start"};
    }
    std::unique_ptr<Viewer> viewer(new Viewer(std::move(impl)));
    if (options.forward_port >= 0) {
      if (options.forward_port > 65535) {
        return Error{"--forward-port", "not a port: " + std::to_string(options.forward_port)};
      }
      forward::ForwardServerOptions fo;
      fo.host = options.host;
      fo.port = static_cast<std::uint16_t>(options.forward_port);
      fo.max_frame_bytes = options.max_body_bytes;
      fo.limits.max_decompressed = options.max_body_bytes;
      auto fs = forward::ForwardServer::start(fo, [v]() -> std::unique_ptr<forward::FrameReceiver> {
        return std::make_unique<ForwardIngest>(v);
      });
      if (!fs) {
        Errors errors;
        for (const auto& e : fs.errors()) errors.push_back(Error{"--forward-port", e.message});
        return errors;  // ~Viewer stops the HTTP side
      }
      v->forward = std::move(*fs);
    }
    return viewer;
  } catch (const std::exception& e) {
    return Error{"viewer", std::string("could not start: ") + e.what()};
  }
#endif
}

Viewer::Viewer(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Viewer::~Viewer() { stop(); }

void Viewer::stop() noexcept {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->forward) impl_->forward->stop();
#ifdef EMP_HAVE_HTTPLIB
  impl_->server.stop();
#endif
  if (impl_->thread.joinable()) impl_->thread.join();
  {
    std::lock_guard lock(impl_->reader_mutex);
    impl_->reader.reset();
  }
  if (impl_->store) {
    impl_->store->flush(std::chrono::seconds(60));
    impl_->final_store_stats = impl_->store->stats();
    impl_->store.reset();  // commits anything still queued
  }
}

std::uint16_t Viewer::port() const noexcept { return impl_->port.load(); }

std::uint16_t Viewer::forward_port() const noexcept {
  return impl_->forward ? impl_->forward->port() : 0;
}

std::string Viewer::url() const {
  const std::string& h = impl_->options.host;
  const bool v6 = h.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + h + "]" : h) + ":" + std::to_string(port());
}

ViewerStats Viewer::stats() const {
  ViewerStats s;
  s.requests_accepted = impl_->accepted.load();
  s.requests_invalid = impl_->invalid.load();
  s.requests_busy = impl_->busy.load();
  s.forward_frames = impl_->forward_frames.load();
  s.forward_refused = impl_->forward_refused.load();
  {
    const auto st = impl_->store ? impl_->store->stats() : impl_->final_store_stats;
    s.rows_committed = st.rows_committed;
    s.rows_write_failed = st.rows_write_failed;
    s.rows_evicted = st.rows_evicted;
    s.last_error = st.last_error;
  }
  return s;
}

bool Viewer::flush(std::chrono::milliseconds timeout) noexcept {
  try {
    return impl_->store ? impl_->store->flush(timeout) : true;
  } catch (...) {
    return false;
  }
}

Expected<std::string> viewer_query_job(const std::string& db_path, const std::string& job_id,
                                       bool as_json) noexcept {
  try {
    std::string error;
    auto reader = viewer::StoreReader::open(db_path, error);
    if (!reader) return Error{"--db", error};
    auto doc = reader->job(job_id);
    if (!doc) return Error{"job", "no record carries job id '" + job_id + "' in " + db_path};
    if (as_json) return doc->dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    return viewer::format_job_timeline(*doc);
  } catch (const std::exception& e) {
    return Error{"query", e.what()};
  }
}

Expected<std::string> viewer_query_trace(const std::string& db_path, const std::string& trace_id,
                                         bool as_json) noexcept {
  try {
    std::string error;
    auto reader = viewer::StoreReader::open(db_path, error);
    if (!reader) return Error{"--db", error};
    std::string id = trace_id;
    std::transform(id.begin(), id.end(), id.begin(), ::tolower);
    auto doc = reader->trace(id);
    if (!doc) return Error{"trace", "no span carries trace id '" + trace_id + "' in " + db_path};
    if (as_json) return doc->dump(2, ' ', false, json::error_handler_t::replace) + "\n";
    return viewer::format_trace_tree(*doc);
  } catch (const std::exception& e) {
    return Error{"query", e.what()};
  }
}

}  // namespace emp::telemetry
