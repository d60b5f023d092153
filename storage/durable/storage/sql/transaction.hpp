#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/execution_record.hpp"
#include "durable/storage/sql/dialect.hpp"
#include "durable/storage/sql/row_codec.hpp"
#include "durable/storage/sql/statements.hpp"
#include "durable/store.hpp"
#include "durable/store_rules.hpp"

/// One transaction of one call of the SQLite or the MySQL store, and what
/// every call reads and writes through it. Internal to storage/sql; each
/// store derives its `txn` from `transaction<its connection>` and runs it
/// in its own `run()` (sqlite/transaction.hpp, mysql/transaction.hpp),
/// which adds the locking and the retries of its database.
///
/// `Db` is the backend's connection: `begin(write)`, `commit()`,
/// `rollback_quietly()`, `prepare(sql)` returning a `Db::query` (binds.hpp
/// and the readers row_codec.hpp names), `Db::error` (a store_error with
/// `is_constraint()`), `Db::raced(error)` (see insert_new()), and
/// `Db::dialect` (dialect.hpp).
///
/// **Threading.** Not thread-safe: the store's run() holds the mutex of
/// the connection for the transaction's whole life.
///
/// **Durability.** Begun in the constructor, rolled back by the destructor
/// unless commit() ran, so a call that throws committed nothing (unless
/// its COMMIT's answer was lost: the backend's run() decides). A write
/// reads the rows it changes with the dialect's `lock_rows` and writes them
/// guarded by their version. Events are collected here and announced by
/// run() only after the commit.
///
/// **Corrupt rows.** Every row read through rows() is decoded; one that
/// cannot be (or holds a number out of range) is repaired: rewritten as
/// `failed` and announced (`corrupt`, and `finished` to a parent or a
/// waiter), or skipped if even that write fails. A read transaction cannot
/// write, so it throws `needs_repair` and run() runs the whole call again
/// as a write. That is an exception on purpose: the signal has to leave
/// the caller's code (a get, a listing, a cascade) wherever it met the
/// row, and none of it may go on with a partial result.
namespace durable::storage::sql_detail {

/// Thrown inside a read transaction that met a corrupt row: the call is
/// re-run as a write, which may repair it.
struct needs_repair {};

template <class Db>
class transaction {
public:
  using query = typename Db::query;
  using error = typename Db::error;

  transaction(Db& db, timestamp now, bool write)
    : db_(db), now_(now), write_(write) {
    db_.begin(write);
  }

  ~transaction() {
    if (!done_)
      db_.rollback_quietly();
  }

  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

  void commit() {
    db_.commit();
    done_ = true;
  }

  /// The store's clock, read once when the transaction began.
  timestamp now() const noexcept {
    return now_;
  }

