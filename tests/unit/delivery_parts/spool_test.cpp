// Disk spool on real files in a private temporary directory: order across
// segments and restarts, the read position surviving a restart, a torn last
// record cut at every byte offset, damaged bytes in sealed segments
// (quarantined, the rest still replays), the byte cap evicting the oldest
// segments with exact item accounting, write failures (RLIMIT_FSIZE) and
// unusable directories reported cleanly, the directory lock, and stats()
// read from another thread.
#include "deliver/spool.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace emp::telemetry::deliver {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::size_t kHeader = 24;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "emp_spool_XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// File names in `dir` ending in `suffix`, sorted.
std::vector<std::string> files(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Record i: recognisable content, varying size, signal, type and item count.
Payload make_payload(int i, std::size_t size = 0) {
  Payload p;
  if (size == 0) size = 50 + static_cast<std::size_t>(i * 37 % 400);
  p.bytes.reserve(size);
  const std::string tag = "record-" + std::to_string(i) + ":";
  while (p.bytes.size() < size) p.bytes += tag;
  p.bytes.resize(size);
  p.signal = static_cast<Signal>(i % 3);
  p.content_type = i % 2 == 0 ? ContentType::kProtobuf : ContentType::kJson;
  p.items = static_cast<std::size_t>(i % 7 + 1);
  return p;
}

void expect_same(const Payload& got, const Payload& want, int i) {
  EXPECT_EQ(got.bytes, want.bytes) << "record " << i;
  EXPECT_EQ(got.signal, want.signal) << "record " << i;
  EXPECT_EQ(got.content_type, want.content_type) << "record " << i;
  EXPECT_EQ(got.items, want.items) << "record " << i;
}

SpoolOptions small_options() {
  SpoolOptions o;
  o.max_bytes = 1 << 20;
  o.segment_bytes = 4096;  // several segments with a few dozen records
  o.sync = false;          // durability is not what these tests observe
  return o;
}

std::unique_ptr<Spool> open_spool(const std::string& dir, const SpoolOptions& o) {
  auto r = Spool::open(dir, o);
  if (!r) {
    ADD_FAILURE() << r.errors().front().to_string();
    return nullptr;
  }
  return std::move(r).value();
}

// Pops up to `limit` records (all by default), checking each is what `want`
// expects from index `first` on. Returns the number read.
int drain_expect(Spool& spool, const std::vector<Payload>& want, int first, int limit = 100000) {
  int i = first;
  for (int guard = 0; guard < limit; ++guard) {
    const SpoolRecord* r = spool.peek();
    if (r == nullptr) break;
    if (i >= static_cast<int>(want.size())) {
      ADD_FAILURE() << "more records than written";
      break;
    }
    expect_same(r->payload, want[static_cast<std::size_t>(i)], i);
    EXPECT_EQ(r->crc, crc32(0, reinterpret_cast<const Bytef*>(r->payload.bytes.data()),
                            static_cast<uInt>(r->payload.bytes.size())));
    EXPECT_TRUE(spool.pop());
    ++i;
  }
  return i - first;
}

TEST(Spool, AppendCommitReplayInOrderAcrossSegments) {
  TempDir dir;
  std::vector<Payload> want;
  auto spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  EXPECT_TRUE(spool->empty());
  EXPECT_EQ(spool->peek(), nullptr);
  std::size_t items = 0;
  for (int i = 0; i < 100; ++i) {
    want.push_back(make_payload(i));
    items += want.back().items;
    const SpoolAppend a = spool->append(want.back());
    ASSERT_TRUE(a.stored) << a.error;
    EXPECT_EQ(a.evicted_records, 0u);
    if (i % 10 == 9) {
      EXPECT_TRUE(spool->commit()) << spool->last_error();
    }
  }
  SpoolStats st = spool->stats();
  EXPECT_EQ(st.records, 100u);
  EXPECT_EQ(st.items, items);
  EXPECT_EQ(st.appended_records, 100u);
  EXPECT_GT(st.segments, 3u);
  std::uint64_t on_disk = 0;
  for (const auto& name : files(dir.path(), ".seg")) on_disk += fs::file_size(dir.sub(name));
  for (const auto& name : files(dir.path(), ".open")) on_disk += fs::file_size(dir.sub(name));
  EXPECT_EQ(st.bytes, on_disk);
  EXPECT_GT(files(dir.path(), ".seg").size(), 3u);
  EXPECT_LE(files(dir.path(), ".open").size(), 1u);
  for (const auto& name : files(dir.path(), ".seg")) {
    EXPECT_LE(fs::file_size(dir.sub(name)), 4096u) << name;
  }

  EXPECT_EQ(drain_expect(*spool, want, 0), 100);
  EXPECT_TRUE(spool->empty());
  EXPECT_FALSE(spool->pop());
  st = spool->stats();
  EXPECT_EQ(st.records, 0u);
  EXPECT_EQ(st.items, 0u);
  EXPECT_EQ(st.popped_records, 100u);
  EXPECT_EQ(st.io_errors, 0u);
  EXPECT_TRUE(files(dir.path(), ".seg").empty());  // consumed segments are deleted
  EXPECT_EQ(st.bytes, files(dir.path(), ".open").empty()
                          ? 0u
                          : fs::file_size(dir.sub(files(dir.path(), ".open")[0])));

  // Appending after draining works and reads back.
  want.push_back(make_payload(100));
  ASSERT_TRUE(spool->append(want.back()).stored);
  EXPECT_EQ(drain_expect(*spool, want, 100), 1);
}

TEST(Spool, PeekIsStableUntilPopAndPopNeedsAPeek) {
  TempDir dir;
  auto spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  EXPECT_FALSE(spool->pop());  // nothing peeked
  const Payload a = make_payload(1), b = make_payload(2);
  ASSERT_TRUE(spool->append(a).stored);
  ASSERT_TRUE(spool->append(b).stored);
  EXPECT_FALSE(spool->pop());  // still nothing peeked: removes nothing
  const SpoolRecord* r1 = spool->peek();
  ASSERT_NE(r1, nullptr);
  const SpoolRecord* r2 = spool->peek();
  EXPECT_EQ(r1, r2);
  expect_same(r2->payload, a, 1);
  EXPECT_EQ(r2->offset, 0u);
  EXPECT_TRUE(spool->pop());
  EXPECT_FALSE(spool->pop());  // one pop per peek
  const SpoolRecord* r3 = spool->peek();
  ASSERT_NE(r3, nullptr);
  expect_same(r3->payload, b, 2);
  EXPECT_EQ(r3->offset, kHeader + a.bytes.size());
}

TEST(Spool, EmptyPayloadRoundTrips) {
  TempDir dir;
  auto spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  Payload empty;
  empty.items = 0;
  ASSERT_TRUE(spool->append(empty).stored);
  const SpoolRecord* r = spool->peek();
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->payload.bytes.empty());
  EXPECT_TRUE(spool->pop());
  EXPECT_EQ(spool->peek(), nullptr);
}

