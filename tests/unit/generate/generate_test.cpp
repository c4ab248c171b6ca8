// The agent configurations: compared with golden files, read back by
// independent or structural parsers, and searched for secret values.
#include "emp/telemetry/generate.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "generate/agent_config.hpp"
#include "support/env_map.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;

constexpr const char* kApiKey = "d0-api-key-SECRET-1111";
constexpr const char* kSharedKey = "shared-key-SECRET-2222";
constexpr const char* kPassword = "password-SECRET-3333";

Config make_config(const std::string& log_dir, std::map<std::string, std::string> env = {}) {
  env.emplace("DASH0_API_KEY", kApiKey);
  env.emplace("DASH0_DATASET", "jobs-prod");
  env.emplace("DASH0_OTLP_BASE_URL", "https://ingress.eu-west-1.aws.dash0.com");
  env.emplace("FLUENTD_HOST", "fluentd.internal");
  env.emplace("FLUENTD_PORT", "24240");
  env.emplace("FLUENTD_SECURE", "true");
  env.emplace("FLUENTD_CA_FILE", "/etc/hostname");  // must exist; its content is not read here
  env.emplace("FLUENTD_SHARED_KEY", kSharedKey);
  env.emplace("FLUENTD_USERNAME", "shipper");
  env.emplace("FLUENTD_PASSWORD", kPassword);
  env.emplace("FLUENTD_COMPRESS", "true");
  Options o;
  o.preset = Preset::kWorker;
  o.service_name = "gpu-worker";
  o.machine_id = "m7";
  o.log_dir = log_dir;
  o.env = testing::env_from(std::move(env));
  auto c = finalize(o);
  if (!c) {
    for (const auto& e : c.errors()) ADD_FAILURE() << e.to_string();
    std::abort();
  }
  return c.value();
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

class GenerateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-generate-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "logs");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<AgentFile> extra() const {
    return {{"/var/log/comfyui/*.log", "worker.logs.comfyui"}, {"/srv/pm2/app-out.log", ""}};
  }
  // Generates into dir_/out and returns the file's text with the temporary
  // directory written as @DIR@ (so golden files do not depend on it).
  std::string generate(Agent agent, AgentFormat format, const Config& c) {
    auto written = write_agent_config(agent, format, c, extra(), (dir_ / "out").string());
    EXPECT_TRUE(written.ok()) << (written.ok() ? "" : written.errors()[0].to_string());
    if (!written) return {};
    last_path_ = written.value();
    return replace_all(read(last_path_), dir_.string(), "@DIR@");
  }
  void check_golden(const std::string& name, const std::string& text) {
    const fs::path golden = fs::path(EMP_GENERATE_GOLDEN_DIR) / name;
    if (std::getenv("EMP_UPDATE_GOLDEN") != nullptr) {
      std::ofstream(golden) << text;
      return;
    }
    EXPECT_EQ(text, read(golden)) << "golden " << golden
                                  << " differs (EMP_UPDATE_GOLDEN=1 rewrites it)";
  }
  // Runs check_yaml.py on the last file; its stdout, and the exit status.
  std::pair<std::string, int> check_yaml(const std::string& kind) {
    const std::string cmd = std::string("python3 '") + EMP_GENERATE_CHECK_YAML + "' " + kind +
                            " '" + last_path_ + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[512];
    while (p != nullptr && std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    const int rc = p != nullptr ? ::pclose(p) : -1;
    return {out, rc};
  }

  fs::path dir_;
  std::string last_path_;
};

