#include "durable/storage/mysql/statements.hpp"

#include "durable/storage/mysql/connection.hpp"

namespace durable::storage::mysql_detail {

const sql_detail::dialect connection::dialect{
  .lock_rows = " FOR UPDATE",
  .skip_locked = " FOR UPDATE SKIP LOCKED",
  // executions_parent (parent_id, finished_at, id) serves the roots: its
  // `parent_id IS NULL` range, by finish time.
  .finished_roots_index = "",
  .rollback_to_savepoint = "ROLLBACK TO SAVEPOINT transition",
  .release_savepoint = "RELEASE SAVEPOINT transition",
  // CASE keeps JSON_EXTRACT() off a row whose error is not JSON. LOCATE on
  // binary strings: case- and accent-sensitive, as in the other stores.
  .error_contains = "CASE WHEN JSON_VALID(error) THEN LOCATE(CAST({0} AS "
                    "BINARY), CAST(JSON_UNQUOTE(JSON_EXTRACT(error, "
                    "'$.message')) AS BINARY)) > 0 ELSE LOCATE(CAST({0} AS "
                    "BINARY), CAST(error AS BINARY)) > 0 END",
  // VALUES() is deprecated from MySQL 8.0.20 (mysql/README.md).
  .report_node = "INSERT INTO nodes (incarnation, name, version, started_at, "
                 "heartbeat_at, running, slots, leader, state) VALUES (?1, "
                 "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON DUPLICATE KEY UPDATE "
                 "name = VALUES(name), version = VALUES(version), started_at "
                 "= VALUES(started_at), heartbeat_at = VALUES(heartbeat_at), "
                 "running = VALUES(running), slots = VALUES(slots), leader = "
                 "VALUES(leader), state = VALUES(state)",
  .add_finished = "INSERT INTO finished_minutes (minute, incarnation, "
                  "status, count) VALUES (?1, ?2, ?3, ?4) ON DUPLICATE KEY "
                  "UPDATE count = count + VALUES(count)",
};

} // namespace durable::storage::mysql_detail
