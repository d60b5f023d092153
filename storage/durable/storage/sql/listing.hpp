#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "durable/list_query.hpp"
#include "durable/storage/sql/dialect.hpp"
#include "durable/storage/sql/statements.hpp"
#include "durable/store.hpp"

/// store::list, count_by_status and ready_backlog as the SQLite and the
/// MySQL store run them, for the HTTP API and durablectl: a WHERE clause
/// built from the filter with every value bound, keyset pages by
/// `(created_at, id)`. Internal to storage/sql.
///
/// Each store builds the statement, then reads it in a read transaction of
/// its run(): `s.page(run("list", false, [&](txn& tx) { return s.read(tx);
/// }))`.
///
/// **Errors.** validate() of list_query.hpp throws durable::error for a bad
/// request before anything is read.
namespace durable::storage::sql_detail {

/// The WHERE clause of a listing or count and its parameters. The text is
/// built from constant fragments and numbered placeholders only; every
/// value is bound.
struct filter_sql {
  std::string where = "WHERE 1 = 1";
  std::vector<std::variant<std::int64_t, std::string>> values;

  std::string next() {
    return fmt::format("?{}", values.size() + 1);
  }

  void add(std::string_view condition, std::int64_t x) {
    where += fmt::format(" AND {} {}", condition, next());
    values.emplace_back(x);
  }

  void add(std::string_view condition, const std::string& x) {
    where += fmt::format(" AND {} {}", condition, next());
    values.emplace_back(x);
  }

  /// `error_contains`: the dialect's condition (dialect.hpp).
  filter_sql(const execution_filter& f, std::string_view error_contains) {
    if (!f.statuses.empty()) {
      where += " AND status IN (";
      for (std::size_t i = 0; i < f.statuses.size(); ++i) {
        where += (i > 0 ? ", " : "") + next();
        values.emplace_back(static_cast<std::int64_t>(f.statuses[i]));
      }
      where += ")";
    }
    if (f.task_id)
      add("task_id =", *f.task_id);
    if (f.parent_id)
      add("parent_id =", *f.parent_id);
    if (f.created_from)
      add("created_at >=", to_micros(*f.created_from));
    if (f.created_before)
      add("created_at <", to_micros(*f.created_before));
    if (f.root_id)
      add("root_execution_id =", *f.root_id);
    if (f.idempotency_key)
      add("idempotency_key =", *f.idempotency_key);
    if (f.sleeping_id)
      add("sleeping_id =", *f.sleeping_id);
    if (f.error_contains) {
      where += " AND error IS NOT NULL AND "
               + fmt::format(fmt::runtime(error_contains), next());
      values.emplace_back(*f.error_contains);
    }
  }

  template <class Query>
  void bind(Query& q) const {
    for (std::size_t i = 0; i < values.size(); ++i)
      std::visit([&](const auto& x) { q.bind(static_cast<int>(i + 1), x); },
                 values[i]);
  }
};

/// store::list: the statement of one page, built (and the request
/// validated) before the transaction, read in it, and made a page after.
class list_statement {
public:
  /// Throws durable::error for a bad request (list_query.hpp's validate).
  list_statement(const list_request& req, const dialect& d)
    : req_(req), filter_(req.filter, d.error_contains) {
    auto after = validate(req);
    if (after) {
      auto a = filter_.next();
      filter_.values.emplace_back(to_micros(after->created_at));
      auto b = filter_.next();
      filter_.values.emplace_back(after->id);
      const char* op = req.oldest_first ? ">" : "<";
      filter_.where += fmt::format(" AND (created_at {2} {0} OR (created_at "
                                   "= {0} AND id {2} {1}))",
                                   a, b, op);
    }
    const char* dir = req.oldest_first ? "ASC" : "DESC";
    sql_ = fmt::format("{}{} ORDER BY created_at {}, id {} LIMIT {}",
                       select_sql(), filter_.where, dir, dir, filter_.next());
    filter_.values.emplace_back(static_cast<std::int64_t>(req.limit + 1));
  }

  /// One row more than the page holds, to know whether another follows.
  template <class Tx>
  std::vector<execution_record> read(Tx& tx) const {
    auto q = tx.prepare(sql_);
    filter_.bind(q);
    return tx.rows(q);
  }

  list_page page(std::vector<execution_record> rows) const {
    list_page page;
    const bool more = rows.size() > req_.limit;
    rows.resize(std::min(rows.size(), req_.limit));
    if (more)
      page.next_cursor = encode_cursor(
        {rows.back().created_at, rows.back().id});
    // A row repaired while reading may no longer match.
    std::erase_if(rows,
                  [&](const auto& r) { return !matches(req_.filter, r); });
    page.rows = std::move(rows);
    return page;
  }

private:
  const list_request& req_;
  filter_sql filter_;
  std::string sql_;
};

/// store::count_by_status: the statement, built before the transaction.
class count_statement {
public:
  count_statement(const execution_filter& f, const dialect& d)
    : filter_(f, d.error_contains),
      sql_(fmt::format("SELECT status, COUNT(*) FROM executions {} GROUP BY "
                       "status",
                       filter_.where)) {}

  template <class Tx>
  status_counts read(Tx& tx) const {
    status_counts counts;
    auto q = tx.prepare(sql_);
    filter_.bind(q);
    while (q.step()) {
      auto s = q.int64(0);
      if (s >= 0 && s <= static_cast<std::int64_t>(execution_status::cancelled))
        counts[static_cast<execution_status>(s)] += static_cast<std::uint64_t>(
          q.int64(1));
    }
    return counts;
  }

private:
  filter_sql filter_;
  std::string sql_;
};

/// store::ready_backlog: per task, the ready rows due now and the oldest
/// start. Served by executions_ready without reading a table row.
template <class Tx>
std::vector<ready_backlog_entry> ready_backlog_rows(Tx& tx) {
  std::vector<ready_backlog_entry> out;
  auto q = tx.prepare("SELECT task_id, COUNT(*), MIN(start_at) FROM "
                      "executions WHERE status = 0 AND start_at <= ?1 "
                      "GROUP BY task_id ORDER BY task_id");
  q.bind(1, tx.now());
  while (q.step())
    out.push_back({q.text(0), static_cast<std::uint64_t>(q.int64(1)),
                   from_micros(q.int64(2))});
  return out;
}

} // namespace durable::storage::sql_detail