// The classic Fluent Bit format: "[SECTION]" lines and indented "Key value"
// lines. Returns the sections in order, or fails the test on any other line.
struct ClassicSection {
  std::string name;
  std::multimap<std::string, std::string> keys;
};
std::vector<ClassicSection> parse_fluent_bit_classic(const std::string& text) {
  std::vector<ClassicSection> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    if (line.front() == '[') {
      EXPECT_EQ(line.back(), ']') << "line " << n;
      out.push_back({line.substr(1, line.size() - 2), {}});
      continue;
    }
    EXPECT_EQ(line.rfind("    ", 0), 0u) << "line " << n << " is not indented: " << line;
    EXPECT_FALSE(out.empty()) << "line " << n << " outside a section";
    const std::size_t k0 = line.find_first_not_of(' ');
    const std::size_t k1 = line.find(' ', k0);
    EXPECT_NE(k1, std::string::npos) << "line " << n << " has no value";
    if (out.empty() || k1 == std::string::npos) continue;
    const std::size_t v0 = line.find_first_not_of(' ', k1);
    out.back().keys.emplace(line.substr(k0, k1 - k0), line.substr(v0));
  }
  return out;
}

// Fluentd's format: <directive arg> ... </directive> nesting and "key value"
// lines. Returns the top-level directives as "name arg" with their keys
// (nested sections' keys prefixed "section.").
struct FluentdDirective {
  std::string head;
  std::map<std::string, std::string> keys;
};
std::vector<FluentdDirective> parse_fluentd(const std::string& text) {
  std::vector<FluentdDirective> out;
  std::vector<std::string> stack;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const std::size_t a = line.find_first_not_of(' ');
    if (a == std::string::npos || line[a] == '#') continue;
    std::string t = line.substr(a);
    if (t.rfind("</", 0) == 0) {
      EXPECT_FALSE(stack.empty()) << "unbalanced " << t;
      if (stack.empty()) continue;
      EXPECT_EQ(t, "</" + stack.back() + ">");
      stack.pop_back();
      continue;
    }
    if (t[0] == '<') {
      EXPECT_EQ(t.back(), '>') << t;
      const std::string inner = t.substr(1, t.size() - 2);
      const std::string name = inner.substr(0, inner.find(' '));
      if (stack.empty()) out.push_back({inner, {}});
      stack.push_back(name);
      continue;
    }
    EXPECT_FALSE(stack.empty()) << "key outside a directive: " << t;
    if (stack.empty() || out.empty()) continue;
    const std::size_t sp = t.find(' ');
    EXPECT_NE(sp, std::string::npos) << "no value: " << t;
    std::string prefix;
    for (std::size_t i = 1; i < stack.size(); ++i) prefix += stack[i] + ".";
    out.back().keys[prefix + t.substr(0, sp)] = sp == std::string::npos ? "" : t.substr(sp + 1);
  }
  EXPECT_TRUE(stack.empty()) << "unclosed <" << (stack.empty() ? "" : stack.back()) << ">";
  return out;
}

