#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "durable/store.hpp"

/// The PostgreSQL backend: the store several nodes of a cluster share.
///
/// durable::storage_pg links libpqxx privately; this header does not
/// include it (the store keeps its connections behind a pimpl). Code that
/// wants to enqueue inside its own transaction includes
/// `durable/storage/pg/outbox.hpp` and links durable::storage_pg_outbox.
namespace durable::storage::pg {

/// How to reach PostgreSQL and how hard to try.
struct pg_options {
  /// A libpq connection string or URL. Empty means the environment variable
  /// `DURABLE_PG_URL`, then libpq's own defaults (PGHOST, PGDATABASE, ...).
  std::string url;

  /// Connections the store opens at most (1..64). Each call holds one for
  /// its duration; more concurrent calls wait for a free one, at most
  /// `reconnect_timeout`, then fail as unavailable. Lease renewals and
  /// leadership have one more connection of their own (and listening one
  /// more, see `listen`), so they never wait behind the other calls.
  std::size_t pool_size = 4;

  /// The schema that holds the tables (created if missing). Tests use one
  /// schema per case; production keeps the default.
  std::string schema = "durable";

  /// Whole-transaction attempts on a serialization failure or deadlock.
  int max_conflict_retries = 8;

  /// How long a call keeps reconnecting after the connection broke (a
  /// server restart, a failover) before it gives up with an error. The
  /// start-up connect is not retried. Lease renewals and leadership give
  /// up after half their lease if that is shorter: the engine reports the
  /// failure and tries again at its next renewal.
  std::chrono::milliseconds reconnect_timeout{30'000};

  /// First pause before a call's transaction is run again (after a
  /// conflict or a broken connection), doubled each time up to
  /// `backoff_max`.
  std::chrono::milliseconds backoff_initial{10};
  /// Largest pause between attempts.
  std::chrono::milliseconds backoff_max{1'000};

  /// Server-side limits every session of the store sets, so that no call
  /// waits without end (zero turns a limit off for the store's sessions,
  /// whatever the server's configuration says).
  /// A statement running longer than `statement_timeout` is cancelled and
  /// its call fails. A session idle inside a transaction for longer than
  /// `idle_in_transaction_timeout` is ended by the server: the row locks
  /// of a node frozen in the middle of a transaction (SIGSTOP, a stalled
  /// VM) are freed for the other nodes instead of stalling them.
  std::chrono::milliseconds statement_timeout{60'000};
  /// The sessions' `idle_in_transaction_session_timeout` (see above);
  /// zero for none.
  std::chrono::milliseconds idle_in_transaction_timeout{10'000};

  /// TCP keepalive of every connection, added to the connection string
  /// unless it sets `keepalives*` itself: a server or network that vanished
  /// without closing the socket is noticed within about
  /// idle + interval × count instead of the system's two hours. Zero
  /// `keepalive_idle` leaves libpq's defaults.
  std::chrono::seconds keepalive_idle{10};
  /// Between unanswered keepalive probes (libpq's
  /// `keepalives_interval`).
  std::chrono::seconds keepalive_interval{5};
  /// Unanswered probes before the connection is declared dead (libpq's
  /// `keepalives_count`).
  int keepalive_count = 3;

  /// The `application_name` of the store's sessions (pg_stat_activity).
  std::string application_name = "durable";

  /// How often the offset between this host's clock and the server's is
  /// measured again (by the next call that uses a connection; now() itself
  /// never does I/O).
  std::chrono::milliseconds clock_refresh{5'000};

  /// Announce each commit to the other nodes: one NOTIFY per transaction on
  /// the schema's channel (see notification.hpp), so they react in
  /// milliseconds instead of at their next poll.
  bool notify = true;

  /// Receive the other nodes' announcements: a dedicated connection that
  /// LISTENs while the store has listeners. Turn off behind connection
  /// poolers that break LISTEN (transaction pooling); the engine then
  /// relies on its poll interval alone.
  bool listen = true;

  /// Apply missing migrations when the store opens (the default). Off, the
  /// store only checks that the schema is at this binary's version and
  /// refuses to open otherwise: tools that only read or act on executions
  /// (durablectl) never change a schema as a side effect.
  bool migrate = true;

  /// Tests only: when set, now() returns this clock and every statement
  /// writes and compares times from it instead of the server's `now()`
  /// (the storage conformance suite moves time by hand).
  std::function<timestamp()> clock;
};

/// A `durable::store` on PostgreSQL: every node of a cluster opens one on
/// the same database and schema, and they coordinate only through it.
///
/// **Schema.** The constructor applies the versioned migrations of
/// schema.hpp under an advisory lock, so several nodes may start at once.
/// A schema written by a newer binary is refused with an error saying so.
///
/// **Threading.** Every member function is safe to call from any thread;
/// each call borrows one pooled connection (a connection is never shared
/// by two threads at once) and blocks on network I/O.
///
/// **Clock.** Every comparison of start times, leases and deadlines runs in
/// SQL against the server's `now()` (the transaction's start time), never
/// against a node's clock. now() is cheap and never does I/O: it returns
/// this host's clock plus the offset to the server measured at connect and
/// again, every `clock_refresh`, by the next call that uses a connection
/// (the lease keeper's renewals make one at least every renewal interval),
/// so the times the engine writes agree with the server's to within the
/// network round trip.
///
/// **Durability.** A call that returns has committed what it reports. A call
/// that throws `durable::error` committed nothing, except when the message
/// says "in doubt": the connection broke while COMMIT was under way, and the
/// caller must re-read the rows concerned (insert: by id or idempotency key).
/// Read-only calls and lease renewals are retried even then.
///
/// **Failures.** Serialization failures and deadlocks re-run the whole
/// transaction (`max_conflict_retries`); a broken connection is replaced and
/// the transaction re-run with backoff for up to `reconnect_timeout`, but
/// only if it never reached COMMIT. Everything else surfaces as
/// `durable::error` with a message naming the operation and SQLSTATE, never
/// SQL text or the password.
///
/// **Events.** After each commit made through *this object* the listeners
/// get the events of that commit, with exactly the rules of store.hpp, on
/// the committing thread. Every write transaction with events also sends
/// one NOTIFY (`notify`), and while the store has listeners a dedicated
/// connection LISTENs (`listen`) and passes other stores' events (other
/// nodes, outbox.hpp's insert_in) to them on its own thread, coalesced; a
/// lost link or an oversized commit gives a `resync` event.
class pg_store final : public durable::store {
public:
  // -- constructors, destructors, and assignment operators -------------------

  /// Connects, applies migrations (or checks the version, see
  /// pg_options::migrate) and measures the clock offset.
  /// @throws durable::error naming the server (host, port, database, user;
  ///         never the password) if it cannot connect, if the schema is
  ///         newer than this binary, or (without `migrate`) if it is not
  ///         at this binary's version.
  explicit pg_store(pg_options opts);

  ~pg_store() override;

  pg_store(const pg_store&) = delete;
  pg_store& operator=(const pg_store&) = delete;

  // -- properties -------------------------------------------------------------

  /// The schema this store uses.
  const std::string& schema() const noexcept;

  /// The server as named in messages: URL or connection string without the
  /// password.
  const std::string& target() const noexcept;

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

  /// Served by the listing indexes of schema version 2 (schema.hpp).
  list_page list(const list_request& req) override;

  status_counts count_by_status(const execution_filter& f) override;
  std::vector<ready_backlog_entry> ready_backlog() override;

  std::optional<execution_record> watch(const std::string& id) override;

  bool erase(const std::string& id) override;

  /// One transaction, one statement per status: roots through
  /// `executions_finished_roots` (locked, SKIP LOCKED, so that concurrent
  /// prunes take different trees), trees through `executions_parent`
  /// (pg/prune.cpp).
  prune_result prune(const prune_request& req) override;

  void report_node(const node_report& r) override;

  std::vector<node_info> nodes() override;

  std::vector<finished_count> finished_by_minute(timestamp from,
                                                 timestamp to) override;

  std::uint64_t subscribe(store_listener listener) override;

  void unsubscribe(std::uint64_t token) override;

  // -- implementation ---------------------------------------------------------

  struct impl;

  /// For outbox.hpp (and tests): the implementation.
  impl& internals() noexcept {
    return *impl_;
  }

private:
  std::unique_ptr<impl> impl_;
};

/// Opens a PostgreSQL store (see pg_store).
std::shared_ptr<durable::store> postgres(pg_options opts = {});

/// The connection string of `opts`: `opts.url`, else `DURABLE_PG_URL`, else
/// empty (libpq defaults).
std::string resolve_url(const pg_options& opts);

/// `url` with libpq's TCP keepalive settings of `opts` (keepalive_idle,
/// keepalive_interval, keepalive_count) added as URI parameters or
/// keywords, unless it names keepalives itself or `keepalive_idle` is zero.
std::string with_keepalives(const std::string& url, const pg_options& opts);

/// `url` without its password, for messages: the password of a URL
/// (`postgresql://user:secret@host/db`) or a key/value string
/// (`password=secret`) becomes `***`.
std::string redact(const std::string& url);

} // namespace durable::storage::pg
