#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/execution_record.hpp"
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql/row_codec.hpp"
#include "durable/storage/mysql_store.hpp"
#include "durable/store.hpp"

/// How every call of the MySQL store runs: one transaction (`txn`), run,
/// committed and retried by `mysql_store::run`. Internal to storage/mysql.
///
/// **Threading.** run() takes its lane's mutex (the main connection's, or
/// the lease connection's for renewals, their release and leadership) for
/// the whole call, so a txn is only ever used by the thread that holds
/// it. Listeners are called
/// after the mutex is released (mysql_store::notify).
///
/// **Durability.** Every call is one transaction at READ COMMITTED. A
/// write locks what it reads and changes (`FOR UPDATE`; a claim `SKIP
/// LOCKED`), and writes rows guarded by their version. A txn not committed
/// rolls back when destroyed, so a call that throws committed nothing,
/// unless its COMMIT lost the connection (`in_doubt`). Its events are
/// announced only after the commit.
///
/// **Retries.** A deadlock or a lock wait timeout (`conflict`) runs the
/// call again, up to `max_conflict_retries` times; a lost connection
/// (`unavailable`) reconnects and runs it again until `reconnect_timeout`
/// passed. A COMMIT whose answer was lost is `in_doubt` for a write (the
/// caller re-reads) and retried for a read. Everything else fails at once.
///
/// **Corrupt rows.** As in the SQLite store: a row read through rows()
/// that cannot be decoded is rewritten as `failed` and announced; a read
/// throws `needs_repair` and runs again as a write.
namespace durable::storage {

namespace mysql_detail {

/// Thrown inside a read transaction that met a corrupt row: the call is
/// re-run as a write, which may repair it.
struct needs_repair {};

/// What run() throws for a failed call: a store_error naming the call and
/// the server, with the MySQL error code (0 for none) for the callers that
/// act on it without quoting the server's message.
class call_error : public store_error {
public:
  call_error(store_failure f, std::string message, unsigned code)
    : store_error(f, std::move(message)), code_(code) {}

  unsigned code() const noexcept {
    return code_;
  }

private:
  unsigned code_;
};

} // namespace mysql_detail

/// One transaction of one store call: START TRANSACTION in the
/// constructor, ROLLBACK in the destructor unless commit() ran. Holds what
/// the call announces.
class mysql_store::txn {
public:
  using query = mysql_detail::query;

  txn(mysql_detail::connection& db, timestamp now, bool write);

  ~txn();

  txn(const txn&) = delete;
  txn& operator=(const txn&) = delete;

  void commit();

  /// The store's clock, read once when the transaction began.
  timestamp now() const noexcept {
    return now_;
  }

  bool writing() const noexcept {
    return write_;
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
  /// cannot be).
  std::vector<execution_record> rows(query& q);

  /// The row `id`; locked until the commit in a write.
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
  bool repair(mysql_detail::decoded& d);

  void found_corrupt(const std::string& id, std::string detail);

  mysql_detail::connection& db_;
  timestamp now_;
  bool write_;
  bool done_ = false;
  std::vector<store_event> events_;
};

template <class F>
auto mysql_store::run(const char* what, bool write, F&& fn) {
  return run(main_, what, write, std::forward<F>(fn));
}

template <class F>
auto mysql_store::run(lane& l, const char* what, bool write, F&& fn) {
  using result_type = decltype(fn(std::declval<txn&>()));
  std::optional<result_type> result;
  std::vector<store_event> events;
  {
    std::lock_guard guard{l.mutex};
    const auto give_up = std::chrono::steady_clock::now()
                         + opts_.reconnect_timeout;
    int conflicts = 0;
    for (bool w = write;;) {
      try {
        auto& db = conn(l);
        txn tx{db, clock_now(), w};
        try {
          result.emplace(fn(tx));
        } catch (const mysql_detail::needs_repair&) {
          if (w)
            throw durable::error("repair requested inside a write");
          w = true;
          continue; // ~txn rolls back; run again as a write
        }
        tx.commit();
        events = std::move(tx.events());
        break;
      } catch (const mysql_detail::mysql_error& e) {
        result.reset();
        auto f = e.failure();
        if (f == store_failure::in_doubt && !w)
          f = store_failure::unavailable; // a read committed nothing
        if (f == store_failure::conflict
            && ++conflicts <= opts_.max_conflict_retries) {
          std::this_thread::sleep_for(std::chrono::milliseconds(conflicts));
          continue;
        }
        if (f == store_failure::unavailable
            && std::chrono::steady_clock::now() < give_up) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        throw mysql_detail::call_error(f,
                                       fmt::format("mysql store {} ({}): {}",
                                                   what, redacted_url(),
                                                   e.what()),
                                       e.code());
      }
    }
  }
  notify(std::move(events));
  return std::move(*result);
}

} // namespace durable::storage
