#include "tail/tailer.hpp"

#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "core/clock.hpp"
#include "forward/forward_log_output.hpp"
#include "forward/forward_protocol.hpp"

namespace emp::telemetry::tail {

using Clock = std::chrono::steady_clock;

struct Tailer::File {
  std::string path;  // the name it was first found under (records carry it)
  std::string current_path;
  std::string tag;
  int fd = -1;
  std::uint64_t dev = 0, ino = 0;
  std::uint64_t read_pos = 0;  // next byte to read
  std::uint64_t offset = 0;    // end of the last line handed to a batch
  std::uint64_t saved = UINT64_MAX;
  std::string partial;    // bytes of a line still waiting for its newline
  bool skipping = false;  // inside a line already cut at max_line_bytes
  bool seen = false;      // matched by a pattern in this poll
  Clock::time_point unseen_since{};
  bool unseen = false;
  std::string entries;  // the batch being built
  std::size_t count = 0;
  ~File() {
    if (fd >= 0) ::close(fd);
  }
};

Tailer::Tailer(TailOptions options, deliver::DeliveryWorker& sink)
    : options_(std::move(options)), sink_(sink) {
  if (!options_.db_path.empty()) db_error_ = db_.open(options_.db_path);
  if (!db_error_.empty()) stats_.last_error = db_error_;
}

Tailer::~Tailer() { stop(); }

std::string Tailer::add(std::string pattern, std::string tag) noexcept {
  if (pattern.empty()) return "add_file: the path or glob is empty; nothing is tailed";
  try {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return "add_file: the tailer has stopped; " + pattern + " is not tailed";
    patterns_.push_back({std::move(pattern), std::move(tag)});
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    cv_.notify_all();
    return {};
  } catch (...) {
    return "add_file: out of memory or no thread; the file is not tailed";
  }
}

TailStats Tailer::stats() const noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  try {
    return stats_;
  } catch (...) {
    return {};
  }
}

void Tailer::stop() noexcept {
  std::thread t;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stop_ = true;
    stopped_ = true;
    t = std::move(thread_);
    cv_.notify_all();
  }
  if (t.joinable()) t.join();
  poll();  // what was written up to now
}

void Tailer::poll_once() noexcept { poll(); }

void Tailer::run() noexcept {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    poll();
    lock.lock();
    cv_.wait_for(lock, options_.poll_interval, [this] { return stop_; });
  }
}

void Tailer::note_error(const std::string& what) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.errors;
  try {
    stats_.last_error = what;
  } catch (...) {
  }
}

void Tailer::poll() noexcept {
  std::lock_guard<std::mutex> poll_lock(poll_mu_);
  try {
    std::vector<Pattern> patterns;
    {
      std::lock_guard<std::mutex> lock(mu_);
      patterns = patterns_;
    }
    const Clock::time_point now = Clock::now();
    for (auto& f : files_) f->seen = false;
    std::uint64_t rotations = 0;

    for (const Pattern& p : patterns) {
      glob_t g{};
      if (::glob(p.pattern.c_str(), 0, nullptr, &g) == 0) {
        for (std::size_t i = 0; i < g.gl_pathc; ++i) {
          const std::string path = g.gl_pathv[i];
          struct stat st {};
          if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
          File* known = nullptr;
          for (auto& f : files_)
            if (f->dev == st.st_dev && f->ino == st.st_ino) known = f.get();
          if (known != nullptr) {
            known->seen = true;
            known->unseen = false;
            known->current_path = path;
            continue;
          }
          // A new file. If a file we read had this name, that one was rotated
          // away (renamed or deleted and recreated).
          for (auto& f : files_)
            if (f->current_path == path) {
              ++rotations;
              f->current_path.clear();
            }
          const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
          if (fd < 0) {
            note_error("cannot open " + path + ": " + std::strerror(errno) +
                       " (it is retried every poll)");
            continue;
          }
          auto f = std::make_unique<File>();
          f->fd = fd;
          f->path = path;
          f->current_path = path;
          f->tag = p.tag.empty() ? forward::log_tag(options_.context.service_type, path) : p.tag;
          f->dev = st.st_dev;
          f->ino = st.st_ino;
          std::uint64_t start = db_.offset(f->dev, f->ino).value_or(0);
          if (start > static_cast<std::uint64_t>(st.st_size)) start = 0;  // truncated meanwhile
          f->read_pos = f->offset = start;
          f->seen = true;
          files_.push_back(std::move(f));
        }
      }
      ::globfree(&g);
    }

    db_.begin();
    for (auto it = files_.begin(); it != files_.end();) {
      File& f = **it;
      if (!f.seen && !f.unseen) {
        f.unseen = true;
        f.unseen_since = now;
      }
      read_file(f);
      flush_batch(f);
      struct stat st {};
      const bool deleted = ::fstat(f.fd, &st) == 0 && st.st_nlink == 0;
      if (f.offset != f.saved && !deleted) {
        if (db_.save(f.dev, f.ino, f.current_path.empty() ? f.path : f.current_path, f.offset))
          f.saved = f.offset;
      }
      const bool drained = f.read_pos >= static_cast<std::uint64_t>(st.st_size);
      if ((deleted && drained) || (f.unseen && now - f.unseen_since >= options_.rotate_wait)) {
        // Done with it: its inode may be reused by a new file, which must
        // not start at this file's offset.
        db_.forget(f.dev, f.ino);
        if (deleted) ++rotations;
        it = files_.erase(it);
        continue;
      }
      ++it;
    }
    db_.commit();
    std::lock_guard<std::mutex> lock(mu_);
    stats_.rotations += rotations;
    stats_.files_open = files_.size();
  } catch (...) {
    note_error("tail: out of memory during a poll; it is retried at the next one");
  }
}

