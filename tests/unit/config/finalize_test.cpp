// finalize(): precedence and origins, presets, every problem reported at once,
// secrets kept out of every text a user can see, deployment rules, and the
// resolved OTel settings. The environment is injected through Options::env.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "config/registry.hpp"
#include "emp/telemetry/config.hpp"

namespace emp::telemetry {
namespace {

using Env = std::map<std::string, std::string>;
using std::chrono::milliseconds;

Options with_env(Env env, Preset preset = Preset::kNone) {
  Options o;
  o.preset = preset;
  o.env = [env = std::move(env)](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  return o;
}

const Setting& setting(const Config& c, std::string_view name) {
  for (const Setting& s : c.settings) {
    if (s.name == name) return s;
  }
  static const Setting kMissing{};
  ADD_FAILURE() << "no setting " << name;
  return kMissing;
}

// Subjects of all errors, in order.
std::vector<std::string> subjects(const Expected<Config>& r) {
  std::vector<std::string> out;
  for (const Error& e : r.errors()) out.push_back(e.subject);
  return out;
}

const Error* find_error(const Expected<Config>& r, std::string_view subject) {
  for (const Error& e : r.errors()) {
    if (e.subject == subject) return &e;
  }
  return nullptr;
}

// Every text finalize() can show a user.
std::string all_visible_text(const Expected<Config>& r) {
  std::string text;
  for (const Error& e : r.errors()) text += e.to_string() + "\n";
  if (r) {
    for (const Setting& s : r->settings) text += s.name + "=" + s.display + " " + s.from + "\n";
    for (const std::string& n : r->notices) text += n + "\n";
  }
  return text;
}

std::string host_name() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf[0] ? std::string(buf) : "localhost";
}

const Env kProductionReady = {
    {"TELEMETRY_ENV", "production"},
    {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"},
    {"FLUENTD_HOST", "fluentd"},
    {"SENTRY_DSN", "https://pubkey@sentry.example.com/42"},
};

TEST(Finalize, DefaultsWithoutAnything) {
  auto r = finalize(with_env({}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  const Config& c = *r;
  EXPECT_EQ(c.preset, Preset::kNone);
  EXPECT_EQ(c.service_name, "unknown_service");
  EXPECT_EQ(c.service_type, "service");
  EXPECT_EQ(c.service_version, "unknown");
  EXPECT_EQ(c.machine_id, host_name());
  EXPECT_EQ(c.worker_id, "");
  EXPECT_EQ(c.environment, DeploymentEnv::kDevelopment);
  EXPECT_EQ(c.environment_name, "development");
  EXPECT_EQ(c.log_level, Level::kInfo);
  EXPECT_EQ(c.log_dir, "./telemetry-out");
  EXPECT_EQ(c.log_file, "service.log");
  EXPECT_EQ(c.log_max_file_bytes, 64ull << 20);
  EXPECT_EQ(c.log_max_files, 5u);
  EXPECT_EQ(c.max_message_bytes, 16u * 1024);
  EXPECT_EQ(c.max_field_bytes, 4u * 1024);
  EXPECT_FALSE(c.log_to_stderr);
  EXPECT_EQ(c.queue_bytes_per_thread, 512u * 1024);
  EXPECT_EQ(c.queue_full_policy, QueueFullPolicy::kDrop);
  EXPECT_EQ(c.queue_block_timeout, milliseconds(5));
  EXPECT_EQ(c.flush_interval, milliseconds(200));
  EXPECT_EQ(c.shutdown_timeout, milliseconds(5000));
  EXPECT_TRUE(c.otel_enabled);
  EXPECT_FALSE(c.sdk_disabled);
  EXPECT_EQ(c.fluentd_port, 24224);
  EXPECT_EQ(c.sentry_sample_rate, 1.0);
  EXPECT_EQ(c.sampler, SamplerKind::kParentBasedAlwaysOn);
  EXPECT_EQ(c.propagators, (std::vector<std::string>{"tracecontext", "baggage"}));
  EXPECT_EQ(c.span_batch.schedule_delay, milliseconds(5000));
  EXPECT_EQ(c.log_batch.schedule_delay, milliseconds(1000));
  EXPECT_EQ(c.metric_export_interval, milliseconds(60000));
  EXPECT_EQ(c.metrics_temporality, Temporality::kCumulative);
  EXPECT_EQ(c.span_attribute_count_limit, 128u);
  EXPECT_FALSE(c.span_attribute_value_length_limit.has_value());
  EXPECT_TRUE(c.export_error_spans);
  EXPECT_TRUE(c.otlp_traces.url.empty());

  // Settings: every registry variable, in registry order.
  ASSERT_EQ(c.settings.size(), variables().size());
  for (std::size_t i = 0; i < c.settings.size(); ++i) {
    EXPECT_EQ(c.settings[i].name, variables()[i].name);
  }
  EXPECT_EQ(setting(c, "FLUENTD_PORT").origin, Origin::kDefault);
  EXPECT_TRUE(setting(c, "FLUENTD_PORT").set);
  EXPECT_EQ(setting(c, "FLUENTD_PORT").display, "24224");
  EXPECT_FALSE(setting(c, "FLUENTD_HOST").set);
  EXPECT_EQ(c.raw("FLUENTD_PORT"), "24224");
  EXPECT_EQ(c.raw("FLUENTD_HOST"), std::nullopt);
  EXPECT_EQ(c.raw("NOT_A_VARIABLE"), std::nullopt);
}

TEST(Finalize, DevelopmentWithoutRemoteDestinationFallsBackToFiles) {
  auto r = finalize(with_env({{"LOG_DIR", "/tmp/emp-out"}}));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->local_fallback);
  ASSERT_EQ(r->notices.size(), 1u);
  // Only tracks that exist and are on (no events or errors files yet).
  EXPECT_EQ(r->notices[0],
            "no remote destination configured: writing logs, traces and metrics to local files "
            "under /tmp/emp-out");
  auto disabled = finalize(with_env({{"LOG_DIR", "/tmp/emp-out"}, {"OTEL_SDK_DISABLED", "true"}}));
  ASSERT_TRUE(disabled);
  ASSERT_EQ(disabled->notices.size(), 1u);
  EXPECT_EQ(disabled->notices[0].find("traces and metrics to"), std::string::npos);
  EXPECT_NE(disabled->notices[0].find("writing logs to local files under /tmp/emp-out"),
            std::string::npos)
      << disabled->notices[0];

  auto remote = finalize(with_env({{"FLUENTD_HOST", "fluentd"}}));
  ASSERT_TRUE(remote);
  EXPECT_FALSE(remote->local_fallback);
  EXPECT_TRUE(remote->notices.empty());

  // An OTLP endpoint does not count while OTLP is off.
  auto off = finalize(
      with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, {"OTEL_ENABLED", "false"}}));
  ASSERT_TRUE(off);
  EXPECT_TRUE(off->local_fallback);
  EXPECT_TRUE(off->otlp_traces.url.empty());
}

TEST(Finalize, Presets) {
  struct Case {
    Preset preset;
    const char* type;
  };
  for (const Case& c : {Case{Preset::kApi, "api"}, Case{Preset::kWebhook, "webhook"},
                        Case{Preset::kMachine, "machine"}, Case{Preset::kWorker, "worker"}}) {
    auto r = finalize(with_env({{"MACHINE_ID", "m1"}}, c.preset));
    ASSERT_TRUE(r) << c.type;
    EXPECT_EQ(r->preset, c.preset);
    EXPECT_EQ(r->service_type, c.type);
    EXPECT_EQ(r->service_name, std::string("emp-") + c.type);
    EXPECT_EQ(r->log_file, std::string(c.type) + ".log");
    EXPECT_EQ(setting(*r, "SERVICE_TYPE").origin, Origin::kPreset);
    EXPECT_EQ(setting(*r, "SERVICE_NAME").origin, Origin::kPreset);
    EXPECT_EQ(setting(*r, "EMP_LOG_FILE").origin, Origin::kPreset);
    EXPECT_EQ(setting(*r, "MACHINE_ID").origin, Origin::kEnvironment);
    if (c.preset == Preset::kWorker) {
      EXPECT_EQ(r->worker_id, "m1-worker-0");
      EXPECT_EQ(setting(*r, "WORKER_ID").origin, Origin::kPreset);
    } else {
      EXPECT_EQ(r->worker_id, "");
      EXPECT_FALSE(setting(*r, "WORKER_ID").set);
    }
  }
  // Worker default follows the host name when MACHINE_ID is unset.
  auto w = finalize(with_env({}, Preset::kWorker));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->worker_id, host_name() + "-worker-0");
  EXPECT_EQ(to_string(Preset::kWorker), "worker");
  EXPECT_EQ(parse_preset("Machine"), Preset::kMachine);
  EXPECT_EQ(parse_preset("gpu"), std::nullopt);
}

TEST(Finalize, PrecedenceCodeOverEnvOverPresetOverDefault) {
  // default
  auto d = finalize(with_env({}));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->service_name, "unknown_service");
  EXPECT_EQ(setting(*d, "SERVICE_NAME").origin, Origin::kDefault);
  // preset over default
  auto p = finalize(with_env({}, Preset::kApi));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->service_name, "emp-api");
  EXPECT_EQ(setting(*p, "SERVICE_NAME").origin, Origin::kPreset);
  // env over preset
  auto e = finalize(with_env({{"SERVICE_NAME", "from-env"}}, Preset::kApi));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->service_name, "from-env");
  EXPECT_EQ(setting(*e, "SERVICE_NAME").origin, Origin::kEnvironment);
  // code over env, typed field
  Options o = with_env({{"SERVICE_NAME", "from-env"},
                        {"LOG_LEVEL", "debug"},
                        {"TELEMETRY_ENV", "production"},
                        {"LOG_DIR", "/env"}},
                       Preset::kApi);
  o.service_name = "from-code";
  o.log_level = Level::kError;
  o.environment = DeploymentEnv::kDevelopment;
  o.log_dir = "/code";
  o.machine_id = "code-machine";
  o.worker_id = "code-machine-worker-3";
  o.service_version = "1.2.3";
  auto c = finalize(o);
  ASSERT_TRUE(c) << c.errors().front().to_string();
  EXPECT_EQ(c->service_name, "from-code");
  EXPECT_EQ(c->log_level, Level::kError);
  EXPECT_EQ(c->environment, DeploymentEnv::kDevelopment);
  EXPECT_EQ(c->log_dir, "/code");
  EXPECT_EQ(c->machine_id, "code-machine");
  EXPECT_EQ(c->worker_id, "code-machine-worker-3");
  EXPECT_EQ(c->service_version, "1.2.3");
  for (const char* name : {"SERVICE_NAME", "LOG_LEVEL", "TELEMETRY_ENV", "LOG_DIR", "MACHINE_ID",
                           "WORKER_ID", "SERVICE_VERSION"}) {
    EXPECT_EQ(setting(*c, name).origin, Origin::kCode) << name;
  }
  // code over env, raw map
  Options raw = with_env({{"FLUENTD_PORT", "1000"}});
  raw.raw["FLUENTD_PORT"] = "2000";
  auto rr = finalize(raw);
  ASSERT_TRUE(rr);
  EXPECT_EQ(rr->fluentd_port, 2000);
  EXPECT_EQ(setting(*rr, "FLUENTD_PORT").origin, Origin::kCode);
  EXPECT_EQ(to_string(Origin::kCode), "code");
  EXPECT_EQ(to_string(Origin::kEnvironment), "env");
}

