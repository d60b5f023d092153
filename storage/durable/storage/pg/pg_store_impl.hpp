#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "durable/listener_set.hpp"
#include "durable/storage/pg/connection_pool.hpp"
#include "durable/storage/pg/listener.hpp"
#include "durable/storage/pg/owner_floors.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/pg/row_codec.hpp"
#include "durable/storage/pg/statements.hpp"

/// The implementation behind pg_store's pimpl, shared by the store's source
/// files (README.md lists them), outbox.cpp and tests. Internal to
/// storage/pg.
namespace durable::storage::pg {

/// What a transition that applied leaves for its events (batch_apply.hpp).
struct applied_write;

/// The NOTIFY that a batch's one statement sends itself (st_apply_announce).
struct announcement {
  /// What the batch announces if every transition applies and no applied
  /// row is a watched top-level row that finished; nullopt: nothing.
  std::optional<std::string> expected;
  /// Sent instead when that does not hold: receivers re-check everything.
  std::string resync;
};

struct pg_store::impl {
  explicit impl(pg_options o);

  // -- configuration ----------------------------------------------------------

  pg_options opts;
  std::string url;
  std::string target;

  // -- clock ------------------------------------------------------------------

  /// Server clock minus local clock, in microseconds.
  std::atomic<std::int64_t> offset_us{0};
  std::atomic<std::int64_t> offset_measured_ns{0};
  std::atomic<bool> refreshing{false};

  /// This host's clock plus offset_us: no I/O, any thread.
  timestamp now();

  /// Measures the clock offset on `c`.
  void measure_offset(pqxx::connection_base& c);

  /// Measures it again on `c` if it is older than `clock_refresh` and no
  /// other call is measuring it: every call that takes a connection does
  /// this first (one round trip per `clock_refresh`). Never throws.
  void refresh_offset(pqxx::connection_base& c) noexcept;

  /// The value of the "now" parameter: the test clock, or NULL (the server's
  /// `now()`).
  param now_param();

  // -- SQL --------------------------------------------------------------------

  /// The schema-qualified table, e.g. `"durable".executions`.
  std::string table;
  std::string conflicts_sql;

  /// The INSERT of a batch of rows given as JSON (json_rows.hpp;
  /// ON CONFLICT DO NOTHING RETURNING identity).
  std::string insert_sql;

  /// The claim statement (tests EXPLAIN it): $1 task ids (text[]), $2 limit,
  /// $3 owner, $4 lease in microseconds, $5 now (NULL: the server's).
  std::string claim_sql;

  /// Every prepared statement: name and SQL (statements.hpp).
  std::vector<named_statement> statements;

  /// Builds the SQL above (once, in the constructor).
  void build_statements();

  /// Runs first in the transaction of a renewal (renew_leases()).
  ///
  /// It turns bitmap scans off. A renewal reads every active row of its
  /// node by `executions_owner`, and for that many rows PostgreSQL prefers
  /// a bitmap scan, which never marks the index entries of dead row
  /// versions as dead: it walked the entry of every row the node had run
  /// since vacuum last passed, on every renewal (140,000 entries for a
  /// node's 5,000 rows after 18 s of a busy run: 50 ms, with the rows it
  /// had locked held that long, and more each second). An index scan
  /// marks a dead entry the first time it meets it. Other statements keep
  /// bitmap scans: some need them (an OR of indexes).
  static constexpr const char* renewal_settings = "SET LOCAL enable_bitmapscan "
                                                  "= off";

  /// Sets the application name and the session's timeouts on a new
  /// connection and prepares every statement on it, or only those named
  /// in `only` (the lease connection needs four of them).
  void prepare(pqxx::connection& c, const std::vector<const char*>& only = {});

  // -- connections ------------------------------------------------------------

  connection_pool pool;
  /// One connection for renew_leases, try_lead and release_leases: a node
  /// whose other calls hold every pooled connection (a burst of reads, a
  /// slow commit) still renews its leases in time.
  connection_pool lease_pool;

  /// Tests only (set before the store is used): called right before each
  /// COMMIT (`committed` false) and after it returned (true) with the
  /// operation's name. What it throws is handled as what COMMIT threw: a
  /// pqxx::in_doubt_error is a commit whose reply was lost, before or
  /// after the server committed.
  std::function<void(const char* op, bool committed)> commit_hook;

  /// How a unit of work may be retried after a broken connection.
  enum class mode {
    write,     ///< in a transaction; in doubt if the connection broke at COMMIT
    idempotent ///< safe to re-run even if it may have committed
  };

  /// Runs `body(txn)` in a transaction of type Txn on a pooled connection,
  /// retrying per error_mapping.hpp, and returns its result. Defined, with
  /// its contract, in transaction_runner.hpp.
  template <class Txn, class F>
  auto run(const char* op, mode m, F&& body)
    -> decltype(body(std::declval<Txn&>()));

  /// run() on a connection of `p` (e.g. lease_pool), giving up after
  /// `patience` (at most opts.reconnect_timeout) instead of
  /// opts.reconnect_timeout.
  template <class Txn, class F>
  auto run_on(connection_pool& p, const char* op, mode m, F&& body,
              std::optional<std::chrono::milliseconds> patience = {})
    -> decltype(body(std::declval<Txn&>()));

  /// How long a lease call (renew_leases, try_lead for `lease`) keeps
  /// reconnecting: half the lease. Past it, the leases it would renew have
  /// run out anyway; failing lets the engine say so and try again at its
  /// next renewal, rather than wait out the whole reconnect_timeout in
  /// silence.
  std::chrono::milliseconds lease_call_patience(millis lease) const;

