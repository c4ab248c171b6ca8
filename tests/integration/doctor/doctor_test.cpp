// The pipeline test (Client::test, `emp-telemetry doctor`) against loopback
// peers that answer each case: a collector and a Sentry endpoint
// (LoopbackCollector) that are healthy, refuse, hang, or answer 401, 404, 415,
// 429; a forward server (ForwardPeer) that acks, never acks, has another
// shared key, or a certificate from a CA the client does not trust. Each
// report is checked for the status, the reason and the hops.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "doctor/probes.hpp"
#include "emp/telemetry/client.hpp"
#include "emp/telemetry/pipeline_test.hpp"
#include "integration/cli_gen/cli_process.hpp"
#include "support/forward_peer.hpp"
#include "support/loopback_collector.hpp"

namespace emp::telemetry::doctor_test {
namespace {

using namespace std::chrono_literals;
using cli_test::describe;
using cli_test::run_cli;
using testing::ForwardPeer;
using testing::LoopbackCollector;
using testing::Response;

class Doctor : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("emp-doctor-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::map<std::string, std::string> env(std::map<std::string, std::string> extra = {}) {
    extra.emplace("LOG_DIR", (dir_ / "logs").string());
    extra.emplace("SERVICE_NAME", "doctor-test");
    extra.emplace("EMP_SPOOL_ENABLED", "false");
    return extra;
  }

  Config config(std::map<std::string, std::string> vars) {
    Options o;
    const auto all = env(std::move(vars));
    o.env = [all](std::string_view k) -> std::optional<std::string> {
      auto it = all.find(std::string(k));
      if (it == all.end()) return std::nullopt;
      return it->second;
    };
    auto c = finalize(o);
    if (!c) {
      for (const auto& e : c.errors()) ADD_FAILURE() << e.to_string();
      std::abort();
    }
    return std::move(c).value();
  }

  Client client(std::map<std::string, std::string> vars) {
    auto c = Client::create(config(std::move(vars)));
    if (!c) std::abort();
    return std::move(c).value();
  }

  std::string dsn(const LoopbackCollector& c, const std::string& key = "pubkey") const {
    return "http://" + key + "@127.0.0.1:" + std::to_string(c.port()) + "/42";
  }

  std::filesystem::path dir_;
};

const CheckResult* find(const PipelineReport& r, const std::string& name) {
  for (const auto& c : r.checks)
    if (c.name == name) return &c;
  return nullptr;
}

bool has_hop(const CheckResult& c, const std::string& hop) {
  for (const auto& h : c.hops)
    if (h.name == hop && h.duration.count() > 0) return true;
  return false;
}

std::string dump(const PipelineReport& r) {
  std::string out;
  for (const auto& c : r.checks) {
    out += c.name + " " + to_string(c.status) + " " + c.target + ": " + c.reason + " [";
    for (const auto& h : c.hops) out += h.name + " ";
    out += "]\n";
  }
  return out;
}

TEST_F(Doctor, EveryDestinationHealthyWithEveryHopTimed) {
  LoopbackCollector collector;
  LoopbackCollector sentry;
  ForwardPeer fluentd;
  ASSERT_TRUE(fluentd.ok());
  auto c = client({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url()},
                   {"SENTRY_DSN", dsn(sentry)},
                   {"FLUENTD_HOST", "127.0.0.1"},
                   {"FLUENTD_PORT", std::to_string(fluentd.port())}});
  const PipelineReport r = c.test({.timeout = 5s});
  EXPECT_EQ(r.exit_code(), 0) << dump(r);
  for (const char* name : {"otlp traces", "otlp metrics", "otlp logs", "sentry"}) {
    const CheckResult* check = find(r, name);
    ASSERT_NE(check, nullptr) << name << "\n" << dump(r);
    EXPECT_EQ(check->status, CheckStatus::kHealthy) << dump(r);
    EXPECT_TRUE(has_hop(*check, "connect")) << dump(r);
    EXPECT_TRUE(has_hop(*check, "response")) << dump(r);
  }
  const CheckResult* fwd = find(r, "fluentd");
  ASSERT_NE(fwd, nullptr);
  EXPECT_EQ(fwd->status, CheckStatus::kHealthy) << dump(r);
  EXPECT_TRUE(has_hop(*fwd, "connect") && has_hop(*fwd, "ack")) << dump(r);
  for (const char* name :
       {"end-to-end logs", "end-to-end traces", "end-to-end metrics", "end-to-end errors"}) {
    const CheckResult* check = find(r, name);
    ASSERT_NE(check, nullptr) << name;
    EXPECT_EQ(check->status, CheckStatus::kHealthy) << dump(r);
    EXPECT_TRUE(has_hop(*check, "flush")) << dump(r);
  }
  // The probes: an empty export request per signal; a Sentry envelope with
  // only a client report, with the DSN's key; the test record and the
  // markers at the forward server.
  bool empty_traces = false;
  for (const auto& req : collector.requests()) {
    if (req.target == "/v1/traces" && req.body.empty()) empty_traces = true;
  }
  EXPECT_TRUE(empty_traces);
  bool report_only = false;
  for (const auto& req : sentry.requests()) {
    const auto auth = req.header("x-sentry-auth");
    if (req.body.find("\"type\":\"client_report\"") != std::string::npos &&
        req.body.find("\"type\":\"event\"") == std::string::npos && auth &&
        auth->find("sentry_key=pubkey") != std::string::npos) {
      report_only = true;
    }
  }
  EXPECT_TRUE(report_only);
  bool marker_at_fluentd = false;
  for (const auto& e : fluentd.events()) {
    marker_at_fluentd =
        marker_at_fluentd || e.record_json.find("emp.pipeline_test") != std::string::npos;
  }
  EXPECT_TRUE(marker_at_fluentd);
  EXPECT_FALSE(r.client.destinations.empty());
}

