// Small RAII wrappers over the SQLite C API for the viewer: a connection
// and a prepared statement with typed binds and column reads. Errors are
// reported as strings (sqlite3_errmsg), never thrown. The schema lives here
// too, so the writer and the readers agree on it.
//
// Not thread-safe: one Db and its statements belong to one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace emp::telemetry::viewer {

class Db {
 public:
  Db() = default;
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  Db(Db&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }

  // read_only: opens an existing file without creating it.
  bool open(const std::string& path, bool read_only, std::string& error);
  bool exec(const char* sql, std::string& error);
  std::string errmsg() const;
  sqlite3* get() const noexcept { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

class Stmt {
 public:
  Stmt() = default;
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool prepare(const Db& db, const char* sql, std::string& error);
  // Binds are 1-based like SQLite's; empty text binds NULL when null_if_empty.
  void bind(int i, std::int64_t v);
  void bind(int i, double v);
  void bind(int i, std::string_view v, bool null_if_empty = false);
  void bind_null(int i);
  // SQLITE_ROW -> true; SQLITE_DONE -> false (sets *done); error -> false.
  bool step(bool* done = nullptr);
  void reset();  // also clears bindings
  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;  // "" for NULL
  bool is_null(int col) const;
  sqlite3_stmt* get() const noexcept { return st_; }

 private:
  sqlite3_stmt* st_ = nullptr;
};

// CREATE statements for every table and index (idempotent).
extern const char* const kSchemaSql;

}  // namespace emp::telemetry::viewer
