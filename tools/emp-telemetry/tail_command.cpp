// `emp-telemetry tail`: the tailer of Client::add_file as a sidecar for
// services that are not written in C++: ships the files to FLUENTD_HOST
// until --duration passes or SIGINT/SIGTERM comes, then delivers (or
// spools) what it read and prints what it did. Positions are kept in
// <LOG_DIR>/tail-positions.db, so running it again continues where it
// stopped. Exits 0 when every line read was delivered.
#include <signal.h>
#include <time.h>

#include <chrono>
#include <iostream>

#include "commands.hpp"
#include "emp/telemetry/client.hpp"

namespace emp::telemetry::cli {

int run_tail(const GlobalArgs& global, const TailArgs& args) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto created = Client::create(base_options(global));
  if (!created) {
    for (const auto& e : created.errors()) std::cerr << e.to_string() << "\n";
    std::cerr << "emp-telemetry tail: invalid configuration; nothing was tailed\n";
    return 1;
  }
  Client& client = created.value();
  for (const std::string& p : args.paths) {
    if (auto err = client.add_file(p, args.tag)) {
      std::cerr << "emp-telemetry tail: " << err->to_string() << "\n";
      client.shutdown(std::chrono::seconds(1));
      return 1;
    }
  }
  std::cerr << "emp-telemetry tail: shipping to " << client.config().fluentd_host << ":"
            << client.config().fluentd_port << "\n";
  int sig = 0;
  if (args.duration) {
    const double s = *args.duration;
    timespec ts{static_cast<time_t>(s), static_cast<long>((s - static_cast<time_t>(s)) * 1e9)};
    sig = sigtimedwait(&stop_signals, nullptr, &ts);
  } else {
    sigwait(&stop_signals, &sig);
  }
  const bool ok = client.shutdown(client.config().shutdown_timeout);
  const HealthSnapshot h = client.health();
  std::uint64_t delivered = 0, dropped = 0, spooled = 0;
  for (const auto& d : h.destinations) {
    if (d.name.find("(tailed files)") == std::string::npos) continue;
    delivered += d.delivered;
    spooled += d.spooled;
    for (auto n : d.dropped) dropped += n;
  }
  std::cout << "emp-telemetry tail: " << h.tail.lines << " lines read, " << delivered
            << " delivered, " << spooled << " spooled, " << dropped << " dropped; "
            << h.tail.truncated << " truncated, " << h.tail.rotations << " rotations followed, "
            << h.tail.errors << " read errors" << std::endl;
  return ok && dropped == 0 && spooled == 0 && delivered == h.tail.lines ? 0 : 1;
}

}  // namespace emp::telemetry::cli
