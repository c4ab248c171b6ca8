// `emp-telemetry gen --logs 20000` with FLUENTD_HOST set: exits 0 only when
// every record was acked by the forward server started here, in plain TCP,
// TLS, shared-key and user-authentication setups; and fails with the reason
// when the key is wrong.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "integration/cli_gen/cli_process.hpp"
#include "support/forward_peer.hpp"

namespace emp::telemetry::cli_test {
namespace {

using json = nlohmann::json;
using testing::ForwardPeer;
using namespace std::chrono_literals;

std::map<std::string, std::string> forward_env(const ForwardPeer& peer, const TempDir& dir) {
  return {{"LOG_DIR", dir.path().string()},
          {"SERVICE_NAME", "gen-forward"},
          {"OTEL_ENABLED", "false"},
          {"FLUENTD_HOST", "127.0.0.1"},
          {"FLUENTD_PORT", std::to_string(peer.port())}};
}

void expect_all_acked(ForwardPeer& peer, std::map<std::string, std::string> env,
                      const TempDir& dir) {
  const Result r = run_cli({"gen", "--logs", "20000", "--json"}, env, 240s);
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  const json doc = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << describe(r);
  bool found = false;
  for (const auto& d : doc["destinations"]) {
    if (d["name"].get<std::string>().rfind("fluentd-forward", 0) != 0) continue;
    found = true;
    EXPECT_EQ(d["delivered"].get<std::uint64_t>(), 20000u);
  }
  EXPECT_TRUE(found) << r.out;
  std::set<std::string> distinct;
  for (const auto& e : peer.events()) distinct.insert(e.record_json);
  EXPECT_EQ(distinct.size(), 20000u);
  EXPECT_EQ(peer.server().stats().acks, peer.server().stats().frames);
  (void)dir;
}

TEST(CliGenForward, PlainTcp) {
  ForwardPeer peer;
  TempDir dir;
  expect_all_acked(peer, forward_env(peer, dir), dir);
}

TEST(CliGenForward, TlsWithSharedKeyAndUserAuth) {
  TempDir dir;
  testing::TestPki pki(dir.path());
  ASSERT_TRUE(pki.ok());
  forward::ForwardServerOptions o;
  o.tls_cert_file = pki.cert;
  o.tls_key_file = pki.key;
  o.shared_key = "gen-key";
  o.users = {{"gen", "gen-pw"}};
  ForwardPeer peer(o);
  auto env = forward_env(peer, dir);
  env["FLUENTD_SECURE"] = "true";
  env["FLUENTD_CA_FILE"] = pki.ca;
  env["FLUENTD_SHARED_KEY"] = "gen-key";
  env["FLUENTD_USERNAME"] = "gen";
  env["FLUENTD_PASSWORD"] = "gen-pw";
  env["FLUENTD_COMPRESS"] = "true";
  expect_all_acked(peer, env, dir);
}

TEST(CliGenForward, TlsOnly) {
  TempDir dir;
  testing::TestPki pki(dir.path());
  ASSERT_TRUE(pki.ok());
  forward::ForwardServerOptions o;
  o.tls_cert_file = pki.cert;
  o.tls_key_file = pki.key;
  ForwardPeer peer(o);
  auto env = forward_env(peer, dir);
  env["FLUENTD_SECURE"] = "true";
  env["FLUENTD_CA_FILE"] = pki.ca;
  expect_all_acked(peer, env, dir);
}

TEST(CliGenForward, SharedKeyOnly) {
  TempDir dir;
  forward::ForwardServerOptions o;
  o.shared_key = "only-key";
  ForwardPeer peer(o);
  auto env = forward_env(peer, dir);
  env["FLUENTD_SHARED_KEY"] = "only-key";
  expect_all_acked(peer, env, dir);
}

TEST(CliGenForward, WrongKeyFailsWithTheReason) {
  TempDir dir;
  forward::ForwardServerOptions o;
  o.shared_key = "right";
  ForwardPeer peer(o);
  auto env = forward_env(peer, dir);
  env["FLUENTD_SHARED_KEY"] = "wrong";
  const Result r = run_cli({"gen", "--logs", "100"}, env, 120s);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("shared key rejected"), std::string::npos) << describe(r);
}

}  // namespace
}  // namespace emp::telemetry::cli_test
