// Tailed files shipped through a real loopback forward server and checked
// record by record: every line exactly once, in order, with its metadata.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/pipeline.hpp"
#include "emp/telemetry/client.hpp"
#include "forward/forward_destination.hpp"
#include "support/env_map.hpp"
#include "support/forward_peer.hpp"
#include "tail/tailer.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

bool wait_until(const std::function<bool()>& pred, std::chrono::seconds limit = 30s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

void append_lines(const fs::path& p, int from, int to, const std::string& prefix = "line ") {
  std::ofstream out(p, std::ios::app);
  for (int i = from; i < to; ++i) out << prefix << i << "\n";
}

class TailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("emp-tail-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(peer_.ok());
  }
  void TearDown() override {
    tailer_.reset();
    worker_.reset();
    fs::remove_all(dir_);
  }

  tail::TailOptions options() {
    tail::TailOptions o;
    o.context = {"svc", "worker", "development", "m1"};
    o.db_path = (dir_ / "positions.db").string();
    o.poll_interval = 20ms;
    o.rotate_wait = 1000ms;
    return o;
  }
  void start(tail::TailOptions o) {
    forward::ForwardSettings fs;
    fs.host = "127.0.0.1";
    fs.port = peer_.port();
    fs.client_hostname = "m1";
    deliver::DeliveryWorker::Options wo;
    wo.stream = "fluentd/tail";
    wo.primary = false;
    worker_ = std::make_unique<deliver::DeliveryWorker>(
        Track::kLogs, std::make_unique<forward::ForwardDestination>(std::move(fs)),
        pipeline_.accounting(), wo);
    tailer_ = std::make_unique<tail::Tailer>(std::move(o), *worker_);
    ASSERT_EQ(tailer_->db_error(), "");
  }
  // Stops the tailer and waits for everything it read to be acked.
  void stop() {
    tailer_->stop();
    ASSERT_TRUE(worker_->wait_idle(std::chrono::steady_clock::now() + 30s));
    tailer_.reset();
    worker_->shutdown(std::chrono::steady_clock::now() + 5s);
    worker_.reset();
  }
  std::vector<json> records() const {
    std::vector<json> out;
    for (const auto& e : peer_.events()) out.push_back(json::parse(e.record_json));
    return out;
  }
  // The "log" values received, in order.
  std::vector<std::string> logs() const {
    std::vector<std::string> out;
    for (const json& r : records()) out.push_back(r.value("log", std::string("<none>")));
    return out;
  }
  static std::vector<std::string> expected(int from, int to, const std::string& prefix = "line ") {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) out.push_back(prefix + std::to_string(i));
    return out;
  }

  fs::path dir_;
  testing::ForwardPeer peer_;
  core::Pipeline pipeline_{core::Pipeline::Options{}};
  std::unique_ptr<deliver::DeliveryWorker> worker_;
  std::unique_ptr<tail::Tailer> tailer_;
};

