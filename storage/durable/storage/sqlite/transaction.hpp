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
#include "durable/storage/sqlite/connection.hpp"
#include "durable/storage/sqlite/row_codec.hpp"
#include "durable/storage/sqlite_store.hpp"
#include "durable/store.hpp"

/// How every call of the SQLite store runs: one transaction (`txn`), run
/// and committed by `sqlite_store::run`. Internal to storage/sqlite.
///
/// **Threading.** run() takes the store's mutex for the whole transaction,
/// so a txn is only ever used by the thread that holds it. Listeners are
/// called after the mutex is released (sqlite_store::notify).
///
/// **Durability.** A write begins `BEGIN IMMEDIATE`: it takes SQLite's
/// write lock at once, so what it reads stays true until its COMMIT, even
/// with other processes on the file (a claim never takes a row another
/// process claimed). A read is a plain `BEGIN`. A txn not committed rolls
/// back when destroyed, so a call that throws committed nothing. Its
/// events are announced only after the commit.
///
/// **Corrupt rows.** Every row read through rows() is decoded; one that
/// cannot be (or holds a number out of range) is repaired: rewritten as
/// `failed` and announced (`corrupt`, and `finished` to a parent or a
/// waiter), or skipped if even that write fails. A read transaction cannot
/// write, so it throws `needs_repair` and run() runs the whole call again
/// as a write. That is an exception on purpose: the signal has to leave
/// the caller's code (a get, a listing, a cascade) wherever it met the
/// row, and none of it may go on with a partial result.
///
/// **Errors.** run() turns a `sqlite_error` into a `store_error` of the
/// same failure (connection.hpp's failure_for), "sqlite store <call>
/// (<path>): <SQLite's message>"; other exceptions pass through unchanged.
/// Nothing is retried, except a read re-run as a write for a repair;
/// SQLite itself waits up to `busy_timeout` for the lock.
namespace durable::storage {

namespace sqlite_detail {

/// Thrown inside a read transaction that met a corrupt row: the call is
/// re-run as a write, which may repair it.
struct needs_repair {};

} // namespace sqlite_detail

/// One transaction of one store call: BEGIN in the constructor, ROLLBACK in
/// the destructor unless commit() ran. Holds what the call announces.
class sqlite_store::txn {
public:
  using query = sqlite_detail::query;

  txn(sqlite_detail::connection& db, timestamp now, bool write);

  ~txn();

  txn(const txn&) = delete;
  txn& operator=(const txn&) = delete;

  void commit();

  /// The store's clock, read once when the transaction began.
  timestamp now() const noexcept {
    return now_;
  }

  /// What the call announces after its commit.
  std::vector<store_event>& events() noexcept {
    return events_;
  }

  query prepare(const std::string& sql) {
    return db_.prepare(sql);
  }

  // -- reading rows -----------------------------------------------------------

  /// Every row `q` returns, corrupt ones repaired (or skipped if they
  /// cannot be). The statement is finished before any repair writes.
  std::vector<execution_record> rows(query& q);

  std::optional<execution_record> row_by_id(const std::string& id);

  /// The id of the row where one column equals `value` (`sql` is one of
  /// the single-column statements, ?1 the value).
  std::optional<std::string> id_where(const char* sql,
                                      const std::string& value);

  // -- writing rows -----------------------------------------------------------

  /// Writes `r` over the stored row if its version is still `expected`.
  bool update(const execution_record& r, std::uint64_t expected);

  /// Stores a new row; one already claimed gets its lease counted from
  /// now (store_rules::lease_from_write).
  void insert(const execution_record& r);

private:
  /// Rewrites a corrupt row as failed. False if the row cannot be written
  /// either (it is then skipped by whoever read it).
  bool repair(sqlite_detail::decoded& d);

  /// Announces (after commit) that row `id` was found corrupt.
  void found_corrupt(const std::string& id, std::string detail);

  sqlite_detail::connection& db_;
  timestamp now_;
  bool write_;
  bool done_ = false;
  std::vector<store_event> events_;
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
        } catch (const sqlite_detail::needs_repair&) {
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
