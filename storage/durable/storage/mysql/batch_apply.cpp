#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "durable/storage/mysql/transaction.hpp"
#include "durable/storage/mysql_store.hpp"
#include "durable/storage/sql/apply.hpp"

// mysql_store::apply(): the batch as the SQLite store applies it
// (sql/apply.hpp: rows locked in id order, each transition under a
// savepoint), plus what only a server can do to it: a COMMIT whose answer
// was lost is settled by reading the rows back, and a batch the server
// refused for one row's data is applied one transition at a time, so that
// row fails alone.

namespace durable::storage {

std::vector<write_outcome>
mysql_store::apply_batch(const std::vector<transition>& ts) {
  return run("apply", true,
             [&ts](txn& tx) { return sql_detail::apply_transitions(tx, ts); });
}

std::vector<write_outcome>
mysql_store::settle_in_doubt(const std::vector<transition>& ts) {
  std::vector<write_outcome> out;
  out.reserve(ts.size());
  for (const auto& t : ts) {
    auto row = get(t.next.id);
    if (!row) {
      out.push_back({write_status::not_found, std::nullopt});
    } else if (row->version == t.expected_version + 1
               && row->status == t.next.status
               && row->updated_at == t.next.updated_at
               && row->owner == t.next.owner) {
      out.push_back({write_status::applied, std::move(row)});
    } else if (row->version == t.expected_version) {
      // Not written: the version guard makes writing it now safe.
      out.push_back(apply({t}).front());
    } else {
      out.push_back({write_status::conflict, std::move(row)});
    }
  }
  // The commit's own announcements may be lost.
  store_event resync;
  resync.kind = store_event::type::resync;
  notify({std::move(resync)});
  return out;
}

std::vector<write_outcome> mysql_store::apply(std::vector<transition> ts) {
  if (ts.empty())
    return {};
  try {
    return apply_batch(ts);
  } catch (const mysql_detail::call_error& e) {
    if (e.failure() == store_failure::in_doubt)
      return settle_in_doubt(ts);
    if (e.failure() != store_failure::fatal)
      throw;
  }
  // A fatal error failed the batch (data the server refused in one row, a
  // value too long for its column): one transition at a time, so that it
  // fails alone.
  std::vector<write_outcome> out;
  out.reserve(ts.size());
  for (const auto& t : ts) {
    std::vector<transition> one{t};
    try {
      out.push_back(apply_batch(one).front());
    } catch (const mysql_detail::call_error& e) {
      if (e.failure() == store_failure::in_doubt) {
        out.push_back(settle_in_doubt(one).front());
        continue;
      }
      if (e.failure() != store_failure::fatal)
        throw;
      // The error's code, never the server's message (it may quote data).
      std::optional<execution_record> current;
      try {
        current = get(t.next.id);
      } catch (const store_error&) {
      }
      out.push_back({write_status::refused, std::move(current),
                     fmt::format("the MySQL store refused this transition "
                                 "(MySQL error {})",
                                 e.code())});
    }
  }
  return out;
}

} // namespace durable::storage
