// The log track end to end through Client: real files read back with an
// independent JSON parser, real threads, a FIFO standing in for a stalled disk.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/active_span.hpp"
#include "emp/telemetry/client.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

class LogTrack : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-logs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Options options(std::map<std::string, std::string> raw = {}) {
    Options o;
    o.preset = Preset::kWorker;
    o.service_name = "test-worker";
    o.machine_id = "m1";
    o.log_dir = dir_.string();
    o.log_level = Level::kDebug;
    o.raw = std::move(raw);
    o.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
    return o;
  }
  Client make(std::map<std::string, std::string> raw = {}) {
    auto c = Client::create(options(std::move(raw)));
    if (!c) {
      for (auto& e : c.errors()) ADD_FAILURE() << e.to_string();
      std::abort();
    }
    return std::move(c).value();
  }
  std::vector<json> read_lines(const fs::path& p) {
    std::vector<json> out;
    std::ifstream in(p);
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

TEST_F(LogTrack, WritesTheStandardLineFormat) {
  auto c = make();
  c.log().info("job done", {{"job_id", "job-1"}, {"attempt", 2}, {"ratio", 0.5},
                            {"ok", true}, {"none", nullptr}});
  ASSERT_TRUE(c.flush(10s));
  auto path = dir_ / c.config().log_file;
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 1u);
  const json& j = lines[0];
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  // nlohmann::json sorts keys; check presence and values instead of order here
  // (the encoder's own tests check the exact order).
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["message"], "job done");
  EXPECT_EQ(j["service_name"], "test-worker");
  EXPECT_EQ(j["service_type"], "worker");
  EXPECT_EQ(j["machine_id"], "m1");
  EXPECT_EQ(j["environment"], "development");
  EXPECT_EQ(j["log_file_path"], fs::absolute(path).lexically_normal().string());
  EXPECT_EQ(j["source_identification"],
            "test-worker:m1:" + fs::absolute(path).lexically_normal().string());
  EXPECT_EQ(j["job_id"], "job-1");
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_EQ(j["ratio"], 0.5);
  EXPECT_EQ(j["ok"], true);
  EXPECT_TRUE(j["none"].is_null());
  EXPECT_FALSE(j.contains("trace_id"));
  std::string ts = j["timestamp"];
  EXPECT_EQ(ts.size(), 24u) << ts;  // 2026-11-25T07:56:09.123Z
  EXPECT_EQ(ts.back(), 'Z');
  auto h = c.health().track(Track::kLogs);
  EXPECT_EQ(h.offered, 1u);
  EXPECT_EQ(h.written, 1u);
}

TEST_F(LogTrack, DisabledLevelIsNotOffered) {
  auto o = options();
  o.log_level = Level::kWarn;
  auto c = Client::create(o);
  ASSERT_TRUE(c);
  c->log().debug("no");
  c->log().info("no");
  c->log().warn("yes");
  ASSERT_TRUE(c->flush(10s));
  EXPECT_EQ(c->health().track(Track::kLogs).offered, 1u);
  EXPECT_EQ(read_lines(dir_ / c->config().log_file).size(), 1u);
}

TEST_F(LogTrack, ActiveSpanIdsAppearOnTheLine) {
  auto c = make();
  core::ActiveSpanIds ids{};
  for (int i = 0; i < 16; ++i) ids.trace_id[i] = static_cast<std::uint8_t>(0xA0 + i);
  for (int i = 0; i < 8; ++i) ids.span_id[i] = static_cast<std::uint8_t>(1 + i);
  core::t_active_span = &ids;
  c.log().info("inside a span");
  core::t_active_span = nullptr;
  c.log().info("outside");
  ASSERT_TRUE(c.flush(10s));
  auto lines = read_lines(dir_ / c.config().log_file);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["trace_id"], "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  EXPECT_EQ(lines[0]["span_id"], "0102030405060708");
  EXPECT_FALSE(lines[1].contains("trace_id"));
}

TEST_F(LogTrack, NamedFilesStayInsideTheLogDirectory) {
  auto c = make();
  c.log().write_to_file("jobs/job-1.log", Level::kInfo, "to a named file", {{"n", 1}});
  c.log().write_to_file("../escape.log", Level::kInfo, "refused");
  c.log().write_to_file("/etc/passwd", Level::kInfo, "refused too");
  ASSERT_TRUE(c.flush(10s));
  auto named = read_lines(dir_ / "jobs/job-1.log");
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0]["message"], "to a named file");
  EXPECT_FALSE(fs::exists(dir_.parent_path() / "escape.log"));
  auto def = read_lines(dir_ / c.config().log_file);
  ASSERT_EQ(def.size(), 2u);
  EXPECT_EQ(def[0]["file_rejected"], "../escape.log");
  EXPECT_EQ(def[1]["file_rejected"], "/etc/passwd");
}

