#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "durable/node_registry.hpp"
#include "durable/storage/sql/dialect.hpp"
#include "durable/store.hpp"

/// The node registry (node_registry.hpp) as the SQLite and the MySQL store
/// keep it: the tables `nodes` and `finished_minutes`. Internal to
/// storage/sql. Each function is the body of its store call, run in the
/// call's transaction (`Tx`, transaction.hpp).
///
/// **Durability.** A report is one write: the node's row upserted, its
/// finished counts added to the current minute, and what is older than
/// node_registry_keep deleted, so no sweep is needed.
namespace durable::storage::sql_detail {

/// store::report_node, after validate(r).
template <class Tx>
void report_node_rows(Tx& tx, const node_report& r) {
  static const std::string report_node{Tx::sql_dialect().report_node};
  static const std::string add_finished{Tx::sql_dialect().add_finished};
  const auto now = tx.now();
  const auto& n = r.node;
  auto upsert = tx.prepare(report_node);
  upsert.bind(1, n.incarnation)
    .bind(2, n.name)
    .bind(3, n.version)
    .bind(4, n.started_at)
    .bind(5, now)
    .bind(6, std::int64_t{n.running})
    .bind(7, std::int64_t{n.slots})
    .bind(8, std::int64_t{n.leader ? 1 : 0})
    .bind(9, std::string{to_string(n.state)});
  upsert.run();
  const auto minute = minute_of(now);
  for (const auto& [status, count] : r.finished) {
    if (count == 0)
      continue;
    auto add = tx.prepare(add_finished);
    add.bind(1, minute)
      .bind(2, n.incarnation)
      .bind(3, static_cast<std::int64_t>(status))
      .bind(4, static_cast<std::int64_t>(count));
    add.run();
  }
  const auto horizon = now - node_registry_keep;
  auto forget = tx.prepare("DELETE FROM nodes WHERE heartbeat_at < ?1");
  forget.bind(1, horizon);
  forget.run();
  auto expire = tx.prepare("DELETE FROM finished_minutes WHERE minute < ?1");
  expire.bind(1, minute_of(horizon));
  expire.run();
}

/// store::nodes, before registry_order.
template <class Tx>
std::vector<node_info> node_rows(Tx& tx) {
  std::vector<node_info> found;
  auto q = tx.prepare("SELECT incarnation, name, version, started_at, "
                      "heartbeat_at, running, slots, leader, state FROM "
                      "nodes");
  while (q.step()) {
    node_info n;
    n.incarnation = q.text(0);
    n.name = q.text(1);
    n.version = q.text(2);
    n.started_at = from_micros(q.int64(3));
    n.heartbeat_at = from_micros(q.int64(4));
    n.running = static_cast<std::uint32_t>(q.int64(5));
    n.slots = static_cast<std::uint32_t>(q.int64(6));
    n.leader = q.int64(7) != 0;
    n.state = parse_node_state(q.text(8)).value_or(node_state::running);
    found.push_back(std::move(n));
  }
  return found;
}

/// store::finished_by_minute.
template <class Tx>
std::vector<finished_count>
finished_rows(Tx& tx, timestamp from, timestamp to) {
  std::vector<finished_count> out;
  auto q = tx.prepare("SELECT minute, status, SUM(count) FROM "
                      "finished_minutes WHERE minute >= ?1 AND minute < ?2 "
                      "GROUP BY minute, status ORDER BY minute, status");
  q.bind(1, from).bind(2, to);
  while (q.step()) {
    auto status = q.int64(1);
    if (status < 0
        || status > static_cast<std::int64_t>(execution_status::cancelled))
      continue; // not a status this binary knows: not for its charts
    out.push_back({from_micros(q.int64(0)),
                   static_cast<execution_status>(status),
                   static_cast<std::uint64_t>(q.int64(2))});
  }
  return out;
}

} // namespace durable::storage::sql_detail
