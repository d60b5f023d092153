#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "durable/storage/sql/dialect.hpp"
#include "durable/storage/sql/statements.hpp"
#include "durable/store.hpp"

/// store::prune (retention of finished trees) as the SQLite and the MySQL
/// store run it. Internal to storage/sql.
///
/// The roots come through the index of finished roots, oldest finish
/// first; each root's tree through the parent index (a recursive CTE), and
/// a tree with an unfinished row is left whole. Rows are deleted by
/// primary key (MariaDB has no `WITH ... DELETE`).
///
/// **Durability.** One write transaction per call (a read for a dry run);
/// in MySQL the roots are taken `SKIP LOCKED`, so two nodes pruning at once
/// take different trees.
///
/// **Errors.** The constructor throws durable::error for a bad request
/// (store.hpp's validate(prune_request)) before anything is read.
namespace durable::storage::sql_detail {

class prune_statement {
public:
  prune_statement(const prune_request& req, const dialect& d) : req_(req) {
    durable::validate(req);
    // `status >= 4` restates the partial index's condition (SQLite), so
    // that the database sees the index applies.
    std::string statuses;
    for (auto s : req.statuses)
      statuses += fmt::format("{}{}", statuses.empty() ? "" : ", ",
                              static_cast<int>(s));
    // The excluded tasks are bound one parameter each, from ?3 on (at most
    // prune_request::max_except_tasks).
    std::string excluded;
    for (std::size_t i = 0; i < req.except_tasks.size(); ++i)
      excluded += fmt::format("{}?{}", i == 0 ? "" : ", ", i + 3);
    roots_sql_ = fmt::format(
      "SELECT id FROM executions {}WHERE parent_id IS NULL AND status >= 4 "
      "AND status IN ({}) AND finished_at < ?1{}{} ORDER BY finished_at, "
      "id{}",
      d.finished_roots_index, statuses, req.task_id ? " AND task_id = ?2" : "",
      excluded.empty() ? "" : fmt::format(" AND task_id NOT IN ({})", excluded),
      req.dry_run ? "" : fmt::format(" LIMIT {}{}", req.limit, d.skip_locked));
  }

  /// Whether the call writes (not a dry run).
  bool writes() const noexcept {
    return !req_.dry_run;
  }

  /// The body of the call.
  template <class Tx>
  prune_result run(Tx& tx) const {
    prune_result out;
    for (const auto& id : roots(tx)) {
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
      if (req_.dry_run)
        continue;
      for (const auto& row : tree) {
        auto q = tx.prepare(erase_sql);
        q.bind(1, row);
        q.run();
      }
    }
    return out;
  }

private:
  /// `(id, status)` of the tree of ?1.
  static const std::string& tree_sql() {
    static const std::string sql
      = "WITH RECURSIVE tree (id) AS (SELECT id FROM executions WHERE id = "
        "?1 UNION ALL SELECT e.id FROM executions e JOIN tree t ON "
        "e.parent_id = t.id) SELECT e.id, e.status FROM tree t JOIN "
        "executions e ON e.id = t.id";
    return sql;
  }

  template <class Tx>
  std::vector<std::string> roots(Tx& tx) const {
    std::vector<std::string> out;
    auto q = tx.prepare(roots_sql_);
    q.bind(1, req_.finished_before);
    if (req_.task_id)
      q.bind(2, *req_.task_id);
    for (std::size_t i = 0; i < req_.except_tasks.size(); ++i)
      q.bind(static_cast<int>(i + 3), req_.except_tasks[i]);
    while (q.step())
      out.push_back(q.text(0));
    return out;
  }

  const prune_request& req_;
  std::string roots_sql_;
};

} // namespace durable::storage::sql_detail
