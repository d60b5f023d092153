#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "durable/listener_set.hpp"
#include "durable/store.hpp"

namespace durable::storage {

// The internals live in sqlite/ (sqlite/README.md).
namespace sqlite_detail {

class connection;

} // namespace sqlite_detail

/// How a SQLite store opens its database.
struct sqlite_options {
  /// How long a call waits for another process's write lock before it fails
  /// (SQLite's `busy_timeout`).
  millis busy_timeout{5000};
  /// `PRAGMA synchronous`. `FULL` (the default) syncs the write-ahead log at
  /// every commit, so a commit survives a power loss; `NORMAL` survives a
  /// process crash only, and is faster.
  enum class sync_mode : std::uint8_t { full, normal } synchronous
    = sync_mode::full; ///< The durability of a commit (see sync_mode).
  /// The store's clock. Tests inject a fake clock so that leases, start
  /// times and deadlines move without sleeping. Called with the store's
  /// mutex held, from any thread.
  std::function<timestamp()> clock = durable::system_now;
};

/// A `durable::store` in one SQLite database file: the embedded, durable
/// default for single-machine deployments.
///
/// Every execution is one row of the table `executions`. Times are INTEGER
/// microseconds, statuses and kinds their stored integers, sub-objects
/// (retry options, parent link, children, finalize, error) JSON text. The
/// schema is versioned (`PRAGMA user_version`) and migrated when the store
/// opens; a database written by a newer binary is refused.
///
/// **Processes.** Several processes may open the same file: the database
/// runs in WAL mode and every write is a `BEGIN IMMEDIATE` transaction, so
/// writers are serialized by SQLite's lock (a claim never takes a row that
/// another process claimed). A writer waits up to `busy_timeout` for the
/// lock. The file must live on a local file system (WAL needs shared
/// memory).
///
/// **Threading.** Every member function is safe to call from any thread.
/// The store owns one connection, guarded by one mutex: calls from the same
/// process are serialized, each is atomic as a whole. Listeners run after
/// the commit, on the calling thread, outside that mutex and serialized by
/// a second one; they must not call back into the store.
///
/// **Durability.** A call that returns has committed what it reports (to
/// the disk with `synchronous = FULL`, to the OS otherwise). A call that
/// throws committed nothing (each call is one transaction and an error
/// rolls it back), unless it throws a store_error whose failure() is
/// `in_doubt`: the OS failed the COMMIT's write or sync, and the WAL may
/// still hold the transaction (unlike PostgreSQL's, this store's apply()
/// does not settle that itself). A batch (`insert`, `apply`) is one
/// transaction in which each row is still guarded: a duplicate or a version
/// conflict fails that row only.
///
/// **Children that collide.** As in memory_store: a transition whose child
/// reuses an existing id, sleeping id or idempotency key is `rejected`
/// (rolled back to a savepoint); the rest of the batch is written.
///
/// **Corrupt rows.** A row whose columns cannot be decoded (broken JSON,
/// an unknown status or kind) never crashes the process. Whoever reads it
/// (claim, get, apply, …) rewrites it as `failed` with the non-retryable
/// error "Corrupt stored execution: <what>", fields that cannot be decoded
/// reset to their defaults, and announces its end like any other. A row that
/// cannot even be rewritten is skipped. Either way listeners hear a
/// `corrupt` event naming the row and what was wrong (the executor passes
/// it to its observer); the store itself prints nothing. An unfinished row
/// holding a number out of range (stored_ranges.hpp; SQLite keeps any
/// 64-bit integer, and turns one that overflows into a REAL, which is not
/// decoded) is failed the same way, with "Stored execution is invalid:
/// <what>" and its fields as they were.
///
/// **Errors.** SQLite failures surface as `store_error` whose message names
/// the call, the path and SQLite's message, and whose failure() says what
/// the caller can do (sqlite/README.md has the table): `unavailable` for a
/// lock another process held past `busy_timeout` (nothing written; the same
/// call succeeds once it is free), `corrupt` for a file that is not a
/// database or a damaged page, `in_doubt` for an I/O error during COMMIT
/// only, `fatal` otherwise (a full disk, a read-only or unopenable file
/// included). Other refusals (a newer schema, a file that cannot be
/// switched to WAL) are a plain `durable::error`.
class sqlite_store final : public durable::store {
public:
  /// The schema version this binary writes (`PRAGMA user_version`).
  static constexpr int schema_version = 6;

  // -- constructors, destructors, and assignment operators -------------------

  /// Opens (creating it if needed) the database at `path` and migrates its
  /// schema. Throws durable::error naming the path if the file cannot be
  /// opened, and "database schema version N is newer than this binary
  /// supports (M)" if a newer binary wrote it.
  explicit sqlite_store(const std::string& path, sqlite_options opts = {});

  ~sqlite_store() override;

  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  // -- properties -------------------------------------------------------------

  /// The path the store was opened with.
  const std::string& path() const noexcept {
    return path_;
  }

  /// Replaces the clock; every later call uses it.
  void set_clock(std::function<timestamp()> clock);

  /// The schema version stored in the database (tests and tools).
  int stored_schema_version();

  /// The number of stored executions (tests and tools).
  std::size_t size();

  /// Runs SQL text as it is, outside any transaction of the store: for
  /// maintenance and for tests that damage rows on purpose. The text must
  /// never be built from values (nothing is bound). Throws durable::error.
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

  /// Served by the indexes on `(created_at, id)`, `(status, created_at,
  /// id)`, `(task_id, created_at, id)` and the parent index.
  list_page list(const list_request& req) override;

  status_counts count_by_status(const execution_filter& f) override;
  std::vector<ready_backlog_entry> ready_backlog() override;

  std::optional<execution_record> watch(const std::string& id) override;

  bool erase(const std::string& id) override;

  /// One write transaction: the roots through the index of finished roots,
  /// each tree through the parent index (sqlite/prune.cpp).
  prune_result prune(const prune_request& req) override;

  void report_node(const node_report& r) override;

  std::vector<node_info> nodes() override;

  std::vector<finished_count> finished_by_minute(timestamp from,
                                                 timestamp to) override;

  std::uint64_t subscribe(store_listener listener) override;

  void unsubscribe(std::uint64_t token) override;

private:
  class txn;

  /// Runs `fn(txn&)` in one transaction (immediate if `write`) and commits.
  /// A read that meets a corrupt row is re-run as a write, so that the row
  /// can be repaired. Events collected by `fn` are announced after commit.
  template <class F>
  auto run(const char* what, bool write, F&& fn);

  void notify(std::vector<store_event>&& events);

  // -- state ------------------------------------------------------------------

  std::string path_;
  std::mutex mutex_;
  std::function<timestamp()> clock_;
  std::unique_ptr<sqlite_detail::connection> db_;

  // -- listeners --------------------------------------------------------------

  /// Its empty() lets commits skip building events nobody listens to.
  listener_set listeners_;
};

/// Opens the SQLite store at `path` (see sqlite_store).
std::shared_ptr<durable::store> sqlite(const std::string& path,
                                       sqlite_options opts = {});

} // namespace durable::storage