TEST_F(GenerateTest, FluentBitClassicMatchesGoldenAndParses) {
  const Config c = make_config((dir_ / "logs").string());
  const std::string text = generate(Agent::kFluentBit, AgentFormat::kClassic, c);
  EXPECT_EQ(fs::path(last_path_).filename(), "fluent-bit.conf");
  check_golden("fluent-bit.conf", text);
  const auto sections = parse_fluent_bit_classic(text);
  std::vector<const ClassicSection*> inputs, filters, outputs;
  for (const auto& s : sections) {
    if (s.name == "INPUT") inputs.push_back(&s);
    if (s.name == "FILTER") filters.push_back(&s);
    if (s.name == "OUTPUT") outputs.push_back(&s);
  }
  ASSERT_EQ(inputs.size(), 3u);  // the service's own log file and the two added
  // The text has the temporary directory as @DIR@. Rotated names match too.
  EXPECT_EQ(inputs[0]->keys.find("Path")->second, "@DIR@/logs/" + c.log_file + "*");
  EXPECT_EQ(inputs[1]->keys.find("Path")->second, "/var/log/comfyui/*.log*");
  EXPECT_EQ(inputs[1]->keys.find("Tag")->second, "worker.logs.comfyui");
  EXPECT_EQ(inputs[2]->keys.find("Path")->second, "/srv/pm2/app-out.log*");
  EXPECT_EQ(inputs[2]->keys.find("Tag")->second, "worker.logs.app-out");
  int n = 0;
  for (const auto* in : inputs) {
    EXPECT_EQ(in->keys.find("Name")->second, "tail");
    EXPECT_EQ(in->keys.find("DB")->second,
              "@DIR@/out/fluent-bit-tail-" + std::to_string(++n) + ".db");
  }
  ASSERT_EQ(outputs.size(), 1u);
  const auto& o = outputs[0]->keys;
  EXPECT_EQ(o.find("Name")->second, "forward");
  EXPECT_EQ(o.find("Host")->second, "fluentd.internal");
  EXPECT_EQ(o.find("Port")->second, "24240");
  EXPECT_EQ(o.find("tls")->second, "on");
  EXPECT_EQ(o.find("tls.ca_file")->second, "/etc/hostname");
  EXPECT_EQ(o.find("Shared_Key")->second, "${FLUENTD_SHARED_KEY}");
  EXPECT_EQ(o.find("Password")->second, "${FLUENTD_PASSWORD}");
  std::multiset<std::string> records;
  for (const auto* f : filters) {
    EXPECT_EQ(f->keys.find("Name")->second, "record_modifier");
    for (auto [it, end] = f->keys.equal_range("Record"); it != end; ++it)
      records.insert(it->second);
  }
  EXPECT_EQ(records.count("service_name gpu-worker"), 1u);
  EXPECT_EQ(records.count("service_type worker"), 1u);
  EXPECT_EQ(records.count("machine_id m7"), 1u);
  EXPECT_EQ(records.count("source_identification gpu-worker:m7:/srv/pm2/app-out.log"), 1u);
}

TEST_F(GenerateTest, FluentBitYamlMatchesGoldenAndPyYamlReadsIt) {
  const Config c = make_config((dir_ / "logs").string());
  const std::string text = generate(Agent::kFluentBit, AgentFormat::kYaml, c);
  EXPECT_EQ(fs::path(last_path_).filename(), "fluent-bit.yaml");
  check_golden("fluent-bit.yaml", text);
  const auto [out, rc] = check_yaml("fluent-bit");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "3\n");
}

TEST_F(GenerateTest, FluentdMatchesGoldenAndParses) {
  const Config c = make_config((dir_ / "logs").string());
  const std::string text = generate(Agent::kFluentd, AgentFormat::kClassic, c);
  check_golden("fluentd.conf", text);
  const auto d = parse_fluentd(text);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].head, "source");
  EXPECT_EQ(d[0].keys.at("@type"), "forward");
  EXPECT_EQ(d[0].keys.at("port"), "24240");
  EXPECT_EQ(d[0].keys.at("security.shared_key"), "\"#{ENV['FLUENTD_SHARED_KEY']}\"");
  EXPECT_EQ(d[0].keys.at("security.user.password"), "\"#{ENV['FLUENTD_PASSWORD']}\"");
  EXPECT_EQ(d[1].head, "filter **");
  EXPECT_EQ(d[1].keys.at("@type"), "record_transformer");
  EXPECT_EQ(d[1].keys.at("record.service_name"), "\"gpu-worker\"");
  EXPECT_EQ(d[1].keys.at("record.environment"), "\"development\"");
  EXPECT_EQ(d[2].head, "match **");
  EXPECT_EQ(d[2].keys.at("@type"), "http");
  EXPECT_EQ(d[2].keys.at("endpoint"), "\"https://ingress.eu-west-1.aws.dash0.com/logs/json\"");
  EXPECT_NE(d[2].keys.at("headers").find("Dash0-Dataset"), std::string::npos);
  EXPECT_NE(d[2].keys.at("headers").find("jobs-prod"), std::string::npos);
}