TEST(Spool, RestartReplaysTheRestAndPoppedRecordsDoNotComeBack) {
  TempDir dir;
  std::vector<Payload> want;
  for (int i = 0; i < 60; ++i) want.push_back(make_payload(i));
  SpoolOptions o = small_options();
  o.sync = true;  // the real thing once
  {
    auto spool = open_spool(dir.path(), o);
    ASSERT_TRUE(spool);
    for (const auto& p : want) ASSERT_TRUE(spool->append(p).stored);
    ASSERT_TRUE(spool->commit());
    // Pop 25 (into the second segment), without a commit afterwards.
    for (int i = 0; i < 25; ++i) {
      ASSERT_NE(spool->peek(), nullptr);
      ASSERT_TRUE(spool->pop());
    }
  }
  {
    auto spool = open_spool(dir.path(), o);
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->stats().records, 35u);
    // Pop 10 more, then restart again.
    EXPECT_EQ(drain_expect(*spool, want, 25, 10), 10);
  }
  {
    auto spool = open_spool(dir.path(), o);
    ASSERT_TRUE(spool);
    EXPECT_EQ(spool->stats().records, 25u);
    EXPECT_EQ(drain_expect(*spool, want, 35), 25);
    // New records after a restart go after the old ones.
    Payload extra = make_payload(1000);
    ASSERT_TRUE(spool->append(extra).stored);
    want.push_back(extra);
    ASSERT_TRUE(spool->commit());
  }
  auto spool = open_spool(dir.path(), o);
  ASSERT_TRUE(spool);
  EXPECT_EQ(drain_expect(*spool, want, 60), 1);
  EXPECT_EQ(spool->stats().torn_records, 0u);
  EXPECT_EQ(spool->stats().quarantined, 0u);
}

