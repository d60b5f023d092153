#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "durable/list_query.hpp"
#include "durable/status.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"
#include "durable/storage/pg/row_codec.hpp"
#include "durable/storage/pg/transaction_runner.hpp"

/// Listings for the HTTP API and durablectl: list() and count_by_status().
/// Their WHERE clause is built from constant fragments with numbered
/// parameters, every value bound; pages go by keyset (storage/pg/README.md).
namespace durable::storage::pg {

namespace {

/// The WHERE clause of a listing or count and its parameters: constant
/// fragments and numbered placeholders only, every value a parameter.
struct filter_sql {
  std::string where = "WHERE true";
  std::vector<param> values;

  std::string add(param value, std::string_view cast) {
    values.push_back(std::move(value));
    return fmt::format("${}::{}", values.size(), cast);
  }

  explicit filter_sql(const execution_filter& f) {
    if (f.statuses.size() == 1) {
      // Equality lets the (status, created_at, id) index give the order.
      where += " AND e.status = "
               + add(std::string{to_string(f.statuses[0])}, "text");
    } else if (!f.statuses.empty()) {
      std::vector<std::string> names;
      for (auto st : f.statuses)
        names.emplace_back(to_string(st));
      where += " AND e.status = ANY(" + add(to_array_literal(names), "text[]")
               + ")";
    }
    if (f.task_id)
      where += " AND e.task_id = " + add(*f.task_id, "text");
    if (f.parent_id)
      where += " AND e.parent_id = " + add(*f.parent_id, "text");
    if (f.created_from)
      where += " AND e.created_at >= "
               + add(str(to_micros(*f.created_from)), "bigint");
    if (f.created_before)
      where += " AND e.created_at < "
               + add(str(to_micros(*f.created_before)), "bigint");
    if (f.root_id)
      where += " AND e.root_id = " + add(*f.root_id, "text");
    if (f.idempotency_key)
      where += " AND e.idempotency_key = " + add(*f.idempotency_key, "text");
    if (f.sleeping_id)
      where += " AND e.sleeping_id = " + add(*f.sleeping_id, "text");
    if (f.error_contains)
      where += " AND strpos(e.error_message, " + add(*f.error_contains, "text")
               + ") > 0";
  }

  pqxx::result exec(pqxx::transaction_base& tx, const std::string& sql) {
    auto ptrs = pointers(values);
    return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(ptrs));
  }
};

} // namespace

list_page pg_store::list(const list_request& req) {
  auto after = validate(req);
  auto& d = *impl_;
  filter_sql f{req.filter};
  if (after) {
    auto at = f.add(str(to_micros(after->created_at)), "bigint");
    auto id = f.add(after->id, "text");
    f.where += fmt::format(" AND (e.created_at, e.id) {} ({}, {})",
                           req.oldest_first ? ">" : "<", at, id);
  }
  auto limit = f.add(str(static_cast<std::int64_t>(req.limit + 1)), "bigint");
  const char* dir = req.oldest_first ? "ASC" : "DESC";
  auto sql = fmt::format("SELECT {} FROM {} e {} ORDER BY e.created_at {}, "
                         "e.id {} LIMIT {}",
                         column_list("e"), d.table, f.where, dir, dir, limit);
  return d.run<pqxx::nontransaction>(
    "list", impl::mode::idempotent, [&](pqxx::nontransaction& tx) {
      list_page page;
      auto rows = f.exec(tx, sql);
      for (const auto& row : rows) {
        if (page.rows.size() == req.limit) {
          page.next_cursor = encode_cursor(
            {page.rows.back().created_at, page.rows.back().id});
          break;
        }
        page.rows.push_back(decode(row));
      }
      return page;
    });
}

status_counts pg_store::count_by_status(const execution_filter& filter) {
  auto& d = *impl_;
  filter_sql f{filter};
  auto sql = fmt::format("SELECT e.status, count(*) FROM {} e {} GROUP BY "
                         "e.status",
                         d.table, f.where);
  return d.run<pqxx::nontransaction>(
    "count_by_status", impl::mode::idempotent, [&](pqxx::nontransaction& tx) {
      status_counts counts;
      for (const auto& row : f.exec(tx, sql))
        if (auto st = parse_status(row[0].as<std::string>()))
          counts[*st] += row[1].as<std::uint64_t>();
      return counts;
    });
}

std::vector<ready_backlog_entry> pg_store::ready_backlog() {
  auto& d = *impl_;
  // Served by the partial index executions_ready (task_id, start_at, id)
  // WHERE status = 'ready' (an index-only scan once vacuumed).
  auto sql = fmt::format("SELECT e.task_id, count(*), min(e.start_at) FROM {} "
                         "e WHERE e.status = 'ready' AND e.start_at <= {} "
                         "GROUP BY e.task_id ORDER BY e.task_id",
                         d.table, now_expr(1));
  std::vector<param> ps{d.now_param()};
  return d.run<pqxx::nontransaction>(
    "ready_backlog", impl::mode::idempotent, [&](pqxx::nontransaction& tx) {
      std::vector<ready_backlog_entry> out;
      auto ptrs = pointers(ps);
      for (const auto& row :
           tx.exec_params(sql, pqxx::prepare::make_dynamic_params(ptrs)))
        out.push_back({row[0].as<std::string>(), row[1].as<std::uint64_t>(),
                       from_micros(row[2].as<std::int64_t>())});
      return out;
    });
}

} // namespace durable::storage::pg
