#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "durable/listener_set.hpp"
#include "durable/store.hpp"

namespace durable::storage {

// The internals live in mysql/ (mysql/README.md). No header here names a
// MariaDB type: users of this one neither see nor need Connector/C.
namespace mysql_detail {

class announcements;
class connection;
struct url_parts;

} // namespace mysql_detail

/// How a MySQL store connects.
struct mysql_options {
  /// `mysql://user[:password]@host[:port]/database[?socket=/path]`. Empty:
  /// the environment variable `DURABLE_MYSQL_URL`.
  std::string url;
  /// How long a connect may take.
  millis connect_timeout{5000};
  /// How long a read or a write on the socket may take before the
  /// connection counts as lost.
  millis io_timeout{60000};
  /// How long a call keeps reconnecting to a server it lost before it
  /// fails with `store_failure::unavailable`.
  millis reconnect_timeout{10000};
  /// Connections the calls run on, at most (each opened when first
  /// needed). A call takes a free one, or waits for one when all are
  /// busy; 1 runs every call of the store one after the other, 0 is
  /// refused (durable::error from the constructor). Renewals
  /// and leadership have one more of their own, the announcement reader
  /// another.
  std::size_t pool_size = 4;
  /// `innodb_lock_wait_timeout` of the store's sessions (whole seconds,
  /// rounded up): a row lock not granted in time is a conflict, retried.
  millis lock_wait_timeout{5000};
  /// How often a call runs again after a deadlock or a lock wait timeout
  /// before it fails with `store_failure::conflict`.
  int max_conflict_retries = 10;
  /// How often the store measures the server's clock again (when it has
  /// no `clock` of its own), on the next call that uses the connection.
  millis clock_refresh{30000};
  /// The store's clock. Empty (the default): the server's, as this
  /// machine's clock plus an offset measured at each connect (the midpoint
  /// of a round trip reading `NOW(6)`) and every `clock_refresh`, so that
  /// every node of a cluster agrees on leases and deadlines. Tests inject
  /// a fake clock so that leases, start times and deadlines move without
  /// sleeping. Called from any thread, never with a call's I/O pending.
  std::function<timestamp()> clock{};
  /// Cross-node announcements (mysql/README.md, "Announcements"): each
  /// write commit that announces something also inserts its events into
  /// the table `events`, and a reader per store (a thread and a connection
  /// of its own, started by the first subscribe) polls that table and
  /// hands the other stores' events to this store's listeners. false:
  /// poll-only, the table is neither written nor read, and the engine's
  /// polls alone find other nodes' work (as pg_options::listen = false).
  bool announce = true;
  /// How often the reader polls `events`: the cross-node latency is about
  /// half of it plus a round trip.
  millis announce_interval{10};
  /// How long the reader waits for a number `events` skipped (a commit
  /// that took it and has not finished) before it tells the listeners
  /// `resync`; it still delivers the row if it appears later.
  millis announce_gap_timeout{2000};
  /// How long `events` rows are kept (by the store's clock): the readers
  /// delete older ones, at most 1000 rows per statement.
  millis announce_retention{60000};
};

/// A `durable::store` in a MySQL or MariaDB database (InnoDB, utf8mb4),
/// which several nodes share: MariaDB 10.11 as Debian 12 ships it, through
/// MariaDB Connector/C; the SQL keeps to what MySQL 8.0 accepts too where
/// that costs nothing.
///
/// Every execution is one row of the table `executions`; times are BIGINT
/// microseconds, statuses and kinds their stored integers (as in the
/// SQLite store), ids and keys VARBINARY (compared byte by byte, as the
/// memory store compares them), payloads LONGBLOB (any bytes, exactly),
/// sub-objects JSON text. The schema is versioned (table
/// `durable_migrations`) and migrated at open under `GET_LOCK`.
///
/// **Threading.** Every member function is safe to call from any thread.
/// A call runs on one of `pool_size` connections, each used by one call at a
/// time (a call waits when all are busy); lease renewals, their release and
/// leadership have a connection of their own, so a renewal never waits
/// behind a claim. Listeners run after the commit, on the calling thread,
/// outside the connection's mutex; other nodes' events reach them on the
/// thread of the store's announcement reader, which has one more
/// connection (`announce`).
///
/// **Concurrency.** Transactions run at READ COMMITTED; a claim locks the
/// rows it takes with `FOR UPDATE SKIP LOCKED`, every other write locks
/// the rows it reads (`FOR UPDATE`) and writes them guarded by version, so
/// nodes sharing the database never take the same row twice.
///
/// **Errors.** Failures surface as `store_error`: deadlocks and lock wait
/// timeouts are retried (`max_conflict_retries`, then `conflict`), a lost
/// connection is reconnected and the call retried (up to
/// `reconnect_timeout`, then `unavailable`), a COMMIT whose answer was
/// lost is `in_doubt`, anything else `fatal`.
class mysql_store final : public durable::store {
public:
  /// The schema version this binary writes.
  static constexpr int schema_version = 2;

  /// Connects and migrates. Throws durable::error (a store_error when the
  /// server failed) naming the server, and "database schema version N is
  /// newer than this binary supports (M)".
  explicit mysql_store(mysql_options opts = {});

  ~mysql_store() override;

  mysql_store(const mysql_store&) = delete;
  mysql_store& operator=(const mysql_store&) = delete;

  /// Replaces the clock; every later call uses it (empty: the server's).
  void set_clock(std::function<timestamp()> clock);

