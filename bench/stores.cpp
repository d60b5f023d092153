#include "stores.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <unistd.h>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "durable/storage/memory_store.hpp"
#ifdef DURABLE_WITH_MYSQL
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql_store.hpp"
#endif
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/schema.hpp"
#include "durable/storage/sqlite_store.hpp"

namespace durable::bench {

namespace {

std::string unique_suffix() {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count();
  return fmt::format("{}_{}", getpid(), ms);
}

} // namespace

store_place::store_place(const settings& s)
  : kind_(s.store), pg_pool_(s.pg_pool), normal_sync_(s.sqlite_normal_sync) {
  if (kind_ == "postgres") {
    storage::pg::pg_options o;
    o.url = s.pg_url;
    pg_url_ = storage::pg::resolve_url(o);
    if (pg_url_.empty())
      throw std::invalid_argument(
        "--store postgres needs --pg-url or DURABLE_PG_URL (scripts/"
        "pg-start.sh starts a server and prints its URL)");
    pg_schema_ = s.pg_schema;
    if (pg_schema_.empty()) {
      pg_schema_ = "bench_" + unique_suffix();
      owned_ = true;
    }
  } else if (kind_ == "mysql") {
    if (!has_mysql_store())
      throw std::invalid_argument(
        "--store mysql: this durable-bench was built without the MySQL store "
        "(configure with -DDURABLE_WITH_MYSQL=ON)");
    mysql_url_ = s.mysql_url;
    if (mysql_url_.empty())
      if (const char* env = std::getenv("DURABLE_MYSQL_URL"))
        mysql_url_ = env;
    if (mysql_url_.empty())
      throw std::invalid_argument(
        "--store mysql needs --mysql-url or DURABLE_MYSQL_URL (scripts/"
        "mysql-start.sh starts a server and prints its URL)");
    // A database of its own, as PostgreSQL runs get a schema: the MySQL
    // store's tables have fixed names.
    mysql_database_ = "bench_" + unique_suffix();
    mysql_admin(mysql_url_, "CREATE DATABASE `" + mysql_database_
                              + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
    owned_ = true;
  } else if (kind_ == "sqlite") {
    sqlite_path_ = s.sqlite_path;
    if (sqlite_path_.empty()) {
      sqlite_path_ = (std::filesystem::temp_directory_path()
                      / fmt::format("durable-bench-{}.db", unique_suffix()))
                       .string();
      owned_ = true;
    }
  } else if (kind_ != "memory") {
    throw std::invalid_argument("unknown store: " + kind_);
  }
}

store_place::~store_place() {
  if (!owned_)
    return;
  try {
    if (kind_ == "postgres") {
      pqxx::connection c{pg_url_};
      pqxx::nontransaction tx{c};
      tx.exec("DROP SCHEMA IF EXISTS " + storage::pg::quote_ident(pg_schema_)
              + " CASCADE");
    } else if (kind_ == "mysql") {
      mysql_admin(mysql_url_,
                  "DROP DATABASE IF EXISTS `" + mysql_database_ + "`");
    } else if (kind_ == "sqlite") {
      for (auto suffix : {"", "-wal", "-shm"})
        std::filesystem::remove(sqlite_path_ + suffix);
    }
  } catch (const std::exception& e) {
    std::cerr << "durable-bench: could not remove the run's " << kind_
              << " store: " << e.what() << "\n";
  }
}

std::shared_ptr<durable::store> store_place::open() const {
  if (kind_ == "postgres") {
    storage::pg::pg_options o;
    o.url = pg_url_;
    o.pool_size = pg_pool_;
    o.schema = pg_schema_;
    o.application_name = "durable-bench";
    return storage::pg::postgres(o);
  }
#ifdef DURABLE_WITH_MYSQL
  if (kind_ == "mysql") {
    storage::mysql_options o;
    o.url = mysql_url_for(mysql_url_, mysql_database_);
    return storage::mysql(o);
  }
#endif
  if (kind_ == "sqlite") {
    storage::sqlite_options o;
    if (normal_sync_)
      o.synchronous = storage::sqlite_options::sync_mode::normal;
    return storage::sqlite(sqlite_path_, o);
  }
  return storage::memory();
}

bool has_mysql_store() noexcept {
#ifdef DURABLE_WITH_MYSQL
  return true;
#else
  return false;
#endif
}

std::string mysql_url_for(const std::string& url, const std::string& database) {
  auto q = url.find('?');
  auto query = q == std::string::npos ? std::string{} : url.substr(q);
  auto base = url.substr(0, q);
  auto scheme = base.find("://");
  auto slash = base.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return base.substr(0, slash) + "/" + database + query;
}

void mysql_admin([[maybe_unused]] const std::string& url,
                 [[maybe_unused]] const std::string& sql) {
#ifdef DURABLE_WITH_MYSQL
  namespace detail = storage::mysql_detail;
  try {
    detail::connection c{detail::parse_url(url), storage::mysql_options{}};
    c.exec(sql);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string{"MySQL: "} + e.what());
  }
#else
  throw std::runtime_error("this durable-bench was built without the MySQL "
                           "store");
#endif
}

} // namespace durable::bench