  /// pg_store::apply's work for transitions whose numbers are in range:
  /// apply_batch(), settled if its commit is in doubt, split by
  /// apply_each() if one row's data failed it.
  std::vector<write_outcome> apply_storable(std::vector<transition>& ts);

  /// pg_store::apply's work: one batch as one commit (or one statement).
  /// Reads `ts` and moves the rows out of it only once it committed, so
  /// that a batch that failed can be settled or split by the callers below.
  std::vector<write_outcome> apply_batch(std::vector<transition>& ts);

  /// The outcomes of a batch whose commit is in doubt, from the rows read
  /// back (a row carrying its transition was written; one still at its
  /// expected version is written again); announces a resync.
  std::vector<write_outcome> settle_in_doubt(std::vector<transition>& ts);

  /// The outcomes of an insert whose commit (of `first`) is in doubt:
  /// `body`, the insert's work, run again until it commits (rows stored
  /// the first time are recognised by their ids). Throws store_error
  /// (in_doubt) if that fails too: the rows may or may not be stored.
  template <class Body>
  std::vector<insert_outcome>
  settle_in_doubt_insert(const std::vector<execution_record>& rows, Body& body,
                         const store_error& first);

  /// A batch that failed with a fatal error, applied one transition at a
  /// time: those that fail alone are `refused` (with the stored row), the
  /// others written. `batch_error` is the batch's failure, the reason of a
  /// batch of one.
  std::vector<write_outcome> apply_each(std::vector<transition>& ts,
                                        const std::string& batch_error);

  /// Throws the store_error of a failed `op`.
  [[noreturn]] void fail(const char* op, const std::string& what,
                         store_failure failure);

  // -- owner leases -----------------------------------------------------------

  /// The owner lease floors this store wrote (owner_floors.hpp).
  owner_floors floors{owner_lease_grace_us / 2};

  /// Writes the floors that rows about to be stored need (on its own
  /// connection, committed before the rows' write starts).
  void lower_floors(std::vector<owner_floors::floor> fs);

  /// Runs `insert` on the rows of `rows` without a number out of range
  /// (stored_ranges.hpp), in order, and gives the others the outcome
  /// `refused`: such a row never reaches the server. The outcomes are in
  /// the order of `rows`.
  static std::vector<insert_outcome>
  insert_storable(std::vector<execution_record>& rows,
                  const std::function<std::vector<insert_outcome>(
                    std::vector<execution_record>&)>& insert);

  // -- operations (inside a transaction) --------------------------------------

  /// Inserts rows with insert()'s outcomes; adds their events to `events`
  /// unless it is null. `prepared`: `tx` runs on one of the pool's
  /// connections (false for a caller's transaction: plain statements).
  std::vector<insert_outcome>
  insert_rows(pqxx::transaction_base& tx, std::vector<execution_record>& rows,
              std::vector<store_event>* events, bool prepared);

  /// Applies plain transitions (no children, no cascade, distinct ids) in
  /// one statement. For each `ts[k]`, `*out[k]` gets the status (an applied
  /// one without its row: that is `ts[k]->next` with what `*applied[k]`
  /// records) and `applied[k]` becomes null unless it applied.
  /// `with_owner`: also read the owner each row had (a cancel announces it);
  /// without it the rows are updated in the order of `ts`.
  /// `announce`: the statement also sends the batch's NOTIFY (the payload
  /// expected if everything applies, and a resync payload for the rest; see
  /// st_apply_announce); not with `with_owner`. `own_writes`: a row that
  /// already carries its transition (the version after it and the same
  /// `updated_at`, status and owner) counts as applied, for a statement
  /// run again after its connection broke, which may have committed.
  void apply_plain(pqxx::transaction_base& tx,
                   const std::vector<const transition*>& ts,
                   std::vector<applied_write*>& applied,
                   std::vector<write_outcome*>& out, bool with_owner,
                   const announcement* announce = nullptr,
                   bool own_writes = false);

  /// Applies one transition of any kind (children under a savepoint, the
  /// cascade) as apply_plain does; `want`: collect the cascade's events.
  void apply_one(pqxx::transaction_base& tx, const transition& t,
                 write_outcome& out, applied_write*& w, bool want);

  /// Records the rows one pass of the cancel cascade cancelled in `w`
  /// (and their events, if `want`).
  void add_cascaded(const pqxx::result& cres, applied_write& w, bool want);

  // -- listeners --------------------------------------------------------------

  listener_set listeners;

  void notify(std::vector<store_event>&& events) {
    listeners.notify(std::move(events));
  }

  // -- cross-node announcements -----------------------------------------------

  /// This store instance, as the sender of its NOTIFY payloads.
  std::string sender_id;
  std::string channel;

  /// Events are computed when someone may hear them: a local listener or,
  /// through NOTIFY, another node.
  bool wants_events() const {
    return opts.notify || !listeners.empty();
  }

  /// Sends the one NOTIFY of the transaction `tx` for `events`, if any.
  void announce(pqxx::transaction_base& tx,
                const std::vector<store_event>& events, bool prepared);

  /// The LISTEN side, alive while there are listeners (and `listen`).
  std::unique_ptr<listener> inbound;
  std::mutex inbound_mutex;

  void update_inbound();
};

} // namespace durable::storage::pg