TEST(Spool, TornLastRecordIsCutAtEveryByteOffset) {
  TempDir base;
  std::vector<Payload> want;
  for (int i = 0; i < 5; ++i) want.push_back(make_payload(i, 100 + static_cast<std::size_t>(i)));
  {
    auto spool = open_spool(base.sub("orig"), small_options());
    ASSERT_TRUE(spool);
    for (const auto& p : want) ASSERT_TRUE(spool->append(p).stored);
    ASSERT_TRUE(spool->commit());
  }  // abandoned as a crash would: the segment stays .open
  const auto open_files = files(base.sub("orig"), ".open");
  ASSERT_EQ(open_files.size(), 1u);
  const std::string name = open_files[0];
  const std::string bytes = read_file(base.sub("orig") + "/" + name);
  std::size_t last_start = 0;
  for (int i = 0; i < 4; ++i)
    last_start += kHeader + want[static_cast<std::size_t>(i)].bytes.size();
  ASSERT_EQ(bytes.size(), last_start + kHeader + want[4].bytes.size());

  for (std::size_t cut = last_start; cut < bytes.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    TempDir dir;
    write_file(dir.sub(name), bytes.substr(0, cut));
    auto spool = open_spool(dir.path(), small_options());
    ASSERT_TRUE(spool);
    const SpoolStats st = spool->stats();
    EXPECT_EQ(st.records, 4u);
    EXPECT_EQ(st.torn_records, cut > last_start ? 1u : 0u);
    EXPECT_EQ(st.torn_items, cut >= last_start + kHeader ? want[4].items : 0u);
    EXPECT_EQ(st.quarantined, 0u);
    EXPECT_TRUE(files(dir.path(), ".corrupt").empty());
    // The recovered segment is sealed at the end of its valid prefix.
    EXPECT_TRUE(files(dir.path(), ".open").empty());
    ASSERT_EQ(files(dir.path(), ".seg").size(), 1u);
    EXPECT_EQ(fs::file_size(dir.sub(files(dir.path(), ".seg")[0])), last_start);
    EXPECT_EQ(drain_expect(*spool, want, 0), 4);
    // And the spool goes on working.
    ASSERT_TRUE(spool->append(want[4]).stored);
    EXPECT_EQ(drain_expect(*spool, want, 4), 1);
  }
}

// Three sealed segments of `per` records each (every commit seals).
std::vector<Payload> write_three_segments(const std::string& dir, int per) {
  std::vector<Payload> want;
  SpoolOptions o = small_options();
  o.segment_max_age = 0ms;
  auto spool = open_spool(dir, o);
  if (!spool) return want;
  for (int s = 0; s < 3; ++s) {
    for (int i = 0; i < per; ++i) {
      want.push_back(make_payload(s * per + i, 200));
      if (!spool->append(want.back()).stored) ADD_FAILURE() << spool->last_error();
    }
    if (!spool->commit()) ADD_FAILURE() << spool->last_error();
  }
  return want;
}

