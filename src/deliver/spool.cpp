#include "deliver/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/file_modes.hpp"

namespace emp::telemetry::deliver {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kHeaderBytes = 24;
constexpr unsigned char kMagic[4] = {0xE5, 'S', 'P', 'L'};
constexpr unsigned char kVersion = 1;
constexpr std::size_t kCursorBytes = 24;
constexpr unsigned char kCursorMagic[4] = {0xE5, 'C', 'U', 'R'};
constexpr std::uint64_t kMaxId = 9999999999ull;  // ten digits in the file name
constexpr std::size_t kWindow = 64 * 1024;       // read buffer of the recovery scan
constexpr char kCursorName[] = "cursor";
constexpr char kCursorTemp[] = "cursor.tmp";
constexpr char kLockName[] = "lock";

void put32(unsigned char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put64(unsigned char* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
std::uint32_t get32(const unsigned char* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
std::uint64_t get64(const unsigned char* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::uint32_t crc(const void* data, std::size_t n, std::uint32_t seed = 0) {
  return static_cast<std::uint32_t>(crc32_z(seed, static_cast<const Bytef*>(data), n));
}

std::string errno_text(int err) { return std::system_category().message(err); }

struct Header {
  Signal signal = Signal::kTraces;
  ContentType content_type = ContentType::kProtobuf;
  std::uint32_t length = 0;
  std::uint32_t items = 0;
  std::uint32_t payload_crc = 0;
};

void encode_header(const Header& h, unsigned char* out) {
  std::memcpy(out, kMagic, 4);
  out[4] = kVersion;
  out[5] = static_cast<unsigned char>(h.signal);
  out[6] = static_cast<unsigned char>(h.content_type);
  out[7] = 0;
  put32(out + 8, h.length);
  put32(out + 12, h.items);
  put32(out + 16, h.payload_crc);
  put32(out + 20, crc(out, 20));
}

// Accepts only a header that is exactly what encode_header() writes.
bool decode_header(const unsigned char* p, std::uint32_t max_length, Header& h) {
  if (std::memcmp(p, kMagic, 4) != 0 || get32(p + 20) != crc(p, 20)) return false;
  if (p[4] != kVersion || p[5] > static_cast<unsigned char>(Signal::kLogs) ||
      p[6] > static_cast<unsigned char>(ContentType::kJson) || p[7] != 0) {
    return false;
  }
  h.signal = static_cast<Signal>(p[5]);
  h.content_type = static_cast<ContentType>(p[6]);
  h.length = get32(p + 8);
  h.items = get32(p + 12);
  h.payload_crc = get32(p + 16);
  return h.length <= max_length;
}

std::string segment_name(std::uint64_t id, bool sealed) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%010llu%s", static_cast<unsigned long long>(id),
                sealed ? ".seg" : ".open");
  return buf;
}

enum class Kind { kSegment, kOpen, kCorrupt, kOther };

// Names the spool itself makes: ten digits, then .seg, .open, .corrupt or
// .<n>.corrupt. Everything else in the directory is left alone.
Kind classify(std::string_view name, std::uint64_t& id) {
  if (name.size() < 11) return Kind::kOther;
  id = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    if (name[i] < '0' || name[i] > '9') return Kind::kOther;
    id = id * 10 + static_cast<std::uint64_t>(name[i] - '0');
  }
  std::string_view rest = name.substr(10);
  if (rest == ".seg") return Kind::kSegment;
  if (rest == ".open") return Kind::kOpen;
  constexpr std::string_view kCorrupt = ".corrupt";
  if (rest.size() >= kCorrupt.size() && rest.substr(rest.size() - kCorrupt.size()) == kCorrupt) {
    return Kind::kCorrupt;
  }
  return Kind::kOther;
}

// Reads until `n` bytes or end of file; the count, or -1 with errno set.
ssize_t pread_full(int fd, void* buf, std::size_t n, std::uint64_t off) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t r =
        ::pread(fd, static_cast<char*>(buf) + done, n - done, static_cast<off_t>(off + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    done += static_cast<std::size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

bool pwrite_full(int fd, const unsigned char* head, std::size_t head_n, const char* body,
                 std::size_t body_n, std::uint64_t off) {
  std::size_t done = 0;
  const std::size_t total = head_n + body_n;
  while (done < total) {
    iovec iov[2];
    int count = 0;
    if (done < head_n) {
      iov[count++] = {const_cast<unsigned char*>(head) + done, head_n - done};
      if (body_n > 0) iov[count++] = {const_cast<char*>(body), body_n};
    } else {
      iov[count++] = {const_cast<char*>(body) + (done - head_n), total - done};
    }
    const ssize_t w = ::pwritev(fd, iov, count, static_cast<off_t>(off + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (w == 0) {
      errno = EIO;
      return false;
    }
    done += static_cast<std::size_t>(w);
  }
  return true;
}

// Sequential reads through one buffer, so that walking small records' headers
// costs one system call per 64 KiB rather than one per record.
class Window {
 public:
  explicit Window(int fd) : fd_(fd), buf_(kWindow) {}

  // `n` (<= kWindow) bytes at `off`, or nullptr (err = errno, or 0 at end of file).
  const unsigned char* view(std::uint64_t off, std::size_t n, int& err) {
    if (off >= off_ && off + n <= off_ + len_) return buf_.data() + (off - off_);
    const ssize_t got = pread_full(fd_, buf_.data(), kWindow, off);
    if (got < 0) {
      err = errno;
      len_ = 0;
      return nullptr;
    }
    off_ = off;
    len_ = static_cast<std::size_t>(got);
    if (n > len_) return nullptr;  // the file shrank under us
    return buf_.data();
  }

 private:
  int fd_;
  std::vector<unsigned char> buf_;
  std::uint64_t off_ = 0;
  std::size_t len_ = 0;
};

enum class Tail { kNone, kTruncated, kCorrupt };

struct Scan {
  std::uint64_t valid_end = 0;  // end of the last good record
  std::uint64_t read = 0;       // first record not consumed according to the cursor
  std::uint64_t records = 0;    // records from `read` on
  std::uint64_t items = 0;
  Tail tail = Tail::kNone;
  std::uint32_t tail_items = 0;  // items of the bad record, when its header was good
  int err = 0;                   // an I/O error cut the scan
};

// Walks the records of one file. Headers are always checked; payload
// checksums only when `verify` (the .open segment, where torn writes live).
// Records ending at or before `consumed_to` were delivered already.
Scan scan_segment(int fd, std::uint64_t size, bool verify, std::uint64_t consumed_to,
                  std::uint32_t max_length) {
  Scan s;
  Window w(fd);
  std::uint64_t off = 0;
  bool read_set = false;
  while (off < size) {
    if (size - off < kHeaderBytes) {
      s.tail = Tail::kTruncated;
      break;
    }
    const unsigned char* p = w.view(off, kHeaderBytes, s.err);
    Header h;
    if (p == nullptr || !decode_header(p, max_length, h)) {
      s.tail = Tail::kCorrupt;
      break;
    }
    if (h.length > size - off - kHeaderBytes) {
      s.tail = Tail::kTruncated;
      s.tail_items = h.items;
      break;
    }
    if (verify) {
      std::uint32_t c = 0;
      std::uint64_t pos = off + kHeaderBytes;
      const std::uint64_t end = pos + h.length;
      bool ok = true;
      while (pos < end) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kWindow, end - pos));
        const unsigned char* q = w.view(pos, n, s.err);
        if (q == nullptr) {
          ok = false;
          break;
        }
        c = crc(q, n, c);
        pos += n;
      }
      if (!ok || c != h.payload_crc) {
        s.tail = Tail::kCorrupt;
        s.tail_items = h.items;
        break;
      }
    }
    const std::uint64_t next = off + kHeaderBytes + h.length;
    if (next > consumed_to) {
      if (!read_set) {
        s.read = off;
        read_set = true;
      }
      ++s.records;
      s.items += h.items;
    }
    off = next;
  }
  s.valid_end = off;
  if (!read_set) s.read = off;
  return s;
}

// Items in the damaged part [from, size) of a segment whose first record
// header there is unreadable: the records after it are found again by their
// magic and self-checked headers, and the damaged record itself is counted
// as the average of the others (at least one item). An estimate, but one
// that says "about N items" rather than nothing.
std::uint64_t estimate_damaged_items(int fd, std::uint64_t from, std::uint64_t size,
                                     std::uint32_t max_length) {
  Window w(fd);
  std::uint64_t items = 0, records = 0;
  int err = 0;
  std::uint64_t off = from + 1;
  while (off + kHeaderBytes <= size) {
    const unsigned char* p = w.view(off, kHeaderBytes, err);
    if (p == nullptr) break;
    Header h;
    if (p[0] == kMagic[0] && decode_header(p, max_length, h) &&
        h.length <= size - off - kHeaderBytes) {
      items += h.items;
      ++records;
      off += kHeaderBytes + h.length;
    } else {
      ++off;
    }
  }
  const std::uint64_t damaged_record = records ? std::max<std::uint64_t>(1, items / records) : 1;
  return items + damaged_record;
}

Error open_error(const std::string& dir, std::string_view what, int err) {
  return Error{"spool", std::string(what) + " \"" + dir + "\": " + errno_text(err)};
}

}  // namespace

Spool::Spool(std::string dir, const SpoolOptions& options, int dir_fd, int lock_fd)
    : dir_(std::move(dir)),
      options_(options),
      segment_target_(std::min<std::uint64_t>(
          options.segment_bytes, std::max<std::uint64_t>(options.max_bytes / 4, 4096))),
      dir_fd_(dir_fd),
      lock_fd_(lock_fd) {}

Expected<std::unique_ptr<Spool>> Spool::open(const std::string& dir,
                                             const SpoolOptions& options) noexcept {
  try {
    if (dir.empty()) return Error{"spool", "the spool directory must not be empty"};
    std::error_code ec;
    if (!core::make_directories(dir, ec)) {
      return open_error(dir, "cannot create directory", ec.value());
    }
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return open_error(dir, "cannot open directory", errno);
    const int lock_fd = ::openat(dir_fd, kLockName, O_RDWR | O_CREAT | O_CLOEXEC, core::kFileMode);
    if (lock_fd < 0) {
      const int err = errno;
      ::close(dir_fd);
      return open_error(dir, "cannot write in directory", err);
    }
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(lock_fd);
      ::close(dir_fd);
      if (err == EWOULDBLOCK) {
        return Error{"spool", "directory \"" + dir + "\" is in use by another spool (" +
                                  std::string(kLockName) + " is locked)"};
      }
      return open_error(dir, "cannot lock directory", err);
    }
    std::unique_ptr<Spool> spool(new Spool(dir, options, dir_fd, lock_fd));
    if (!spool->recover()) return Error{"spool", spool->last_error_};
    return spool;
  } catch (const std::exception& e) {
    return Error{"spool", "cannot open \"" + dir + "\": " + e.what()};
  }
}

Spool::~Spool() {
  if (!detached_) commit();
  close_reader();
  close_writer();
  if (dir_fd_ >= 0) ::close(dir_fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void Spool::detach() noexcept {
  // No close_writer()/remove_front(): those may touch the files.
  for (int* fd : {&reader_fd_, &writer_fd_, &dir_fd_, &lock_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  detached_ = true;
  head_valid_ = false;
  segments_.clear();
  records_ = 0;
  writer_dirty_ = false;
  dir_dirty_ = false;
  publish();
}

std::string Spool::path_of(std::string_view name) const {
  std::string path = dir_;
  if (!path.empty() && path.back() != '/') path += '/';
  path += name;
  return path;
}

void Spool::fail(std::string_view what, std::string_view name, int err) noexcept {
  io_errors_.fetch_add(1, std::memory_order_relaxed);
  try {
    last_error_ = std::string(what) + " " + path_of(name) + ": " + errno_text(err);
  } catch (...) {
  }
}

bool Spool::recover() {
  ::unlinkat(dir_fd_, kCursorTemp, 0);
  Cursor cursor;
  read_cursor(cursor);

  const int list_fd = ::dup(dir_fd_);
  DIR* d = list_fd >= 0 ? ::fdopendir(list_fd) : nullptr;
  if (d == nullptr) {
    const int err = errno;
    if (list_fd >= 0) ::close(list_fd);
    fail("cannot list", ".", err);
    return false;
  }
  ::rewinddir(d);
  std::vector<std::pair<std::uint64_t, bool>> found;  // (id, sealed)
  std::uint64_t max_id = cursor.segment;
  while (dirent* e = ::readdir(d)) {
    std::uint64_t id = 0;
    const Kind kind = classify(e->d_name, id);
    if (kind == Kind::kOther) continue;
    max_id = std::max(max_id, id);
    if (kind == Kind::kCorrupt) {
      quarantine_files_.emplace_back(e->d_name);
    } else {
      found.emplace_back(id, kind == Kind::kSegment);
    }
  }
  ::closedir(d);
  std::sort(found.begin(), found.end());
  std::sort(quarantine_files_.begin(), quarantine_files_.end());
  next_id_ = max_id + 1;

  for (const auto& [id, sealed] : found) {
    if (id < cursor.segment) {
      // Fully delivered; its removal was lost (a crash or a failed unlink).
      if (::unlinkat(dir_fd_, segment_name(id, sealed).c_str(), 0) != 0) {
        fail("cannot remove", segment_name(id, sealed), errno);
      }
      dir_dirty_ = true;
      continue;
    }
    load_segment(id, sealed, cursor);
  }
  trim_quarantine();
  // The cap may have been lowered since the files were written.
  SpoolAppend ignored;
  make_room(0, ignored);
  sync_dir();
  publish();
  return true;
}

void Spool::read_cursor(Cursor& cursor) {
  const int fd = ::openat(dir_fd_, kCursorName, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // none yet: replay from the oldest segment
  unsigned char buf[kCursorBytes + 1];
  const ssize_t n = pread_full(fd, buf, sizeof buf, 0);
  ::close(fd);
  if (n == static_cast<ssize_t>(kCursorBytes) && std::memcmp(buf, kCursorMagic, 4) == 0 &&
      get32(buf + 20) == crc(buf, 20)) {
    cursor.segment = get64(buf + 4);
    cursor.offset = get64(buf + 12);
    if (cursor.segment > kMaxId) cursor = Cursor{};
    return;
  }
  // Damaged: replaying from the oldest segment only delivers some records twice.
  last_error_ = "ignored damaged read position " + path_of(kCursorName);
}

void Spool::write_cursor(const Cursor& cursor) noexcept {
  unsigned char buf[kCursorBytes];
  std::memcpy(buf, kCursorMagic, 4);
  put64(buf + 4, cursor.segment);
  put64(buf + 12, cursor.offset);
  put32(buf + 20, crc(buf, 20));
  const int fd = ::openat(dir_fd_, kCursorTemp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, core::kFileMode);
  if (fd < 0) {
    fail("cannot write", kCursorTemp, errno);
    return;
  }
  const bool ok = pwrite_full(fd, buf, sizeof buf, nullptr, 0, 0);
  const int err = errno;
  ::close(fd);
  if (!ok) {
    fail("cannot write", kCursorTemp, err);
    return;
  }
  if (::renameat(dir_fd_, kCursorTemp, dir_fd_, kCursorName) != 0) {
    fail("cannot rename to", kCursorName, errno);
    return;
  }
  dir_dirty_ = true;
}

void Spool::load_segment(std::uint64_t id, bool sealed, const Cursor& cursor) {
  const std::string name = segment_name(id, sealed);
  const int fd = ::openat(dir_fd_, name.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    fail("cannot open", name, errno);
    return;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return;
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const Scan sc = scan_segment(fd, size, /*verify=*/!sealed,
                               id == cursor.segment ? cursor.offset : 0, options_.max_record_bytes);
  if (sc.err != 0) {
    // A read error is not damage: leave the file as it is and use what was
    // read; the rest goes when the segment is removed.
    fail("cannot read", name, sc.err);
  } else if (sc.valid_end < size) {
    if (!sealed && sc.tail == Tail::kTruncated) {
      // The write in progress when the process died: cut, nothing to keep.
      torn_records_.fetch_add(1, std::memory_order_relaxed);
      torn_items_.fetch_add(sc.tail_items, std::memory_order_relaxed);
    } else {
      quarantined_.fetch_add(1, std::memory_order_relaxed);
      const std::uint64_t lost =
          sc.tail_items ? sc.tail_items
                        : estimate_damaged_items(fd, sc.valid_end, size, options_.max_record_bytes);
      quarantined_items_.fetch_add(lost, std::memory_order_relaxed);
      copy_to_quarantine(fd, id, sc.valid_end, size);
    }
    if (::ftruncate(fd, static_cast<off_t>(sc.valid_end)) != 0) {
      fail("cannot truncate", name, errno);
    } else if (options_.sync && ::fdatasync(fd) != 0) {
      fail("cannot sync", name, errno);
    }
  }
  ::close(fd);

  if (sc.records == 0) {
    // Empty, or delivered up to its end.
    if (::unlinkat(dir_fd_, name.c_str(), 0) != 0) fail("cannot remove", name, errno);
    dir_dirty_ = true;
    return;
  }
  bool now_sealed = sealed;
  if (!sealed) {
    // Left by a crash: seal it, so that new records go to a new segment.
    const std::string target = segment_name(id, true);
    if (::faccessat(dir_fd_, target.c_str(), F_OK, 0) == 0) {
      // Cannot happen with this code; keep the stray file out of the way.
      const std::string q = quarantine_name(id);
      quarantined_.fetch_add(1, std::memory_order_relaxed);
      quarantined_items_.fetch_add(sc.items, std::memory_order_relaxed);
      if (::renameat(dir_fd_, name.c_str(), dir_fd_, q.c_str()) == 0) {
        quarantine_files_.push_back(q);
      } else {
        fail("cannot quarantine", name, errno);
      }
      dir_dirty_ = true;
      return;
    }
    if (::renameat(dir_fd_, name.c_str(), dir_fd_, target.c_str()) == 0) {
      now_sealed = true;
    } else {
      fail("cannot seal", name, errno);
    }
    dir_dirty_ = true;
  }
  Segment s;
  s.id = id;
  s.sealed = now_sealed;
  s.size = sc.valid_end;
  s.read = sc.read;
  s.records = sc.records;
  s.items = sc.items;
  s.created = Clock::now();
  segments_.push_back(s);
  records_ += s.records;
}

std::string Spool::quarantine_name(std::uint64_t id) const {
  char buf[48];
  for (unsigned n = 0; n < 10000; ++n) {
    if (n == 0) {
      std::snprintf(buf, sizeof buf, "%010llu.corrupt", static_cast<unsigned long long>(id));
    } else {
      std::snprintf(buf, sizeof buf, "%010llu.%u.corrupt", static_cast<unsigned long long>(id), n);
    }
    if (::faccessat(dir_fd_, buf, F_OK, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) break;
  }
  return buf;
}

bool Spool::copy_to_quarantine(int fd, std::uint64_t id, std::uint64_t from,
                               std::uint64_t to) noexcept {
  try {
    const std::string name = quarantine_name(id);
    const int out = ::openat(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, core::kFileMode);
    if (out < 0) {
      fail("cannot create", name, errno);
      return false;
    }
    std::vector<char> buf(kWindow);
    bool ok = true;
    int err = 0;
    for (std::uint64_t pos = from; pos < to && ok;) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kWindow, to - pos));
      const ssize_t got = pread_full(fd, buf.data(), want, pos);
      if (got <= 0) {
        err = got < 0 ? errno : EIO;
        ok = false;
        break;
      }
      if (!pwrite_full(out, nullptr, 0, buf.data(), static_cast<std::size_t>(got), pos - from)) {
        err = errno;
        ok = false;
        break;
      }
      pos += static_cast<std::uint64_t>(got);
    }
    if (ok && options_.sync && ::fdatasync(out) != 0) {
      err = errno;
      ok = false;
    }
    ::close(out);
    dir_dirty_ = true;
    if (!ok) {
      fail("cannot write", name, err);
      ::unlinkat(dir_fd_, name.c_str(), 0);
      return false;
    }
    quarantine_files_.push_back(name);
    trim_quarantine();
    return true;
  } catch (...) {
    return false;
  }
}

void Spool::trim_quarantine() noexcept {
  while (quarantine_files_.size() > options_.max_quarantine_files) {
    ::unlinkat(dir_fd_, quarantine_files_.front().c_str(), 0);
    quarantine_files_.erase(quarantine_files_.begin());
    dir_dirty_ = true;
  }
}

std::uint64_t Spool::total_bytes() const noexcept {
  std::uint64_t total = 0;
  for (const Segment& s : segments_) total += s.size;
  return total;
}

void Spool::publish() noexcept {
  std::uint64_t items = 0;
  for (const Segment& s : segments_) items += s.items;
  bytes_.store(total_bytes(), std::memory_order_relaxed);
  records_pub_.store(records_, std::memory_order_relaxed);
  items_.store(items, std::memory_order_relaxed);
  segments_pub_.store(segments_.size(), std::memory_order_relaxed);
}

SpoolStats Spool::stats() const noexcept {
  SpoolStats s;
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.records = records_pub_.load(std::memory_order_relaxed);
  s.items = items_.load(std::memory_order_relaxed);
  s.segments = segments_pub_.load(std::memory_order_relaxed);
  s.appended_records = appended_.load(std::memory_order_relaxed);
  s.popped_records = popped_.load(std::memory_order_relaxed);
  s.dropped_spool_full_records = dropped_records_.load(std::memory_order_relaxed);
  s.dropped_spool_full_items = dropped_items_.load(std::memory_order_relaxed);
  s.quarantined = quarantined_.load(std::memory_order_relaxed);
  s.quarantined_items = quarantined_items_.load(std::memory_order_relaxed);
  s.torn_records = torn_records_.load(std::memory_order_relaxed);
  s.torn_items = torn_items_.load(std::memory_order_relaxed);
  s.io_errors = io_errors_.load(std::memory_order_relaxed);
  return s;
}

void Spool::close_reader() noexcept {
  if (reader_fd_ >= 0) ::close(reader_fd_);
  reader_fd_ = -1;
}

void Spool::close_writer() noexcept {
  if (writer_fd_ >= 0) ::close(writer_fd_);
  writer_fd_ = -1;
  writer_dirty_ = false;
}

bool Spool::is_writer(const Segment& s) const noexcept {
  return writer_fd_ >= 0 && !segments_.empty() && &segments_.back() == &s;
}

int Spool::reader_fd(const Segment& s) noexcept {
  if (reader_fd_ >= 0 && reader_id_ == s.id) return reader_fd_;
  close_reader();
  const std::string name = segment_name(s.id, s.sealed);
  reader_fd_ = ::openat(dir_fd_, name.c_str(), O_RDONLY | O_CLOEXEC);
  if (reader_fd_ < 0) {
    fail("cannot open", name, errno);
    return -1;
  }
  reader_id_ = s.id;
  return reader_fd_;
}

bool Spool::sync_dir() noexcept {
  if (!dir_dirty_) return true;
  if (options_.sync && ::fsync(dir_fd_) != 0) {
    fail("cannot sync", ".", errno);
    return false;
  }
  dir_dirty_ = false;
  return true;
}

void Spool::remove_front() noexcept {
  Segment& s = segments_.front();
  if (is_writer(s)) close_writer();
  if (reader_fd_ >= 0 && reader_id_ == s.id) close_reader();
  const std::string name = segment_name(s.id, s.sealed);
  if (::unlinkat(dir_fd_, name.c_str(), 0) != 0 && errno != ENOENT) {
    fail("cannot remove", name, errno);
  }
  records_ -= s.records;
  segments_.pop_front();
  head_valid_ = false;
  dir_dirty_ = true;
}

void Spool::quarantine_front() noexcept {
  Segment& s = segments_.front();
  quarantined_.fetch_add(1, std::memory_order_relaxed);
  quarantined_items_.fetch_add(s.items, std::memory_order_relaxed);
  if (is_writer(s)) close_writer();
  if (reader_fd_ >= 0 && reader_id_ == s.id) close_reader();
  const std::string name = segment_name(s.id, s.sealed);
  try {
    const std::string target = quarantine_name(s.id);
    if (::renameat(dir_fd_, name.c_str(), dir_fd_, target.c_str()) == 0) {
      quarantine_files_.push_back(target);
      trim_quarantine();
    } else {
      fail("cannot quarantine", name, errno);
      ::unlinkat(dir_fd_, name.c_str(), 0);
    }
  } catch (...) {
    ::unlinkat(dir_fd_, name.c_str(), 0);
  }
  // Forgotten either way: a file that cannot be read is never tried again.
  records_ -= s.records;
  segments_.pop_front();
  head_valid_ = false;
  dir_dirty_ = true;
}

bool Spool::make_room(std::uint64_t need, SpoolAppend& out) noexcept {
  bool evicted = false;
  while (!segments_.empty() && total_bytes() + need > options_.max_bytes) {
    const Segment& s = segments_.front();
    out.evicted_records += s.records;
    out.evicted_items += s.items;
    dropped_records_.fetch_add(s.records, std::memory_order_relaxed);
    dropped_items_.fetch_add(s.items, std::memory_order_relaxed);
    remove_front();
    evicted = true;
  }
  return evicted;
}

bool Spool::create_segment() noexcept {
  if (next_id_ > kMaxId) {
    fail("cannot create a segment in", ".", ERANGE);
    return false;
  }
  const std::uint64_t id = next_id_;
  const std::string name = segment_name(id, false);
  const int fd =
      ::openat(dir_fd_, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, core::kFileMode);
  if (fd < 0) {
    fail("cannot create", name, errno);
    return false;
  }
  ++next_id_;
  Segment s;
  s.id = id;
  s.created = Clock::now();
  try {
    segments_.push_back(s);
  } catch (...) {
    ::close(fd);
    ::unlinkat(dir_fd_, name.c_str(), 0);
    return false;
  }
  writer_fd_ = fd;
  writer_dirty_ = false;
  dir_dirty_ = true;
  return true;
}

bool Spool::seal_writer() noexcept {
  if (writer_fd_ < 0) return true;
  Segment& w = segments_.back();
  bool ok = true;
  if (writer_dirty_ && options_.sync && ::fdatasync(writer_fd_) != 0) {
    fail("cannot sync", segment_name(w.id, false), errno);
    ok = false;
  }
  close_writer();
  const std::string from = segment_name(w.id, false);
  const std::string to = segment_name(w.id, true);
  if (::renameat(dir_fd_, from.c_str(), dir_fd_, to.c_str()) == 0) {
    w.sealed = true;
  } else {
    // Stays .open without a writer; the next start seals it.
    fail("cannot seal", from, errno);
    ok = false;
  }
  dir_dirty_ = true;
  return sync_dir() && ok;
}

SpoolAppend Spool::append(const Payload& payload) noexcept {
  SpoolAppend out;
  try {
    if (detached_) {
      out.error = "spool " + dir_ + " is detached";
      return out;
    }
    const std::uint64_t length = payload.bytes.size();
    const std::uint64_t need = kHeaderBytes + length;
    if (length > options_.max_record_bytes || need > options_.max_bytes) {
      out.too_large = true;
      out.error = "record of " + std::to_string(length) + " bytes exceeds the spool's limits (" +
                  std::to_string(options_.max_record_bytes) + " bytes per record, " +
                  std::to_string(options_.max_bytes) + " bytes in all)";
      dropped_records_.fetch_add(1, std::memory_order_relaxed);
      dropped_items_.fetch_add(payload.items, std::memory_order_relaxed);
      return out;
    }
    make_room(need, out);
    if (writer_fd_ >= 0) {
      const Segment& w = segments_.back();
      if (w.size > 0 && w.size + need > segment_target_) seal_writer();
    }
    if (writer_fd_ < 0 && !create_segment()) {
      out.error = last_error_;
      publish();
      return out;
    }
    Segment& w = segments_.back();
    Header h;
    h.signal = payload.signal;
    h.content_type = payload.content_type;
    h.length = static_cast<std::uint32_t>(length);
    h.items = static_cast<std::uint32_t>(std::min<std::size_t>(payload.items, UINT32_MAX));
    h.payload_crc = crc(payload.bytes.data(), payload.bytes.size());
    unsigned char header[kHeaderBytes];
    encode_header(h, header);
    if (!pwrite_full(writer_fd_, header, kHeaderBytes, payload.bytes.data(), payload.bytes.size(),
                     w.size)) {
      const int err = errno;
      const std::string name = segment_name(w.id, false);
      // Cut the partial record, or, failing that, write no more to this
      // file: its records up to w.size stay readable.
      if (::ftruncate(writer_fd_, static_cast<off_t>(w.size)) != 0) close_writer();
      fail("cannot write", name, err);
      out.error = last_error_;
      publish();
      return out;
    }
    w.size += need;
    ++w.records;
    w.items += h.items;
    ++records_;
    writer_dirty_ = true;
    appended_.fetch_add(1, std::memory_order_relaxed);
    out.stored = true;
  } catch (...) {
    out.error = "out of memory while spooling";
  }
  publish();
  return out;
}

bool Spool::commit() noexcept {
  if (detached_) return false;
  bool ok = true;
  if (writer_fd_ >= 0) {
    Segment& w = segments_.back();
    if (writer_dirty_) {
      if (options_.sync && ::fdatasync(writer_fd_) != 0) {
        fail("cannot sync", segment_name(w.id, false), errno);
        ok = false;
      } else {
        writer_dirty_ = false;
      }
    }
    if (w.size > 0 &&
        (w.size >= segment_target_ || Clock::now() - w.created >= options_.segment_max_age)) {
      ok = seal_writer() && ok;
    }
  }
  drop_drained_front();
  ok = sync_dir() && ok;
  publish();
  return ok;
}

void Spool::drop_drained_front() noexcept {
  while (!segments_.empty() && segments_.front().read >= segments_.front().size &&
         !is_writer(segments_.front())) {
    remove_front();
  }
}

const SpoolRecord* Spool::peek() noexcept {
  try {
    // Each pass returns, or removes the front segment: at most one pass per segment.
    for (;;) {
      if (head_valid_) return &head_;
      drop_drained_front();
      if (segments_.empty()) return nullptr;
      Segment& s = segments_.front();
      if (s.read >= s.size) return nullptr;  // the writer, read up to its end
      const int fd = reader_fd(s);
      if (fd < 0) {
        quarantine_front();
        continue;
      }
      unsigned char hb[kHeaderBytes];
      Header h;
      const ssize_t got = pread_full(fd, hb, kHeaderBytes, s.read);
      if (got < 0) fail("cannot read", segment_name(s.id, s.sealed), errno);
      if (got != static_cast<ssize_t>(kHeaderBytes) || s.size - s.read < kHeaderBytes ||
          !decode_header(hb, options_.max_record_bytes, h) ||
          h.length > s.size - s.read - kHeaderBytes) {
        quarantine_front();
        continue;
      }
      std::string& bytes = head_.payload.bytes;
      bytes.resize(h.length);
      const ssize_t body = pread_full(fd, bytes.data(), h.length, s.read + kHeaderBytes);
      if (body < 0) fail("cannot read", segment_name(s.id, s.sealed), errno);
      if (body != static_cast<ssize_t>(h.length) ||
          crc(bytes.data(), bytes.size()) != h.payload_crc) {
        quarantine_front();
        continue;
      }
      head_.payload.signal = h.signal;
      head_.payload.content_type = h.content_type;
      head_.payload.items = h.items;
      head_.segment = s.id;
      head_.offset = s.read;
      head_.crc = h.payload_crc;
      head_valid_ = true;
      return &head_;
    }
  } catch (...) {
    head_valid_ = false;
    publish();
    return nullptr;
  }
}

bool Spool::pop() noexcept {
  if (!head_valid_ || segments_.empty()) return false;
  Segment& s = segments_.front();
  head_valid_ = false;
  if (s.id != head_.segment || s.read != head_.offset) return false;
  s.read += kHeaderBytes + head_.payload.bytes.size();
  --s.records;
  s.items -= std::min<std::uint64_t>(s.items, head_.payload.items);
  --records_;
  popped_.fetch_add(1, std::memory_order_relaxed);
  // Keep the buffer for the next record unless it is a large one.
  if (head_.payload.bytes.capacity() > (1u << 20)) {
    std::string().swap(head_.payload.bytes);
  }
  if (s.read >= s.size && !is_writer(s)) {
    // Removing the file is the read position: no cursor needed.
    remove_front();
  } else {
    write_cursor(Cursor{s.id, s.read});
  }
  publish();
  return true;
}

std::string spool_directory(std::string_view root, Signal signal, std::string_view url) {
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (unsigned char c : url) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  std::string out(root);
  if (!out.empty() && out.back() != '/') out += '/';
  out += to_string(signal);
  out += '-';
  out += hex;
  return out;
}

}  // namespace emp::telemetry::deliver
