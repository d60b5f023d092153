#pragma once

#include <memory>
#include <string>

#include "durable/store.hpp"
#include "settings.hpp"

/// The store a run works on, made fresh for the run and removed after it.
namespace durable::bench {

/// Where a run's store lives: a fresh PostgreSQL schema (`pg_options::
/// schema`, dropped by the destructor), a fresh MySQL/MariaDB database
/// (in a build with the MySQL store; dropped by the destructor), a fresh
/// SQLite temp file (removed with its WAL by the destructor), or memory. A
/// `--worker` process joins the main process's schema and removes
/// nothing.
///
/// Threading: one thread. Durability: whatever the store promises; the
/// place itself is thrown away at the end.
class store_place {
public:
  explicit store_place(const settings& s);
  ~store_place();

  store_place(const store_place&) = delete;
  store_place& operator=(const store_place&) = delete;

  /// Opens a store on this place (several times for the ceiling and the
  /// engine; memory gets a new empty store each time).
  std::shared_ptr<durable::store> open() const;

  /// "memory", "sqlite", "postgres" or "mysql".
  const std::string& kind() const noexcept {
    return kind_;
  }

  /// PostgreSQL: the URL (never printed: it may hold a password).
  const std::string& pg_url() const noexcept {
    return pg_url_;
  }

  /// PostgreSQL: the run's schema.
  const std::string& pg_schema() const noexcept {
    return pg_schema_;
  }

  /// MySQL: the server's URL as given (never printed: it may hold a
  /// password).
  const std::string& mysql_url() const noexcept {
    return mysql_url_;
  }

  /// MySQL: the run's database on that server.
  const std::string& mysql_database() const noexcept {
    return mysql_database_;
  }

  /// SQLite: the database file.
  const std::string& sqlite_path() const noexcept {
    return sqlite_path_;
  }

  bool sqlite_normal_sync() const noexcept {
    return normal_sync_;
  }

private:
  std::string kind_;
  std::string pg_url_;
  std::string pg_schema_;
  std::size_t pg_pool_ = 4;
  std::string mysql_url_;
  std::string mysql_database_;
  std::string sqlite_path_;
  bool normal_sync_ = false;
  bool owned_ = false; ///< created here, so removed here
};

/// Whether this build has the MySQL store (`--store mysql`).
bool has_mysql_store() noexcept;

/// `url` (`mysql://user[:password]@host[:port]/database[?query]`) with its
/// database replaced by `database`.
std::string mysql_url_for(const std::string& url, const std::string& database);

/// Runs `sql` on the server of `url`, outside any store: creating and
/// dropping the run's databases. Throws std::runtime_error (also when the
/// build has no MySQL store).
void mysql_admin(const std::string& url, const std::string& sql);

} // namespace durable::bench
