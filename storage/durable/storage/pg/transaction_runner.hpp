#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/storage/pg/error_mapping.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"

/// How the PostgreSQL store runs a unit of work: pg_store::impl::run() and
/// run_on(), which take a pooled connection, run a body in a transaction,
/// commit it and retry what error_mapping.hpp says is safe to retry.
/// Internal to storage/pg (the templates are defined here, for the files
/// that run work: pg_store.cpp, batch_apply.cpp, insert.cpp, listing.cpp).
///
/// **Threading.** Any thread, concurrently: each call holds one connection
/// of its pool for its whole duration and shares nothing else but the
/// store's configuration. A call blocks: while it waits for a connection,
/// runs, and sleeps between attempts (opts.backoff_initial doubling up to
/// opts.backoff_max).
///
/// **Durability.** The body's work is durable once run() returns (Txn
/// `pqxx::work` commits it; a `pqxx::nontransaction` commits each statement
/// by itself). A body may run several times: it must start from the same
/// state each time and leave its results to the caller.
///
/// **Errors.** A durable::error the body throws passes through at once,
/// without a retry (the transaction rolls back). Anything else is
/// classified (error_mapping.hpp):
/// - conflict: the body runs again, up to opts.max_conflict_retries times,
///   then store_error `conflict`;
/// - broken connection before COMMIT (or in doubt in mode::idempotent):
///   runs again on a new connection until opts.reconnect_timeout (or the
///   patience given) passed, then store_error `unavailable`; so does
///   waiting that long for a free connection;
/// - broken connection during COMMIT in mode::write: store_error
///   `in_doubt`, never retried (the caller settles it);
/// - anything else: store_error `fatal`, with the message classify()
///   made.
/// Every message names the store's target with its password redacted.
namespace durable::storage::pg {

/// What a body of run() may return to end its transaction itself: on
/// `roll_back` run() returns at once without COMMIT (the transaction's
/// destructor rolls it back; no commit_hook, no retry). For a body that
/// finds, having done part of its work, that its caller must try another
/// way: the result says so where an exception would hide it.
enum class txn_end {
  commit,    ///< commit, as for any other result
  roll_back, ///< end without committing anything
};

/// `text` on one line, without trailing blanks: the newlines and tabs of a
/// server's or libpq's message become spaces.
std::string one_line(std::string text);

template <class Txn, class F>
auto pg_store::impl::run(const char* op, mode m, F&& body)
  -> decltype(body(std::declval<Txn&>())) {
  return run_on<Txn>(pool, op, m, std::forward<F>(body));
}

template <class Txn, class F>
auto pg_store::impl::run_on(connection_pool& p, const char* op, mode m,
                            F&& body,
                            std::optional<std::chrono::milliseconds> patience)
  -> decltype(body(std::declval<Txn&>())) {
  const auto wait = std::min(patience.value_or(opts.reconnect_timeout),
                             opts.reconnect_timeout);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  auto backoff = opts.backoff_initial;
  int conflicts = 0;
  auto pause = [&] {
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, opts.backoff_max);
  };
  for (;;) {
    bool committing = false;
    std::optional<connection_pool::lease> conn;
    try {
      auto free = p.acquire_for(std::max<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()),
        std::chrono::milliseconds{0}));
      if (!free)
        fail(op,
             fmt::format("no free connection within {} ms (all {} busy)",
                         wait.count(), p.size()),
             store_failure::unavailable);
      conn.emplace(std::move(*free));
      // now() never blocks, so the calls that use a connection anyway keep
      // its offset to the server's clock fresh.
      refresh_offset(**conn);
      Txn tx{**conn};
      auto result = body(tx);
      if constexpr (std::is_same_v<decltype(result), txn_end>)
        if (result == txn_end::roll_back)
          return result; // tx's destructor rolls back
      committing = true;
      if (commit_hook)
        commit_hook(op, false);
      tx.commit();
      if (commit_hook)
        commit_hook(op, true);
      return result;
    } catch (const durable::error&) {
      throw;
    } catch (...) {
      auto f = classify(std::current_exception());
      bool broken = f.kind == failure_kind::reconnect;
      if (conn && !(*conn)->is_open())
        broken = true;
      if (broken && f.kind != failure_kind::in_doubt) {
        f.kind = committing ? failure_kind::in_doubt : failure_kind::reconnect;
        if (f.what.empty() || f.kind == failure_kind::in_doubt)
          f.what = "connection to the server lost during COMMIT";
      }
      if (conn && (broken || f.kind == failure_kind::in_doubt))
        conn->discard();
      if (f.kind == failure_kind::in_doubt && m == mode::idempotent)
        f.kind = failure_kind::reconnect;
      conn.reset();
      switch (f.kind) {
        case failure_kind::conflict:
          if (++conflicts < opts.max_conflict_retries) {
            pause();
            continue;
          }
          fail(op,
               fmt::format("{} (gave up after {} attempts)", f.what, conflicts),
               store_failure::conflict);
        case failure_kind::reconnect:
          if (std::chrono::steady_clock::now() < deadline) {
            pause();
            continue;
          }
          fail(op,
               fmt::format("{}; server unreachable for {} ms", one_line(f.what),
                           wait.count()),
               store_failure::unavailable);
        case failure_kind::in_doubt:
          fail(op,
               f.what + "; the outcome is in doubt: re-read the rows concerned",
               store_failure::in_doubt);
        case failure_kind::fatal:
          fail(op, one_line(f.what), store_failure::fatal);
      }
    }
  }
}

} // namespace durable::storage::pg