TEST_F(LogTrack, OversizeValuesAreTruncatedWithAVisibleMarker) {
  auto c = make({{"EMP_LOG_MAX_MESSAGE_BYTES", "100"}, {"EMP_LOG_MAX_FIELD_BYTES", "64"}});
  std::string big(10000, 'x');
  std::string field(5000, 'y');
  c.log().info(big, {{"payload", field}, {"small", "ok"}});
  ASSERT_TRUE(c.flush(10s));
  auto lines = read_lines(dir_ / c.config().log_file);
  ASSERT_EQ(lines.size(), 1u);
  std::string msg = lines[0]["message"];
  EXPECT_LE(msg.size(), 100u);
  EXPECT_NE(msg.find("[truncated "), std::string::npos) << msg;
  std::string p = lines[0]["payload"];
  EXPECT_LE(p.size(), 64u);
  EXPECT_NE(p.find("[truncated "), std::string::npos);
  EXPECT_EQ(lines[0]["small"], "ok");
  EXPECT_EQ(c.health().track(Track::kLogs).truncated, 1u);
}

TEST_F(LogTrack, RecordTooBigForTheQueueKeepsWhatFitsAndSaysSo) {
  auto c = make({{"EMP_QUEUE_SIZE", "16KiB"}});
  std::string v(1000, 'z');
  std::vector<std::string> keys;
  for (int i = 0; i < 50; ++i) keys.push_back("k" + std::to_string(i));
  // initializer_list can't be built at run time: log through a fixed list of 10.
  c.log().info("wide", {{keys[0], v}, {keys[1], v}, {keys[2], v}, {keys[3], v}, {keys[4], v},
                        {keys[5], v}, {keys[6], v}, {keys[7], v}, {keys[8], v}, {keys[9], v}});
  ASSERT_TRUE(c.flush(10s));
  auto lines = read_lines(dir_ / c.config().log_file);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_GT(lines[0]["fields_dropped"].get<int>(), 0);
  EXPECT_TRUE(lines[0].contains("k0"));
}

TEST_F(LogTrack, InvalidUtf8IsReplacedAndCounted) {
  auto c = make();
  c.log().info("bad \xC3\x28 bytes", {{"f", "\xFF\xFE"}});
  ASSERT_TRUE(c.flush(10s));
  auto lines = read_lines(dir_ / c.config().log_file);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0]["message"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_EQ(c.health().track(Track::kLogs).invalid_utf8, 1u);
}

TEST_F(LogTrack, EightThreadsWriteWholeLinesAndLoseNothing) {
  auto c = make({{"EMP_QUEUE_FULL_POLICY", "block"}, {"EMP_QUEUE_BLOCK_TIMEOUT", "5s"}});
  constexpr int kPerThread = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i)
        c.log().info("concurrent line", {{"thread", t}, {"seq", i}, {"pad", "abcdefghijklmnop"}});
    });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(c.flush(30s));
  auto lines = read_lines(dir_ / c.config().log_file);
  ASSERT_EQ(lines.size(), 8u * kPerThread);
  std::vector<int> next(8, 0);
  for (auto& j : lines) {
    int t = j["thread"];
    ASSERT_EQ(j["seq"].get<int>(), next[t]) << "per-thread order broken";
    ++next[t];
  }
  auto h = c.health().track(Track::kLogs);
  EXPECT_EQ(h.offered, 8u * kPerThread);
  EXPECT_EQ(h.written, 8u * kPerThread);
}

TEST_F(LogTrack, RotationKeepsTheConfiguredNumberOfFiles) {
  auto c = make({{"EMP_LOG_MAX_FILE_SIZE", "8KiB"}, {"EMP_LOG_MAX_FILES", "3"}});
  for (int i = 0; i < 2000; ++i) c.log().info("rotating", {{"i", i}});
  ASSERT_TRUE(c.flush(10s));
  auto base = dir_ / c.config().log_file;
  EXPECT_TRUE(fs::exists(base));
  EXPECT_TRUE(fs::exists(base.string() + ".3"));
  EXPECT_FALSE(fs::exists(base.string() + ".4"));
  EXPECT_LE(fs::file_size(base), 8u * 1024);
}

// A FIFO with no reader blocks the background thread's open(): a stalled disk.
class StalledWriter : public LogTrack {
 protected:
  void release_fifo() {
    int fd = ::open(fifo_.c_str(), O_RDONLY | O_NONBLOCK);
    if (fd >= 0) {
      // Keep reading until the writer side finished; bounded.
      char buf[65536];
      for (int i = 0; i < 200; ++i) {
        if (::read(fd, buf, sizeof buf) <= 0) std::this_thread::sleep_for(5ms);
      }
      ::close(fd);
    }
  }
  fs::path fifo_;
};

