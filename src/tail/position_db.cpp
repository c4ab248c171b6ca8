#include "tail/position_db.hpp"

namespace emp::telemetry::tail {

std::string PositionDb::open(const std::string& path) {
  std::string error;
  if (!db_.open(path, /*read_only=*/false, error))
    return "the tail position database: " + error + " (positions are kept in memory only)";
  const char* schema =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE IF NOT EXISTS positions (dev INTEGER NOT NULL, ino INTEGER NOT NULL,"
      " path TEXT NOT NULL, offset INTEGER NOT NULL, PRIMARY KEY (dev, ino));";
  if (!db_.exec(schema, error) ||
      !get_.prepare(db_, "SELECT offset FROM positions WHERE dev=?1 AND ino=?2", error) ||
      !put_.prepare(db_,
                    "INSERT INTO positions (dev, ino, path, offset) VALUES (?1,?2,?3,?4)"
                    " ON CONFLICT(dev, ino) DO UPDATE SET path=?3, offset=?4",
                    error) ||
      !del_.prepare(db_, "DELETE FROM positions WHERE dev=?1 AND ino=?2", error)) {
    return "the tail position database " + path + " is not usable: " + error +
           " (positions are kept in memory only)";
  }
  open_ = true;
  return {};
}

std::optional<std::uint64_t> PositionDb::offset(std::uint64_t dev, std::uint64_t ino) {
  if (!open_) return std::nullopt;
  get_.reset();
  get_.bind(1, static_cast<std::int64_t>(dev));
  get_.bind(2, static_cast<std::int64_t>(ino));
  std::optional<std::uint64_t> out;
  if (get_.step()) out = static_cast<std::uint64_t>(get_.int64(0));
  get_.reset();
  return out;
}

bool PositionDb::save(std::uint64_t dev, std::uint64_t ino, const std::string& path,
                      std::uint64_t offset) {
  if (!open_) return false;
  put_.reset();
  put_.bind(1, static_cast<std::int64_t>(dev));
  put_.bind(2, static_cast<std::int64_t>(ino));
  put_.bind(3, std::string_view(path));
  put_.bind(4, static_cast<std::int64_t>(offset));
  bool done = false;
  put_.step(&done);
  put_.reset();
  return done;
}

void PositionDb::forget(std::uint64_t dev, std::uint64_t ino) {
  if (!open_) return;
  del_.reset();
  del_.bind(1, static_cast<std::int64_t>(dev));
  del_.bind(2, static_cast<std::int64_t>(ino));
  del_.step();
  del_.reset();
}

void PositionDb::begin() {
  std::string error;
  if (open_) db_.exec("BEGIN", error);
}

void PositionDb::commit() {
  std::string error;
  if (open_) db_.exec("COMMIT", error);
}

}  // namespace emp::telemetry::tail
