#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "durable/storage/mysql/statements.hpp"
#include "durable/storage/mysql/transaction.hpp"
#include "durable/storage/mysql_store.hpp"

// mysql_store::prune(): retention of finished trees (store.hpp).

namespace durable::storage {

namespace {

// The tree of ?1 through the parent index (executions_parent). MariaDB has
// no WITH ... DELETE: the ids are read, then deleted by primary key.
const std::string& tree_sql() {
  static const std::string sql
    = "WITH RECURSIVE tree (id) AS (SELECT id FROM executions WHERE id = ?1 "
      "UNION ALL SELECT e.id FROM executions e JOIN tree t ON e.parent_id = "
      "t.id) SELECT e.id, e.status FROM tree t JOIN executions e ON e.id = "
      "t.id";
  return sql;
}

} // namespace

prune_result mysql_store::prune(const prune_request& req) {
  durable::validate(req);
  std::string statuses;
  for (auto s : req.statuses)
    statuses += fmt::format("{}{}", statuses.empty() ? "" : ", ",
                            static_cast<int>(s));
  // The excluded tasks are bound one parameter each, from ?3 on.
  std::string excluded;
  for (std::size_t i = 0; i < req.except_tasks.size(); ++i)
    excluded += fmt::format("{}?{}", i == 0 ? "" : ", ", i + 3);
  // Served by executions_parent (parent_id, finished_at, id): the roots
  // are its `parent_id IS NULL` range, by finish time.
  auto roots_sql = fmt::format(
    "SELECT id FROM executions "
    "WHERE parent_id IS NULL AND status IN ({}) "
    "AND finished_at < ?1{}{} ORDER BY finished_at, id{}",
    statuses, req.task_id ? " AND task_id = ?2" : "",
    excluded.empty() ? "" : fmt::format(" AND task_id NOT IN ({})", excluded),
    req.dry_run ? ""
                : fmt::format(" LIMIT {} FOR UPDATE SKIP LOCKED", req.limit));
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
      std::vector<std::string> tree;
      bool unfinished = false;
      {
        auto q = tx.prepare(tree_sql());
        q.bind(1, id);
        while (q.step()) {
          tree.push_back(q.text(0));
          if (q.int64(1) < 4)
            unfinished = true;
        }
      }
      if (tree.empty() || unfinished)
        continue;
      ++out.roots;
      out.rows += tree.size();
      if (req.dry_run)
        continue;
      for (const auto& row : tree) {
        auto q = tx.prepare(mysql_detail::erase_sql);
        q.bind(1, row);
        q.run();
      }
    }
    return out;
  });
}

} // namespace durable::storage
