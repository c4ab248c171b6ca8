// The fmt-style log calls, the trace and critical levels, fields built at run
// time, source locations and the process-wide default client, end to end
// through Client: the lines are read back from the real log file.
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "emp/telemetry/client.hpp"

namespace {

// A type with its own formatter: formatted on the caller's thread.
struct GpuSlot {
  int machine;
  int index;
};

}  // namespace

template <>
struct fmt::formatter<GpuSlot> : fmt::formatter<std::string_view> {
  auto format(const GpuSlot& s, fmt::format_context& ctx) const {
    return fmt::format_to(ctx.out(), "m{}/gpu{}", s.machine, s.index);
  }
};

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

class LogFormat : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-logfmt-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Client make(std::map<std::string, std::string> raw = {}) {
    Options o;
    o.preset = Preset::kWorker;
    o.service_name = "fmt-worker";
    o.machine_id = "m1";
    o.log_dir = dir_.string();
    o.log_level = Level::kTrace;
    o.raw = std::move(raw);
    o.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    auto c = Client::create(o);
    if (!c) {
      for (auto& e : c.errors()) ADD_FAILURE() << e.to_string();
      std::abort();
    }
    return std::move(c).value();
  }
  std::vector<json> lines(Client& c) {
    EXPECT_TRUE(c.flush(10s));
    std::vector<json> out;
    std::ifstream in(dir_ / c.config().log_file);
    std::string line;
    while (std::getline(in, line)) {
      auto j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
      out.push_back(j);
    }
    return out;
  }
  fs::path dir_;
};

TEST_F(LogFormat, ArgumentsAreFormattedIntoTheMessage) {
  auto c = make();
  const std::string job = "job-7";
  const char* stage = "upscale";
  c.log().info("job {} done in {} ms", 42, 812);
  c.log().info("{} {} {} {:.2f} {:>5} {:#x} {}", job, stage, true, 0.125, -3, 255u,
               std::string_view("sv"));
  c.log().warn("u64 max {} and float {}", std::numeric_limits<std::uint64_t>::max(), 0.1f);
  c.log().error("slot {} failed with '{}'", GpuSlot{3, 1}, 'x');
  c.log().info("no arguments: {} stays as written");
  auto l = lines(c);
  ASSERT_EQ(l.size(), 5u);
  EXPECT_EQ(l[0]["message"], "job 42 done in 812 ms");
  EXPECT_EQ(l[0]["level"], "info");
  EXPECT_EQ(l[1]["message"], "job-7 upscale true 0.12    -3 0xff sv");
  EXPECT_EQ(l[2]["message"], "u64 max 18446744073709551615 and float 0.1");
  EXPECT_EQ(l[3]["message"], "slot m3/gpu1 failed with 'x'");
  EXPECT_EQ(l[4]["message"], "no arguments: {} stays as written");
  // The arguments are part of the message, not fields of the line.
  for (const json& j : l) {
    EXPECT_FALSE(j.contains("arg0")) << j.dump();
    EXPECT_FALSE(j.contains("format_error")) << j.dump();
    EXPECT_FALSE(j.contains("")) << j.dump();
  }
}

TEST_F(LogFormat, ARuntimeFormatMistakeIsReportedInTheLineNotThrown) {
  auto c = make();
  // Copied arguments: the mistake is found on the background thread.
  c.log().info(fmt::runtime("{} and {}"), 1);
  // An argument formatted on the caller's thread (a float).
  c.log().info(fmt::runtime("{:d}"), 1.5f);
  auto l = lines(c);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0]["message"], "{} and {}");
  EXPECT_EQ(l[0]["arg0"], 1);
  EXPECT_TRUE(l[0].contains("format_error")) << l[0].dump();
  EXPECT_EQ(l[1]["message"], "{:d}");
  EXPECT_TRUE(l[1].contains("format_error")) << l[1].dump();
  EXPECT_EQ(c.health().track(Track::kLogs).written, 2u);
}

TEST_F(LogFormat, AnOversizeArgumentIsCutWithAVisibleMarker) {
  auto c = make();
  c.log().info("payload {}", std::string(64 * 1024, 'p'));
  auto l = lines(c);
  ASSERT_EQ(l.size(), 1u);
  const std::string msg = l[0]["message"];
  EXPECT_EQ(msg.rfind("payload ppp", 0), 0u) << msg.substr(0, 40);
  EXPECT_NE(msg.find("[truncated "), std::string::npos);
  EXPECT_LT(msg.size(), 64u * 1024u);
}