TEST_F(TailTest, JsonObjectsKeepTheirKeysOtherLinesBecomeLogWithMetadata) {
  const fs::path f = dir_ / "app.log";
  {
    std::ofstream out(f);
    out << R"({"msg":"started","n":7,"ok":true,"nested":{"a":[1,2]}})"
        << "\n";
    out << "plain text, not json\n";
    out << R"({"msg":"own","service_name":"child"})"
        << "\n";
    out << "[1,2,3]\n";         // JSON, but not an object
    out << "{broken json\r\n";  // CRLF line
  }
  start(options());
  ASSERT_EQ(tailer_->add(f.string(), "custom.tag"), "");
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 5; }));
  stop();
  const auto events = peer_.events();
  ASSERT_EQ(events.size(), 5u);
  for (const auto& e : events) EXPECT_EQ(e.tag, "custom.tag");
  const auto r = records();
  EXPECT_EQ(r[0]["msg"], "started");
  EXPECT_EQ(r[0]["n"], 7);
  EXPECT_EQ(r[0]["ok"], true);
  EXPECT_EQ(r[0]["nested"]["a"][1], 2);
  EXPECT_FALSE(r[0].contains("log"));
  EXPECT_EQ(r[1]["log"], "plain text, not json");
  EXPECT_EQ(r[2]["service_name"], "child");  // the line's own value is kept
  EXPECT_EQ(r[3]["log"], "[1,2,3]");
  EXPECT_EQ(r[4]["log"], "{broken json");
  for (std::size_t i = 0; i < r.size(); ++i) {
    if (i != 2) {
      EXPECT_EQ(r[i]["service_name"], "svc") << i;
      EXPECT_EQ(r[i]["source_identification"], "svc:m1:" + f.string()) << i;
    }
    EXPECT_EQ(r[i]["service_type"], "worker") << i;
    EXPECT_EQ(r[i]["environment"], "development") << i;
    EXPECT_EQ(r[i]["machine_id"], "m1") << i;
    EXPECT_EQ(r[i]["log_file_path"], f.string()) << i;
  }
}

TEST_F(TailTest, DefaultTagNamesTheServiceTypeAndFile) {
  const fs::path f = dir_ / "comfy-ui.log";
  append_lines(f, 0, 3);
  start(options());
  ASSERT_EQ(tailer_->add(f.string(), ""), "");
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 3; }));
  stop();
  EXPECT_EQ(peer_.events().at(0).tag, "worker.logs.comfy-ui");
  EXPECT_EQ(logs(), expected(0, 3));
}

TEST_F(TailTest, RotationByRenameWhileTheWriterStillAppendsToTheOldFile) {
  const fs::path f = dir_ / "app.log";
  append_lines(f, 0, 100);
  start(options());
  ASSERT_EQ(tailer_->add(f.string(), "t"), "");
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 100; }));
  // The writer keeps its descriptor across the rename (as a logger does until
  // it reopens): lines 100..149 land in the renamed file, the rest in the new.
  std::ofstream old_writer(f, std::ios::app);
  fs::rename(f, dir_ / "app.log.1");
  for (int i = 100; i < 150; ++i) old_writer << "line " << i << "\n";
  old_writer.flush();
  append_lines(f, 150, 300);
  for (int i = 300; i < 310; ++i) old_writer << "late " << i << "\n";  // still appended
  old_writer.close();
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 310; }));
  stop();
  auto got = logs();
  // Order across the two files is not defined; each file's order is.
  std::vector<std::string> old_file, new_file;
  for (const auto& s : got) {
    const int n = std::stoi(s.substr(s.find(' ') + 1));
    ((n < 150 || n >= 300) ? old_file : new_file).push_back(s);
  }
  auto want_old = expected(0, 150);
  auto late = expected(300, 310, "late ");
  want_old.insert(want_old.end(), late.begin(), late.end());
  EXPECT_EQ(old_file, want_old);
  EXPECT_EQ(new_file, expected(150, 300));
}

TEST_F(TailTest, RotationByCopyTruncate) {
  const fs::path f = dir_ / "app.log";
  append_lines(f, 0, 50);
  start(options());
  ASSERT_EQ(tailer_->add(f.string(), "t"), "");
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 50; }));
  fs::copy_file(f, dir_ / "app.log.1");
  fs::resize_file(f, 0);
  ASSERT_TRUE(wait_until([&] { return tailer_->stats().rotations >= 1; }));
  append_lines(f, 50, 80);
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 80; }));
  stop();
  EXPECT_EQ(logs(), expected(0, 80));
}

