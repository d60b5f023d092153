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
#include "durable/storage/mysql/announcements.hpp"
#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql_store.hpp"
#include "durable/storage/sql/transaction.hpp"
#include "durable/store.hpp"

/// How every call of the MySQL store runs: one transaction (`txn`, the
/// shared sql_detail::transaction of ../sql/transaction.hpp on this store's
/// connection), run, committed and retried by `mysql_store::run`.
/// Internal to storage/mysql.
///
/// **Threading.** run() takes its lane's mutex (the main connection's, or
/// the lease connection's for renewals, their release and leadership) for
/// the whole call, so a txn is only ever used by the thread that holds
/// it. Listeners are called after the mutex is released
/// (mysql_store::notify).
///
/// **Durability.** Every call is one transaction at READ COMMITTED. A
/// write locks what it reads and changes (`FOR UPDATE`; a claim `SKIP
/// LOCKED`), and writes rows guarded by their version. A call that throws
/// committed nothing, unless its COMMIT lost the connection (`in_doubt`).
///
/// **Retries.** A deadlock or a lock wait timeout (`conflict`) runs the
/// call again, up to `max_conflict_retries` times; a lost connection
/// (`unavailable`) reconnects and runs it again until `reconnect_timeout`
/// passed. A COMMIT whose answer was lost is `in_doubt` for a write (the
/// caller re-reads) and retried for a read. Everything else fails at once.
namespace durable::storage {

namespace mysql_detail {

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

class mysql_store::txn
  : public sql_detail::transaction<mysql_detail::connection> {
public:
  using transaction::transaction;
};

template <class F>
auto mysql_store::run(const char* what, bool write, F&& fn) {
  auto [l, guard] = take_lane();
  return run_locked(*l, std::move(guard), what, write, std::forward<F>(fn));
}

template <class F>
auto mysql_store::run(lane& l, const char* what, bool write, F&& fn) {
  return run_locked(l, std::unique_lock{l.mutex}, what, write,
                    std::forward<F>(fn));
}

template <class F>
auto mysql_store::run_locked(lane& l, std::unique_lock<std::mutex> guard,
                             const char* what, bool write, F&& fn) {
  using result_type = decltype(fn(std::declval<txn&>()));
  std::optional<result_type> result;
  std::vector<store_event> events;
  {
    const auto give_up = std::chrono::steady_clock::now()
                         + opts_.reconnect_timeout;
    int conflicts = 0;
    for (bool w = write;;) {
      try {
        auto& db = conn(l);
        txn tx{db, clock_now(), w};
        try {
          result.emplace(fn(tx));
        } catch (const sql_detail::needs_repair&) {
          if (w)
            throw durable::error("repair requested inside a write");
          w = true;
          continue; // ~txn rolls back; run again as a write
        }
        if (announce_ && tx.writing())
          announce_->publish(db, tx.events()); // exists iff committed
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
  guard.unlock();
  notify(std::move(events));
  return std::move(*result);
}

} // namespace durable::storage
