// The viewer's store under a slow disk and under its limits: while the
// database is locked (standing in for a disk that does not keep up), a full
// queue makes the HTTP receiver answer 503 with Retry-After at once instead
// of blocking the sender; the queued data is committed once the disk frees
// up; the forward port leaves such frames unacked, and the client's
// at-least-once delivery brings them back. Retention keeps the file under its size limit by deleting the oldest
// commits first, and drops data older than the age limit.
#include <sqlite3.h>

#include <thread>

#include "emp/telemetry/log.hpp"
#include "encode/otlp_proto.hpp"
#include "viewer/query.hpp"
#include "viewer/store.hpp"
#include "viewer_support.hpp"

namespace emp::telemetry::viewer_test {
namespace {

using namespace std::chrono_literals;
namespace otlp = encode::otlp;

std::string logs_request(const std::string& job_id, int n, std::size_t body_bytes) {
  otlp::Resource resource;
  resource.attributes = {{"service.name", otlp::AnyValue::string("store-test")}};
  std::vector<otlp::LogData> logs(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    logs[i].time_unix_nano = 1764057369000000000ull + static_cast<std::uint64_t>(i);
    logs[i].body = otlp::AnyValue::string(std::string(body_bytes, 'x'));
    logs[i].attributes = {{"job_id", otlp::AnyValue::string(job_id)}};
  }
  std::string out;
  otlp::encode_logs_request(resource, {}, logs, out);
  return out;
}

viewer::Batch log_batch(const std::string& job_id, int n, std::size_t body_bytes) {
  viewer::Batch b;
  for (int i = 0; i < n; ++i) {
    viewer::LogRow row;
    row.time_ns = 1764057369000000000 + i;
    row.body = std::string(body_bytes, 'y');
    row.job_id = job_id;
    row.service = "store-test";
    row.attributes = "{}";
    b.logs.push_back(std::move(row));
  }
  return b;
}

TEST_F(ViewerFixture, LockedDatabaseGets503WithRetryAfterAndLosesNothing) {
  ViewerOptions o;
  o.max_pending_bytes = 1;  // one queued request fills the queue
  start(o);
  // Another connection holds the write lock: the viewer's writer waits.
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "viewer.db").c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  const std::string url = viewer_->url() + "/v1/logs";
  auto first = http_request(url, true, logs_request("job-slow-1", 3, 10), "application/x-protobuf");
  EXPECT_EQ(first.status, 200);
  // The writer holds the first batch until the lock goes, so this one finds
  // the queue full and is told to come back.
  auto second =
      http_request(url, true, logs_request("job-slow-2", 3, 10), "application/x-protobuf");
  EXPECT_EQ(second.status, 503);
  EXPECT_EQ(second.headers["retry-after"], "1");
  EXPECT_EQ(viewer_->stats().requests_busy, 1u);