TEST(Spool, CorruptPayloadByteInASealedSegmentIsQuarantined) {
  TempDir dir;
  const std::vector<Payload> want = write_three_segments(dir.path(), 5);
  auto segs = files(dir.path(), ".seg");
  ASSERT_EQ(segs.size(), 3u);
  ASSERT_TRUE(files(dir.path(), ".open").empty());
  // Flip one byte in the payload of the third record of the middle segment.
  const std::string middle = dir.sub(segs[1]);
  std::string bytes = read_file(middle);
  const std::size_t pos = 2 * (kHeader + 200) + kHeader + 100;
  bytes[pos] = static_cast<char>(bytes[pos] ^ 0x40);
  write_file(middle, bytes);

  auto spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  EXPECT_EQ(spool->stats().records, 15u);  // payloads are checked when read
  std::vector<int> replayed;
  for (int guard = 0; guard < 100; ++guard) {
    const SpoolRecord* r = spool->peek();
    if (r == nullptr) break;
    const int index = std::stoi(r->payload.bytes.substr(7));
    expect_same(r->payload, want[static_cast<std::size_t>(index)], index);
    replayed.push_back(index);
    ASSERT_TRUE(spool->pop());
  }
  // Segment 1 whole, the two good records of segment 2, segment 3 whole.
  EXPECT_EQ(replayed, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 14}));
  const SpoolStats st = spool->stats();
  EXPECT_EQ(st.quarantined, 1u);
  std::uint64_t lost_items = 0;
  for (int i = 7; i < 10; ++i) lost_items += want[static_cast<std::size_t>(i)].items;
  EXPECT_EQ(st.quarantined_items, lost_items);
  EXPECT_EQ(st.records, 0u);
  EXPECT_EQ(st.items, 0u);
  const auto corrupt = files(dir.path(), ".corrupt");
  ASSERT_EQ(corrupt.size(), 1u);
  EXPECT_EQ(read_file(dir.sub(corrupt[0])), bytes);  // kept for inspection
}

TEST(Spool, CorruptHeaderFoundAtOpenKeepsThePrefix) {
  TempDir dir;
  const std::vector<Payload> want = write_three_segments(dir.path(), 5);
  auto segs = files(dir.path(), ".seg");
  ASSERT_EQ(segs.size(), 3u);
  const std::string middle = dir.sub(segs[1]);
  std::string bytes = read_file(middle);
  const std::size_t record3 = 3 * (kHeader + 200);
  bytes[record3 + 9] = static_cast<char>(bytes[record3 + 9] ^ 0x01);  // its length field
  write_file(middle, bytes);

  auto spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  SpoolStats st = spool->stats();
  EXPECT_EQ(st.quarantined, 1u);
  EXPECT_EQ(st.records, 13u);
  const auto corrupt = files(dir.path(), ".corrupt");
  ASSERT_EQ(corrupt.size(), 1u);
  EXPECT_EQ(read_file(dir.sub(corrupt[0])), bytes.substr(record3));
  EXPECT_EQ(fs::file_size(middle), record3);
  std::vector<Payload> expected(want.begin(), want.begin() + 8);
  expected.insert(expected.end(), want.begin() + 10, want.end());
  EXPECT_EQ(drain_expect(*spool, expected, 0), 13);
}

TEST(Spool, TruncatedSealedSegmentIsQuarantinedAndLaterSegmentsReplay) {
  TempDir dir;
  const std::vector<Payload> want = write_three_segments(dir.path(), 4);
  auto segs = files(dir.path(), ".seg");
  ASSERT_EQ(segs.size(), 3u);
  // The first segment loses the end of its last record (length beyond the end).
  fs::resize_file(dir.sub(segs[0]), 3 * (kHeader + 200) + kHeader + 50);
  auto spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  EXPECT_EQ(spool->stats().quarantined, 1u);
  EXPECT_EQ(spool->stats().quarantined_items, want[3].items);
  EXPECT_EQ(spool->stats().torn_records, 0u);  // sealed data was complete once: damage
  std::vector<Payload> expected(want.begin(), want.begin() + 3);
  expected.insert(expected.end(), want.begin() + 4, want.end());
  EXPECT_EQ(drain_expect(*spool, expected, 0), 11);
}

