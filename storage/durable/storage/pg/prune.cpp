#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "durable/status.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"
#include "durable/storage/pg/row_codec.hpp"
#include "durable/storage/pg/statements.hpp"
#include "durable/storage/pg/transaction_runner.hpp"

/// Retention: pg_store::prune() (store.hpp). One statement per requested
/// status finds up to the remaining limit of roots through
/// `executions_finished_roots` (the equality on status and the range on
/// finished_at are its key; `finished_at < $2` implies its predicate),
/// walks each tree through `executions_parent`, and deletes the trees that
/// hold no unfinished row. A dry run counts the same without a limit.
namespace durable::storage::pg {

namespace {

constexpr const char* unfinished
  = "('ready', 'running', 'waiting_for_children', 'waiting_for_finalize')";

} // namespace

std::string prune_statement(const std::string& table, bool by_task,
                            bool dry_run, bool except_tasks) {
  // $1 status, $2 cutoff, then in this order what the call has: the limit,
  // the task id, the excluded task ids.
  int next = dry_run ? 3 : 4;
  std::string filters;
  if (by_task)
    filters += fmt::format(" AND r.task_id = ${}::text", next++);
  if (except_tasks)
    filters += fmt::format(" AND r.task_id <> ALL(${}::text[])", next++);
  // Locked and SKIP LOCKED: two prunes at once (the leader and durablectl)
  // take different trees instead of waiting for each other.
  auto roots = fmt::format(
    "SELECT r.id FROM {0} r WHERE r.parent_id IS NULL AND r.status = "
    "$1::text AND r.finished_at < $2::bigint{1} ORDER BY r.finished_at, r.id"
    "{2}",
    table, filters, dry_run ? "" : " LIMIT $3::bigint FOR UPDATE SKIP LOCKED");
  auto tree = fmt::format(
    "WITH RECURSIVE roots AS ({0}), "
    "tree AS (SELECT r.id, r.id AS root, $1::text AS status FROM roots r "
    "UNION ALL SELECT e.id, t.root, e.status FROM {1} e JOIN tree t "
    "ON e.parent_id = t.id), "
    "kept AS (SELECT DISTINCT root FROM tree WHERE status IN {2}) ",
    roots, table, unfinished);
  if (dry_run)
    return tree
           + "SELECT count(DISTINCT t.root), count(*) FROM tree t WHERE "
             "t.root NOT IN (SELECT root FROM kept)";
  return tree
         + fmt::format("DELETE FROM {} e USING tree t WHERE e.id = t.id AND "
                       "t.root NOT IN (SELECT root FROM kept) RETURNING t.root",
                       table);
}

prune_result pg_store::prune(const prune_request& req) {
  durable::validate(req);
  auto& d = *impl_;
  const auto sql = prune_statement(d.table, req.task_id.has_value(),
                                   req.dry_run, !req.except_tasks.empty());
  const auto excluded = req.except_tasks.empty()
                          ? std::string{}
                          : to_array_literal(req.except_tasks);
  auto body = [&](pqxx::transaction_base& tx) {
    tx.exec(prune_settings);
    prune_result out;
    for (auto status : req.statuses) {
      if (!req.dry_run && out.roots >= req.limit)
        break;
      std::vector<param> values{
        std::string{to_string(status)},
        str(to_micros(req.finished_before)),
      };
      if (!req.dry_run)
        values.emplace_back(
          str(static_cast<std::int64_t>(req.limit - out.roots)));
      if (req.task_id)
        values.emplace_back(*req.task_id);
      if (!req.except_tasks.empty())
        values.emplace_back(excluded);
      auto ptrs = pointers(values);
      auto r = tx.exec_params(sql, pqxx::prepare::make_dynamic_params(ptrs));
      if (req.dry_run) {
        out.roots += r[0][0].as<std::size_t>();
        out.rows += r[0][1].as<std::size_t>();
        continue;
      }
      std::vector<std::string> roots;
      for (const auto& row : r)
        roots.push_back(row[0].as<std::string>());
      std::sort(roots.begin(), roots.end());
      out.rows += roots.size();
      out.roots += static_cast<std::size_t>(
        std::unique(roots.begin(), roots.end()) - roots.begin());
    }
    return out;
  };
  // A transaction even for a dry run: the settings are LOCAL to it.
  return d.run<pqxx::work>(
    "prune", req.dry_run ? impl::mode::idempotent : impl::mode::write,
    [&](pqxx::work& tx) { return body(tx); });
}

} // namespace durable::storage::pg
