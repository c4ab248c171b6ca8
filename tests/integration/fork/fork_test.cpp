// fork() while telemetry is busy: the child gets working telemetry (its own
// threads and queues, no lock inherited from a thread that does not exist
// there, no duplicate ids) and the parent carries on undisturbed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "emp/telemetry/client.hpp"

namespace emp::telemetry {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

// Waits for `pid` at most `limit`; kills it and returns -1 when it hangs.
int wait_bounded(pid_t pid, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

TEST(Fork, ChildGetsWorkingTelemetryAndParentContinues) {
  fs::path dir = fs::temp_directory_path() / ("emp-fork-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  Options o;
  o.preset = Preset::kWorker;
  o.service_name = "fork-test";
  o.machine_id = "m1";
  o.log_dir = dir.string();
  o.raw["EMP_QUEUE_FULL_POLICY"] = "block";
  o.raw["EMP_QUEUE_BLOCK_TIMEOUT"] = "5s";
  o.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  auto created = Client::create(o);
  ASSERT_TRUE(created);
  Client& c = *created;

  // A busy thread keeps the queues and the background thread working (and
  // their locks taken) while we fork.
  std::atomic<bool> stop{false};
  std::atomic<int> busy_lines{0};
  std::thread busy([&] {
    while (!stop.load()) {
      c.log().info("busy", {{"who", "parent-thread"}});
      auto s = c.tracer().start_span("busy.span");
      busy_lines.fetch_add(1);
    }
  });
  while (busy_lines.load() < 1000) std::this_thread::sleep_for(1ms);

  constexpr int kPre = 500, kChild = 300, kForks = 3;
  for (int i = 0; i < kPre; ++i) c.log().info("pre-fork", {{"i", i}});
  std::vector<pid_t> children;
  for (int f = 0; f < kForks; ++f) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Child: only this thread exists. Telemetry must work here.
      std::string ids;
      for (int i = 0; i < kChild; ++i) {
        c.log().info("child", {{"fork", f}, {"i", i}});
        auto s = c.tracer().start_span("child.span");
        ids += s.context().span_id.to_hex() + "\n";
      }
      bool ok = c.flush(10s);
      auto h = c.health();
      ok = ok && h.track(Track::kLogs).written == static_cast<std::uint64_t>(kChild) &&
           h.track(Track::kTraces).written == static_cast<std::uint64_t>(kChild);
      std::ofstream(dir / ("child-ids-" + std::to_string(f))) << ids;
      c.shutdown(5s);
      ::_exit(ok ? 0 : 3);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) EXPECT_EQ(wait_bounded(pid, 20s), 0) << "child failed or hung";

  stop = true;
  busy.join();
  for (int i = 0; i < 100; ++i) c.log().info("post-fork", {{"i", i}});
  ASSERT_TRUE(c.flush(10s));

  int pre = 0, post = 0, child = 0;
  std::set<std::pair<int, int>> child_seen;
  std::ifstream in(dir / c.config().log_file);
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    std::string m = j["message"];
    if (m == "pre-fork") ++pre;
    if (m == "post-fork") ++post;
    if (m == "child") {
      ++child;
      child_seen.insert({j["fork"].get<int>(), j["i"].get<int>()});
    }
  }
  EXPECT_EQ(pre, kPre) << "the parent's lines must be written once, by the parent";
  EXPECT_EQ(post, 100);
  EXPECT_EQ(child, kChild * kForks);
  EXPECT_EQ(child_seen.size(), static_cast<std::size_t>(kChild * kForks));

  // No span id was generated twice across the children.
  std::set<std::string> ids;
  std::size_t total = 0;
  for (int f = 0; f < kForks; ++f) {
    std::ifstream ids_in(dir / ("child-ids-" + std::to_string(f)));
    while (std::getline(ids_in, line)) {
      ids.insert(line);
      ++total;
    }
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kChild * kForks));
  EXPECT_EQ(ids.size(), total);
  c.shutdown(5s);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace emp::telemetry