TEST_F(Doctor, ClosedCollectorPortFailsOtlpWhileTheOthersStayHealthy) {
  LoopbackCollector collector;
  LoopbackCollector sentry;
  ForwardPeer fluentd;
  const std::string base = collector.base_url();
  collector.stop();
  auto c = client({{"OTEL_EXPORTER_OTLP_ENDPOINT", base},
                   {"SENTRY_DSN", dsn(sentry)},
                   {"FLUENTD_HOST", "127.0.0.1"},
                   {"FLUENTD_PORT", std::to_string(fluentd.port())}});
  const PipelineReport r = c.test({.timeout = 3s});
  EXPECT_EQ(r.exit_code(), 2) << dump(r);
  const CheckResult* otlp = find(r, "otlp traces");
  ASSERT_NE(otlp, nullptr);
  EXPECT_EQ(otlp->status, CheckStatus::kFailed);
  EXPECT_NE(otlp->reason.find("connection refused"), std::string::npos) << otlp->reason;
  EXPECT_NE(otlp->advice.find("OTEL_EXPORTER_OTLP_ENDPOINT"), std::string::npos) << otlp->advice;
  EXPECT_EQ(find(r, "sentry")->status, CheckStatus::kHealthy) << dump(r);
  EXPECT_EQ(find(r, "fluentd")->status, CheckStatus::kHealthy) << dump(r);
  EXPECT_EQ(find(r, "end-to-end traces")->status, CheckStatus::kFailed) << dump(r);
  c.shutdown(500ms);  // the marker span has nowhere to go
}

TEST_F(Doctor, HungCollectorIsReportedWithinTheTimeoutPlusOneSecond) {
  LoopbackCollector collector;
  collector.set_default(Response::hang());
  auto c = client({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url()}});
  const auto start = std::chrono::steady_clock::now();
  const PipelineReport r = c.test({.timeout = 2s});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(r.exit_code(), 2) << dump(r);
  const CheckResult* otlp = find(r, "otlp traces");
  ASSERT_NE(otlp, nullptr);
  EXPECT_EQ(otlp->status, CheckStatus::kFailed);
  EXPECT_EQ(otlp->reason.rfind("timeout: no answer within 2000 ms", 0), 0u) << otlp->reason;
  EXPECT_TRUE(has_hop(*otlp, "connect")) << dump(r);
  c.shutdown(500ms);
}

