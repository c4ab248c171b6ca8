// The forward client (through a real Client: log().info -> file + Fluentd)
// against the real forward server on loopback, with every misbehaviour the
// protocol allows; and the frames checked by python3-msgpack.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "emp/telemetry/client.hpp"
#include "encode/json_lines.hpp"
#include "forward/forward_protocol.hpp"
#include "support/forward_peer.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::ForwardPeer;
using Hooks = forward::ForwardServerHooks;

class Forward : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-forward-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Expected<Client> make(std::map<std::string, std::string> env, std::uint16_t port) {
    env["FLUENTD_HOST"] = env.count("FLUENTD_HOST") ? env["FLUENTD_HOST"] : "127.0.0.1";
    env["FLUENTD_PORT"] = std::to_string(port);
    env["OTEL_ENABLED"] = "false";
    env.emplace("EMP_RETRY_INITIAL_INTERVAL", "20ms");
    env.emplace("EMP_RETRY_MAX_INTERVAL", "200ms");
    env.emplace("FLUENTD_TIMEOUT", "2s");
    Options o;
    o.preset = Preset::kApi;
    o.service_name = "fwd-test";
    o.machine_id = "m1";
    o.log_dir = dir_.string();
    o.env = [env](std::string_view k) -> std::optional<std::string> {
      auto it = env.find(std::string(k));
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    return Client::create(o);
  }

  static DestinationHealth fluentd(Client& c) {
    for (const auto& d : c.health().destinations) {
      if (d.name.rfind("fluentd-forward", 0) == 0) return d;
    }
    ADD_FAILURE() << "no fluentd destination in health()";
    return {};
  }
  static std::uint64_t dropped(const DestinationHealth& d, DropReason r) {
    return d.dropped[static_cast<std::size_t>(r)];
  }
  static std::uint64_t dropped_total(const DestinationHealth& d) {
    std::uint64_t n = 0;
    for (auto x : d.dropped) n += x;
    return n;
  }

  // Logs n records and flushes; returns the flush result.
  static bool log_n(Client& c, int n, std::chrono::milliseconds flush = 20s) {
    for (int i = 0; i < n; ++i) c.log().info("record", {{"i", i}, {"job.id", "job-1"}});
    return c.flush(flush);
  }

  fs::path dir_;
};

TEST_F(Forward, RecordsArriveAckedWithTheLogLineFields) {
  ForwardPeer peer;
  ASSERT_TRUE(peer.ok());
  auto c = make({}, peer.port());
  ASSERT_TRUE(c) << c.errors().front().to_string();
  {
    auto span = c->tracer().start_span("job.process");
    Scope scope(span);
    c->log().warn("with trace", {{"gpu", 0.5}, {"level", "shadowed"}, {"ok", true}});
  }
  ASSERT_TRUE(log_n(*c, 300));
  const auto d = fluentd(*c);
  EXPECT_EQ(d.delivered, 301u);
  EXPECT_EQ(dropped_total(d), 0u);
  EXPECT_EQ(d.connections_opened, 1u);  // one long-lived connection
  const auto events = peer.events();
  ASSERT_EQ(events.size(), 301u);
  const json first = json::parse(events[0].record_json);
  EXPECT_EQ(events[0].tag, "api.logs.api");  // the API preset writes api.log
  EXPECT_EQ(first["message"], "with trace");
  EXPECT_EQ(first["level"], "warn");
  EXPECT_EQ(first["service_name"], "fwd-test");
  EXPECT_EQ(first["service_type"], "api");
  EXPECT_EQ(first["machine_id"], "m1");
  EXPECT_EQ(first["field.level"], "shadowed");
  EXPECT_EQ(first["gpu"], 0.5);
  EXPECT_EQ(first["ok"], true);
  EXPECT_EQ(first["source_identification"].get<std::string>().rfind("fwd-test:m1:", 0), 0u);
  EXPECT_NE(events[0].time_unix_nano % 1000000000, 0);  // nanoseconds kept (EventTime)
  std::set<std::int64_t> seen;
  for (const auto& e : events) {
    const json r = json::parse(e.record_json);
    if (r.contains("i")) seen.insert(r["i"].get<std::int64_t>());
  }
  EXPECT_EQ(seen.size(), 300u);
  EXPECT_EQ(peer.server().stats().acks, peer.server().stats().frames);
}

