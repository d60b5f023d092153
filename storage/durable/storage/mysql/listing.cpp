#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "durable/list_query.hpp"
#include "durable/storage/mysql/statements.hpp"
#include "durable/storage/mysql/transaction.hpp"
#include "durable/storage/mysql_store.hpp"

// mysql_store::list() and count_by_status(), for the HTTP API and
// durablectl: a WHERE clause built from the filter, every value bound,
// keyset pages newest first.

namespace durable::storage {

namespace {

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

  explicit filter_sql(const execution_filter& f) {
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
      // CASE keeps JSON_EXTRACT() off a row whose error is not JSON (a
      // damaged row must not fail the listing of the others). LOCATE on
      // binary strings: case- and accent-sensitive, as in the other stores.
      auto p = next();
      where += fmt::format(" AND error IS NOT NULL AND CASE WHEN "
                           "JSON_VALID(error) THEN LOCATE(CAST({0} AS BINARY), "
                           "CAST(JSON_UNQUOTE(JSON_EXTRACT(error, "
                           "'$.message')) AS BINARY)) > 0 ELSE "
                           "LOCATE(CAST({0} AS BINARY), CAST(error AS BINARY)) "
                           "> 0 END",
                           p);
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

} // namespace

list_page mysql_store::list(const list_request& req) {
  auto after = validate(req);
  filter_sql f{req.filter};
  if (after) {
    auto a = f.next();
    f.values.emplace_back(to_micros(after->created_at));
    auto b = f.next();
    f.values.emplace_back(after->id);
    const char* op = req.oldest_first ? ">" : "<";
    f.where += fmt::format(" AND (created_at {2} {0} OR (created_at = {0} AND "
                           "id {2} {1}))",
                           a, b, op);
  }
  const char* dir = req.oldest_first ? "ASC" : "DESC";
  auto sql = fmt::format("{}{} ORDER BY created_at {}, id {} LIMIT {}",
                         mysql_detail::select_sql(), f.where, dir, dir,
                         f.next());
  f.values.emplace_back(static_cast<std::int64_t>(req.limit + 1));
  auto rows = run("list", false, [&](txn& tx) {
    auto q = tx.prepare(sql);
    f.bind(q);
    return tx.rows(q);
  });
  list_page page;
  const bool more = rows.size() > req.limit;
  rows.resize(std::min(rows.size(), req.limit));
  if (more)
    page.next_cursor = encode_cursor({rows.back().created_at, rows.back().id});
  // A row repaired while reading may no longer match.
  std::erase_if(rows, [&](const auto& r) { return !matches(req.filter, r); });
  page.rows = std::move(rows);
  return page;
}

status_counts mysql_store::count_by_status(const execution_filter& filter) {
  filter_sql f{filter};
  auto sql = fmt::format(
    "SELECT status, COUNT(*) FROM executions {} GROUP BY status", f.where);
  return run("count_by_status", false, [&](txn& tx) {
    status_counts counts;
    auto q = tx.prepare(sql);
    f.bind(q);
    while (q.step()) {
      auto s = q.int64(0);
      if (s >= 0 && s <= static_cast<std::int64_t>(execution_status::cancelled))
        counts[static_cast<execution_status>(s)] += static_cast<std::uint64_t>(
          q.int64(1));
    }
    return counts;
  });
}

std::vector<ready_backlog_entry> mysql_store::ready_backlog() {
  // Served by the index executions_ready (status, task_id, start_at, id):
  // no table row is read.
  return run("ready_backlog", false, [&](txn& tx) {
    std::vector<ready_backlog_entry> out;
    auto q = tx.prepare("SELECT task_id, COUNT(*), MIN(start_at) FROM "
                        "executions WHERE status = 0 AND start_at <= ?1 "
                        "GROUP BY task_id ORDER BY task_id");
    q.bind(1, tx.now());
    while (q.step())
      out.push_back({q.text(0), static_cast<std::uint64_t>(q.int64(1)),
                     from_micros(q.int64(2))});
    return out;
  });
}

} // namespace durable::storage