TEST(Finalize, EmptyValueMeansUnset) {
  Options o =
      with_env({{"FLUENTD_PORT", ""}, {"SERVICE_NAME", ""}, {"LOG_LEVEL", "  "}}, Preset::kWorker);
  o.raw["EMP_QUEUE_SIZE"] = "";
  o.service_version = "";
  auto r = finalize(o);
  ASSERT_TRUE(r) << r.errors().front().to_string();
  EXPECT_EQ(r->fluentd_port, 24224);
  EXPECT_EQ(setting(*r, "FLUENTD_PORT").origin, Origin::kDefault);
  EXPECT_EQ(r->service_name, "emp-worker");
  EXPECT_EQ(setting(*r, "SERVICE_NAME").origin, Origin::kPreset);
  EXPECT_EQ(setting(*r, "LOG_LEVEL").origin, Origin::kDefault);
  EXPECT_EQ(setting(*r, "EMP_QUEUE_SIZE").origin, Origin::kDefault);
  EXPECT_EQ(setting(*r, "SERVICE_VERSION").origin, Origin::kDefault);
}

TEST(Finalize, ValuesAreTrimmed) {
  auto r = finalize(with_env({{"FLUENTD_HOST", "  fluentd \t"}, {"SERVICE_NAME", " svc "}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->fluentd_host, "fluentd");
  EXPECT_EQ(r->service_name, "svc");
  EXPECT_EQ(r->raw("SERVICE_NAME"), "svc");
}

TEST(Finalize, ServiceNamePrecedence) {
  auto otel = finalize(with_env({{"OTEL_SERVICE_NAME", "otel-name"}}, Preset::kWorker));
  ASSERT_TRUE(otel);
  EXPECT_EQ(otel->service_name, "otel-name");
  EXPECT_EQ(setting(*otel, "SERVICE_NAME").from, "OTEL_SERVICE_NAME");
  EXPECT_EQ(setting(*otel, "SERVICE_NAME").origin, Origin::kEnvironment);
  EXPECT_EQ(otel->raw("SERVICE_NAME"), "otel-name");

  auto both = finalize(with_env({{"OTEL_SERVICE_NAME", "otel-name"}, {"SERVICE_NAME", "ours"}}));
  ASSERT_TRUE(both);
  EXPECT_EQ(both->service_name, "ours");
  EXPECT_EQ(setting(*both, "SERVICE_NAME").from, "");

  auto attr = finalize(
      with_env({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=attr%20name,team=core"}}, Preset::kApi));
  ASSERT_TRUE(attr);
  EXPECT_EQ(attr->service_name, "attr name");
  EXPECT_EQ(setting(*attr, "SERVICE_NAME").from, "OTEL_RESOURCE_ATTRIBUTES");

  auto otel_over_attr = finalize(
      with_env({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=attr"}, {"OTEL_SERVICE_NAME", "otel"}}));
  ASSERT_TRUE(otel_over_attr);
  EXPECT_EQ(otel_over_attr->service_name, "otel");

  // Code beats the environment across variables.
  Options code = with_env({{"SERVICE_NAME", "env-ours"}});
  code.raw["OTEL_SERVICE_NAME"] = "code-otel";
  auto c = finalize(code);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->service_name, "code-otel");
  EXPECT_EQ(setting(*c, "SERVICE_NAME").origin, Origin::kCode);
}

TEST(Finalize, ReportsEveryProblemAtOnce) {
  auto r = finalize(with_env({
      {"FLUENTD_PORT", "70000"},
      {"SENTRY_SAMPLE_RATE", "1.5"},
      {"LOG_LEVEL", "loud"},
      {"EMP_QUEUE_SIZE", "1x"},
      {"OTEL_BSP_SCHEDULE_DELAY", "-5"},
      {"OTEL_SDK_DISABLED", "maybe"},
      {"TELEMETRY_ENV", "prod"},
      {"EMP_QUEUE_FULL_POLICY", "wait"},
  }));
  ASSERT_FALSE(r);
  const std::vector<std::string> expected = {
      "TELEMETRY_ENV",     "LOG_LEVEL",    "EMP_QUEUE_SIZE",     "EMP_QUEUE_FULL_POLICY",
      "OTEL_SDK_DISABLED", "FLUENTD_PORT", "SENTRY_SAMPLE_RATE", "OTEL_BSP_SCHEDULE_DELAY"};
  EXPECT_EQ(subjects(r), expected);
  // Each message names the rule and the offending value.
  auto has = [&](const char* subject, const char* rule, const char* value) {
    const Error* e = find_error(r, subject);
    ASSERT_NE(e, nullptr) << subject;
    EXPECT_NE(e->message.find(rule), std::string::npos) << e->message;
    EXPECT_NE(e->message.find(std::string("\"") + value + "\""), std::string::npos) << e->message;
  };
  has("FLUENTD_PORT", "1..65535", "70000");
  has("SENTRY_SAMPLE_RATE", "between 0 and 1", "1.5");
  has("LOG_LEVEL", "debug, info", "loud");
  has("EMP_QUEUE_SIZE", "size", "1x");
  has("OTEL_BSP_SCHEDULE_DELAY", "duration", "-5");
  has("OTEL_SDK_DISABLED", "boolean", "maybe");
  has("TELEMETRY_ENV", "development, staging or production", "prod");
  has("EMP_QUEUE_FULL_POLICY", "drop or block", "wait");
  EXPECT_EQ(find_error(r, "FLUENTD_PORT")->to_string(),
            "FLUENTD_PORT: must be a port number 1..65535 (got \"70000\")");
}

TEST(Finalize, RangesOfUnitValues) {
  auto ok = finalize(with_env({{"EMP_FLUSH_INTERVAL", "1s"},
                               {"EMP_SHUTDOWN_TIMEOUT", "2m"},
                               {"EMP_QUEUE_BLOCK_TIMEOUT", "0"},
                               {"EMP_QUEUE_SIZE", "1MiB"},
                               {"EMP_LOG_MAX_FILE_SIZE", "1G"},
                               {"EMP_LOG_MAX_MESSAGE_BYTES", "64K"},
                               {"OTEL_BSP_SCHEDULE_DELAY", "2s"},
                               {"OTEL_EXPORTER_OTLP_TIMEOUT", "0"},
                               {"EMP_LOG_STDERR", "yes"},
                               {"EMP_QUEUE_FULL_POLICY", "BLOCK"}}));
  ASSERT_TRUE(ok) << ok.errors().front().to_string();
  EXPECT_EQ(ok->flush_interval, milliseconds(1000));
  EXPECT_EQ(ok->shutdown_timeout, milliseconds(120000));
  EXPECT_EQ(ok->queue_block_timeout, milliseconds(0));
  EXPECT_EQ(ok->queue_bytes_per_thread, 1u << 20);
  EXPECT_EQ(ok->log_max_file_bytes, 1ull << 30);
  EXPECT_EQ(ok->max_message_bytes, 65536u);
  EXPECT_EQ(ok->span_batch.schedule_delay, milliseconds(2000));
  // No exporter limit leaves the batch export timeout (OTEL_BSP_EXPORT_TIMEOUT, 30 s).
  EXPECT_EQ(ok->otlp_traces.timeout, milliseconds(30000));
  EXPECT_TRUE(ok->log_to_stderr);
  EXPECT_EQ(ok->queue_full_policy, QueueFullPolicy::kBlock);

  auto bad = finalize(with_env({{"EMP_FLUSH_INTERVAL", "0"},
                                {"EMP_QUEUE_SIZE", "1K"},
                                {"EMP_QUEUE_BLOCK_TIMEOUT", "11s"},
                                {"EMP_LOG_MAX_FILES", "1001"},
                                {"EMP_SHUTDOWN_TIMEOUT", "99999999999999999999h"},
                                {"OTEL_METRIC_EXPORT_INTERVAL", "0"}}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.errors().size(), 6u);
  EXPECT_EQ(find_error(bad, "EMP_FLUSH_INTERVAL")->message,
            "must be between 1ms and 1h (got \"0\")");
  EXPECT_EQ(find_error(bad, "EMP_QUEUE_SIZE")->message,
            "must be between 4KiB and 1GiB (got \"1K\")");
  EXPECT_EQ(find_error(bad, "EMP_LOG_MAX_FILES")->message,
            "must be an integer 0..1000 (got \"1001\")");
}

TEST(Finalize, UnknownRawKeyIsAnError) {
  Options o = with_env({});
  o.raw["FLUENTD_PROT"] = "24224";
  o.raw["TOTALLY_UNRELATED_THING"] = "x";
  auto r = finalize(o);
  ASSERT_FALSE(r);
  ASSERT_EQ(r.errors().size(), 2u);
  const Error* typo = find_error(r, "FLUENTD_PROT");
  ASSERT_NE(typo, nullptr);
  EXPECT_NE(typo->message.find("unknown variable"), std::string::npos);
  EXPECT_NE(typo->message.find("did you mean FLUENTD_PORT?"), std::string::npos);
  EXPECT_EQ(find_error(r, "TOTALLY_UNRELATED_THING")->message.find("did you mean"),
            std::string::npos);
}

TEST(Finalize, TypedAndRawDisagreeingIsAnError) {
  Options o = with_env({});
  o.service_name = "a";
  o.raw["SERVICE_NAME"] = "b";
  auto r = finalize(o);
  ASSERT_FALSE(r);
  EXPECT_EQ(subjects(r), std::vector<std::string>{"SERVICE_NAME"});
  EXPECT_NE(r.errors()[0].message.find("Options::service_name"), std::string::npos);
  o.raw["SERVICE_NAME"] = "a";
  EXPECT_TRUE(finalize(o));
}

TEST(Finalize, SecretsNeverAppearInErrorsSettingsOrNotices) {
  const std::string key = "auth_SUPERSECRETKEY123";
  const std::string dsn_key = "DSNPUBLICKEY987";
  const std::string header_value = "HEADERSECRET555";

  // Invalid secrets: errors must not quote them.
  auto bad = finalize(with_env({
      {"DASH0_API_KEY", key + " trailing"},
      {"SENTRY_DSN", "https://" + dsn_key + ":" + header_value + "@host/notanumber"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%zz" + header_value},
      {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "Authorization: Bearer " + header_value},
      {"OTEL_EXPORTER_OTLP_LOGS_HEADERS", "X-Key=" + header_value + "%0A"},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://user:" + header_value + "@collector:4318"},
  }));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.errors().size(), 6u);
  const std::string bad_text = all_visible_text(bad);
  for (const std::string& secret : {key, dsn_key, header_value}) {
    EXPECT_EQ(bad_text.find(secret), std::string::npos) << secret << " leaked in:\n" << bad_text;
  }
  EXPECT_NE(find_error(bad, "SENTRY_DSN")->message.find("https://***@host/notanumber"),
            std::string::npos);
  EXPECT_NE(find_error(bad, "DASH0_API_KEY")->message.find("***"), std::string::npos);

  // Valid secrets: settings show masks, raw() and typed fields the values.
  auto good = finalize(with_env({
      {"DASH0_API_KEY", key},
      {"DASH0_DATASET", "prod"},
      {"DASH0_OTLP_BASE_URL", "https://ingress.dash0.example:4318"},
      {"SENTRY_DSN", "https://" + dsn_key + "@o1.ingest.sentry.io/42"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20" + header_value + ",X-Team=core"},
      {"TELEMETRY_ENV", "staging"},
  }));
  ASSERT_TRUE(good) << good.errors().front().to_string();
  const std::string good_text = all_visible_text(good);
  for (const std::string& secret : {key, dsn_key, header_value}) {
    EXPECT_EQ(good_text.find(secret), std::string::npos) << secret << " leaked in:\n" << good_text;
  }
  EXPECT_EQ(setting(*good, "DASH0_API_KEY").display, "***");
  EXPECT_TRUE(setting(*good, "DASH0_API_KEY").secret);
  EXPECT_EQ(setting(*good, "SENTRY_DSN").display, "https://***@o1.ingest.sentry.io/42");
  EXPECT_EQ(setting(*good, "OTEL_EXPORTER_OTLP_HEADERS").display, "Authorization=***,X-Team=***");
  EXPECT_EQ(good->raw("DASH0_API_KEY"), key);
  EXPECT_EQ(good->dash0_api_key, key);
  EXPECT_EQ(good->sentry_dsn, "https://" + dsn_key + "@o1.ingest.sentry.io/42");
}

TEST(Finalize, UserinfoWithDelimitersNeverAppears) {
  const std::string pw = "PASSWORD7731";
  const std::string long_path(200, 'p');
  auto bad = finalize(with_env({
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://user:" + pw + "/x@127.0.0.1:4318"},
      {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://user:" + pw + "?q@127.0.0.1:4318"},
      {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://user:" + pw + "#f@127.0.0.1:4318"},
      // Parses as host "u", port 4318 and a path: still credentials.
      {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://u:4318/" + pw + "@127.0.0.1:4318"},
      // The '@' lies beyond the length at which messages shorten a value.
      {"DASH0_OTLP_BASE_URL", "http://user:" + pw + long_path + "@127.0.0.1:4318"},
      {"FLUENTD_HOST", "user:" + pw + "@host"},
  }));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.errors().size(), 6u) << all_visible_text(bad);
  const std::string text = all_visible_text(bad);
  EXPECT_EQ(text.find(pw), std::string::npos) << text;
  EXPECT_NE(find_error(bad, "OTEL_EXPORTER_OTLP_ENDPOINT")->message.find("http://***@127.0.0.1"),
            std::string::npos);
  EXPECT_NE(find_error(bad, "FLUENTD_HOST")->message.find("***@host"), std::string::npos);
}

TEST(Finalize, BatchExportTimeoutBoundsEachExportRequest) {
  auto c = finalize(with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"},
                              {"OTEL_BSP_EXPORT_TIMEOUT", "1000"},
                              {"OTEL_BLRP_EXPORT_TIMEOUT", "0"},
                              {"OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "2s"}}));
  ASSERT_TRUE(c) << c.errors().front().to_string();
  EXPECT_EQ(c->otlp_traces.timeout, milliseconds(1000));  // tighter than the exporter's 10 s
  EXPECT_EQ(c->otlp_logs.timeout, milliseconds(2000));    // 0 = no limit from the batch side
  EXPECT_EQ(c->otlp_metrics.timeout, milliseconds(10000));
}

TEST(Finalize, ProductionWarnsAboutCredentialsOverPlainHttp) {
  Env env = kProductionReady;
  env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://collector.example:4318";
  env["OTEL_EXPORTER_OTLP_HEADERS"] = "Authorization=Bearer abcdef123";
  auto r = finalize(with_env(env));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  std::string all;
  for (const auto& n : r->notices) all += n + "\n";
  EXPECT_NE(all.find("plain http://"), std::string::npos) << all;
  EXPECT_EQ(all.find("abcdef123"), std::string::npos) << all;
  env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "https://collector.example:4318";
  auto tls = finalize(with_env(env));
  ASSERT_TRUE(tls);
  for (const auto& n : tls->notices) EXPECT_EQ(n.find("plain http://"), std::string::npos) << n;
}

TEST(Finalize, ProductionRefusesAndListsExactlyWhatIsMissing) {
  auto none = finalize(with_env({{"TELEMETRY_ENV", "production"}}));
  ASSERT_FALSE(none);
  EXPECT_EQ(subjects(none), (std::vector<std::string>{"OTEL_EXPORTER_OTLP_ENDPOINT", "FLUENTD_HOST",
                                                      "SENTRY_DSN"}));
  const Error* traces = find_error(none, "OTEL_EXPORTER_OTLP_ENDPOINT");
  for (const char* var : {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_COLLECTOR_TRACES_ENDPOINT",
                          "DASH0_OTLP_BASE_URL", "TELEMETRY_ENV=production"}) {
    EXPECT_NE(traces->message.find(var), std::string::npos) << var;
  }

  // Dash0 covers traces and logs, but needs its credentials.
  auto dash0 = finalize(with_env(
      {{"TELEMETRY_ENV", "production"}, {"DASH0_OTLP_BASE_URL", "https://ingress.dash0.example"}}));
  ASSERT_FALSE(dash0);
  EXPECT_EQ(subjects(dash0),
            (std::vector<std::string>{"DASH0_API_KEY", "DASH0_DATASET", "SENTRY_DSN"}));

  // OTLP off: no traces destination needed, but logs need Fluentd.
  auto off = finalize(with_env({{"TELEMETRY_ENV", "production"},
                                {"OTEL_SDK_DISABLED", "TRUE"},
                                {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://c:4318/v1/logs"},
                                {"SENTRY_DSN", "https://k@s.example/1"}}));
  ASSERT_FALSE(off);
  EXPECT_EQ(subjects(off), std::vector<std::string>{"FLUENTD_HOST"});
  EXPECT_NE(off.errors()[0].message.find("OTLP is off"), std::string::npos);

  // A complete production configuration starts, quietly.
  auto ready = finalize(with_env(kProductionReady));
  ASSERT_TRUE(ready) << ready.errors().front().to_string();
  EXPECT_FALSE(ready->local_fallback);
  EXPECT_TRUE(ready->notices.empty());
  EXPECT_EQ(ready->environment_name, "production");

  // OTLP logs endpoint instead of Fluentd is a valid log destination.
  Env otlp_logs = kProductionReady;
  otlp_logs.erase("FLUENTD_HOST");
  EXPECT_TRUE(finalize(with_env(otlp_logs)));

  Env no_otel = {{"TELEMETRY_ENV", "production"},
                 {"OTEL_ENABLED", "false"},
                 {"FLUENTD_HOST", "fluentd"},
                 {"SENTRY_DSN", "https://k@s.example/1"}};
  EXPECT_TRUE(finalize(with_env(no_otel)));
}

TEST(Finalize, ProductionMissingItemsAreReportedWithOtherErrors) {
  auto r = finalize(with_env({{"TELEMETRY_ENV", "production"},
                              {"FLUENTD_PORT", "0"},
                              {"FLUENTD_HOST", "fluentd"},
                              {"OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"}}));
  ASSERT_FALSE(r);
  // The invalid endpoint is reported once, as invalid, not also as missing.
  EXPECT_EQ(subjects(r), (std::vector<std::string>{"FLUENTD_PORT", "OTEL_EXPORTER_OTLP_ENDPOINT",
                                                   "SENTRY_DSN"}));
}

TEST(Finalize, StagingTurnsTheSameFindingsIntoNotices) {
  auto r = finalize(with_env(
      {{"TELEMETRY_ENV", "staging"}, {"DASH0_OTLP_BASE_URL", "https://ingress.dash0.example"}}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  ASSERT_EQ(r->notices.size(), 3u);
  EXPECT_EQ(r->notices[0].rfind("DASH0_API_KEY: required when DASH0_OTLP_BASE_URL is set", 0), 0u);
  EXPECT_EQ(r->notices[1].rfind("DASH0_DATASET:", 0), 0u);
  EXPECT_EQ(r->notices[2].rfind("SENTRY_DSN: TELEMETRY_ENV=staging requires SENTRY_DSN", 0), 0u);
  EXPECT_FALSE(r->local_fallback);

  auto empty = finalize(with_env({{"TELEMETRY_ENV", "staging"}}));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->local_fallback);
  EXPECT_EQ(empty->notices.size(), 4u);  // traces, logs, sentry, fallback
}

TEST(Finalize, DevelopmentWarnsAboutDash0WithoutCredentials) {
  auto r = finalize(with_env(
      {{"DASH0_OTLP_BASE_URL", "https://ingress.dash0.example"}, {"DASH0_DATASET", "dev"}}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->notices.size(), 1u);
  EXPECT_EQ(r->notices[0].rfind("DASH0_API_KEY:", 0), 0u);
}

TEST(Finalize, ResourceAttributesArePercentDecoded) {
  auto r = finalize(with_env(
      {{"OTEL_RESOURCE_ATTRIBUTES", "deployment.region=eu%2Dwest%201, team = a%2Cb ,k=v=w"}}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  const KeyValues expected = {{"deployment.region", "eu-west 1"}, {"team", "a,b"}, {"k", "v=w"}};
  EXPECT_EQ(r->resource_attributes, expected);

  auto bad = finalize(with_env({{"OTEL_RESOURCE_ATTRIBUTES", "a=1,b=%zz"}}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(subjects(bad), std::vector<std::string>{"OTEL_RESOURCE_ATTRIBUTES"});
  EXPECT_NE(bad.errors()[0].message.find("member 2"), std::string::npos);
  EXPECT_NE(bad.errors()[0].message.find("percent-encoding"), std::string::npos);
  EXPECT_NE(bad.errors()[0].message.find("\"a=1,b=%zz\""), std::string::npos);
}

TEST(Finalize, OtlpEndpointsHeadersAndOptionsPerSignal) {
  auto r = finalize(with_env({
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/base/"},
      {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs:4318"},
      {"OTEL_COLLECTOR_METRICS_ENDPOINT", "http://metrics:4318/v1/metrics"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20abc,X-Team=core"},
      {"OTEL_EXPORTER_OTLP_LOGS_HEADERS", "X-Logs=1"},
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "5000"},
      {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2s"},
      {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
      {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "HTTP/PROTOBUF"},
      {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"},
      {"OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "none"},
  }));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  EXPECT_EQ(r->otlp_traces.url, "http://collector:4318/base/v1/traces");
  EXPECT_EQ(r->otlp_traces.url_from, "OTEL_EXPORTER_OTLP_ENDPOINT");
  EXPECT_EQ(r->otlp_metrics.url, "http://metrics:4318/v1/metrics");
  EXPECT_EQ(r->otlp_metrics.url_from, "OTEL_COLLECTOR_METRICS_ENDPOINT");
  EXPECT_EQ(r->otlp_logs.url, "http://logs:4318/");  // empty path becomes "/"
  const KeyValues generic = {{"Authorization", "Bearer abc"}, {"X-Team", "core"}};
  EXPECT_EQ(r->otlp_traces.headers, generic);
  EXPECT_EQ(r->otlp_metrics.headers, generic);
  EXPECT_EQ(r->otlp_logs.headers, (KeyValues{{"X-Logs", "1"}}));
  EXPECT_EQ(r->otlp_traces.timeout, milliseconds(2000));
  EXPECT_EQ(r->otlp_metrics.timeout, milliseconds(5000));
  EXPECT_EQ(r->otlp_traces.protocol, OtlpProtocol::kHttpJson);
  EXPECT_EQ(r->otlp_metrics.protocol, OtlpProtocol::kHttpProtobuf);
  EXPECT_TRUE(r->otlp_traces.gzip);
  EXPECT_FALSE(r->otlp_logs.gzip);
  EXPECT_EQ(r->otlp_endpoint, "http://collector:4318/base/");
  EXPECT_EQ(r->otlp_metrics_endpoint, "http://metrics:4318/v1/metrics");
  EXPECT_EQ(r->otlp_logs_endpoint, "http://logs:4318");

  // Signal-specific endpoint wins over the collector name.
  auto specific = finalize(with_env({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://a/v1/traces"},
                                     {"OTEL_COLLECTOR_TRACES_ENDPOINT", "http://b/v1/traces"}}));
  ASSERT_TRUE(specific);
  EXPECT_EQ(specific->otlp_traces.url, "http://a/v1/traces");
  EXPECT_EQ(specific->otlp_traces_endpoint, "http://a/v1/traces");
}

TEST(Finalize, CompressionLevelReachesEveryCompressingDestination) {
  auto d = finalize(with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}}));
  ASSERT_TRUE(d) << d.errors().front().to_string();
  EXPECT_EQ(d->compression_level, 1);
  EXPECT_EQ(d->otlp_traces.gzip_level, 1);
  EXPECT_EQ(setting(*d, "EMP_COMPRESSION_LEVEL").display, "1");

  for (const char* text : {"0", "9", "12", " 6 "}) {
    auto r = finalize(with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"},
                                {"EMP_COMPRESSION_LEVEL", text}}));
    ASSERT_TRUE(r) << text << ": " << r.errors().front().to_string();
    const int want = std::stoi(text);
    EXPECT_EQ(r->compression_level, want) << text;
    EXPECT_EQ(r->otlp_traces.gzip_level, want) << text;
    EXPECT_EQ(r->otlp_metrics.gzip_level, want) << text;
    EXPECT_EQ(r->otlp_logs.gzip_level, want) << text;
  }
}

TEST(Finalize, CompressionLevelOutOfRangeOrNotANumberIsAnError) {
  for (const char* text : {"13", "100", "99999999999999999999999", "-1", "fast", "1.5", "6x"}) {
    auto r = finalize(with_env({{"EMP_COMPRESSION_LEVEL", text}}));
    ASSERT_FALSE(r) << text;
    const Error* e = find_error(r, "EMP_COMPRESSION_LEVEL");
    ASSERT_NE(e, nullptr) << text;
    EXPECT_NE(e->message.find("must be an integer 0..12"), std::string::npos) << e->message;
    EXPECT_NE(e->message.find(text), std::string::npos) << e->message;  // names the bad value
  }
}

TEST(Finalize, Dash0AddsItsHeaders) {
  auto r = finalize(with_env({{"DASH0_OTLP_BASE_URL", "https://ingress.dash0.example"},
                              {"DASH0_API_KEY", "auth_token"},
                              {"DASH0_DATASET", "jobs"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->otlp_logs.url, "https://ingress.dash0.example/v1/logs");
  EXPECT_EQ(r->otlp_logs.url_from, "DASH0_OTLP_BASE_URL");
  EXPECT_EQ(r->otlp_traces.headers,
            (KeyValues{{"Authorization", "Bearer auth_token"}, {"Dash0-Dataset", "jobs"}}));
  EXPECT_EQ(r->dash0_dataset, "jobs");
  // A generic OTLP endpoint wins over Dash0 and gets no Dash0 credentials.
  auto generic = finalize(with_env({{"DASH0_OTLP_BASE_URL", "https://ingress.dash0.example"},
                                    {"DASH0_API_KEY", "auth_token"},
                                    {"DASH0_DATASET", "jobs"},
                                    {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}}));
  ASSERT_TRUE(generic);
  EXPECT_EQ(generic->otlp_traces.url, "http://collector:4318/v1/traces");
  EXPECT_TRUE(generic->otlp_traces.headers.empty());
}

TEST(Finalize, GrpcIsRecognisedButNotBuiltIn) {
  auto r = finalize(with_env({{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.errors()[0].to_string(),
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: grpc is not supported by this build; use "
            "http/protobuf (got \"grpc\")");
}

TEST(Finalize, SdkDisabledAndOtelEnabled) {
  auto t = finalize(
      with_env({{"OTEL_SDK_DISABLED", "True"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}}));
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->sdk_disabled);
  EXPECT_TRUE(t->otlp_traces.url.empty());
  auto f = finalize(with_env({{"OTEL_SDK_DISABLED", "false"}, {"OTEL_ENABLED", "off"}}));
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->sdk_disabled);
  EXPECT_FALSE(f->otel_enabled);
}

TEST(Finalize, SamplerSettings) {
  auto r = finalize(with_env({{"OTEL_TRACES_SAMPLER", "ParentBased_TraceIdRatio"},
                              {"OTEL_TRACES_SAMPLER_ARG", "0.25"},
                              {"EMP_TRACES_SAMPLER_RULES", "job.*=1.0,process.ws_progress=0.01"},
                              {"EMP_TRACES_EXPORT_ERRORS", "false"},
                              {"OTEL_PROPAGATORS", "tracecontext"}}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  EXPECT_EQ(r->sampler, SamplerKind::kParentBasedTraceIdRatio);
  EXPECT_EQ(r->sampler_ratio, 0.25);
  ASSERT_EQ(r->sampler_rules.size(), 2u);
  EXPECT_EQ(r->sampler_rules[1].pattern, "process.ws_progress");
  EXPECT_FALSE(r->export_error_spans);
  EXPECT_EQ(r->propagators, std::vector<std::string>{"tracecontext"});
  EXPECT_EQ(to_string(r->sampler), "parentbased_traceidratio");

  auto bad = finalize(with_env({{"OTEL_TRACES_SAMPLER", "xray"},
                                {"OTEL_TRACES_SAMPLER_ARG", "1.5"},
                                {"EMP_TRACES_SAMPLER_RULES", "job.*=x"},
                                {"OTEL_PROPAGATORS", "b3"}}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.errors().size(), 4u);
}

TEST(Finalize, BatchMustNotExceedQueue) {
  auto r = finalize(
      with_env({{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"}, {"OTEL_BLRP_MAX_QUEUE_SIZE", "100"}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(subjects(r), (std::vector<std::string>{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                                                   "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"}));
  EXPECT_EQ(r.errors()[0].message, "must not exceed OTEL_BSP_MAX_QUEUE_SIZE (4096 > 2048)");
  EXPECT_EQ(r.errors()[1].message, "must not exceed OTEL_BLRP_MAX_QUEUE_SIZE (512 > 100)");
  auto equal = finalize(with_env({{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2048"}}));
  ASSERT_TRUE(equal);
  EXPECT_EQ(equal->span_batch.max_export_batch_size, 2048u);
}

TEST(Finalize, AttributeLimitsInherit) {
  auto r = finalize(with_env({{"OTEL_ATTRIBUTE_COUNT_LIMIT", "64"},
                              {"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1000"},
                              {"OTEL_SPAN_EVENT_COUNT_LIMIT", "10"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->attribute_count_limit, 64u);
  EXPECT_EQ(r->span_attribute_count_limit, 64u);
  EXPECT_EQ(r->attribute_value_length_limit, 1000u);
  EXPECT_EQ(r->span_attribute_value_length_limit, 1000u);
  EXPECT_EQ(r->span_event_count_limit, 10u);
  auto specific = finalize(with_env({{"OTEL_ATTRIBUTE_COUNT_LIMIT", "64"},
                                     {"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "32"},
                                     {"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "20"}}));
  ASSERT_TRUE(specific);
  EXPECT_EQ(specific->span_attribute_count_limit, 32u);
  EXPECT_EQ(specific->span_attribute_value_length_limit, 20u);
  EXPECT_FALSE(specific->attribute_value_length_limit.has_value());
}

class TempFile {
 public:
  TempFile() {
    path_ = std::filesystem::temp_directory_path() /
            ("emp-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::ofstream(path_) << "-----BEGIN CERTIFICATE-----\n";
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(Finalize, CertificatesMustExistAndComeInPairs) {
  TempFile ca, key, cert;
  auto ok = finalize(with_env({{"OTEL_EXPORTER_OTLP_CERTIFICATE", ca.path()},
                               {"OTEL_EXPORTER_OTLP_CLIENT_KEY", key.path()},
                               {"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert.path()},
                               {"OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318"}}));
  ASSERT_TRUE(ok) << ok.errors().front().to_string();
  EXPECT_EQ(ok->otlp_logs.certificate, ca.path());
  EXPECT_EQ(ok->otlp_logs.client_key, key.path());
  EXPECT_EQ(ok->otlp_logs.client_certificate, cert.path());

  auto missing = finalize(with_env({{"OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"},
                                    {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", key.path()}}));
  ASSERT_FALSE(missing);
  EXPECT_EQ(subjects(missing),
            (std::vector<std::string>{"OTEL_EXPORTER_OTLP_CERTIFICATE",
                                      "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE"}));
  EXPECT_NE(missing.errors()[0].message.find("\"/nonexistent/ca.pem\""), std::string::npos);

  // A signal key may pair with the generic certificate.
  auto mixed = finalize(with_env({{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", cert.path()},
                                  {"OTEL_EXPORTER_OTLP_CLIENT_KEY", key.path()},
                                  {"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", key.path()}}));
  EXPECT_TRUE(mixed);
}

TEST(Finalize, IdentityAndLogFileRules) {
  auto r = finalize(with_env({{"SERVICE_NAME", "bad\x01name"},
                              {"EMP_LOG_FILE", "../escape.log"},
                              {"FLUENTD_HOST", "fluentd:24224"},
                              {"DASH0_OTLP_BASE_URL", "ingress.dash0.example"}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(subjects(r), (std::vector<std::string>{"SERVICE_NAME", "EMP_LOG_FILE",
                                                   "DASH0_OTLP_BASE_URL", "FLUENTD_HOST"}));
}

TEST(Finalize, EnvironmentNameAndSentry) {
  auto r = finalize(with_env({{"TELEMETRY_ENV", "Staging"},
                              {"SENTRY_ENVIRONMENT", "staging-eu"},
                              {"SENTRY_SAMPLE_RATE", "0.5"},
                              {"FLUENTD_SECURE", "on"},
                              {"FLUENTD_PORT", "24225"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->environment, DeploymentEnv::kStaging);
  EXPECT_EQ(r->environment_name, "staging-eu");
  EXPECT_EQ(r->sentry_sample_rate, 0.5);
  EXPECT_TRUE(r->fluentd_secure);
  EXPECT_EQ(r->fluentd_port, 24225);
}

TEST(Finalize, FluentdSettingsThatWouldHaveNoEffectAreErrors) {
  auto ok = finalize(with_env({{"FLUENTD_HOST", "127.0.0.1"},
                               {"FLUENTD_SECURE", "true"},
                               {"FLUENTD_TLS_VERIFY", "false"},
                               {"FLUENTD_COMPRESS", "true"},
                               {"FLUENTD_SHARED_KEY", "k"},
                               {"FLUENTD_USERNAME", "u"},
                               {"FLUENTD_PASSWORD", "p"},
                               {"FLUENTD_TIMEOUT", "3s"}}));
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->fluentd_compress);
  EXPECT_FALSE(ok->fluentd_tls_verify);
  EXPECT_EQ(ok->fluentd_shared_key, "k");
  EXPECT_EQ(ok->fluentd_password, "p");
  EXPECT_EQ(ok->fluentd_timeout, std::chrono::milliseconds(3000));
  EXPECT_EQ(setting(*ok, "FLUENTD_SHARED_KEY").display.find('k'), std::string::npos);

  auto r = finalize(with_env(
      {{"FLUENTD_HOST", "127.0.0.1"}, {"FLUENTD_TLS_VERIFY", "false"}, {"FLUENTD_USERNAME", "u"}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(subjects(r), (std::vector<std::string>{"FLUENTD_TLS_VERIFY", "FLUENTD_USERNAME",
                                                   "FLUENTD_USERNAME"}));
}

TEST(Finalize, FailoverEndpointsAreResolvedPerSignalAndCheckedAgainstThePrimary) {
  auto ok = finalize(with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"},
                               {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://logs:4318/custom"},
                               {"EMP_OTLP_FAILOVER_ENDPOINTS", "http://b:4318/, https://c/otlp"},
                               {"FLUENTD_HOST", "agg-1"},
                               {"FLUENTD_PORT", "24225"},
                               {"FLUENTD_FAILOVER_HOSTS", "agg-2,agg-3:24300"}}));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->otlp_traces.failover_urls,
            (std::vector<std::string>{"http://b:4318/v1/traces", "https://c/otlp/v1/traces"}));
  EXPECT_EQ(ok->otlp_logs.url, "http://logs:4318/custom");
  EXPECT_EQ(ok->otlp_logs.failover_urls,
            (std::vector<std::string>{"http://b:4318/v1/logs", "https://c/otlp/v1/logs"}));
  ASSERT_EQ(ok->fluentd_failover.size(), 2u);
  EXPECT_EQ(ok->fluentd_failover[0].host, "agg-2");
  EXPECT_EQ(ok->fluentd_failover[0].port, 24225) << "no port: FLUENTD_PORT";
  EXPECT_EQ(ok->fluentd_failover[1].port, 24300);

  // Without a primary, or naming the primary itself: an error, not ignored.
  auto r = finalize(with_env({{"EMP_OTLP_FAILOVER_ENDPOINTS", "http://b:4318"},
                              {"FLUENTD_FAILOVER_HOSTS", "agg-2"}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(subjects(r),
            (std::vector<std::string>{"FLUENTD_FAILOVER_HOSTS", "EMP_OTLP_FAILOVER_ENDPOINTS"}));
  auto same = finalize(with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"},
                                 {"EMP_OTLP_FAILOVER_ENDPOINTS", "http://a:4318"},
                                 {"FLUENTD_HOST", "agg-1"},
                                 {"FLUENTD_FAILOVER_HOSTS", "AGG-1:24224"}}));
  ASSERT_FALSE(same);
  std::string all;
  for (const auto& e : same.errors()) all += e.to_string() + "\n";
  EXPECT_NE(all.find("is FLUENTD_HOST:FLUENTD_PORT itself"), std::string::npos) << all;
  EXPECT_NE(all.find("is the traces endpoint itself"), std::string::npos) << all;
  auto bad = finalize(with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318"},
                                {"EMP_OTLP_FAILOVER_ENDPOINTS", "http://b:4318,b:4318"}}));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.errors()[0].to_string().find("entry 2"), std::string::npos)
      << bad.errors()[0].to_string();
}

TEST(Finalize, ThrowingEnvironmentIsReportedNotThrown) {
  Options o;
  o.env = [](std::string_view) -> std::optional<std::string> {
    throw std::runtime_error("vault unavailable");
  };
  auto r = finalize(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.errors()[0].message.find("vault unavailable"), std::string::npos);
}

// The OTLP endpoint rules (docs/otlp.md, "Endpoints"): a generic or Dash0
// base gets "v1/<signal>" with exactly one '/', keeping a query or fragment
// of the base at the end; a signal-specific URL is used as is.
TEST(FinalizeOtlp, GenericBaseGetsSignalPathWithExactlyOneSlash) {
  struct Case {
    std::string base;
    std::string traces;
  };
  const std::vector<Case> cases = {
      {"http://h:4318", "http://h:4318/v1/traces"},
      {"http://h:4318/", "http://h:4318/v1/traces"},
      {"http://h:4318/x/", "http://h:4318/x/v1/traces"},
      {"http://h:4318/x///", "http://h:4318/x/v1/traces"},
      {"https://collector.example", "https://collector.example/v1/traces"},
      {"http://[::1]:4318", "http://[::1]:4318/v1/traces"},
      {"http://h:4318/base?tenant=a", "http://h:4318/base/v1/traces?tenant=a"},
      {"  http://h:4318/  ", "http://h:4318/v1/traces"},
  };
  for (const auto& c : cases) {
    auto r = finalize(with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", c.base}}));
    ASSERT_TRUE(r) << c.base << ": " << r.errors().front().to_string();
    EXPECT_EQ(r->otlp_traces.url, c.traces) << c.base;
    EXPECT_EQ(r->otlp_traces.url_from, "OTEL_EXPORTER_OTLP_ENDPOINT");
  }
  auto r = finalize(with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318/x"}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->otlp_metrics.url, "http://h:4318/x/v1/metrics");
  EXPECT_EQ(r->otlp_logs.url, "http://h:4318/x/v1/logs");
}

TEST(FinalizeOtlp, SignalSpecificEndpointIsUsedAsIsWithRootForEmptyPath) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://h:4318", "http://h:4318/"},
      {"http://h:4318/", "http://h:4318/"},
      {"http://h:4318/custom/path", "http://h:4318/custom/path"},
      {"http://h:4318/v1/traces/", "http://h:4318/v1/traces/"},
      {"http://h:4318?x=1", "http://h:4318/?x=1"},
      {"HTTPS://H", "HTTPS://H/"},
  };
  for (const auto& [in, out] : cases) {
    auto r = finalize(with_env({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", in}}));
    ASSERT_TRUE(r) << in << ": " << r.errors().front().to_string();
    EXPECT_EQ(r->otlp_traces.url, out) << in;
    EXPECT_TRUE(r->otlp_metrics.url.empty()) << in;
  }
}

TEST(FinalizeOtlp, PrecedenceSpecificThenCollectorThenGenericThenDash0) {
  Env env = {{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://specific:1/t"},
             {"OTEL_COLLECTOR_TRACES_ENDPOINT", "http://collector:2/t"},
             {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:3"},
             {"DASH0_OTLP_BASE_URL", "https://dash0.example"},
             {"DASH0_API_KEY", "auth_token"},
             {"DASH0_DATASET", "jobs"}};
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://specific:1/t"},
      {"OTEL_COLLECTOR_TRACES_ENDPOINT", "http://collector:2/t"},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:3/v1/traces"},
      {"DASH0_OTLP_BASE_URL", "https://dash0.example/v1/traces"}};
  for (const auto& [from, url] : expected) {
    auto r = finalize(with_env(env));
    ASSERT_TRUE(r) << from << ": " << r.errors().front().to_string();
    EXPECT_EQ(r->otlp_traces.url_from, from);
    EXPECT_EQ(r->otlp_traces.url, url);
    // Dash0 credentials go only to the Dash0 base.
    EXPECT_EQ(r->otlp_traces.headers.empty(), from != "DASH0_OTLP_BASE_URL") << from;
    env.erase(from);
  }
}

TEST(FinalizeOtlp, EmptySignalValuesFallBackToTheGenericOnes) {
  auto r = finalize(with_env({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""},
                              {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://g:4318"},
                              {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "  "},
                              {"OTEL_EXPORTER_OTLP_TIMEOUT", "250"},
                              {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", ""},
                              {"OTEL_EXPORTER_OTLP_HEADERS", "a=1"}}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  EXPECT_EQ(r->otlp_traces.url, "http://g:4318/v1/traces");
  EXPECT_EQ(r->otlp_traces.timeout, milliseconds(250));
  EXPECT_EQ(r->otlp_traces.headers, (KeyValues{{"a", "1"}}));
}

// The OpenTelemetry specification makes every per-signal exporter option take
// precedence over its generic counterpart; for headers that means the
// per-signal list replaces OTEL_EXPORTER_OTLP_HEADERS as a whole (no key-by-key
// merge), as the registry's description of *_HEADERS says.
TEST(FinalizeOtlp, PerSignalHeadersReplaceTheGenericHeaders) {
  auto r = finalize(with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://g:4318"},
                              {"OTEL_EXPORTER_OTLP_HEADERS", "a=1, X-Key = generic ,b=2"},
                              {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-key=specific,c=3"}}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  EXPECT_EQ(r->otlp_traces.headers, (KeyValues{{"x-key", "specific"}, {"c", "3"}}));
  const KeyValues generic = {{"a", "1"}, {"X-Key", "generic"}, {"b", "2"}};
  EXPECT_EQ(r->otlp_metrics.headers, generic);
  EXPECT_EQ(r->otlp_logs.headers, generic);
  using config::Var;
  for (const Var v : {Var::kOtlpTracesHeaders, Var::kOtlpMetricsHeaders, Var::kOtlpLogsHeaders}) {
    EXPECT_NE(std::string(config::spec(v).description).find("Replaces OTEL_EXPORTER_OTLP_HEADERS"),
              std::string::npos)
        << config::spec(v).name;
  }
}

TEST(FinalizeOtlp, HeaderKeysAndValuesArePercentDecoded) {
  auto r =
      finalize(with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://g:4318"},
                         {"OTEL_EXPORTER_OTLP_HEADERS",
                          "Authorization=Bearer%20abc%3D%3D,x%2Dtenant=t%2C1,empty=,plus=a+b,,"}}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  EXPECT_EQ(
      r->otlp_metrics.headers,
      (KeyValues{
          {"Authorization", "Bearer abc=="}, {"x-tenant", "t,1"}, {"empty", ""}, {"plus", "a+b"}}));
}

TEST(FinalizeOtlp, ExplicitHeadersWinOverDash0Headers) {
  auto r = finalize(
      with_env({{"DASH0_OTLP_BASE_URL", "https://dash0.example"},
                {"DASH0_API_KEY", "auth_s3cr3t"},
                {"DASH0_DATASET", "production"},
                {"OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer other,dash0-dataset=dev"}}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  EXPECT_EQ(r->otlp_traces.headers,
            (KeyValues{{"authorization", "Bearer other"}, {"dash0-dataset", "dev"}}));
}

TEST(FinalizeOtlp, CollectorVariablesOnlyServeTheirOwnSignal) {
  auto r = finalize(with_env({{"OTEL_COLLECTOR_TRACES_ENDPOINT", "http://c:4318/v1/traces"},
                              {"OTEL_COLLECTOR_METRICS_ENDPOINT", "http://c:4318/v1/metrics"},
                              {"OTEL_COLLECTOR_LOGS_ENDPOINT", "http://c:4318/v1/logs"}}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  EXPECT_EQ(r->otlp_traces.url, "http://c:4318/v1/traces");
  EXPECT_EQ(r->otlp_metrics.url, "http://c:4318/v1/metrics");
  // The original services have no OTEL_COLLECTOR_LOGS_ENDPOINT: it is not read.
  EXPECT_TRUE(r->otlp_logs.url.empty());
}

TEST(FinalizeOtlp, SignalCertificateWinsOverTheGenericOne) {
  TempFile ca, traces_ca;
  auto r = finalize(with_env({{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318"},
                              {"OTEL_EXPORTER_OTLP_CERTIFICATE", ca.path()},
                              {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", traces_ca.path()}}));
  ASSERT_TRUE(r) << r.errors().front().to_string();
  EXPECT_EQ(r->otlp_traces.certificate, traces_ca.path());
  EXPECT_EQ(r->otlp_metrics.certificate, ca.path());
}

TEST(FinalizeOtlp, InvalidEndpointsNameTheirVariable) {
  const std::vector<std::string> bad = {
      "ftp://h:21",    "localhost:4318", "http://",         "http://:4318", "http://h:99999",
      "http://h:port", "http://h:0/x",   "http://h 1:4318", "http://[::1",  "http://h:4318/a b"};
  for (const auto& url : bad) {
    auto r = finalize(with_env({{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", url}}));
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(subjects(r), (std::vector<std::string>{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"}))
        << url;
  }
}

}  // namespace
}  // namespace emp::telemetry
