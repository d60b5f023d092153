#include <algorithm>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "durable/storage/pg/json_rows.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"
#include "durable/storage/pg/statements.hpp"
#include "durable/storage/pg/transaction_runner.hpp"
#include "durable/stored_ranges.hpp"

/// Inserting new executions: insert() and the rows of insert_in()
/// (outbox.hpp), a commit in doubt settled by inserting again.
namespace durable::storage::pg {

namespace {

/// Rows per INSERT statement: bounds the size of its JSON parameter.
constexpr std::size_t insert_chunk = 1000;

} // namespace

std::vector<insert_outcome>
pg_store::impl::insert_rows(pqxx::transaction_base& tx,
                            std::vector<execution_record>& rows,
                            std::vector<store_event>* events, bool prepared) {
  using kind = insert_outcome::kind;
  std::vector<insert_outcome> out(rows.size());
  std::vector<bool> inserted(rows.size(), false);
  for (std::size_t begin = 0; begin < rows.size(); begin += insert_chunk) {
    const auto end = std::min(rows.size(), begin + insert_chunk);
    auto batch = all_columns();
    for (auto i = begin; i < end; ++i)
      batch.add(rows[i]);
    std::vector<param> ps{batch.take(), now_param()};
    pqxx::result res;
    if (prepared) {
      res = exec(tx, st_insert, ps);
    } else {
      auto ptrs = pointers(ps);
      res = tx.exec_params(insert_sql,
                           pqxx::prepare::make_dynamic_params(ptrs));
    }
    // Match each returned row to the first unmatched row of the chunk with
    // the same identity (a batch may repeat an id).
    for (const auto& row : res) {
      std::string id = row[0].c_str();
      auto sid = row[1].is_null() ? std::optional<std::string>{}
                                  : std::optional<std::string>{row[1].c_str()};
      auto key = row[2].is_null() ? std::optional<std::string>{}
                                  : std::optional<std::string>{row[2].c_str()};
      for (auto i = begin; i < end; ++i) {
        if (!inserted[i] && rows[i].id == id && rows[i].sleeping_id == sid
            && rows[i].idempotency_key == key) {
          inserted[i] = true;
          break;
        }
      }
    }
  }
  // Why the others were not stored, in the memory store's order: a known
  // idempotency key, then a known id, then a known sleeping id.
  std::vector<std::string> ids, sids, keys;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (inserted[i])
      continue;
    ids.push_back(rows[i].id);
    if (rows[i].sleeping_id)
      sids.push_back(*rows[i].sleeping_id);
    if (rows[i].idempotency_key)
      keys.push_back(*rows[i].idempotency_key);
  }
  std::unordered_set<std::string> known_ids;
  std::unordered_map<std::string, std::string> by_sid;
  // A known key's execution and task.
  std::unordered_map<std::string, std::pair<std::string, std::string>> by_key;
  if (!ids.empty()) {
    std::vector<param> ps{to_array_literal(ids), to_array_literal(sids),
                          to_array_literal(keys)};
    auto ptrs = pointers(ps);
    auto res = prepared
                 ? exec(tx, st_conflicts, ps)
                 : tx.exec_params(conflicts_sql,
                                  pqxx::prepare::make_dynamic_params(ptrs));
    for (const auto& row : res) {
      std::string id = row[0].c_str();
      if (!row[1].is_null())
        by_sid.emplace(row[1].c_str(), id);
      if (!row[2].is_null())
        by_key.emplace(row[2].c_str(), std::pair{id, row[3].c_str()});
      known_ids.insert(std::move(id));
    }
  }
  const execution_record* earliest = nullptr;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (inserted[i]) {
      out[i] = {kind::inserted, r.id};
      if (!events)
        continue;
      if (r.status == execution_status::ready
          && (!earliest || r.start_at < earliest->start_at))
        earliest = &r;
      if (r.is_sleeping())
        events->push_back({store_event::type::deadline,
                           r.id,
                           {},
                           {},
                           r.expires_at.value_or(r.start_at)});
      continue;
    }
    if (r.idempotency_key)
      if (auto it = by_key.find(*r.idempotency_key); it != by_key.end()) {
        out[i] = {kind::duplicate_key, it->second.first, it->second.second};
        continue;
      }
    if (known_ids.contains(r.id)) {
      out[i] = {kind::duplicate_id, r.id};
      continue;
    }
    if (r.sleeping_id)
      if (auto it = by_sid.find(*r.sleeping_id); it != by_sid.end()) {
        out[i] = {kind::duplicate_sleeping_id, it->second};
        continue;
      }
    // The conflicting row vanished again (erased concurrently).
    out[i] = {kind::duplicate_id, r.id};
  }
  if (earliest)
    events->push_back({store_event::type::work_ready,
                       earliest->id,
                       {},
                       {},
                       earliest->start_at});
  return out;
}

std::vector<insert_outcome>
pg_store::impl::insert_storable(std::vector<execution_record>& rows,
                                const std::function<std::vector<insert_outcome>(
                                  std::vector<execution_record>&)>& insert) {
  std::vector<insert_outcome> out(rows.size());
  std::vector<std::size_t> kept;
  kept.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (auto refused = stored_ranges::refused_insert(rows[i]))
      out[i] = std::move(*refused);
    else
      kept.push_back(i);
  }
  if (kept.size() == rows.size())
    return insert(rows);
  std::vector<execution_record> storable;
  storable.reserve(kept.size());
  for (auto i : kept)
    storable.push_back(std::move(rows[i]));
  if (storable.empty())
    return out;
  auto stored = insert(storable);
  for (std::size_t k = 0; k < kept.size() && k < stored.size(); ++k)
    out[kept[k]] = std::move(stored[k]);
  return out;
}

std::vector<insert_outcome>
pg_store::insert(std::vector<execution_record> rows) {
  if (rows.empty())
    return {};
  auto& d = *impl_;
  return d.insert_storable(rows, [&d](std::vector<execution_record>& storable) {
    const bool want = d.wants_events();
    std::vector<store_event> events;
    d.lower_floors(d.floors.needed(storable, to_micros(d.now())));
    auto body = [&](pqxx::work& tx) {
      events.clear();
      auto res = d.insert_rows(tx, storable, want ? &events : nullptr, true);
      d.announce(tx, events, true);
      return res;
    };
    std::vector<insert_outcome> out;
    try {
      out = d.run<pqxx::work>("insert", impl::mode::write, body);
    } catch (const store_error& e) {
      if (e.failure() != store_failure::in_doubt)
        throw;
      out = d.settle_in_doubt_insert(storable, body, e);
    }
    d.notify(std::move(events));
    return out;
  });
}

template <class Body>
std::vector<insert_outcome> pg_store::impl::settle_in_doubt_insert(
  const std::vector<execution_record>& rows, Body& body,
  const store_error& first) {
  // The reply to COMMIT was lost: the rows are all stored or none is.
  // Inserting them again tells which and stores them if not; a row the
  // first attempt stored comes back as a duplicate of itself (its own id,
  // key or sleeping id), which is this insert's success.
  std::vector<insert_outcome> out;
  try {
    out = run<pqxx::work>("insert", mode::idempotent, body);
  } catch (const store_error& e) {
    throw store_error(store_failure::in_doubt,
                      fmt::format("{}; settling it failed too: {}",
                                  first.what(), e.what()));
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    if (out[i].result != insert_outcome::kind::inserted
        && out[i].execution_id == rows[i].id)
      out[i].result = insert_outcome::kind::inserted;
  return out;
}

} // namespace durable::storage::pg