TEST(Spool, GarbageFilesNeverCrashOrLoop) {
  TempDir dir;
  write_file(dir.sub("0000000001.seg"), std::string(1000, '\0'));
  write_file(dir.sub("0000000002.seg"), "\xE5SPL garbage that looks like a header but is not");
  write_file(dir.sub("0000000003.open"), std::string(5, '\xE5'));
  write_file(dir.sub("0000000004.seg"), "");
  write_file(dir.sub("cursor"), "not a cursor");
  write_file(dir.sub("unrelated.txt"), "left alone");
  fs::create_directory(dir.sub("0000000005.seg"));  // a directory with a segment's name
  auto spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  EXPECT_EQ(spool->peek(), nullptr);
  EXPECT_TRUE(spool->empty());
  EXPECT_TRUE(fs::exists(dir.sub("unrelated.txt")));
  // Segments 1 and 2 quarantined; the torn .open (5 bytes, shorter than a header) cut.
  EXPECT_EQ(spool->stats().quarantined, 2u);
  EXPECT_EQ(spool->stats().torn_records, 1u);
  // New records get ids after every existing name.
  const Payload p = make_payload(7);
  ASSERT_TRUE(spool->append(p).stored);
  EXPECT_EQ(files(dir.path(), ".open"), std::vector<std::string>{"0000000006.open"});
  const SpoolRecord* r = spool->peek();
  ASSERT_NE(r, nullptr);
  expect_same(r->payload, p, 7);
}

TEST(Spool, DamagedCursorReplaysEverythingAgain) {
  TempDir dir;
  std::vector<Payload> want;
  {
    auto spool = open_spool(dir.path(), small_options());
    ASSERT_TRUE(spool);
    for (int i = 0; i < 10; ++i) {
      want.push_back(make_payload(i));
      ASSERT_TRUE(spool->append(want.back()).stored);
    }
    ASSERT_NE(spool->peek(), nullptr);
    ASSERT_TRUE(spool->pop());
  }
  std::string cursor = read_file(dir.sub("cursor"));
  ASSERT_EQ(cursor.size(), 24u);
  cursor[15] = static_cast<char>(cursor[15] ^ 0x10);
  write_file(dir.sub("cursor"), cursor);
  auto spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  // At-least-once: the popped record comes back rather than anything being skipped.
  EXPECT_EQ(drain_expect(*spool, want, 0), 10);
}

TEST(Spool, CapEvictsOldestSegmentsWithExactItemAccounting) {
  TempDir dir;
  SpoolOptions o = small_options();
  o.max_bytes = 64 * 1024;
  o.segment_bytes = 1 << 20;  // capped at max_bytes / 4 = 16 KiB
  auto spool = open_spool(dir.path(), o);
  ASSERT_TRUE(spool);
  std::vector<Payload> want;
  std::uint64_t appended_items = 0, evicted_items = 0, evicted_records = 0;
  for (int i = 0; i < 300; ++i) {
    want.push_back(make_payload(i, 1000));
    want.back().items = static_cast<std::size_t>(i + 1);  // distinct counts
    appended_items += want.back().items;
    const SpoolAppend a = spool->append(want.back());
    ASSERT_TRUE(a.stored) << a.error;
    EXPECT_FALSE(a.too_large);
    evicted_items += a.evicted_items;
    evicted_records += a.evicted_records;
    const SpoolStats st = spool->stats();
    ASSERT_LE(st.bytes, o.max_bytes);
    if (i % 8 == 0) spool->commit();
    std::uint64_t on_disk = 0;
    for (const auto& e : fs::directory_iterator(dir.path())) {
      const std::string n = e.path().filename().string();
      if (n.size() > 4 && (n.ends_with(".seg") || n.ends_with(".open")))
        on_disk += fs::file_size(e.path());
    }
    ASSERT_LE(on_disk, o.max_bytes);
  }
  const SpoolStats st = spool->stats();
  EXPECT_GT(evicted_records, 0u);
  EXPECT_EQ(st.dropped_spool_full_records, evicted_records);
  EXPECT_EQ(st.dropped_spool_full_items, evicted_items);
  // The survivors are the newest records, in order, and every item is
  // either still spooled or counted as dropped.
  const int first = static_cast<int>(evicted_records);
  std::uint64_t evicted_by_index = 0;
  for (int i = 0; i < first; ++i) evicted_by_index += want[static_cast<std::size_t>(i)].items;
  EXPECT_EQ(evicted_by_index, evicted_items);
  EXPECT_EQ(st.items + evicted_items, appended_items);
  EXPECT_GT(st.bytes, o.max_bytes / 2);  // eviction drops a segment, not the whole spool
  EXPECT_EQ(drain_expect(*spool, want, first), 300 - first);
}

