#include "pg_monitor.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "durable/storage/pg/schema.hpp"

namespace durable::bench {

namespace {

/// Whether pg_stat_statements is installed in the database *and* loaded by
/// the server (an extension created once survives a restart without
/// shared_preload_libraries).
bool statements_loaded(pqxx::transaction_base& tx) {
  auto r = tx.exec1(
    "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements' "
    "AND strpos(current_setting('shared_preload_libraries'), "
    "'pg_stat_statements') > 0");
  return r[0].as<int>() > 0;
}

} // namespace

struct pg_monitor::impl {
  impl(const std::string& url, std::string s)
    : conn{url},
      schema{std::move(s)},
      table{storage::pg::quote_ident(schema) + ".executions"} {}

  pqxx::connection conn;
  std::string schema;
  std::string table;
  /// Transactions this monitor committed itself.
  std::int64_t own = 0;
};

pg_monitor::pg_monitor(const std::string& url, const std::string& schema)
  : impl_(std::make_unique<impl>(url, schema)) {}

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

nlohmann::json pg_monitor::top_statements(std::size_t limit) {
  pqxx::nontransaction tx{impl_->conn};
  ++impl_->own;
  if (!statements_loaded(tx))
    return nullptr;
  // The run's schema is new and named in every statement's text, so the
  // rows that name it are exactly the run's statements.
  ++impl_->own;
  auto rows = tx.exec_params(
    "SELECT calls, total_exec_time, total_plan_time, rows, "
    "left(regexp_replace(query, '\\s+', ' ', 'g'), 160) FROM "
    "pg_stat_statements WHERE strpos(query, $1) > 0 AND dbid = (SELECT oid "
    "FROM pg_database WHERE datname = current_database()) "
    "ORDER BY total_exec_time + total_plan_time DESC LIMIT $2",
    storage::pg::quote_ident(impl_->schema), static_cast<long long>(limit));
  auto out = nlohmann::json::array();
  for (const auto& r : rows)
    out.push_back({{"calls", r[0].as<long long>()},
                   {"exec_ms", r[1].as<double>()},
                   {"plan_ms", r[2].as<double>()},
                   {"rows", r[3].as<long long>()},
                   {"query", r[4].c_str()}});
  return out;
}

nlohmann::json pg_monitor::counters() {
  pqxx::nontransaction tx{impl_->conn};
  nlohmann::json out;
  out["statements"] = nlohmann::json::array();
  ++impl_->own;
  if (statements_loaded(tx)) {
    ++impl_->own;
    auto rows = tx.exec_params(
      "SELECT queryid, calls, total_exec_time, "
      "left(regexp_replace(query, '\\s+', ' ', 'g'), 120) FROM "
      "pg_stat_statements WHERE strpos(query, $1) > 0 AND dbid = (SELECT "
      "oid FROM pg_database WHERE datname = current_database())",
      storage::pg::quote_ident(impl_->schema));
    for (const auto& r : rows)
      out["statements"].push_back({{"id", r[0].as<long long>()},
                                   {"calls", r[1].as<long long>()},
                                   {"exec_ms", r[2].as<double>()},
                                   {"query", r[3].c_str()}});
  }
  // A fresh snapshot of the statistics views (see commits()).
  tx.exec("SELECT pg_stat_clear_snapshot()");
  ++impl_->own;
  auto t = tx.exec_params1("SELECT n_live_tup, n_dead_tup, autovacuum_count, "
                           "pg_relation_size(relid) FROM pg_stat_user_tables "
                           "WHERE relid = $1::regclass",
                           impl_->table);
  ++impl_->own;
  out["table"] = {{"live_rows", t[0].as<long long>()},
                  {"dead_rows", t[1].as<long long>()},
                  {"autovacuums", t[2].as<long long>()},
                  {"heap_bytes", t[3].as<long long>()}};
  out["indexes"] = nlohmann::json::array();
  auto ix = tx.exec_params(
    "SELECT indexrelname, pg_relation_size(indexrelid), idx_scan, "
    "idx_tup_read FROM pg_stat_user_indexes WHERE relid = $1::regclass "
    "ORDER BY indexrelname",
    impl_->table);
  ++impl_->own;
  for (const auto& r : ix)
    out["indexes"].push_back({{"name", r[0].c_str()},
                              {"bytes", r[1].as<long long>()},
                              {"scans", r[2].as<long long>()},
                              {"tuples_read", r[3].as<long long>()}});
  return out;
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
