#include "durablectl/store_backend.hpp"

#include <fmt/format.h>

#include "durable/nodes/http/views.hpp"
#include "durable/transitions.hpp"

namespace durablectl {

namespace {

namespace dh = durable::nodes::http;

/// Version conflicts a cancel rides out (another writer got there first).
constexpr int max_cancel_attempts = 16;

std::string not_found(const std::string& id) {
  return fmt::format("Task execution not found [executionId={}]", id);
}

durable::execution_record must_get(durable::store& s, const std::string& id) {
  auto row = s.get(id);
  if (!row)
    throw cli_error(exit_not_found, not_found(id));
  return std::move(*row);
}

} // namespace

durable::store& store_backend::store() {
  if (!store_)
    store_ = open_store();
  return *store_;
}

json store_backend::get(const std::string& id) {
  auto& s = store();
  return dh::execution_with_children_json(s, must_get(s, id));
}

json store_backend::tree(const std::string& id, std::size_t max_depth,
                         std::size_t max_nodes) {
  auto& s = store();
  return dh::tree_json(s, must_get(s, id), {max_depth, max_nodes});
}

json store_backend::list(const query_params& query) {
  auto page = store().list(dh::parse_list(query));
  auto rows = json::array();
  for (const auto& r : page.rows)
    rows.push_back(dh::summary_json(r));
  json out{{"executions", std::move(rows)}};
  out["next_cursor"] = page.next_cursor.empty() ? json(nullptr)
                                                : json(page.next_cursor);
  return out;
}

json store_backend::cancel(const std::string& id) {
  auto& s = store();
  auto row = must_get(s, id);
  for (int i = 0; i < max_cancel_attempts && !row.is_finished(); ++i) {
    auto out = s.apply({durable::transitions::cancel(row, s.now())});
    if (!out.at(0).current)
      throw cli_error(exit_not_found, not_found(id));
    row = std::move(*out[0].current);
  }
  if (!row.is_finished())
    throw cli_error(exit_failure,
                    fmt::format("execution {} kept changing; cancel it again",
                                id));
  return dh::execution_json(row);
}

json store_backend::stats(const query_params& query) {
  return dh::counts_json(store().count_by_status(dh::parse_filter(query)));
}

json store_backend::prune(const prune_args& args) {
  auto& s = store();
  durable::prune_request req;
  req.statuses = args.statuses;
  req.finished_before = s.now() - args.older_than;
  req.task_id = args.task;
  req.dry_run = args.dry_run;
  durable::prune_result total;
  // One batch per transaction, so that the database's cleanup can follow
  // and no transaction holds many locks; a dry run counts in one statement.
  for (;;) {
    auto r = s.prune(req);
    total.roots += r.roots;
    total.rows += r.rows;
    if (req.dry_run || r.roots < req.limit)
      break;
  }
  return {
    {"roots", total.roots}, {"rows", total.rows}, {"dry_run", args.dry_run}};
}

std::string database_flags() {
#ifdef DURABLE_WITH_MYSQL
  return "--pg or --mysql";
#else
  return "--pg";
#endif
}

} // namespace durablectl