TEST(Spool, TooLargeRecordIsRefusedWithoutEvicting) {
  TempDir dir;
  SpoolOptions o = small_options();
  o.max_bytes = 8 * 1024;
  o.max_record_bytes = 4 * 1024;
  auto spool = open_spool(dir.path(), o);
  ASSERT_TRUE(spool);
  ASSERT_TRUE(spool->append(make_payload(1, 1000)).stored);
  Payload big = make_payload(2, 5000);
  big.items = 17;
  SpoolAppend a = spool->append(big);
  EXPECT_FALSE(a.stored);
  EXPECT_TRUE(a.too_large);
  EXPECT_EQ(a.evicted_records, 0u);
  EXPECT_NE(a.error.find("5000 bytes"), std::string::npos) << a.error;
  EXPECT_EQ(spool->stats().dropped_spool_full_items, 17u);
  EXPECT_EQ(spool->stats().records, 1u);
  o.max_record_bytes = 1 << 20;
  spool.reset();
  spool = open_spool(dir.path(), o);
  ASSERT_TRUE(spool);
  a = spool->append(make_payload(3, 9000));  // over max_bytes
  EXPECT_TRUE(a.too_large);
  EXPECT_EQ(spool->stats().records, 1u);
}

TEST(Spool, EvictionInvalidatesThePeekedRecord) {
  TempDir dir;
  SpoolOptions o = small_options();
  o.max_bytes = 16 * 1024;  // 4 KiB segments
  auto spool = open_spool(dir.path(), o);
  ASSERT_TRUE(spool);
  std::vector<Payload> want;
  for (int i = 0; i < 12; ++i) {
    want.push_back(make_payload(i, 1000));
    ASSERT_TRUE(spool->append(want.back()).stored);
  }
  const SpoolRecord* r = spool->peek();
  ASSERT_NE(r, nullptr);
  expect_same(r->payload, want[0], 0);
  // Fill until the segment holding record 0 is evicted.
  int i = 12;
  std::uint64_t evicted = 0;
  for (; i < 40 && evicted == 0; ++i) {
    want.push_back(make_payload(i, 1000));
    const SpoolAppend a = spool->append(want.back());
    ASSERT_TRUE(a.stored);
    evicted += a.evicted_records;
  }
  ASSERT_GT(evicted, 0u);
  EXPECT_FALSE(spool->pop());  // would otherwise remove a record nobody delivered
  r = spool->peek();
  ASSERT_NE(r, nullptr);
  expect_same(r->payload, want[evicted], static_cast<int>(evicted));
}

TEST(Spool, LowerCapAtRestartEvictsOldest) {
  TempDir dir;
  const std::vector<Payload> want = write_three_segments(dir.path(), 10);  // ~2.2 KiB each
  SpoolOptions o = small_options();
  o.max_bytes = 5000;
  auto spool = open_spool(dir.path(), o);
  ASSERT_TRUE(spool);
  const SpoolStats st = spool->stats();
  EXPECT_LE(st.bytes, 5000u);
  EXPECT_EQ(st.dropped_spool_full_records, 10u);
  EXPECT_EQ(drain_expect(*spool, want, 10), 20);
}

TEST(Spool, SegmentsOlderThanMaxAgeAreSealedAtCommit) {
  TempDir dir;
  SpoolOptions o = small_options();
  o.segment_max_age = 0ms;
  auto spool = open_spool(dir.path(), o);
  ASSERT_TRUE(spool);
  ASSERT_TRUE(spool->append(make_payload(1)).stored);
  EXPECT_EQ(files(dir.path(), ".open").size(), 1u);
  ASSERT_TRUE(spool->commit());
  EXPECT_TRUE(files(dir.path(), ".open").empty());
  EXPECT_EQ(files(dir.path(), ".seg").size(), 1u);
  ASSERT_TRUE(spool->append(make_payload(2)).stored);
  EXPECT_EQ(files(dir.path(), ".open").size(), 1u);  // a new segment
  EXPECT_EQ(spool->stats().segments, 2u);
}