TEST_F(GenerateTest, OtelCollectorMatchesGoldenAndPyYamlReadsIt) {
  const Config c = make_config((dir_ / "logs").string());
  const std::string text = generate(Agent::kOtelCollector, AgentFormat::kYaml, c);
  check_golden("otel-collector.yaml", text);
  const auto [out, rc] = check_yaml("otel-collector");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "4\n");
}

TEST_F(GenerateTest, NoSecretValueInAnyGeneratedFile) {
  const Config c = make_config((dir_ / "logs").string());
  std::vector<std::pair<Agent, AgentFormat>> all{{Agent::kFluentBit, AgentFormat::kClassic},
                                                 {Agent::kFluentBit, AgentFormat::kYaml},
                                                 {Agent::kFluentd, AgentFormat::kClassic},
                                                 {Agent::kOtelCollector, AgentFormat::kYaml}};
  for (auto [agent, format] : all) generate(agent, format, c);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "out")) {
    ++files;
    const std::string text = read(e.path());
    for (const char* secret : {kApiKey, kSharedKey, kPassword}) {
      EXPECT_EQ(text.find(secret), std::string::npos) << e.path() << " holds a secret";
      EXPECT_EQ(text.find(std::string(secret).substr(0, 12)), std::string::npos) << e.path();
    }
    EXPECT_EQ((fs::status(e.path()).permissions() & fs::perms::others_all), fs::perms::none);
  }
  EXPECT_EQ(files, 4);
  EXPECT_NE(read(dir_ / "out" / "otel-collector.yaml").find("${env:DASH0_API_KEY}"),
            std::string::npos);
  EXPECT_NE(read(dir_ / "out" / "fluentd.conf").find("#{ENV['DASH0_API_KEY']}"), std::string::npos);
}

TEST_F(GenerateTest, WithoutFluentdSecurityTheOutputHasNoTlsOrKey) {
  std::map<std::string, std::string> env{
      {"FLUENTD_SECURE", "false"}, {"FLUENTD_CA_FILE", ""},  {"FLUENTD_SHARED_KEY", ""},
      {"FLUENTD_USERNAME", ""},    {"FLUENTD_PASSWORD", ""}, {"FLUENTD_COMPRESS", "false"}};
  const Config c = make_config((dir_ / "logs").string(), env);
  const std::string text = generate(Agent::kFluentBit, AgentFormat::kClassic, c);
  EXPECT_EQ(text.find("tls"), std::string::npos);
  EXPECT_EQ(text.find("Shared_Key"), std::string::npos);
  EXPECT_EQ(text.find("Password"), std::string::npos);
  EXPECT_EQ(parse_fluentd(generate(Agent::kFluentd, AgentFormat::kClassic, c))[0].keys.count(
                "security.shared_key"),
            0u);
}

TEST_F(GenerateTest, APathWithAControlCharacterIsRefusedAndNothingWritten) {
  const Config c = make_config((dir_ / "logs").string());
  auto r = write_agent_config(Agent::kFluentBit, AgentFormat::kClassic, c,
                              {{"/var/log/a\n[OUTPUT]", ""}}, (dir_ / "out").string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors()[0].message.find("control character"), std::string::npos);
  EXPECT_NE(r.errors()[0].message.find("nothing was written"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "out" / "fluent-bit.conf"));
}

TEST_F(GenerateTest, AgentNames) {
  Agent a{};
  EXPECT_TRUE(parse_agent("fluent-bit", a));
  EXPECT_EQ(a, Agent::kFluentBit);
  EXPECT_TRUE(parse_agent("otel-collector", a));
  EXPECT_EQ(a, Agent::kOtelCollector);
  EXPECT_FALSE(parse_agent("fluentbit", a));
  EXPECT_STREQ(kDefaultAgentConfigDir, "/tmp/telemetry");
}

}  // namespace
}  // namespace emp::telemetry
