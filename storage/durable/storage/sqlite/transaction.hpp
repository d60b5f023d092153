#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/execution_record.hpp"
#include "durable/storage/sql/transaction.hpp"
#include "durable/storage/sqlite/connection.hpp"
#include "durable/storage/sqlite_store.hpp"
#include "durable/store.hpp"

/// How every call of the SQLite store runs: one transaction (`txn`, the
/// shared sql_detail::transaction of ../sql/transaction.hpp on this store's
/// connection), run and committed by `sqlite_store::run`. Internal to
/// storage/sqlite.
///
/// **Threading.** run() takes the store's mutex for the whole transaction,
/// so a txn is only ever used by the thread that holds it. Listeners are
/// called after the mutex is released (sqlite_store::notify).
///
/// **Durability.** A write begins `BEGIN IMMEDIATE`: it takes SQLite's
/// write lock at once, so what it reads stays true until its COMMIT, even
/// with other processes on the file (a claim never takes a row another
/// process claimed). A read is a plain `BEGIN`.
///
/// **Errors.** run() turns a `sqlite_error` into a `store_error` of the
/// same failure (connection.hpp's failure_for), "sqlite store <call>
/// (<path>): <SQLite's message>"; other exceptions pass through unchanged.
/// Nothing is retried, except a read re-run as a write to repair a
/// corrupt row (sql/transaction.hpp); SQLite itself waits up to
/// `busy_timeout` for the lock.
namespace durable::storage {

class sqlite_store::txn
  : public sql_detail::transaction<sqlite_detail::connection> {
public:
  using transaction::transaction;
};

template <class F>
auto sqlite_store::run(const char* what, bool write, F&& fn) {
  using result_type = decltype(fn(std::declval<txn&>()));
  std::optional<result_type> result;
  std::vector<store_event> events;
  {
    std::lock_guard guard{mutex_};
    try {
      for (bool w = write;; w = true) {
        txn tx{*db_, clock_(), w};
        try {
          result.emplace(fn(tx));
        } catch (const sql_detail::needs_repair&) {
          if (w)
            throw durable::error("repair requested inside a write");
          continue; // ~txn rolls back; run again as a write
        }
        tx.commit();
        events = std::move(tx.events());
        break;
      }
    } catch (const sqlite_detail::sqlite_error& e) {
      throw store_error(e.failure(), fmt::format("sqlite store {} ({}): {}",
                                                 what, path_, e.what()));
    }
  }
  notify(std::move(events));
  return std::move(*result);
}

} // namespace durable::storage