TEST_F(StalledWriter, FlushAndShutdownKeepTheirDeadlinesAndCountEverything) {
  fifo_ = dir_ / "stalled.log";
  ASSERT_EQ(::mkfifo(fifo_.c_str(), 0600), 0);
  auto c = make({{"EMP_LOG_FILE", "stalled.log"}, {"EMP_QUEUE_SIZE", "4KiB"}});
  for (int i = 0; i < 5000; ++i) c.log().info("stalled", {{"i", i}});
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.flush(200ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  auto h = c.health().track(Track::kLogs);
  EXPECT_EQ(h.offered, 5000u);
  EXPECT_GT(h.dropped_for(DropReason::kQueueFull), 0u);
  EXPECT_EQ(h.accepted + h.dropped_for(DropReason::kQueueFull), h.offered);
  start = std::chrono::steady_clock::now();
  EXPECT_FALSE(c.shutdown(300ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  h = c.health().track(Track::kLogs);
  EXPECT_EQ(h.written + h.dropped_total(), h.offered);
  EXPECT_FALSE(h.dropped_for(DropReason::kShutdown) == 0);
  std::thread reader([&] { release_fifo(); });
  reader.join();
}

TEST_F(LogTrack, UnwritableDirectoryIsCountedAndReportedNotFatal) {
  // A regular file where the directory should be: ENOTDIR even for root.
  auto blocker = dir_ / "not-a-dir";
  std::ofstream(blocker) << "x";
  auto o = options();
  o.log_dir = (blocker / "logs").string();
  auto c = Client::create(o);
  ASSERT_TRUE(c);
  for (int i = 0; i < 10; ++i) c->log().error("cannot land", {{"i", i}});
  EXPECT_FALSE(c->flush(10s));
  auto s = c->health();
  EXPECT_EQ(s.track(Track::kLogs).dropped_for(DropReason::kIoError), 10u);
  EXPECT_GE(s.track(Track::kLogs).errors, 1u);
  EXPECT_NE(s.last_error.find("not-a-dir"), std::string::npos) << s.last_error;
  c->log().info("still running");
  c->shutdown(5s);
  auto h = c->health().track(Track::kLogs);
  EXPECT_EQ(h.offered, 11u);
  EXPECT_EQ(h.written + h.dropped_total(), h.offered);
}

}  // namespace
}  // namespace emp::telemetry

namespace emp::telemetry {
namespace {

TEST_F(LogTrack, OtlpLogsGoToALocalFileWhenAskedAndNoCollectorIsSet) {
  auto c = make({{"EMP_LOGS_OTLP", "true"}});
  c.log().error("gpu lost", {{"gpu", 1}});
  ASSERT_TRUE(c.flush(10s));
  std::ifstream in(dir_ / "otlp-logs.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  auto j = json::parse(line);
  auto& rec = j["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
  EXPECT_EQ(rec["severityNumber"], 17);
  EXPECT_EQ(rec["body"]["stringValue"], "gpu lost");
  auto h = c.health();
  EXPECT_EQ(h.track(Track::kLogs).written, 1u);  // the JSON-lines file
  std::vector<DestinationHealth> logs;
  for (auto& d : h.destinations)
    if (d.track == Track::kLogs) logs.push_back(d);
  ASSERT_EQ(logs.size(), 1u);
  EXPECT_EQ(logs[0].delivered, 1u);
  EXPECT_NE(logs[0].name.find("otlp-logs.jsonl"), std::string::npos);
}

TEST_F(LogTrack, NoOtlpLogFileByDefault) {
  auto c = make();
  c.log().info("x");
  ASSERT_TRUE(c.flush(10s));
  EXPECT_FALSE(fs::exists(dir_ / "otlp-logs.jsonl"));
  for (auto& d : c.health().destinations) EXPECT_NE(d.track, Track::kLogs) << d.name;
}

}  // namespace
}  // namespace emp::telemetry

namespace emp::telemetry {
namespace {

TEST_F(LogTrack, StatusFileCarriesTheHealthForTheCli) {
  auto c = make({{"EMP_STATUS_INTERVAL", "100ms"}});
  for (int i = 0; i < 25; ++i) c.log().info("status", {{"i", i}});
  ASSERT_TRUE(c.flush(10s));
  c.shutdown(5s);  // writes the final status
  fs::path status = dir_ / "status" / ("test-worker-" + std::to_string(::getpid()) + ".json");
  ASSERT_TRUE(fs::exists(status));
  std::ifstream in(status);
  json j = json::parse(in);
  EXPECT_EQ(j["service_name"], "test-worker");
  EXPECT_EQ(j["pid"], ::getpid());
  EXPECT_EQ(j["tracks"]["logs"]["written"], 25);
  EXPECT_EQ(j["tracks"]["logs"]["offered"], 25);
  EXPECT_TRUE(j["destinations"].is_array());
}

}  // namespace
}  // namespace emp::telemetry