void Tailer::read_file(File& f) noexcept {
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return;
  if (static_cast<std::uint64_t>(st.st_size) < f.read_pos) {
    // Copy-truncate: the writer starts again at 0 in the same file.
    f.read_pos = f.offset = 0;
    f.partial.clear();
    f.skipping = false;
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.rotations;
  }
  std::string buf;
  std::uint64_t lines = 0, json_lines = 0, truncated = 0;
  const std::size_t max = options_.max_line_bytes;
  auto ship = [&](std::string_view line) {
    if (line.size() > max) {
      // Cut at a UTF-8 boundary: back off continuation bytes.
      std::size_t cut = max;
      while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
      line = line.substr(0, cut);
      ++truncated;
    }
    const LineOutcome o =
        append_tail_entry(f.entries, line, f.path, core::now_unix_nano(), options_.context);
    ++f.count;
    ++lines;
    if (o.json) ++json_lines;
    if (f.count >= options_.max_batch_records || f.entries.size() >= options_.max_batch_bytes)
      flush_batch(f);
  };
  try {
    buf.resize(options_.read_chunk);
    for (;;) {
      if (sink_.health().queue_bytes > options_.max_pending_bytes) break;  // the file waits
      const ssize_t n = ::pread(f.fd, buf.data(), buf.size(), static_cast<off_t>(f.read_pos));
      if (n < 0) {
        if (errno == EINTR) continue;
        note_error("cannot read " + f.path + ": " + std::strerror(errno));
        break;
      }
      if (n == 0) break;
      const std::uint64_t chunk_start = f.read_pos;
      f.read_pos += static_cast<std::uint64_t>(n);
      std::string_view data(buf.data(), static_cast<std::size_t>(n));
      std::size_t pos = 0;
      while (pos < data.size()) {
        const std::size_t nl = data.find('\n', pos);
        if (f.skipping) {
          if (nl == std::string_view::npos) {
            pos = data.size();
            f.offset = f.read_pos;
            break;
          }
          f.skipping = false;
          pos = nl + 1;
          f.offset = chunk_start + pos;
          continue;
        }
        if (nl == std::string_view::npos) {
          f.partial.append(data.substr(pos));
          pos = data.size();
          if (f.partial.size() > max) {
            ship(f.partial);
            f.partial.clear();
            f.skipping = true;
            f.offset = f.read_pos;
          }
          break;
        }
        if (f.partial.empty()) {
          ship(data.substr(pos, nl - pos));
        } else {
          f.partial.append(data.substr(pos, nl - pos));
          ship(f.partial);
          f.partial.clear();
        }
        pos = nl + 1;
        f.offset = chunk_start + pos;
      }
    }
  } catch (...) {
    note_error("tail: out of memory reading " + f.path);
  }
  std::lock_guard<std::mutex> lock(mu_);
  stats_.lines += lines;
  stats_.json_lines += json_lines;
  stats_.truncated += truncated;
}

void Tailer::flush_batch(File& f) noexcept {
  if (f.count == 0) return;
  try {
    deliver::Payload p =
        forward::forward_payload(f.tag, f.entries, f.count, options_.gzip, options_.gzip_level);
    f.entries.clear();
    f.count = 0;
    sink_.submit(std::move(p));
  } catch (...) {
    sink_.count_dropped_upstream(DropReason::kQueueFull, f.count);
    f.entries.clear();
    f.count = 0;
  }
}

}  // namespace emp::telemetry::tail