TEST_F(Forward, FailoverHostTakesTheRecordsWhileTheFirstIsDownAndGivesThemBack) {
  std::uint16_t primary_port = 0;
  {
    ForwardPeer gone;  // a port where nothing listens any more: refused
    ASSERT_TRUE(gone.ok());
    primary_port = gone.port();
  }
  ForwardPeer backup;
  ASSERT_TRUE(backup.ok());
  auto c = make({{"FLUENTD_FAILOVER_HOSTS", "127.0.0.1:" + std::to_string(backup.port())},
                 {"EMP_CIRCUIT_FAILURE_THRESHOLD", "2"},
                 {"EMP_CIRCUIT_COOLDOWN", "300ms"}},
                primary_port);
  ASSERT_TRUE(c) << c.errors().front().to_string();
  ASSERT_TRUE(log_n(*c, 200));
  auto d = fluentd(*c);
  EXPECT_EQ(d.state, "failover");
  EXPECT_EQ(d.delivered, 200u);
  EXPECT_EQ(dropped_total(d), 0u);
  EXPECT_EQ(backup.count(), 200u);
  ASSERT_EQ(d.endpoints.size(), 2u);
  EXPECT_TRUE(d.endpoints[0].state == "circuit_open" || d.endpoints[0].state == "degraded")
      << d.endpoints[0].state;
  EXPECT_NE(d.endpoints[0].last_error.find("refused"), std::string::npos)
      << d.endpoints[0].last_error;
  EXPECT_TRUE(d.endpoints[1].active);
  EXPECT_NE(d.active_endpoint.find(std::to_string(backup.port())), std::string::npos);
  EXPECT_NE(d.active_reason.find("failover"), std::string::npos) << d.active_reason;

  // The first input returns on its port: a probe finds it and it has the
  // records back.
  forward::ForwardServerOptions again;
  again.port = primary_port;
  ForwardPeer primary(again);
  ASSERT_TRUE(primary.ok()) << "port " << primary_port << " taken meanwhile";
  const auto until = std::chrono::steady_clock::now() + 20s;
  int sent = 0;
  while (primary.count() == 0 && std::chrono::steady_clock::now() < until) {
    c->log().info("record", {{"i", 1000 + sent++}});
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GT(primary.count(), 0u) << "the first input was never taken back";
  ASSERT_TRUE(log_n(*c, 100));
  d = fluentd(*c);
  EXPECT_EQ(d.state, "healthy");
  EXPECT_TRUE(d.endpoints[0].active);
  EXPECT_GE(d.endpoint_switches, 2u);
  EXPECT_EQ(d.delivered, 300u + static_cast<std::uint64_t>(sent));
  EXPECT_EQ(primary.count() + backup.count(), 300u + static_cast<std::size_t>(sent));
  EXPECT_EQ(dropped_total(d), 0u);
}

TEST_F(Forward, EventsArriveUnderTheEventsFilesTagWithTheirFields) {
  ForwardPeer peer;
  ASSERT_TRUE(peer.ok());
  auto c = make({}, peer.port());
  ASSERT_TRUE(c) << c.errors().front().to_string();
  c->events().job_failed({.job_id = "job-1",
                          .job_type = "comfyui",
                          .error_type = ErrorType::kTimeout,
                          .error_message = "timed out"});
  c->events().job_completed({.job_id = "job-2", .duration_ms = 5});
  ASSERT_TRUE(c->flush(10s));
  const auto events = peer.events();
  ASSERT_EQ(events.size(), 2u);
  const json first = json::parse(events[0].record_json);
  EXPECT_EQ(events[0].tag, "api.logs.events");  // events.jsonl
  EXPECT_EQ(first["message"], "job_failed");
  EXPECT_EQ(first["event.name"], "job_failed");
  EXPECT_EQ(first["level"], "error");
  EXPECT_EQ(first["error_type"], "timeout");
  EXPECT_EQ(first["job_id"], "job-1");
  EXPECT_EQ(first["machine_id"], "m1");
  EXPECT_EQ(json::parse(events[1].record_json)["event.name"], "job_completed");
  EXPECT_EQ(c->health().track(Track::kEvents).written, 2u);
}

TEST_F(Forward, GzipFramesAreDecodedByTheServer) {
  ForwardPeer peer;
  auto c = make({{"FLUENTD_COMPRESS", "true"}}, peer.port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(log_n(*c, 500));
  EXPECT_EQ(fluentd(*c).delivered, 500u);
  EXPECT_EQ(peer.count(), 500u);
}

TEST_F(Forward, SharedKeyHandshakeAndUserAuth) {
  forward::ForwardServerOptions o;
  o.shared_key = "s3cret-key";
  o.users = {{"alice", "pw-alice"}};
  ForwardPeer peer(o);
  {
    auto c = make({{"FLUENTD_SHARED_KEY", "s3cret-key"},
                   {"FLUENTD_USERNAME", "alice"},
                   {"FLUENTD_PASSWORD", "pw-alice"}},
                  peer.port());
    ASSERT_TRUE(c);
    ASSERT_TRUE(log_n(*c, 100));
    EXPECT_EQ(fluentd(*c).delivered, 100u);
  }
  EXPECT_EQ(peer.count(), 100u);
  EXPECT_GE(peer.server().stats().handshakes_ok, 1u);
  {
    auto c = make({{"FLUENTD_SHARED_KEY", "s3cret-key"},
                   {"FLUENTD_USERNAME", "alice"},
                   {"FLUENTD_PASSWORD", "wrong"}},
                  peer.port());
    ASSERT_TRUE(c);
    log_n(*c, 10, 5s);
    const auto d = fluentd(*c);
    EXPECT_EQ(dropped(d, DropReason::kRejected), 10u);
    EXPECT_NE(d.last_error.find("shared key rejected"), std::string::npos) << d.last_error;
    EXPECT_EQ(d.last_error.find("wrong"), std::string::npos);  // no secret in errors
  }
  EXPECT_EQ(peer.count(), 100u);
}

TEST_F(Forward, WrongSharedKeyIsReportedAsRejectedNotAsANetworkError) {
  forward::ForwardServerOptions o;
  o.shared_key = "right";
  ForwardPeer peer(o);
  auto c = make({{"FLUENTD_SHARED_KEY", "wrong-key-value"}}, peer.port());
  ASSERT_TRUE(c);
  log_n(*c, 20, 5s);
  const auto d = fluentd(*c);
  EXPECT_EQ(dropped(d, DropReason::kRejected), 20u);
  EXPECT_EQ(d.delivered, 0u);
  EXPECT_NE(d.last_error.find("shared key rejected"), std::string::npos) << d.last_error;
  EXPECT_EQ(d.last_error.find("wrong-key-value"), std::string::npos);
  EXPECT_EQ(peer.count(), 0u);
  EXPECT_GE(peer.server().stats().handshakes_failed, 1u);
}

TEST_F(Forward, ServerThatClosesAfterPingMeansRejected) {
  forward::ForwardServerOptions o;
  o.shared_key = "k";
  ForwardPeer peer(o);
  peer.hooks.handshake = Hooks::Handshake::kClose;
  auto c = make({{"FLUENTD_SHARED_KEY", "k"}}, peer.port());
  ASSERT_TRUE(c);
  log_n(*c, 5, 5s);
  const auto d = fluentd(*c);
  EXPECT_EQ(dropped(d, DropReason::kRejected), 5u);
  EXPECT_NE(d.last_error.find("shared key rejected"), std::string::npos) << d.last_error;
}

TEST_F(Forward, TlsVerifiedAgainstTheCaFile) {
  testing::TestPki pki(dir_);
  ASSERT_TRUE(pki.ok()) << "openssl CLI failed";
  forward::ForwardServerOptions o;
  o.tls_cert_file = pki.cert;
  o.tls_key_file = pki.key;
  o.shared_key = "tls-key";
  ForwardPeer peer(o);
  ASSERT_TRUE(peer.ok());
  auto c = make(
      {{"FLUENTD_SECURE", "true"}, {"FLUENTD_CA_FILE", pki.ca}, {"FLUENTD_SHARED_KEY", "tls-key"}},
      peer.port());
  ASSERT_TRUE(c) << c.errors().front().to_string();
  ASSERT_TRUE(log_n(*c, 200));
  EXPECT_EQ(fluentd(*c).delivered, 200u);
  EXPECT_EQ(fluentd(*c).name.rfind("fluentd-forward tls://", 0), 0u);
  EXPECT_EQ(peer.count(), 200u);
}

TEST_F(Forward, TlsWithAnUntrustedCertificateIsRefused) {
  testing::TestPki pki(dir_);
  ASSERT_TRUE(pki.ok());
  forward::ForwardServerOptions o;
  o.tls_cert_file = pki.cert;
  o.tls_key_file = pki.key;
  ForwardPeer peer(o);
  {
    auto c = make({{"FLUENTD_SECURE", "true"}}, peer.port());  // system store: not our CA
    ASSERT_TRUE(c);
    log_n(*c, 5, 5s);
    const auto d = fluentd(*c);
    EXPECT_EQ(d.delivered, 0u);
    EXPECT_NE(d.last_error.find("not trusted"), std::string::npos) << d.last_error;
  }
  EXPECT_EQ(peer.count(), 0u);
  {
    auto c = make({{"FLUENTD_SECURE", "true"}, {"FLUENTD_TLS_VERIFY", "false"}}, peer.port());
    ASSERT_TRUE(c);
    ASSERT_TRUE(log_n(*c, 5));
    EXPECT_EQ(fluentd(*c).delivered, 5u);
  }
}

TEST_F(Forward, NeverAckedBatchesAreRetriedThenDroppedWithAReason) {
  ForwardPeer peer;
  peer.hooks.reply = Hooks::Reply::kNoAck;
  auto c = make({{"FLUENTD_TIMEOUT", "200ms"}, {"EMP_RETRY_MAX_ELAPSED_TIME", "1s"}}, peer.port());
  ASSERT_TRUE(c);
  log_n(*c, 50, 10s);
  const auto d = fluentd(*c);
  EXPECT_EQ(d.delivered, 0u);
  EXPECT_GE(d.retried, 1u);
  // retry_exhausted, or circuit_open once the breaker opened first.
  EXPECT_EQ(dropped(d, DropReason::kRetryExhausted) + dropped(d, DropReason::kCircuitOpen), 50u);
  EXPECT_NE(d.last_error.find("no ack"), std::string::npos) << d.last_error;
  EXPECT_GE(peer.count(), 50u);  // the server kept copies: at-least-once
}

TEST_F(Forward, UnackedGarbageAndResetAreRetriedUntilAcked) {
  for (auto reply : {Hooks::Reply::kNoAck, Hooks::Reply::kGarbage, Hooks::Reply::kReset}) {
    ForwardPeer peer;
    peer.hooks.reply = reply;
    peer.hooks.misbehave_frames = 2;
    auto c = make({{"FLUENTD_TIMEOUT", "300ms"}}, peer.port());
    ASSERT_TRUE(c);
    ASSERT_TRUE(log_n(*c, 40));
    const auto d = fluentd(*c);
    EXPECT_EQ(d.delivered, 40u) << static_cast<int>(reply);
    EXPECT_GE(d.retried, 1u);
    EXPECT_EQ(dropped_total(d), 0u);
    std::set<std::string> distinct;
    for (const auto& e : peer.events()) distinct.insert(e.record_json);
    EXPECT_EQ(distinct.size(), 40u);  // duplicates allowed, nothing missing
  }
}

TEST_F(Forward, ResetMidFrameAndLateAckStillDeliver) {
  ForwardPeer peer;
  peer.hooks.reset_partial = true;
  peer.hooks.ack_delay_ms = 300;
  auto c = make({{"FLUENTD_TIMEOUT", "5s"}}, peer.port());
  ASSERT_TRUE(c);
  // A large record so the frame arrives in more than one read.
  std::string big(300000, 'x');
  c->log().info(big);
  ASSERT_TRUE(log_n(*c, 10));
  EXPECT_EQ(fluentd(*c).delivered, 11u);
  EXPECT_EQ(dropped_total(fluentd(*c)), 0u);
}

TEST_F(Forward, OutageThenRecoveryLosesNothingWithinTheMemoryCap) {
  std::uint16_t port = 0;
  {
    ForwardPeer probe;  // find a free port, then leave it closed
    port = probe.port();
  }
  // With the spool on, batches that meet the open breaker wait on disk
  // (docs/fluentd-forward.md); the spool directory is named after the stream.
  auto c = make({{"EMP_CIRCUIT_COOLDOWN", "1s"}, {"EMP_SPOOL_ENABLED", "true"}}, port);
  ASSERT_TRUE(c);
  for (int i = 0; i < 2000; ++i) c->log().info("during outage", {{"i", i}});
  EXPECT_FALSE(c->flush(1500ms));
  forward::ForwardServerOptions o;
  o.port = port;
  ForwardPeer peer(o);
  ASSERT_TRUE(peer.ok());
  // flush() waits at most EMP_SHUTDOWN_TIMEOUT-like bounds: poll for up to 60 s.
  bool flushed = false;
  for (int i = 0; i < 12 && !flushed; ++i) flushed = c->flush(5s);
  const auto d = fluentd(*c);
  ASSERT_TRUE(flushed) << "delivered " << d.delivered << " spooled " << d.spooled << " dropped "
                       << dropped_total(d) << " " << d.last_error;
  EXPECT_EQ(d.delivered, 2000u);
  EXPECT_EQ(dropped_total(d), 0u);
  bool named = false;
  for (const auto& e : fs::directory_iterator(dir_ / "spool")) {
    named = named || e.path().filename().string().rfind("fluentd-logs-", 0) == 0;
  }
  EXPECT_TRUE(named);
  std::set<std::int64_t> seen;
  for (const auto& e : peer.events()) seen.insert(json::parse(e.record_json)["i"].get<int>());
  EXPECT_EQ(seen.size(), 2000u);
}

TEST_F(Forward, FramesReadByAnIndependentDecoder) {
  encode::LineContext ctx{"svc", "worker", "m9", "production", "m9-worker-1"};
  encode::LineLimits limits;
  std::string frames;
  for (bool gzip : {false, true}) {
    std::string entries;
    const Field fields[] = {{"job.id", "job-7"},
                            {"n", std::int64_t{-5}},
                            {"x", 1.25},
                            {"message", "dup"},
                            {"bad", "\xff\xfe"}};
    const std::uint8_t trace[16] = {1, 2, 3}, span[8] = {4};
    encode::LogRecordView r;
    r.time_unix_nano = 1700000000123456789;
    r.level = Level::kError;
    r.message = "hello \xc3\xa9";
    r.fields = fields;
    r.log_file_path = "/var/log/w/worker.log";
    r.trace_id = trace;
    r.span_id = span;
    forward::append_log_entry(entries, r, ctx, limits);
    forward::append_log_entry(entries, r, ctx, limits);
    ASSERT_TRUE(forward::append_packed_forward(frames, forward::log_tag("worker", r.log_file_path),
                                               entries, 2, forward::new_chunk_id(), gzip));
  }
  const fs::path in = dir_ / "frames.bin";
  std::ofstream(in, std::ios::binary) << frames;
  const std::string cmd =
      "/usr/bin/python3 " EMP_FORWARD_CHECK_SCRIPT " '" + in.string() + "' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ASSERT_EQ(::pclose(p), 0) << out;
  std::vector<json> lines;
  std::size_t at = 0;
  while (at < out.size()) {
    const auto nl = out.find('\n', at);
    lines.push_back(json::parse(out.substr(at, nl - at)));
    at = nl + 1;
  }
  ASSERT_EQ(lines.size(), 4u);
  const json& e = lines[3];
  EXPECT_EQ(e["tag"], "worker.logs.worker");
  EXPECT_EQ(e["sec"], 1700000000);
  EXPECT_EQ(e["nsec"], 123456789);
  EXPECT_EQ(e["record"]["message"], "hello \xc3\xa9");
  EXPECT_EQ(e["record"]["level"], "error");
  EXPECT_EQ(e["record"]["timestamp"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(e["record"]["worker_id"], "m9-worker-1");
  EXPECT_EQ(e["record"]["field.message"], "dup");
  EXPECT_EQ(e["record"]["n"], -5);
  EXPECT_EQ(e["record"]["x"], 1.25);
  EXPECT_EQ(e["record"]["bad"], "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(e["record"]["trace_id"], "01020300000000000000000000000000");
  EXPECT_EQ(e["record"]["source_identification"], "svc:m9:/var/log/w/worker.log");
  EXPECT_NE(lines[0]["chunk"], lines[2]["chunk"]);
}

}  // namespace
}  // namespace emp::telemetry