TEST(Spool, QuarantineKeepsAtMostTheConfiguredNumberOfFiles) {
  TempDir dir;
  for (int i = 1; i <= 5; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%010d.seg", i);
    write_file(dir.sub(name), std::string(100, static_cast<char>('a' + i)));
  }
  SpoolOptions o = small_options();
  o.max_quarantine_files = 2;
  auto spool = open_spool(dir.path(), o);
  ASSERT_TRUE(spool);
  EXPECT_EQ(spool->stats().quarantined, 5u);
  EXPECT_EQ(files(dir.path(), ".corrupt"),
            (std::vector<std::string>{"0000000004.corrupt", "0000000005.corrupt"}));
}

TEST(Spool, SegmentsBeforeTheCursorAreGoneAfterRestart) {
  TempDir dir;
  const std::vector<Payload> want = write_three_segments(dir.path(), 3);
  const auto segs = files(dir.path(), ".seg");
  ASSERT_EQ(segs.size(), 3u);
  const std::string first = read_file(dir.sub(segs[0]));
  {
    auto spool = open_spool(dir.path(), small_options());
    ASSERT_TRUE(spool);
    for (int i = 0; i < 4; ++i) {  // the whole first segment and one more
      ASSERT_NE(spool->peek(), nullptr);
      ASSERT_TRUE(spool->pop());
    }
  }
  // A removal lost in a crash: the consumed first segment reappears.
  write_file(dir.sub(segs[0]), first);
  auto spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  EXPECT_FALSE(fs::exists(dir.sub(segs[0])));
  EXPECT_EQ(drain_expect(*spool, want, 4), 5);
}

TEST(Spool, UnusableDirectoriesAreReportedCleanly) {
  TempDir dir;
  write_file(dir.sub("file"), "x");
  auto r = Spool::open(dir.sub("file") + "/spool/traces-1", small_options());
  ASSERT_FALSE(r);
  const std::string text = r.errors().front().to_string();
  EXPECT_NE(text.find(dir.sub("file") + "/spool/traces-1"), std::string::npos) << text;
  EXPECT_NE(text.find("Not a directory"), std::string::npos) << text;

  r = Spool::open(dir.sub("file"), small_options());  // a regular file, not a directory
  ASSERT_FALSE(r);
  EXPECT_NE(r.errors().front().to_string().find(dir.sub("file")), std::string::npos);

  r = Spool::open("", small_options());
  ASSERT_FALSE(r);

  if (::geteuid() != 0) {
    fs::create_directory(dir.sub("ro"));
    fs::permissions(dir.sub("ro"), fs::perms::owner_read | fs::perms::owner_exec);
    r = Spool::open(dir.sub("ro"), small_options());
    ASSERT_FALSE(r);
    EXPECT_NE(r.errors().front().to_string().find("Permission denied"), std::string::npos)
        << r.errors().front().to_string();
    fs::permissions(dir.sub("ro"), fs::perms::owner_all);
  }
}

TEST(Spool, ADirectoryHasOneSpoolAtATime) {
  TempDir dir;
  auto first = open_spool(dir.path(), small_options());
  ASSERT_TRUE(first);
  auto second = Spool::open(dir.path(), small_options());
  ASSERT_FALSE(second);
  EXPECT_NE(second.errors().front().to_string().find("in use"), std::string::npos);
  first.reset();
  EXPECT_TRUE(Spool::open(dir.path(), small_options()));
}

TEST(Spool, WriteFailureIsReportedAndTheSpoolRecovers) {
  TempDir dir;
  auto spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  std::vector<Payload> want;
  for (int i = 0; i < 3; ++i) {
    want.push_back(make_payload(i, 300));
    ASSERT_TRUE(spool->append(want.back()).stored);
  }
  const std::string open_name = files(dir.path(), ".open").at(0);
  const auto size_before = fs::file_size(dir.sub(open_name));

  // Files may not grow past 1000 bytes: the next append gets EFBIG halfway.
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  rlimit small = old;
  small.rlim_cur = 1000;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const SpoolAppend failed = spool->append(make_payload(99, 900));
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);

  EXPECT_FALSE(failed.stored);
  EXPECT_FALSE(failed.too_large);
  EXPECT_NE(failed.error.find(open_name), std::string::npos) << failed.error;
  EXPECT_NE(failed.error.find("too large"), std::string::npos) << failed.error;  // EFBIG
  EXPECT_EQ(spool->last_error(), failed.error);
  EXPECT_EQ(spool->stats().io_errors, 1u);
  EXPECT_EQ(spool->stats().records, 3u);
  EXPECT_EQ(fs::file_size(dir.sub(open_name)), size_before);  // the partial record was cut

  want.push_back(make_payload(3, 300));
  ASSERT_TRUE(spool->append(want.back()).stored);
  ASSERT_TRUE(spool->commit());
  spool.reset();
  spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  EXPECT_EQ(spool->stats().torn_records, 0u);
  EXPECT_EQ(drain_expect(*spool, want, 0), 4);
}

