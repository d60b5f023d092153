#include "durable/storage/sqlite/statements.hpp"

#include "durable/storage/sqlite/connection.hpp"

namespace durable::storage::sqlite_detail {

const sql_detail::dialect connection::dialect{
  // A write transaction holds the database (BEGIN IMMEDIATE): nothing to
  // lock row by row, nothing to skip.
  .lock_rows = "",
  .skip_locked = "",
  // `status >= 4` in the query restates the partial index's condition;
  // SQLite still needs the index named to use it for an IN list.
  .finished_roots_index = "INDEXED BY executions_finished_roots ",
  .rollback_to_savepoint = "ROLLBACK TO transition",
  .release_savepoint = "RELEASE transition",
  // CASE keeps json_extract() off a row whose error is not JSON.
  .error_contains = "CASE WHEN json_valid(error) THEN instr(json_extract("
                    "error, '$.message'), {0}) > 0 ELSE instr(error, {0}) > "
                    "0 END",
  .report_node = "INSERT INTO nodes (incarnation, name, version, started_at, "
                 "heartbeat_at, running, slots, leader, state) VALUES (?1, "
                 "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (incarnation) "
                 "DO UPDATE SET name = excluded.name, version = "
                 "excluded.version, started_at = excluded.started_at, "
                 "heartbeat_at = excluded.heartbeat_at, running = "
                 "excluded.running, slots = excluded.slots, leader = "
                 "excluded.leader, state = excluded.state",
  .add_finished = "INSERT INTO finished_minutes (minute, incarnation, "
                  "status, count) VALUES (?1, ?2, ?3, ?4) ON CONFLICT "
                  "(minute, incarnation, status) DO UPDATE SET count = count "
                  "+ excluded.count",
};

} // namespace durable::storage::sqlite_detail
