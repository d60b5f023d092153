#include "pg_monitor.hpp"

#include "durable/storage/pg/schema.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace durable::bench {

struct pg_monitor::impl {
  impl(const std::string& url, std::string t) : conn{url}, table{std::move(t)} {
  }

  pqxx::connection conn;
  std::string table;
  /// Transactions this monitor committed itself.
  std::int64_t own = 0;
};

pg_monitor::pg_monitor(const std::string& url, std::string schema)
    : impl_(std::make_unique<impl>(url, storage::pg::quote_ident(schema)
                                            + ".executions")) {
}

pg_monitor::~pg_monitor() = default;

std::int64_t pg_monitor::commits() {
  pqxx::nontransaction tx{impl_->conn};
  // A fresh snapshot of the statistics, not the one cached at first read
  // in this transaction.
  tx.exec("SELECT pg_stat_clear_snapshot()");
  ++impl_->own;
  auto r = tx.exec1("SELECT xact_commit FROM pg_stat_database "
                    "WHERE datname = current_database()");
  ++impl_->own;
  return r[0].as<std::int64_t>() - impl_->own;
}

std::size_t pg_monitor::finished_rows() {
  pqxx::nontransaction tx{impl_->conn};
  auto r = tx.exec1("SELECT count(*) FROM " + impl_->table
                    + " WHERE finished_at IS NOT NULL");
  ++impl_->own;
  return r[0].as<std::size_t>();
}

nlohmann::json pg_monitor::server_settings() {
  pqxx::nontransaction tx{impl_->conn};
  nlohmann::json out;
  for (auto name : {"server_version", "fsync", "synchronous_commit",
                    "full_page_writes", "shared_buffers", "max_connections"}) {
    auto r = tx.exec1(std::string{"SHOW "} + name);
    ++impl_->own;
    out[name] = r[0].c_str();
  }
  return out;
}

} // namespace durable::bench