TEST(Spool, StatsAreReadableFromAnotherThread) {
  TempDir dir;
  auto spool = open_spool(dir.path(), small_options());
  ASSERT_TRUE(spool);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> max_seen{0};
  std::thread reader([&] {
    for (int i = 0; i < 1000000 && !done.load(); ++i) {
      const SpoolStats st = spool->stats();
      if (st.records > max_seen.load()) max_seen.store(st.records);
    }
  });
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(spool->append(make_payload(i)).stored);
    spool->commit();
    for (int i = 0; i < 10; ++i) {
      ASSERT_NE(spool->peek(), nullptr);
      ASSERT_TRUE(spool->pop());
    }
  }
  done = true;
  reader.join();
  EXPECT_LE(max_seen.load(), 10u);
  EXPECT_EQ(spool->stats().popped_records, 500u);
}

// Every file in `dir` with its contents.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    out[e.path().filename().string()] = read_file(e.path().string());
  }
  return out;
}

TEST(Spool, DetachLeavesTheFilesAsTheyAre) {
  TempDir dir;
  std::vector<Payload> want;
  SpoolOptions o = small_options();
  o.segment_max_age = 0ms;  // a commit() or destructor would seal
  auto spool = open_spool(dir.path(), o);
  ASSERT_TRUE(spool);
  for (int i = 0; i < 4; ++i) {
    want.push_back(make_payload(i));
    ASSERT_TRUE(spool->append(want.back()).stored);
  }
  ASSERT_NE(spool->peek(), nullptr);
  ASSERT_TRUE(spool->pop());
  const auto before = snapshot(dir.path());
  ASSERT_EQ(files(dir.path(), ".open").size(), 1u);

  spool->detach();
  EXPECT_TRUE(spool->empty());
  EXPECT_EQ(spool->stats().records, 0u);
  EXPECT_EQ(spool->peek(), nullptr);
  EXPECT_FALSE(spool->pop());
  EXPECT_FALSE(spool->commit());
  const SpoolAppend a = spool->append(want[0]);
  EXPECT_FALSE(a.stored);
  EXPECT_NE(a.error.find("detached"), std::string::npos);
  spool.reset();
  EXPECT_EQ(snapshot(dir.path()), before);  // not sealed, synced away or removed

  auto again = open_spool(dir.path(), small_options());  // the lock went with it
  ASSERT_TRUE(again);
  EXPECT_EQ(drain_expect(*again, want, 1), 3);
}

TEST(SpoolDirectory, OneDirectoryPerSignalAndUrlWithoutTheUrlInIt) {
  const std::string a =
      spool_directory("/var/spool/", Signal::kTraces, "https://u:secret@h:4318/v1/traces");
  EXPECT_EQ(a.rfind("/var/spool/traces-", 0), 0u) << a;
  EXPECT_EQ(a.size(), std::string("/var/spool/traces-").size() + 16);
  EXPECT_EQ(a.find("secret"), std::string::npos);
  EXPECT_EQ(a, spool_directory("/var/spool", Signal::kTraces, "https://u:secret@h:4318/v1/traces"));
  EXPECT_NE(a, spool_directory("/var/spool", Signal::kTraces, "https://h:4318/v1/traces"));
  EXPECT_EQ(spool_directory("s", Signal::kLogs, "x").rfind("s/logs-", 0), 0u);
}

}  // namespace
}  // namespace emp::telemetry::deliver