TEST_F(Doctor, OtlpAnswersAreNamed) {
  LoopbackCollector collector;
  struct Case {
    Response response;
    CheckStatus status;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {Response::with_status(401), CheckStatus::kFailed, "credentials rejected (HTTP 401)"},
      {Response::with_status(403), CheckStatus::kFailed, "credentials rejected (HTTP 403)"},
      {Response::with_status(404), CheckStatus::kFailed,
       "wrong path: " + collector.url("/v1/traces") + " (HTTP 404)"},
      {Response::with_status(415), CheckStatus::kFailed,
       "wrong content type: the server does not take application/x-protobuf (HTTP 415)"},
      {Response::retry_after(429, "7"), CheckStatus::kDegraded,
       "busy (HTTP 429) (retry after 7 s)"},
      {Response::with_status(400, "bad request body"), CheckStatus::kFailed,
       "rejected (HTTP 400): bad request body"},
  };
  const Config cfg = config({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url()},
                             {"OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer s3cret"}});
  for (const auto& k : cases) {
    collector.enqueue(k.response);
    const CheckResult r = doctor::probe_otlp("otlp traces", deliver::Signal::kTraces,
                                             cfg.otlp_traces, {.timeout = 3s, .verbose = true});
    EXPECT_EQ(r.status, k.status) << r.reason;
    EXPECT_EQ(r.reason, k.reason);
    EXPECT_FALSE(r.advice.empty()) << r.reason;
    ASSERT_EQ(r.transcript.size(), 2u);
    EXPECT_NE(r.transcript[0].find("authorization: ***"), std::string::npos) << r.transcript[0];
    for (const auto& t : r.transcript) EXPECT_EQ(t.find("s3cret"), std::string::npos) << t;
  }
}

TEST_F(Doctor, SentryAnswersAreNamed) {
  LoopbackCollector sentry;
  const Config cfg = config({{"SENTRY_DSN", dsn(sentry, "badkey")}});
  sentry.enqueue(Response::with_status(401, "{\"detail\":\"invalid api key\"}"));
  CheckResult r = doctor::probe_sentry(cfg, {.timeout = 3s});
  EXPECT_EQ(r.status, CheckStatus::kFailed);
  EXPECT_EQ(r.reason, "DSN key rejected (HTTP 401)");
  EXPECT_NE(r.advice.find("SENTRY_DSN"), std::string::npos);

  sentry.enqueue(Response::retry_after(429, "60"));
  r = doctor::probe_sentry(cfg, {.timeout = 3s});
  EXPECT_EQ(r.status, CheckStatus::kDegraded);
  EXPECT_EQ(r.reason, "rate limited (retry after 60 s)");

  sentry.enqueue(Response::with_status(404));
  r = doctor::probe_sentry(cfg, {.timeout = 3s});
  EXPECT_EQ(r.status, CheckStatus::kFailed);
  EXPECT_EQ(r.reason.rfind("no such project or path: " + sentry.url("/api/42/envelope/"), 0), 0u)
      << r.reason;
}

