#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "durable/node_registry.hpp"
#include "durable/status.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"
#include "durable/storage/pg/row_codec.hpp"
#include "durable/storage/pg/schema.hpp"
#include "durable/storage/pg/transaction_runner.hpp"

/// pg_store's node registry (node_registry.hpp): the tables `nodes` and
/// `finished_minutes` of the store's schema (migration 0010). Plain
/// statements with every value bound: a node reports every few seconds,
/// too rarely for prepared statements to matter.
namespace durable::storage::pg {

namespace {

pqxx::result exec_sql(pqxx::transaction_base& tx, const std::string& sql,
                      const std::vector<param>& values) {
  auto ptrs = pointers(values);
  return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(ptrs));
}

} // namespace

void pg_store::report_node(const node_report& r) {
  validate(r);
  auto& d = *impl_;
  const auto schema = quote_ident(d.opts.schema);
  const auto now = d.now();
  const auto& n = r.node;
  const auto upsert = fmt::format(
    "INSERT INTO {}.nodes AS n (incarnation, name, version, started_at, "
    "heartbeat_at, running, slots, leader, state) VALUES ($1, $2, $3, "
    "$4::bigint, $5::bigint, $6::integer, $7::integer, $8::boolean, $9) ON "
    "CONFLICT (incarnation) DO UPDATE SET name = excluded.name, version = "
    "excluded.version, started_at = excluded.started_at, heartbeat_at = "
    "excluded.heartbeat_at, running = excluded.running, slots = "
    "excluded.slots, leader = excluded.leader, state = excluded.state",
    schema);
  const std::vector<param> node_values{n.incarnation,
                                       n.name,
                                       n.version,
                                       str(to_micros(n.started_at)),
                                       str(to_micros(now)),
                                       str(std::int64_t{n.running}),
                                       str(std::int64_t{n.slots}),
                                       std::string{n.leader ? "true" : "false"},
                                       std::string{to_string(n.state)}};
  const auto add = fmt::format(
    "INSERT INTO {}.finished_minutes AS f (minute, incarnation, status, "
    "count) VALUES ($1::bigint, $2, $3, $4::bigint) ON CONFLICT (minute, "
    "incarnation, status) DO UPDATE SET count = f.count + excluded.count",
    schema);
  const auto minute = str(to_micros(minute_of(now)));
  const auto horizon = now - node_registry_keep;
  const auto forget = fmt::format(
    "DELETE FROM {}.nodes WHERE heartbeat_at < $1::bigint", schema);
  const auto expire = fmt::format(
    "DELETE FROM {}.finished_minutes WHERE minute < $1::bigint", schema);
  d.run<pqxx::work>("report_node", impl::mode::write, [&](pqxx::work& tx) {
    exec_sql(tx, upsert, node_values);
    for (const auto& [status, count] : r.finished)
      if (count > 0)
        exec_sql(tx, add,
                 {minute, n.incarnation, std::string{to_string(status)},
                  str(static_cast<std::int64_t>(count))});
    exec_sql(tx, forget, {str(to_micros(horizon))});
    exec_sql(tx, expire, {str(to_micros(minute_of(horizon)))});
    return true;
  });
}

std::vector<node_info> pg_store::nodes() {
  auto& d = *impl_;
  const auto sql = fmt::format(
    "SELECT incarnation, name, version, started_at, heartbeat_at, running, "
    "slots, leader, state FROM {}.nodes",
    quote_ident(d.opts.schema));
  auto out = d.run<pqxx::nontransaction>(
    "nodes", impl::mode::idempotent, [&](pqxx::nontransaction& tx) {
      std::vector<node_info> found;
      for (const auto& row : tx.exec(sql)) {
        node_info n;
        n.incarnation = row[0].as<std::string>();
        n.name = row[1].as<std::string>();
        n.version = row[2].as<std::string>();
        n.started_at = from_micros(row[3].as<std::int64_t>());
        n.heartbeat_at = from_micros(row[4].as<std::int64_t>());
        n.running = row[5].as<std::uint32_t>();
        n.slots = row[6].as<std::uint32_t>();
        n.leader = row[7].as<bool>();
        n.state = parse_node_state(row[8].as<std::string>())
                    .value_or(node_state::running);
        found.push_back(std::move(n));
      }
      return found;
    });
  std::sort(out.begin(), out.end(), registry_order);
  return out;
}

std::vector<finished_count> pg_store::finished_by_minute(timestamp from,
                                                         timestamp to) {
  auto& d = *impl_;
  const auto sql = fmt::format(
    "SELECT minute, status, sum(count)::bigint FROM {}.finished_minutes "
    "WHERE minute >= $1::bigint AND minute < $2::bigint GROUP BY minute, "
    "status ORDER BY minute, status",
    quote_ident(d.opts.schema));
  const std::vector<param> values{str(to_micros(from)), str(to_micros(to))};
  return d.run<pqxx::nontransaction>(
    "finished_by_minute", impl::mode::idempotent,
    [&](pqxx::nontransaction& tx) {
      std::vector<finished_count> out;
      for (const auto& row : exec_sql(tx, sql, values)) {
        auto status = parse_status(row[1].as<std::string>());
        if (!status)
          continue; // not a status this binary knows: not for its charts
        out.push_back({from_micros(row[0].as<std::int64_t>()), *status,
                       row[2].as<std::uint64_t>()});
      }
      // By minute, then status as the enumeration orders them.
      std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.minute, a.status) < std::tie(b.minute, b.status);
      });
      return out;
    });
}

} // namespace durable::storage::pg