TEST_F(TailTest, GlobPicksUpFilesThatAppearLater) {
  start(options());
  ASSERT_EQ(tailer_->add((dir_ / "*.log").string(), "t"), "");
  append_lines(dir_ / "a.log", 0, 10, "a ");
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 10; }));
  append_lines(dir_ / "b.log", 0, 10, "b ");
  append_lines(dir_ / "ignored.txt", 0, 10, "x ");
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 20; }));
  stop();
  std::map<std::string, std::vector<std::string>> by_file;
  for (const json& r : records()) by_file[r["log_file_path"]].push_back(r["log"]);
  ASSERT_EQ(by_file.size(), 2u);
  EXPECT_EQ(by_file[(dir_ / "a.log").string()], expected(0, 10, "a "));
  EXPECT_EQ(by_file[(dir_ / "b.log").string()], expected(0, 10, "b "));
}

TEST_F(TailTest, AFileThatDoesNotExistYetIsWaitedFor) {
  const fs::path f = dir_ / "later" / "app.log";
  start(options());
  ASSERT_EQ(tailer_->add(f.string(), "t"), "");
  std::this_thread::sleep_for(100ms);  // several polls with nothing there
  EXPECT_EQ(peer_.count(), 0u);
  fs::create_directories(f.parent_path());
  append_lines(f, 0, 5);
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 5; }));
  stop();
  EXPECT_EQ(logs(), expected(0, 5));
}

TEST_F(TailTest, ADeletedFileIsClosedAndANewOneOfTheSameNameReadFromItsStart) {
  const fs::path f = dir_ / "app.log";
  append_lines(f, 0, 5);
  start(options());
  ASSERT_EQ(tailer_->add(f.string(), "t"), "");
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 5; }));
  ASSERT_TRUE(wait_until([&] { return tailer_->stats().files_open == 1; }));
  fs::remove(f);
  ASSERT_TRUE(wait_until([&] { return tailer_->stats().files_open == 0; }));
  EXPECT_GE(tailer_->stats().rotations, 1u);
  append_lines(f, 5, 10);
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 10; }));
  stop();
  EXPECT_EQ(logs(), expected(0, 10));
}

TEST_F(TailTest, RestartResumesWithoutLossOrRepeat) {
  const fs::path f = dir_ / "app.log";
  append_lines(f, 0, 40);
  start(options());
  ASSERT_EQ(tailer_->add((dir_ / "app.log*").string(), "t"), "");
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 40; }));
  append_lines(f, 40, 45);  // maybe read before the stop, maybe after the restart
  stop();
  // While stopped: more lines, a partial line, then a rotation by rename.
  append_lines(f, 45, 60);
  { std::ofstream(f, std::ios::app) << "line 6"; }
  { std::ofstream(f, std::ios::app) << "0\n"; }
  fs::rename(f, dir_ / "app.log.1");
  append_lines(f, 61, 80);
  start(options());
  ASSERT_EQ(tailer_->add((dir_ / "app.log*").string(), "t"), "");
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 80; }));
  std::this_thread::sleep_for(200ms);  // a repeat would arrive now
  stop();
  auto got = logs();
  std::sort(got.begin(), got.end(), [](const std::string& a, const std::string& b) {
    return std::stoi(a.substr(5)) < std::stoi(b.substr(5));
  });
  EXPECT_EQ(got, expected(0, 80));
}

TEST_F(TailTest, LongLinesAreCutAndCounted) {
  const fs::path f = dir_ / "app.log";
  {
    std::ofstream out(f);
    out << std::string(5000, 'x') << "\n";
    out << "after\n";
    out << std::string(150, 'y') << "\n";
  }
  auto o = options();
  o.max_line_bytes = 100;
  o.read_chunk = 64;  // lines span reads
  start(o);
  ASSERT_EQ(tailer_->add(f.string(), "t"), "");
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 3; }));
  EXPECT_EQ(tailer_->stats().truncated, 2u);
  stop();
  EXPECT_EQ(logs(),
            (std::vector<std::string>{std::string(100, 'x'), "after", std::string(100, 'y')}));
}