  /// The server's clock minus this machine's, as last measured (tests and
  /// tools).
  std::chrono::microseconds server_clock_offset() const noexcept {
    return std::chrono::microseconds{offset_us_.load()};
  }

  /// The schema version stored in the database (tests and tools).
  int stored_schema_version();

  /// Runs SQL text as it is, outside any transaction of the store: for
  /// maintenance and tests. The text must never be built from values.
  void execute(const std::string& sql);

  // -- durable::store ---------------------------------------------------------

  timestamp now() override;

  std::vector<insert_outcome>
  insert(std::vector<execution_record> rows) override;

  std::vector<write_outcome> apply(std::vector<transition> ts) override;

  claim_result claim(const claim_request& req) override;

  std::vector<std::string> renew_leases(const std::string& owner,
                                        millis lease) override;

  std::size_t release_leases(const std::string& owner) override;

  bool try_lead(const std::string& role, const std::string& owner,
                millis lease) override;

  std::optional<execution_record> get(const std::string& id) override;

  std::optional<execution_record>
  get_by_sleeping_id(const std::string& sleeping_id) override;

  std::vector<execution_record>
  children_of(const std::string& parent_id) override;

  sleeper_scan scan_sleepers(std::size_t limit) override;

  list_page list(const list_request& req) override;

  status_counts count_by_status(const execution_filter& f) override;

  std::vector<ready_backlog_entry> ready_backlog() override;

  std::optional<execution_record> watch(const std::string& id) override;

  bool erase(const std::string& id) override;

  prune_result prune(const prune_request& req) override;

  void report_node(const node_report& r) override;

  std::vector<node_info> nodes() override;

  std::vector<finished_count> finished_by_minute(timestamp from,
                                                 timestamp to) override;

  std::uint64_t subscribe(store_listener listener) override;

  void unsubscribe(std::uint64_t token) override;

private:
  class txn;

  /// A connection and the mutex that guards it for a whole call.
  struct lane {
    std::mutex mutex;
    std::unique_ptr<mysql_detail::connection> db;
    /// When the server's clock was last measured on `db`.
    std::chrono::steady_clock::time_point measured_at{};
  };

  /// Runs `fn(txn&)` in one transaction on `l` and commits, retrying
  /// deadlocks, lock wait timeouts and lost connections
  /// (mysql/transaction.hpp). Events collected by `fn` are announced
  /// after commit.
  template <class F>
  auto run(const char* what, bool write, F&& fn);
  template <class F>
  auto run(lane& l, const char* what, bool write, F&& fn);
  template <class F>
  auto run_locked(lane& l, std::unique_lock<std::mutex> guard, const char* what,
                  bool write, F&& fn);

  /// A lane of the pool with its mutex held: the first free one from a
  /// rotating start, or, when all are busy, the start's once it is free.
  std::pair<lane*, std::unique_lock<std::mutex>> take_lane();

  /// One batch of transitions in one transaction (mysql/batch_apply.cpp).
  std::vector<write_outcome> apply_batch(const std::vector<transition>& ts);

  /// What became of `ts` after a COMMIT in doubt: each row read back (one
  /// that carries its transition was written, one still at its expected
  /// version is written again, any other lost), and a `resync`.
  std::vector<write_outcome> settle_in_doubt(const std::vector<transition>& ts);

  /// The rows of one insert in one transaction.
  std::vector<insert_outcome>
  insert_batch(const std::vector<execution_record>& rows);

  /// The connection of `l`, reconnected if the last call lost it; the
  /// server's clock measured again after a connect or every
  /// `clock_refresh`. The caller holds `l.mutex`.
  mysql_detail::connection& conn(lane& l);

  /// now() without the I/O lock.
  timestamp clock_now();

  /// Measures the server's clock offset on `l`'s connection.
  void measure_clock(lane& l);

  /// The server and database, without the password (for messages).
  std::string redacted_url() const;

  void notify(std::vector<store_event>&& events);

  // -- state ------------------------------------------------------------------

  mysql_options opts_;
  std::unique_ptr<mysql_detail::url_parts> where_;
  /// Every call but the lease keeper's (opts_.pool_size lanes; the first
  /// also migrates and runs execute()).
  std::vector<std::unique_ptr<lane>> pool_;
  /// Where take_lane() starts looking.
  std::atomic<std::size_t> next_lane_{0};
  /// Held for a whole claim: two claims of one store on two connections
  /// would skip each other's locked rows (`SKIP LOCKED`), and one of them
  /// could come back empty while the other holds every due row. Claims of
  /// other stores (other nodes) still may; the engine's next poll or
  /// announcement takes what they leave.
  std::mutex claim_mutex_;
  /// renew_leases, release_leases and try_lead: a renewal never waits
  /// behind a long claim, apply or listing of the same store.
  lane leases_;
  /// Guards opts_.clock only: now() never waits for a call's I/O.
  std::mutex clock_mutex_;
  std::atomic<std::int64_t> offset_us_{0};
  listener_set listeners_;
  /// `events` written in each write commit and read by a thread of its
  /// own; null when `opts_.announce` is false. Declared last: destroyed
  /// (its reader stopped) before the listeners it calls.
  std::unique_ptr<mysql_detail::announcements> announce_;
};

/// Opens a MySQL store (see mysql_store).
std::shared_ptr<durable::store> mysql(mysql_options opts = {});

} // namespace durable::storage
