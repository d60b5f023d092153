#include "readback.hpp"

#include <pqxx/pqxx>

#include "durable/storage/pg/schema.hpp"

namespace durable::bench {

namespace {

row_sample sample_of(const execution_record& r) {
  row_sample s;
  s.id = r.id;
  s.task_id = r.task_id;
  if (r.parent) {
    s.parent_id = r.parent->execution_id;
    s.is_finalize = r.parent->is_finalize;
  }
  s.sleeping_id = r.sleeping_id;
  s.status = r.status;
  s.input = r.input;
  s.output = r.output;
  s.attempt = r.attempt;
  s.created_at = r.created_at;
  s.started_at = r.started_at;
  s.finished_at = r.finished_at;
  return s;
}

std::optional<timestamp> opt_time(const pqxx::field& f) {
  if (f.is_null())
    return std::nullopt;
  return from_micros(f.as<std::int64_t>());
}

} // namespace

std::vector<row_sample> read_trees(durable::store& db,
                                   const std::vector<std::string>& top_ids) {
  std::vector<row_sample> out;
  out.reserve(top_ids.size());
  std::vector<std::string> parents;
  for (const auto& id : top_ids) {
    auto r = db.get(id);
    if (!r)
      continue;
    if (r->kind != task_kind::task && r->kind != task_kind::sleeping)
      parents.push_back(r->id);
    out.push_back(sample_of(*r));
  }
  while (!parents.empty()) {
    auto id = std::move(parents.back());
    parents.pop_back();
    for (const auto& c : db.children_of(id)) {
      if (c.kind != task_kind::task && c.kind != task_kind::sleeping)
        parents.push_back(c.id);
      out.push_back(sample_of(c));
    }
  }
  return out;
}

std::vector<row_sample> read_pg_table(const std::string& url,
                                      const std::string& schema) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  auto rows = tx.exec(
    "SELECT id, task_id, parent_id, coalesce(parent_is_finalize, false), "
    "status, input, output, attempt, created_at, started_at, finished_at, "
    "sleeping_id "
    "FROM "
    + storage::pg::quote_ident(schema) + ".executions");
  std::vector<row_sample> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    row_sample s;
    s.id = row[0].c_str();
    s.task_id = row[1].c_str();
    if (!row[2].is_null())
      s.parent_id = row[2].c_str();
    s.is_finalize = row[3].as<bool>();
    s.status = parse_status(row[4].c_str()).value_or(execution_status::failed);
    s.input = row[5].c_str();
    if (!row[6].is_null())
      s.output = row[6].c_str();
    s.attempt = row[7].as<int>();
    s.created_at = from_micros(row[8].as<std::int64_t>());
    s.started_at = opt_time(row[9]);
    s.finished_at = opt_time(row[10]);
    if (!row[11].is_null())
      s.sleeping_id = row[11].c_str();
    out.push_back(std::move(s));
  }
  return out;
}

} // namespace durable::bench