  ASSERT_EQ(sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(blocker);
  ASSERT_TRUE(viewer_->flush(20s));
  // The sender retries as told, now accepted.
  second = http_request(url, true, logs_request("job-slow-2", 3, 10), "application/x-protobuf");
  EXPECT_EQ(second.status, 200);
  ASSERT_TRUE(viewer_->flush(20s));
  EXPECT_EQ(get_json("/api/jobs/job-slow-1")["logs"].size(), 3u);
  EXPECT_EQ(get_json("/api/jobs/job-slow-2")["logs"].size(), 3u);
  EXPECT_EQ(viewer_->stats().rows_write_failed, 0u);
}

TEST_F(ViewerFixture, LockedDatabaseLeavesForwardFramesUnackedAndTheClientResendsThem) {
  ViewerOptions o;
  o.max_pending_bytes = 1;
  o.forward_port = 0;
  start(o);
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "viewer.db").c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  auto c = client({{"FLUENTD_HOST", "127.0.0.1"},
                   {"FLUENTD_PORT", std::to_string(viewer_->forward_port())},
                   {"OTEL_LOGS_EXPORTER", "none"},
                   {"OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "10"},
                   {"OTEL_BLRP_SCHEDULE_DELAY", "50"}});
  for (int i = 0; i < 50; ++i) {
    c.log().info("line " + std::to_string(i), {{"job_id", "job-fwd-busy"}});
  }
  // The first frame is queued behind the lock; the next find the queue full.
  for (int i = 0; i < 200 && viewer_->stats().forward_refused == 0; ++i) {
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_GE(viewer_->stats().forward_refused, 1u);
  ASSERT_EQ(sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(blocker);

  ASSERT_TRUE(c.flush(60s));
  ASSERT_TRUE(viewer_->flush(20s));
  const json doc = get_json("/api/jobs/job-fwd-busy");
  EXPECT_EQ(doc["logs"].size(), 50u) << "every line arrives, none twice in the job";
  const auto h = c.health();
  for (const auto& d : h.destinations) {
    if (d.name.find("fluentd") == std::string::npos) continue;
    EXPECT_EQ(d.delivered, 50u) << d.name;
    for (auto n : d.dropped) EXPECT_EQ(n, 0u) << d.name;
    EXPECT_GT(d.retried, 0u) << d.name;
  }
  EXPECT_EQ(viewer_->stats().rows_write_failed, 0u);
}

TEST_F(ViewerFixture, SizeLimitDeletesTheOldestCommitsFirst) {
  viewer_.reset();
  const std::string path = (dir_ / "bounded.db").string();
  viewer::StoreOptions so;
  so.path = path;
  so.max_bytes = 2u << 20;
  so.max_age = 0s;
  std::uint64_t committed = 0;
  {
    std::string error;
    auto store = viewer::Store::open(so, error);
    ASSERT_TRUE(store) << error;
    // 60 commits of ~100 KiB: three times the limit.
    for (int i = 0; i < 60; ++i) {
      ASSERT_EQ(store->submit(log_batch("job-" + std::to_string(i), 50, 2000)),
                viewer::Store::Submit::kAccepted);
      ASSERT_TRUE(store->flush(20s));
    }
    committed = store->stats().rows_committed;
    EXPECT_GT(store->stats().rows_evicted, 0u);
  }
  EXPECT_EQ(committed, 3000u);
  {
    std::string error;
    auto store = viewer::Store::open(so, error);  // applies the limit on open
    ASSERT_TRUE(store) << error;
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT (SELECT page_count FROM pragma_page_count())-(SELECT freelist_count "
                     "FROM pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())",
                     -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  const auto used = sqlite3_column_int64(st, 0) * sqlite3_column_int64(st, 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_LE(used, static_cast<std::int64_t>(so.max_bytes));

  std::string error;
  auto reader = viewer::StoreReader::open(path, error);
  ASSERT_TRUE(reader) << error;
  EXPECT_TRUE(reader->job("job-59").has_value());  // the newest stays
  EXPECT_FALSE(reader->job("job-0").has_value());  // the oldest went
  const auto jobs = reader->jobs(1000);
  EXPECT_LT(jobs.size(), 60u);
  EXPECT_EQ(jobs[0]["job_id"], "job-59");
}

TEST_F(ViewerFixture, AgeLimitDropsOldCommitsOnOpen) {
  viewer_.reset();
  viewer::StoreOptions so;
  so.path = (dir_ / "aged.db").string();
  so.max_age = 1s;
  so.max_bytes = 0;
  {
    std::string error;
    auto store = viewer::Store::open(so, error);
    ASSERT_TRUE(store) << error;
    ASSERT_EQ(store->submit(log_batch("job-old", 5, 10)), viewer::Store::Submit::kAccepted);
    ASSERT_TRUE(store->flush(20s));
  }
  std::this_thread::sleep_for(1100ms);  // the commit is now older than the limit
  {
    std::string error;
    auto store = viewer::Store::open(so, error);
    ASSERT_TRUE(store) << error;
    EXPECT_EQ(store->stats().rows_evicted, 5u);
  }
  std::string error;
  auto reader = viewer::StoreReader::open(so.path, error);
  ASSERT_TRUE(reader) << error;
  EXPECT_FALSE(reader->job("job-old").has_value());
  EXPECT_EQ(reader->stats()["logs"], 0);
}

}  // namespace
}  // namespace emp::telemetry::viewer_test
