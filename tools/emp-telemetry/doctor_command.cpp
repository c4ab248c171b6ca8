// `emp-telemetry doctor`: Client::test() (emp/telemetry/pipeline_test.hpp) on a
// client made from the environment, printed as a table a person can act on
// (one block per check: status, hops, reason, what to do) or as JSON, then
// the client's own state. docs/doctor.md describes the checks.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.hpp"
#include "emp/telemetry/client.hpp"
#include "emp/telemetry/pipeline_test.hpp"
#include "text.hpp"

namespace emp::telemetry::cli {
namespace {

std::string ms(std::chrono::microseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

nlohmann::json report_json(const Client& client, const PipelineReport& r) {
  nlohmann::json out;
  out["service_name"] = client.config().service_name;
  out["status"] = to_string(r.overall);
  out["exit_code"] = r.exit_code();
  out["checks"] = nlohmann::json::array();
  for (const auto& c : r.checks) {
    nlohmann::json j{{"name", c.name},
                     {"target", c.target},
                     {"status", to_string(c.status)},
                     {"reason", c.reason},
                     {"advice", c.advice},
                     {"total_ms", static_cast<double>(c.total.count()) / 1000.0}};
    j["hops"] = nlohmann::json::array();
    for (const auto& h : c.hops) {
      j["hops"].push_back(
          {{"name", h.name}, {"ms", static_cast<double>(h.duration.count()) / 1000.0}});
    }
    if (!c.tls_subject.empty()) j["tls"] = {{"subject", c.tls_subject}, {"expiry", c.tls_expiry}};
    if (!c.transcript.empty()) j["transcript"] = c.transcript;
    out["checks"].push_back(std::move(j));
  }
  nlohmann::json state;
  state["destinations"] = nlohmann::json::array();
  for (const auto& d : r.client.destinations) {
    state["destinations"].push_back({{"name", d.name},
                                     {"state", d.state},
                                     {"queue_bytes", d.queue_bytes},
                                     {"spool_bytes", d.spool_bytes},
                                     {"delivered", d.delivered},
                                     {"dropped", d.dropped},
                                     {"last_error", d.last_error}});
    if (!d.active_endpoint.empty()) {
      state["destinations"].back()["active_endpoint"] = d.active_endpoint;
      state["destinations"].back()["active_reason"] = d.active_reason;
    }
  }
  state["drops"] = nlohmann::json::object();
  for (const auto& [what, n] : r.client.drops) state["drops"][what] = n;
  out["client"] = std::move(state);
  return out;
}

void print_report(const Client& client, const PipelineReport& r) {
  const Config& c = client.config();
  std::printf("emp-telemetry doctor: %s (%s), machine %s\n\n", c.service_name.c_str(),
              c.service_type.c_str(), c.machine_id.c_str());
  for (const auto& check : r.checks) {
    const std::string status = check.status == CheckStatus::kFailed     ? "FAILED"
                               : check.status == CheckStatus::kDegraded ? "DEGRADED"
                                                                        : to_string(check.status);
    std::printf("  %-20s %-9s %10s  %s\n", check.name.c_str(), status.c_str(),
                check.status == CheckStatus::kSkipped ? "" : ms(check.total).c_str(),
                check.target.c_str());
    if (!check.hops.empty()) {
      std::string hops;
      for (const auto& h : check.hops) {
        hops += (hops.empty() ? "" : ", ") + h.name + " " + ms(h.duration);
      }
      std::printf("  %-20s %s\n", "", hops.c_str());
    }
    if (!check.tls_subject.empty()) {
      std::printf("  %-20s certificate %s, expires %s\n", "", check.tls_subject.c_str(),
                  check.tls_expiry.c_str());
    }
    if (!check.reason.empty()) std::printf("  %-20s %s\n", "", check.reason.c_str());
    if (!check.advice.empty()) std::printf("  %-20s what to do: %s\n", "", check.advice.c_str());
    for (const auto& t : check.transcript) std::printf("  %-20s | %s\n", "", t.c_str());
  }
  std::printf("\nclient state:\n");
  for (const auto& d : r.client.destinations) {
    std::printf("  %-55s %-12s queue %llu B, spool %llu B, delivered %llu, dropped %llu%s%s\n",
                d.name.c_str(), d.state.c_str(), static_cast<unsigned long long>(d.queue_bytes),
                static_cast<unsigned long long>(d.spool_bytes),
                static_cast<unsigned long long>(d.delivered),
                static_cast<unsigned long long>(d.dropped), d.last_error.empty() ? "" : ": ",
                d.last_error.c_str());
    if (!d.active_endpoint.empty()) {
      std::printf("  %-55s active endpoint %s: %s\n", "", d.active_endpoint.c_str(),
                  d.active_reason.c_str());
    }
  }
  if (r.client.drops.empty()) std::printf("  no records dropped since start\n");
  for (const auto& [what, n] : r.client.drops) {
    std::printf("  dropped %s: %llu\n", what.c_str(), static_cast<unsigned long long>(n));
  }
  std::printf("\n%s (exit %d)\n",
              r.overall == CheckStatus::kHealthy    ? "everything is healthy"
              : r.overall == CheckStatus::kDegraded ? "something is degraded"
                                                    : "a destination fails",
              r.exit_code());
}

}  // namespace

int run_doctor(const GlobalArgs& global, const DoctorArgs& args) {
  auto created = Client::create(base_options(global));
  if (!created) {
    for (const auto& e : created.errors()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::fprintf(stderr, "emp-telemetry doctor: invalid configuration (%s): nothing to test\n",
                 count_noun(created.errors().size(), "problem").c_str());
    return 2;
  }
  Client& client = created.value();
  PipelineTestOptions options;
  options.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(args.timeout_s * 1000));
  options.only = args.only;
  options.end_to_end = !args.no_end_to_end;
  options.verbose = args.verbose;
  const PipelineReport report = client.test(options);
  if (args.json) {
    std::cout
        << report_json(client, report).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
  } else {
    print_report(client, report);
  }
  std::cout.flush();
  // What the end-to-end markers left in queues is not the user's data: a
  // short, bounded shutdown.
  client.shutdown(std::chrono::milliseconds(500));
  return report.exit_code();
}

}  // namespace emp::telemetry::cli