TEST_F(TailTest, ClientAddFileShipsToFluentdAndNotToItsOwnLogFile) {
  const fs::path f = dir_ / "child.log";
  append_lines(f, 0, 20);
  Options o;
  o.service_name = "svc";
  o.machine_id = "m1";
  o.log_dir = (dir_ / "out").string();
  std::map<std::string, std::string> env{{"FLUENTD_HOST", "127.0.0.1"},
                                         {"FLUENTD_PORT", std::to_string(peer_.port())},
                                         {"OTEL_ENABLED", "false"}};
  o.env = testing::env_from(std::move(env));
  auto client = Client::for_worker(o);
  ASSERT_TRUE(client.ok()) << client.errors().at(0).to_string();
  EXPECT_EQ(client->add_file("", "t").value_or(Error{}).subject, "add_file");
  ASSERT_FALSE(client->add_file(f.string(), "child.logs").has_value());
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 20; }));
  // Counts are updated when the poll that shipped the lines ends, and
  // delivered when the server's ack arrives: both a little after the events.
  auto tail_delivered = [&] {
    for (const auto& d : client->health().destinations)
      if (d.name.find("(tailed files)") != std::string::npos) return d.delivered;
    return std::uint64_t{0};
  };
  ASSERT_TRUE(wait_until([&] { return client->health().tail.files_open == 1; }));
  EXPECT_TRUE(wait_until([&] { return tail_delivered() == 20; }));
  const HealthSnapshot h = client->health();
  EXPECT_EQ(h.tail.lines, 20u);
  client->shutdown(10s);
  EXPECT_EQ(logs(), expected(0, 20));
  EXPECT_TRUE(fs::exists(dir_ / "out" / "tail-positions.db"));
  std::ifstream own(dir_ / "out" / "service.log");
  std::string text((std::istreambuf_iterator<char>(own)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("line 3"), std::string::npos);
}

// A forked child neither tails (the parent does) nor hangs joining the
// parent's tailer thread when its client shuts down.
TEST_F(TailTest, AForkedChildLeavesTheTailingToItsParent) {
#if defined(__SANITIZE_THREAD__)
  // TSan cannot follow a fork of a multithreaded process (the child's client
  // restarts its threads); tests/integration/fork runs uninstrumented too.
  GTEST_SKIP() << "fork with threads is not supported under ThreadSanitizer";
#endif
  const fs::path f = dir_ / "child.log";
  append_lines(f, 0, 10);
  Options o;
  o.service_name = "svc";
  o.log_dir = (dir_ / "out").string();
  o.env = testing::env_from({{"FLUENTD_HOST", "127.0.0.1"},
                             {"FLUENTD_PORT", std::to_string(peer_.port())},
                             {"OTEL_ENABLED", "false"}});
  auto client = Client::for_worker(o);
  ASSERT_TRUE(client.ok());
  ASSERT_FALSE(client->add_file(f.string(), "t").has_value());
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 10; }));
  const pid_t pid = ::fork();
  if (pid == 0) {
    const bool refused = client->add_file((dir_ / "other.log").string()).has_value();
    const bool stopped = client->shutdown(2s);
    ::_exit(refused && stopped ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  int status = -1;
  ASSERT_TRUE(wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  append_lines(f, 10, 20);  // the parent still tails
  ASSERT_TRUE(wait_until([&] { return peer_.count() >= 20; }));
  client->shutdown(10s);
  EXPECT_EQ(logs(), expected(0, 20));
}

TEST_F(TailTest, ClientAddFileWithoutFluentdSaysWhy) {
  Options o;
  o.service_name = "svc";
  o.log_dir = (dir_ / "out").string();
  o.env = testing::env_from({{"OTEL_ENABLED", "false"}});
  auto client = Client::for_worker(o);
  ASSERT_TRUE(client.ok());
  const auto err = client->add_file((dir_ / "x.log").string());
  ASSERT_TRUE(err.has_value());
  EXPECT_NE(err->message.find("FLUENTD_HOST"), std::string::npos);
  EXPECT_NE(err->message.find("not tailed"), std::string::npos);
}

}  // namespace
}  // namespace emp::telemetry
