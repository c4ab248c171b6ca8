// Where the tailer is in each file it reads: (device, inode) -> offset and
// the path it was last seen at, in a small SQLite database in the output
// directory, so a restart resumes each file exactly after the last line
// handed to delivery: nothing lost, nothing shipped twice. Keyed by inode,
// not by path, because rotation by rename gives a path a new file while the
// old file keeps its position under its new name.
//
// Used only by the tailer's thread. Failures (disk full, a damaged file) are
// reported as text; the tailer then keeps positions in memory only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "viewer/sqlite.hpp"

namespace emp::telemetry::tail {

class PositionDb {
 public:
  // Opens (creating) the database at `path`; an empty string on success,
  // else what went wrong.
  std::string open(const std::string& path);
  bool is_open() const noexcept { return open_; }

  std::optional<std::uint64_t> offset(std::uint64_t dev, std::uint64_t ino);
  // Records the offset; false on a write error.
  bool save(std::uint64_t dev, std::uint64_t ino, const std::string& path, std::uint64_t offset);
  void forget(std::uint64_t dev, std::uint64_t ino);
  // Groups the saves of one poll into one transaction (one fsync).
  void begin();
  void commit();

 private:
  // The viewer's SQLite wrappers (one connection, prepared statements).
  viewer::Db db_;
  viewer::Stmt get_, put_, del_;
  bool open_ = false;
};

}  // namespace emp::telemetry::tail
