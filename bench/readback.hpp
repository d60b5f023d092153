#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "durable/execution_record.hpp"
#include "durable/status.hpp"
#include "durable/store.hpp"

/// Reading the stored rows of a run back after it ended: latencies and the
/// validation come from what the store recorded (its clock), not from what
/// the harness saw.
namespace durable::bench {

/// The fields of one stored execution the harness looks at.
struct row_sample {
  std::string id;
  std::string task_id;
  std::string parent_id; ///< empty for top-level rows
  bool is_finalize = false;
  std::optional<std::string> sleeping_id;
  execution_status status = execution_status::ready;
  std::string input;
  std::optional<std::string> output;
  int attempt = 0;
  timestamp created_at{};
  std::optional<timestamp> started_at;
  std::optional<timestamp> finished_at;
};

/// Every row of the trees under `top_ids`, through the store interface
/// (get and children_of): for stores that cannot be listed otherwise.
/// Threading: the store's own.
std::vector<row_sample> read_trees(durable::store& db,
                                   const std::vector<std::string>& top_ids);

/// Every row of `schema`.executions in one query (PostgreSQL: one round
/// trip instead of one per row). Throws pqxx or durable errors.
std::vector<row_sample> read_pg_table(const std::string& url,
                                      const std::string& schema);

} // namespace durable::bench
