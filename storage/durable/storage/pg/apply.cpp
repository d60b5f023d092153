#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "durable/storage/pg/batch_apply.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"
#include "durable/storage/pg/statements.hpp"
#include "durable/storage/pg/transaction_runner.hpp"
#include "durable/stored_ranges.hpp"

/// pg_store::apply() around the batch (batch_apply.hpp): transitions with
/// a number out of range are refused before the batch, a batch whose
/// commit is in doubt is settled by reading its rows back, and one that a
/// row's data failed is applied one transition at a time.
namespace durable::storage::pg {

std::vector<write_outcome> pg_store::apply(std::vector<transition> ts) {
  if (ts.empty())
    return {};
  auto& d = *impl_;
  // A transition that would store a number out of range never reaches the
  // server: it is refused alone, with the row as stored.
  std::vector<write_outcome> out(ts.size());
  std::vector<std::size_t> kept, refused;
  kept.reserve(ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (auto reason = stored_ranges::refused_write(ts[i])) {
      out[i].status = write_status::refused;
      out[i].reason = std::move(*reason);
      refused.push_back(i);
    } else {
      kept.push_back(i);
    }
  }
  if (refused.empty())
    return d.apply_storable(ts);
  std::vector<std::string> ids;
  for (auto i : refused)
    ids.push_back(ts[i].next.id);
  std::vector<transition> storable;
  storable.reserve(kept.size());
  for (auto i : kept)
    storable.push_back(std::move(ts[i]));
  if (!storable.empty()) {
    auto written = d.apply_storable(storable);
    for (std::size_t k = 0; k < kept.size() && k < written.size(); ++k)
      out[kept[k]] = std::move(written[k]);
  }
  try {
    auto stored = d.run<pqxx::nontransaction>(
      "apply (read a refused row)", impl::mode::idempotent,
      [&](pqxx::nontransaction& tx) {
        std::unordered_map<std::string, execution_record> found;
        for (const auto& row : exec(tx, st_get_many, {to_array_literal(ids)})) {
          auto r = decode(row);
          auto id = r.id;
          found.emplace(std::move(id), std::move(r));
        }
        return found;
      });
    for (std::size_t k = 0; k < refused.size(); ++k)
      if (auto it = stored.find(ids[k]); it != stored.end())
        out[refused[k]].current = it->second;
  } catch (const std::exception&) {
    // Left without them: the writer re-reads.
  }
  return out;
}

std::vector<write_outcome>
pg_store::impl::apply_storable(std::vector<transition>& ts) {
  auto& d = *this;
  try {
    return d.apply_batch(ts);
  } catch (const store_error& e) {
    switch (e.failure()) {
      case store_failure::in_doubt:
        return d.settle_in_doubt(ts);
      case store_failure::fatal:
        // One row's data (invalid bytes, a trigger's error, a check) fails
        // the statement of the whole batch: apply each alone, so that only
        // the rows that fail by themselves are refused.
        return d.apply_each(ts, e.what());
      default:
        throw; // unavailable or conflicting: nothing written, for any row
    }
  }
}

std::vector<write_outcome>
pg_store::impl::settle_in_doubt(std::vector<transition>& ts) {
  // The commit may have happened. Every transition is guarded by its
  // version, so each row read back tells what became of it: one that
  // carries its transition was written (with its children and cascade,
  // in the same commit); one still at its expected version was not, and
  // may be written again; any other lost to another writer. The
  // announcements of a commit that did happen are lost: resync.
  std::vector<std::string> ids;
  ids.reserve(ts.size());
  for (const auto& t : ts)
    ids.push_back(t.next.id);
  std::unordered_map<std::string, execution_record> stored;
  run<pqxx::nontransaction>(
    "apply (re-read after a commit in doubt)", mode::idempotent,
    [&](pqxx::nontransaction& tx) {
      stored.clear();
      for (const auto& row : exec(tx, st_get_many, {to_array_literal(ids)})) {
        auto r = decode(row);
        auto id = r.id;
        stored.emplace(std::move(id), std::move(r));
      }
      return true;
    });
  std::vector<write_outcome> out(ts.size());
  std::vector<transition> again;
  std::vector<std::size_t> again_at;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    auto it = stored.find(ts[i].next.id);
    if (it == stored.end()) {
      out[i] = {write_status::not_found, std::nullopt};
    } else if (carries(it->second, ts[i])) {
      out[i] = {write_status::applied, std::move(it->second)};
    } else if (it->second.version == ts[i].expected_version) {
      again_at.push_back(i);
      again.push_back(std::move(ts[i]));
    } else {
      out[i] = {write_status::conflict, std::move(it->second)};
    }
  }
  if (!again.empty()) {
    auto retried = apply_batch(again);
    for (std::size_t k = 0; k < again_at.size() && k < retried.size(); ++k)
      out[again_at[k]] = std::move(retried[k]);
  }
  store_event resync;
  resync.kind = store_event::type::resync;
  notify({resync});
  return out;
}

std::vector<write_outcome>
pg_store::impl::apply_each(std::vector<transition>& ts,
                           const std::string& batch_error) {
  std::vector<write_outcome> out(ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i) {
    std::vector<transition> one;
    one.push_back(std::move(ts[i]));
    if (ts.size() == 1) {
      out[i].reason = batch_error; // it failed alone already
    } else {
      try {
        out[i] = std::move(apply_batch(one).front());
        continue;
      } catch (const store_error& e) {
        if (e.failure() == store_failure::in_doubt) {
          out[i] = std::move(settle_in_doubt(one).front());
          continue;
        }
        if (e.failure() != store_failure::fatal)
          throw;
        out[i].reason = e.what();
      }
    }
    out[i].status = write_status::refused;
    // The row as stored, so that the writer can record why it failed.
    try {
      out[i].current = run<pqxx::nontransaction>(
        "apply (read a refused row)", mode::idempotent,
        [&](pqxx::nontransaction& tx) -> std::optional<execution_record> {
          auto res = exec(tx, st_get, {one.front().next.id});
          if (res.empty())
            return std::nullopt;
          return decode(res[0]);
        });
    } catch (const std::exception&) {
      // Left without it: the writer re-reads.
    }
  }
  return out;
}

} // namespace durable::storage::pg