  /// The SQL in which the backend differs (dialect.hpp).
  static const dialect& sql_dialect() noexcept {
    return Db::dialect;
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
  /// cannot be). Every row is read before any repair writes.
  std::vector<execution_record> rows(query& q) {
    std::vector<decoded> raw;
    while (q.step())
      raw.push_back(decode_row(q));
    std::vector<execution_record> out;
    out.reserve(raw.size());
    for (auto& d : raw)
      if (!d.corrupt() || repair(d))
        out.push_back(std::move(d.row));
    return out;
  }

  /// The row `id`; in a write, locked until the commit (`lock_rows`).
  std::optional<execution_record> row_by_id(const std::string& id) {
    static const std::string locked = by_id_sql()
                                      + std::string{Db::dialect.lock_rows};
    std::vector<execution_record> found;
    {
      auto q = prepare(write_ ? locked : by_id_sql());
      q.bind(1, id);
      found = rows(q);
    }
    if (found.empty())
      return std::nullopt;
    return std::move(found.front());
  }

  /// The id of the row where one column equals `value` (`sql` is one of
  /// the single-column statements, ?1 the value).
  std::optional<std::string> id_where(const char* sql,
                                      const std::string& value) {
    auto q = prepare(sql);
    q.bind(1, value);
    if (q.step())
      return q.text(0);
    return std::nullopt;
  }

  /// The rows `ids` (sorted, without repeats) that exist, by id, read in
  /// as few statements as a batch allows (one per `ids_per_read`). In a
  /// write they are locked in id order (`lock_rows`), so two batches that
  /// share rows wait for each other instead of deadlocking. Corrupt rows
  /// come back repaired, as from rows().
  std::unordered_map<std::string, execution_record>
  rows_by_ids(const std::vector<std::string>& ids) {
    std::unordered_map<std::string, execution_record> out;
    out.reserve(ids.size());
    for (std::size_t from = 0; from < ids.size(); from += ids_per_read) {
      const auto n = std::min(ids_per_read, ids.size() - from);
      // Parameters come in powers of two, so that a few texts serve every
      // batch size (each text is a prepared statement kept by the
      // connection); the unused ones repeat the last id.
      std::size_t width = 1;
      while (width < n)
        width *= 2;
      auto q = prepare(by_ids_sql(width));
      for (std::size_t i = 0; i < width; ++i)
        q.bind(static_cast<int>(i + 1), ids[from + std::min(i, n - 1)]);
      for (auto& r : rows(q)) {
        auto id = r.id;
        out.insert_or_assign(std::move(id), std::move(r));
      }
    }
    return out;
  }

  /// The most ids one statement of rows_by_ids() reads.
  static constexpr std::size_t ids_per_read = 256;

  // -- writing rows -----------------------------------------------------------

  /// Writes `r` over the stored row if its version is still `expected`.
  bool update(const execution_record& r, std::uint64_t expected) {
    auto q = prepare(guarded_update_sql());
    bind_row(q, r);
    q.bind(version_param, static_cast<std::int64_t>(expected));
    return q.run() == 1;
  }

  /// Stores a new row; one already claimed gets its lease counted from
  /// now (store_rules::lease_from_write). Throws `error` with
  /// is_constraint() if a unique index refuses it.
  void insert(const execution_record& r) {
    auto q = prepare(insert_sql());
    if (r.owner) {
      auto leased = r;
      store_rules::lease_from_write(leased, now_);
      bind_row(q, leased);
    } else {
      bind_row(q, r);
    }
    q.run();
  }

  /// insert() of a row the call has just found new (its id, key and
  /// sleeping id free). Where another writer may take one of them between
  /// that check and this insert, the backend turns the unique index's
  /// refusal into a conflict (`Db::raced`), and its run() runs the call
  /// again, which then finds the other writer's row.
  void insert_new(const execution_record& r) {
    try {
      insert(r);
    } catch (const error& e) {
      if (!e.is_constraint())
        throw;
      Db::raced(e);
    }
  }

private:
  /// The rows with ids ?1..?width, in id order; locked in a write.
  const std::string& by_ids_sql(std::size_t width) const {
    // One text per power of two up to ids_per_read, built once.
    static const auto texts = [] {
      std::vector<std::string> out;
      for (std::size_t w = 1; w <= ids_per_read; w *= 2) {
        std::string sql = select_sql() + "WHERE id IN (";
        for (std::size_t i = 1; i <= w; ++i)
          sql += fmt::format("{}?{}", i == 1 ? "" : ", ", i);
        out.push_back(sql + ") ORDER BY id");
        out.push_back(out.back() + std::string{Db::dialect.lock_rows});
      }
      return out;
    }();
    std::size_t slot = 0;
    while ((std::size_t{1} << slot) < width)
      ++slot;
    return texts[2 * slot + (write_ ? 1 : 0)];
  }

  /// Rewrites a corrupt row as failed. False if the row cannot be written
  /// either (it is then skipped by whoever read it).
  bool repair(decoded& d) {
    if (!write_)
      throw needs_repair{};
    auto what = d.detail();
    auto& r = d.row;
    r.status = execution_status::failed;
    r.error = execution_error{error_kind::generic, d.error_message(), false,
                              true};
    r.finished_at = now_;
    r.closed_at = now_;
    r.updated_at = now_;
    r.lease_expires_at.reset();
    r.owner.reset();
    r.run_output.reset();
    r.version += 1;
    auto skipped = [&](const char* why) {
      found_corrupt(r.id, fmt::format("{}; it cannot be marked failed, so "
                                      "it is skipped: {}",
                                      what, why));
      return false;
    };
    try {
      // Guarded by id only: the stored version may be what is broken; the
      // row is held (the write lock, or read with `lock_rows`).
      auto q = prepare(update_sql());
      bind_row(q, r);
      if (q.run() != 1)
        return skipped("the row vanished");
    } catch (const error& e) {
      // A lost connection or a lock is not the row's fault: the backend's
      // run() runs the call again.
      if (e.failure() != store_failure::fatal)
        throw;
      return skipped(e.what());
    }
    found_corrupt(r.id, fmt::format("{}; marked failed", what));
    if (r.parent || r.watched)
      events_.push_back({store_event::type::finished,
                         r.id,
                         store_rules::parent_id_of(r),
                         {},
                         now_});
    return true;
  }

  /// Announces (after commit) that row `id` was found corrupt.
  void found_corrupt(const std::string& id, std::string detail) {
    store_event e{store_event::type::corrupt, id, {}, {}, now_};
    e.detail = std::move(detail);
    events_.push_back(std::move(e));
  }

  Db& db_;
  timestamp now_;
  bool write_;
  bool done_ = false;
  std::vector<store_event> events_;
};

} // namespace durable::storage::sql_detail
