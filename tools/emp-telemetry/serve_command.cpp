// `emp-telemetry serve`: runs the local viewer (emp/telemetry/viewer.hpp)
// until SIGINT or SIGTERM. Made to be started in the background by scripts:
// it prints one line with the bound address once it listens (so a script can
// read the port when it asked for --port 0) and exits 0 after a clean stop,
// having committed everything it received.
#include <signal.h>

#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "emp/telemetry/viewer.hpp"

namespace emp::telemetry::cli {

int run_serve(const GlobalArgs&, const ServeArgs& args) {
  // Block the stop signals in every thread (the viewer's threads inherit
  // the mask) and take them synchronously with sigwait below: no handler.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  ViewerOptions options;
  options.host = args.host;
  options.port = args.port;
  options.db_path = args.db;
  options.forward_port = args.forward_port;
  options.max_bytes = args.max_mb * (1ull << 20);
  options.max_age = std::chrono::seconds(static_cast<std::int64_t>(args.max_age_hours * 3600));
  auto viewer = Viewer::start(options);
  if (!viewer) {
    for (const auto& e : viewer.errors())
      std::cerr << "emp-telemetry serve: " << e.to_string() << "\n";
    return 1;
  }
  const auto& v = *viewer;
  std::cout << "emp-telemetry serve: listening http=" << v->url() << " port=" << v->port();
  if (v->forward_port() != 0) std::cout << " forward_port=" << v->forward_port();
  std::cout << " db=" << args.db << std::endl;
  std::cerr << "  OTLP/HTTP: OTEL_EXPORTER_OTLP_ENDPOINT=" << v->url() << "\n"
            << "  Sentry:    SENTRY_DSN=http://viewer@" << v->url().substr(7) << "/1\n";
  if (v->forward_port() != 0) {
    std::cerr << "  Fluentd:   FLUENTD_HOST=" << args.host << " FLUENTD_PORT=" << v->forward_port()
              << "\n";
  }
  std::cerr << "  Page:      " << v->url() << "/\n";
  int sig = 0;
  sigwait(&stop_signals, &sig);
  v->stop();
  const auto s = v->stats();
  std::cerr << "emp-telemetry serve: stopped on " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << "; "
            << s.requests_accepted << " requests stored, " << s.requests_invalid << " rejected, "
            << s.requests_busy << " told to retry; " << s.forward_frames
            << " forward frames stored, " << s.forward_refused << " not acked; " << s.rows_committed
            << " rows committed, " << s.rows_write_failed << " failed, " << s.rows_evicted
            << " evicted\n";
  return s.rows_write_failed == 0 ? 0 : 1;
}

}  // namespace emp::telemetry::cli
