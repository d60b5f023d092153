#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "durable/storage/sqlite/transaction.hpp"
#include "durable/storage/sqlite_store.hpp"

// sqlite_store::prune(): retention of finished trees (store.hpp).

namespace durable::storage {

namespace {

// The tree of ?1 through the parent index (executions_parent).
constexpr const char* tree_cte
  = "WITH RECURSIVE tree(id) AS (SELECT ?1 UNION ALL SELECT e.id FROM "
    "executions e JOIN tree t ON e.parent_id = t.id) ";

const std::string& tree_count_sql() {
  static const std::string sql = std::string{tree_cte}
                                 + "SELECT COUNT(*), COALESCE(SUM(e.status < "
                                   "4), 0) FROM tree t JOIN executions e ON "
                                   "e.id = t.id";
  return sql;
}

const std::string& tree_delete_sql() {
  static const std::string sql = std::string{tree_cte}
                                 + "DELETE FROM executions WHERE id IN (SELECT "
                                   "id FROM tree)";
  return sql;
}

} // namespace

prune_result sqlite_store::prune(const prune_request& req) {
  durable::validate(req);
  // `status >= 4` restates the partial index's condition, so that SQLite
  // sees the index applies (it does not derive it from the IN list).
  std::string statuses;
  for (auto s : req.statuses)
    statuses += fmt::format("{}{}", statuses.empty() ? "" : ", ",
                            static_cast<int>(s));
  // The excluded tasks are bound one parameter each, from ?3 on (at most
  // prune_request::max_except_tasks, well under SQLite's limit of 32766).
  std::string excluded;
  for (std::size_t i = 0; i < req.except_tasks.size(); ++i)
    excluded += fmt::format("{}?{}", i == 0 ? "" : ", ", i + 3);
  auto roots_sql = fmt::format(
    "SELECT id FROM executions INDEXED BY executions_finished_roots "
    "WHERE parent_id IS NULL AND status >= 4 AND status IN ({}) "
    "AND finished_at < ?1{}{} ORDER BY finished_at, id{}",
    statuses, req.task_id ? " AND task_id = ?2" : "",
    excluded.empty() ? "" : fmt::format(" AND task_id NOT IN ({})", excluded),
    req.dry_run ? "" : fmt::format(" LIMIT {}", req.limit));
  return run("prune", !req.dry_run, [&](txn& tx) {
    std::vector<std::string> roots;
    {
      auto q = tx.prepare(roots_sql);
      q.bind(1, req.finished_before);
      if (req.task_id)
        q.bind(2, *req.task_id);
      for (std::size_t i = 0; i < req.except_tasks.size(); ++i)
        q.bind(static_cast<int>(i + 3), req.except_tasks[i]);
      while (q.step())
        roots.push_back(q.text(0));
    }
    prune_result out;
    for (const auto& id : roots) {
      std::int64_t rows = 0;
      std::int64_t unfinished = 0;
      {
        auto q = tx.prepare(tree_count_sql());
        q.bind(1, id);
        if (q.step()) {
          rows = q.int64(0);
          unfinished = q.int64(1);
        }
      }
      if (rows == 0 || unfinished > 0)
        continue;
      ++out.roots;
      out.rows += static_cast<std::size_t>(rows);
      if (req.dry_run)
        continue;
      auto q = tx.prepare(tree_delete_sql());
      q.bind(1, id);
      q.run();
    }
    return out;
  });
}

} // namespace durable::storage