TEST_F(Doctor, FluentdWrongKeyNoAckAndUntrustedCertificateAreNamed) {
  forward::ForwardServerOptions keyed;
  keyed.shared_key = "right-key";
  ForwardPeer peer(keyed);
  ASSERT_TRUE(peer.ok());
  CheckResult r = doctor::probe_fluentd(config({{"FLUENTD_HOST", "127.0.0.1"},
                                                {"FLUENTD_PORT", std::to_string(peer.port())},
                                                {"FLUENTD_SHARED_KEY", "wrong-key"}}),
                                        {.timeout = 3s});
  EXPECT_EQ(r.status, CheckStatus::kFailed);
  EXPECT_EQ(r.reason.rfind("shared key rejected", 0), 0u) << r.reason;
  EXPECT_NE(r.advice.find("FLUENTD_SHARED_KEY"), std::string::npos);
  EXPECT_EQ(r.reason.find("wrong-key"), std::string::npos);

  r = doctor::probe_fluentd(config({{"FLUENTD_HOST", "127.0.0.1"},
                                    {"FLUENTD_PORT", std::to_string(peer.port())},
                                    {"FLUENTD_SHARED_KEY", "right-key"}}),
                            {.timeout = 3s});
  EXPECT_EQ(r.status, CheckStatus::kHealthy) << r.reason;
  EXPECT_TRUE(has_hop(r, "handshake") && has_hop(r, "ack"));

  ForwardPeer silent;
  silent.hooks.reply = forward::ForwardServerHooks::Reply::kNoAck;
  const auto start = std::chrono::steady_clock::now();
  r = doctor::probe_fluentd(
      config({{"FLUENTD_HOST", "127.0.0.1"}, {"FLUENTD_PORT", std::to_string(silent.port())}}),
      {.timeout = 1s});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(r.status, CheckStatus::kFailed);
  EXPECT_EQ(r.reason.rfind("timeout: no ack", 0), 0u) << r.reason;

  testing::TestPki pki(dir_);
  ASSERT_TRUE(pki.ok()) << "openssl CLI failed";
  forward::ForwardServerOptions tls;
  tls.tls_cert_file = pki.cert;
  tls.tls_key_file = pki.key;
  ForwardPeer secure(tls);
  ASSERT_TRUE(secure.ok());
  r = doctor::probe_fluentd(config({{"FLUENTD_HOST", "127.0.0.1"},
                                    {"FLUENTD_PORT", std::to_string(secure.port())},
                                    {"FLUENTD_SECURE", "true"}}),
                            {.timeout = 3s});
  EXPECT_EQ(r.status, CheckStatus::kFailed);
  EXPECT_EQ(r.reason.rfind("TLS failed", 0), 0u) << r.reason;
  EXPECT_NE(r.advice.find("FLUENTD_CA_FILE"), std::string::npos);

  r = doctor::probe_fluentd(config({{"FLUENTD_HOST", "127.0.0.1"},
                                    {"FLUENTD_PORT", std::to_string(secure.port())},
                                    {"FLUENTD_SECURE", "true"},
                                    {"FLUENTD_CA_FILE", pki.ca}}),
                            {.timeout = 3s});
  EXPECT_EQ(r.status, CheckStatus::kHealthy) << r.reason;
  EXPECT_TRUE(has_hop(r, "tls"));
  EXPECT_NE(r.tls_subject.find("localhost"), std::string::npos) << r.tls_subject;
  EXPECT_EQ(r.tls_expiry.size(), 20u) << r.tls_expiry;
}

TEST_F(Doctor, CliExitCodesJsonAndUsage) {
  LoopbackCollector collector;
  LoopbackCollector sentry;
  ForwardPeer fluentd;
  auto vars = env({{"OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url()},
                   {"SENTRY_DSN", dsn(sentry)},
                   {"FLUENTD_HOST", "127.0.0.1"},
                   {"FLUENTD_PORT", std::to_string(fluentd.port())}});
  auto ok = run_cli({"doctor", "--json"}, vars, 60s);
  ASSERT_EQ(ok.exit_code, 0) << describe(ok);
  const auto doc = nlohmann::json::parse(ok.out);
  EXPECT_EQ(doc["status"], "healthy");
  for (const auto& check : doc["checks"]) {
    if (check["status"] == "skipped") continue;
    EXPECT_EQ(check["status"], "healthy") << check.dump();
    EXPECT_FALSE(check["hops"].empty()) << check.dump();
  }

  // A wrong Sentry key only.
  sentry.set_default(Response::with_status(403));
  auto key = run_cli({"doctor", "--only", "sentry"}, vars, 60s);
  EXPECT_EQ(key.exit_code, 2) << describe(key);
  EXPECT_NE(key.out.find("DSN key rejected (HTTP 403)"), std::string::npos) << describe(key);
  EXPECT_NE(key.out.find("otlp traces          skipped"), std::string::npos) << describe(key);

  // A collector that accepts and never answers: back within the timeout.
  collector.set_default(Response::hang());
  const auto start = std::chrono::steady_clock::now();
  auto hung = run_cli({"doctor", "--timeout", "3", "--only", "otel,end-to-end"}, vars, 60s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(hung.exit_code, 2) << describe(hung);
  EXPECT_NE(hung.out.find("timeout: no answer within 3000 ms"), std::string::npos)
      << describe(hung);

  auto usage = run_cli({"doctor", "--only", "bogus"}, vars, 30s);
  EXPECT_EQ(usage.exit_code, 64) << describe(usage);
}

}  // namespace
}  // namespace emp::telemetry::doctor_test