TEST_F(LogFormat, TraceAndCriticalLevels) {
  auto c = make();
  c.log().trace("fine detail {}", 1);
  c.log().critical("disk gone", {{"device", "/dev/nvme0"}});
  c.log().set_level(Level::kCritical);
  c.log().error("filtered out");
  c.log().critical("still {}", "shown");
  auto l = lines(c);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0]["level"], "trace");
  EXPECT_EQ(l[0]["message"], "fine detail 1");
  EXPECT_EQ(l[1]["level"], "critical");
  EXPECT_EQ(l[1]["device"], "/dev/nvme0");
  EXPECT_EQ(l[2]["message"], "still shown");
}

TEST_F(LogFormat, LevelsParseFromTheEnvironment) {
  for (const auto& [text, level] : std::map<std::string, Level>{
           {"critical", Level::kCritical}, {"TRACE", Level::kTrace}, {"fatal", Level::kCritical}}) {
    Options o;
    o.raw = {{"LOG_LEVEL", text}};
    o.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    auto c = finalize(o);
    ASSERT_TRUE(c) << text;
    EXPECT_EQ(c->log_level, level) << text;
  }
  Options o;
  o.raw = {{"LOG_LEVEL", "verbose"}};
  o.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  auto bad = finalize(o);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.errors()[0].to_string().find("trace"), std::string::npos)
      << bad.errors()[0].to_string();
}

TEST_F(LogFormat, FieldsBuiltAtRunTime) {
  auto c = make();
  std::vector<Field> fields;
  const std::vector<std::string> names = {"a", "b", "c"};
  for (std::size_t i = 0; i < names.size(); ++i)
    fields.push_back({names[i], FieldValue(static_cast<std::int64_t>(i))});
  c.log().info("from a vector", fields);
  const std::array<Field, 2> arr = {{{"x", 1}, {"y", "two"}}};
  c.log().info("from an array", arr);
  c.log().warn("from a span", std::span<const Field>(fields).subspan(1));
  auto l = lines(c);
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0]["a"], 0);
  EXPECT_EQ(l[0]["c"], 2);
  EXPECT_EQ(l[1]["y"], "two");
  EXPECT_FALSE(l[2].contains("a"));
  EXPECT_EQ(l[2]["b"], 1);
}

TEST_F(LogFormat, SourceLocationWhenAskedFor) {
  auto off = make();
  off.log().info("plain");
  auto l = lines(off);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_FALSE(l[0].contains("code.file.path"));
  off.shutdown(5s);
  fs::remove_all(dir_);
  fs::create_directories(dir_);

  auto on = make({{"EMP_LOG_SOURCE_LOCATION", "true"}});
  const int line_plain = __LINE__ + 1;
  on.log().info("plain", {{"k", 1}});
  const int line_format = __LINE__ + 1;
  on.log().info("formatted {}", 2);
  l = lines(on);
  ASSERT_EQ(l.size(), 2u);
  const std::string file = l[0]["code.file.path"];
  EXPECT_NE(file.find("log_format_test.cpp"), std::string::npos) << file;
  EXPECT_EQ(l[0]["code.line.number"], line_plain);
  EXPECT_NE(l[0]["code.function.name"].get<std::string>().find("TestBody"), std::string::npos);
  EXPECT_EQ(l[0]["k"], 1);
  EXPECT_EQ(l[1]["message"], "formatted 2");
  EXPECT_EQ(l[1]["code.line.number"], line_format);
}

TEST_F(LogFormat, DefaultClientCountsCallsBeforeItIsSetAndClearsAtShutdown) {
  const std::uint64_t before = calls_without_default_client();
  default_log().info("nobody listens {}", 1);
  default_log().error("nor here");
  EXPECT_EQ(calls_without_default_client(), before + 2);

  auto c = make();
  Client::set_default(&c);
  default_log().info("through the default {}", "client");
  auto l = lines(c);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0]["message"], "log calls made while no default client was set were dropped");
  EXPECT_GE(l[0]["dropped"].get<int>(), 2);
  EXPECT_EQ(l[1]["message"], "through the default client");

  c.shutdown(5s);
  default_log().info("after shutdown");
  EXPECT_EQ(calls_without_default_client(), before + 3);
}

}  // namespace
}  // namespace emp::telemetry
