#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "durable/error.hpp"
#include "durable/execution_record.hpp"
#include "durable/list_query.hpp"
#include "durable/node_registry.hpp"

namespace durable {

// -- failures -----------------------------------------------------------------

/// Why a store call failed, as the caller must act on it.
enum class store_failure : std::uint8_t {
  conflict,    ///< lost to concurrent writers too often; nothing written
  unavailable, ///< the store could not be reached in time; nothing written
  in_doubt,    ///< the commit may or may not have happened: re-read
  corrupt,     ///< a stored row could not be decoded
  fatal,       ///< any other error (a bug, schema drift, refused data)
};

/// The failure's name: "conflict", "unavailable", "in_doubt", "corrupt",
/// "fatal".
std::string_view to_string(store_failure f) noexcept;

/// What a store throws when a call fails. A `durable::error` (generic,
/// internal; retryable for `conflict` and `unavailable`, whose calls
/// committed nothing), so that code that catches those keeps working.
class store_error : public error {
public:
  /// An error for `failure` with `message`; the failure sets its flags.
  store_error(store_failure failure, std::string message);

  /// What the caller must do: retry, re-read, or give up.
  store_failure failure() const noexcept {
    return failure_;
  }

private:
  store_failure failure_;
};

/// How `e` says a store call failed: its failure() if it is a
/// store_error, none otherwise.
std::optional<store_failure> failure_of(const std::exception& e) noexcept;

// -- requests and outcomes ----------------------------------------------------

/// The outcome of inserting one new execution.
struct insert_outcome {
  /// What happened to the row.
  enum class kind : std::uint8_t {
    inserted,              ///< the row is stored
    duplicate_key,         ///< `execution_id` names the existing execution
    duplicate_sleeping_id, ///< a sleeping execution with that id exists
    duplicate_id,          ///< the execution id exists already
    refused,               ///< a number is out of range (stored_ranges.hpp):
                           ///< nothing stored, `reason` says which
  };
  /// Which of the kinds above the insert came to.
  kind result = kind::inserted;
  /// The inserted row's id, or for `duplicate_key` the existing
  /// execution's.
  std::string execution_id;
  /// For `duplicate_key`: the task of the existing execution (a key is
  /// unique across tasks; the engine refuses a key another task holds).
  std::string task_id{};
  /// Why a `refused` row was not stored; empty otherwise.
  std::string reason{};
};

/// One conditional write of an execution, computed by the engine from the
/// row it last read.
///
/// The write applies only if the stored row's version equals
/// `expected_version`; the stored version then becomes `expected_version + 1`
/// and every field takes the value of `next` except the store-managed ones
/// (`watched`; and `lease_expires_at` never moves back while the owner stays
/// the same, since a renewal may have moved it after the writer read it).
/// Status, owner and every other expectation are implied by the version,
/// because every transition and every claim bumps it.
///
/// The fields fixed at insert (task id, parent and root links, sleeping
/// id, idempotency key, retry policy, sleep before run, timeout, input,
/// created_at) must equal the stored row's: a store may leave them as
/// they are instead of writing them again.
struct transition {
  /// The row as it is after the write (its version is set by the store).
  execution_record next;
  /// The version of the row the engine read; the write applies only if
  /// the stored row still has it.
  std::uint64_t expected_version = 0;
  /// New rows inserted in the same transaction, only if the write applies.
  std::vector<execution_record> children;
  /// Cancel every unfinished descendant in the same transaction (a parent
  /// that ends not-completed). Each gets status `cancelled`, error
  /// "Parent task failed [parentTaskId=…] [parentExecutionId=…]: <msg>".
  bool cancel_descendants = false;
};

/// The outcome of one transition.
enum class write_status : std::uint8_t {
  applied,   ///< written; `current` is the row after the write
  conflict,  ///< the version did not match; `current` is the stored row
  not_found, ///< no such row; nothing written
  rejected,  ///< a child's id, sleeping id or idempotency key exists
             ///< already; nothing written, `current` is the stored row
  refused,   ///< the store could not write this transition alone (its
             ///< data, or an error that fails it and no batch-mate);
             ///< nothing written, `reason` says why, `current` is the
             ///< stored row if it could be read
};

/// What became of one transition of store::apply().
struct write_outcome {
  /// Whether it was written, and if not why.
  write_status status = write_status::not_found;
  /// The stored row after the call, as write_status says for each status;
  /// unset for `not_found`.
  std::optional<execution_record> current;
  /// Why a `refused` transition was not written; empty otherwise.
  std::string reason{};
};

/// What a dispatcher asks for.
struct claim_request {
  /// The incarnation that takes the leases.
  std::string owner;
  /// How long the leases of the claimed rows last: `now + lease`.
  millis lease{0};
  /// The most rows one claim takes.
  std::size_t limit = 0;
  /// Only executions of these tasks are claimed (the tasks this node runs).
  std::vector<std::string> task_ids;
  /// Also take over expired leases (rows whose node stopped renewing).
  /// Finding them may cost a scan of the task's active rows (PostgreSQL
  /// skips it while no owner's lease floor passed), which a claim loop
  /// running for every batch of new work need not pay: the engine asks for
  /// it on a poll at most once per renewal interval and after a resync, so
  /// a dead node's work moves within `lease + renewal interval`.
  bool take_over = true;
};

/// What a claim took, and when the next ready row becomes due.
struct claim_result {
  /// The rows taken, as stored after the claim (owner, lease, version).
  std::vector<execution_record> claimed;
  /// The earliest `start_at` of a ready row of the requested tasks that the
  /// claim did not take, so the dispatcher can wake exactly then. A store
  /// whose claim skips rows another transaction holds locked (PostgreSQL's
  /// SKIP LOCKED) reports such a row here although it is due: the caller
  /// claims again shortly. A store without row locks reports only rows
  /// not yet due.
  std::optional<timestamp> next_ready_at;
  /// The rows of `claimed` taken over from an owner whose lease ran out
  /// (a row that was not `ready` and still had an owner: the claim counted
  /// one of its `recoveries`), as ascending indexes into `claimed`. Ready
  /// rows and rows whose owner released them (drained or handed back) are
  /// not listed. Usually empty: only a dead or stalled node's rows are.
  std::vector<std::size_t> taken_over;
};

/// Sleeping executions whose deadline passed, and the next deadline.
struct sleeper_scan {
  /// Sleeping rows still `running` whose deadline passed, oldest first.
  std::vector<execution_record> expired;
  /// The earliest deadline not yet passed; unset when no sleeper is left.
  std::optional<timestamp> next_deadline;
};

/// Which finished trees prune() removes (retention). A tree is a root
/// execution (no parent) and every execution below it: children, steps,
/// iterations, finalize tasks and theirs. Once its root is finished, every
/// execution of a tree is (a root finishes after its children, or cancels
/// the unfinished ones in the same transition), so a tree is removed whole.
struct prune_request {
  /// The most roots one call removes (1..max_limit).
  static constexpr std::size_t max_limit = 10000;
  /// The most ids in `except_tasks` (retention_options::max_task_overrides).
  static constexpr std::size_t max_except_tasks = 1000;

  /// The root statuses to remove: final statuses only (is_finished()), at
  /// least one.
  std::vector<execution_status> statuses{};
  /// Only roots with `finished_at < finished_before`.
  timestamp finished_before{};
  /// Only roots of this task; every task when unset.
  std::optional<std::string> task_id{};
  /// Never roots of these tasks (nor anything in their trees): what the
  /// general retention sweep leaves to the per-task overrides. At most
  /// max_except_tasks ids, none empty, and not the one `task_id` names
  /// (that request could remove nothing). Empty: no task is excluded.
  std::vector<std::string> except_tasks{};
  /// Roots removed per call: bounded, so that each call is a short
  /// transaction and the database's cleanup (autovacuum) can follow.
  std::size_t limit = 1000;
  /// Count, remove nothing. A dry run counts every matching tree,
  /// ignoring `limit`: what calls until none is left would remove, as
  /// long as nothing else changes meanwhile.
  bool dry_run = false;
};

/// Throws durable::error (non-retryable) "Invalid prune request: …" for a
/// limit out of range, no status or a status that is not final, more than
/// max_except_tasks excluded tasks, an empty one, or `task_id` among them:
/// what every store's prune() checks before it touches a row.
void validate(const prune_request& req);

/// What prune() removed (or, for a dry run, would remove).
struct prune_result {
  /// Root executions.
  std::size_t roots = 0;
  /// Executions in all, roots included.
  std::size_t rows = 0;
};

/// The ready executions of one task that are due, for a backlog metric.
struct ready_backlog_entry {
  /// The task.
  std::string task_id;
  /// Ready rows with `start_at <= now()`.
  std::uint64_t count = 0;
  /// The earliest `start_at` among them: how long the oldest has waited.
  timestamp oldest_start_at{};

  /// Equal when every field is.
  friend bool operator==(const ready_backlog_entry&, const ready_backlog_entry&)
    = default;
};

/// Something a store announces after a commit.
struct store_event {
  /// What happened; the class comment of store lists which call
  /// announces what.
  enum class type : std::uint8_t {
    work_ready, ///< ready rows became (or become at `at`) claimable
    finished,   ///< a watched or child execution finished
    cancelled,  ///< an execution with an owner was cancelled
    deadline,   ///< a sleeping execution was stored with deadline `at`
    resync,     ///< announcements may have been lost (a store's link to
                ///< other nodes broke, or a commit did too much to list):
                ///< re-check claims, supervisors, sleepers and waiters
    corrupt,    ///< this process found the stored row `execution_id`
                ///< undecodable (`detail` says why) and marked it failed,
                ///< or skips it if even that failed; never sent to other
                ///< processes
  };
  /// What happened.
  type kind = type::work_ready;
  /// The execution concerned; empty for a `work_ready` or `resync` that
  /// names none.
  std::string execution_id;
  /// The parent of a finished child; empty otherwise.
  std::string parent_id;
  /// The owner a cancelled execution had; empty otherwise.
  std::string owner;
  /// For `work_ready`, when the rows become claimable; for `deadline`, the
  /// sleeper's deadline; not meaningful for the other types.
  timestamp at{};
  /// A `finished` execution as its transition stored it, when the store
  /// announces its own commit (null for other processes' commits and for
  /// cascaded descendants). A finished row never changes again, so
  /// listeners may use it instead of reading the row back.
  std::shared_ptr<const execution_record> row{};
  /// What a `corrupt` row had wrong; empty otherwise.
  std::string detail{};
  /// Learned from another process's commit (a PostgreSQL NOTIFY), not from
  /// this store's own write or finding: how the store heard of it (metrics).
  bool from_other_process = false;
};

/// What store::subscribe() registers: called with the events of one
/// commit, outside the store's locks, on the committing thread. It must
/// return quickly and must not call back into the store.
using store_listener = std::function<void(std::vector<store_event>)>;

// -- the interface ------------------------------------------------------------

/// Persistent home of executions, shared by every node of a cluster.
///
/// **Threading.** Every member function is safe to call from any thread. Calls
/// may block on I/O; the engine calls them only from its storage actor (and
/// the lease keeper), never from CAF scheduler threads, except now() (see
/// **Clock**).
///
/// **Durability.** When a call returns, what it reports is committed. A call
/// that throws committed nothing, unless it throws a store_error whose
/// failure() is `in_doubt`: then the caller must re-read the rows concerned.
/// apply() is never in doubt: its writes are guarded by version, so a store
/// whose commit outcome is unknown re-reads the rows itself (a row that carries
/// its transition was applied, one still at `expected_version` may be written
/// again) and reports each as it finds it, with a `resync` to its listeners for
/// the announcements that commit may have lost.
///
/// **Atomicity.** Each insert row, each transition (with its children and
/// cascade) and each claim row is atomic. A batch may be committed as one
/// transaction, but one row's failure (a duplicate key, a version conflict,
/// data the store cannot hold) never fails the others: apply() reports a
/// transition that fails alone as `refused` and writes its batch-mates.
///
/// **Clock.** Every time a store writes or compares comes from now(), the
/// store's clock, never a node's. now() is the one call that must never
/// block on I/O: the engine reads it on any thread, CAF scheduler threads
/// included (runtime::now()), wherever it stamps or compares a time. A
/// store whose clock is another machine's keeps an offset that its other
/// calls refresh.
///
/// **Events.** After each commit the store calls every listener once with
/// the events of that commit, outside its locks, on the committing thread:
/// - insert: `work_ready` (at = earliest `start_at`) if a ready row was
///   inserted, and `deadline` per sleeping row;
/// - apply: per applied transition, `finished` with the stored `row` when
///   `next` finished and has a parent or is watched; `work_ready` when `next`
///   or a child is ready; `deadline` per sleeping child; `cancelled` (with
///   the previous owner) for the row and every cascaded descendant that had
///   an owner; `finished` for every cascaded one with a parent or watched.
/// - release_leases: `work_ready` without an execution id (handed-back
///   rows are claimable at once; only a claim with `take_over` takes them).
/// - any call that met an undecodable row: `corrupt` for it.
/// A store shared by several processes also announces other processes'
/// commits (coalesced: one `work_ready` and one `deadline` per commit), and
/// `resync` when it may have missed some.
/// Listeners must return quickly and must not call back into the store.
class store {
public:
  virtual ~store();

  /// The store's clock.
  virtual timestamp now() = 0;

  /// Inserts new executions. Rows whose idempotency key exists already are
  /// not inserted: their outcome names the existing execution. Rows with a
  /// number out of range (stored_ranges::problem) are refused alone.
  virtual std::vector<insert_outcome>
  insert(std::vector<execution_record> rows) = 0;

  /// Applies conditional transitions; one outcome per transition, in order.
  /// A transition that would store a number out of range (stored_ranges::
  /// problem) is `refused`, whatever the stored row's version.
  virtual std::vector<write_outcome> apply(std::vector<transition> ts) = 0;

  /// Claims up to `limit` executions of the given tasks, oldest first:
  /// - ready rows with `start_at <= now()` become `running` (`started_at`,
  ///   `expires_at = now + timeout`);
  /// - if `req.take_over`, rows whose lease expired (`running`
  ///   non-sleeping, or waiting for children or finalize) are taken over;
  ///   each counts a recovery (`recoveries + 1`) if it had an owner, and
  ///   is listed in `claim_result::taken_over`.
  /// Each claimed row gets `owner`, `lease_expires_at = now + lease` and a
  /// version bump. Two concurrent claims never take the same row.
  virtual claim_result claim(const claim_request& req) = 0;

  /// Moves `lease_expires_at` to `now + lease`, without a version bump, on
  /// every active row `owner` holds whose lease is due (store_rules::
  /// renewal_due). Returns the ids of all its active rows, in no order: a
  /// row its owner runs that is not among them was taken over or finished.
  virtual std::vector<std::string>
  renew_leases(const std::string& owner, millis lease) = 0;

  /// Ends every lease `owner` holds now (drain): its rows become claimable
  /// by any node at once, without counting a recovery for running rows.
  /// Each row loses its owner and gets `lease_expires_at = now()`, without a
  /// version bump; the missing owner is what tells the next claim that the
  /// row was handed over rather than lost (see store_rules::claim).
  virtual std::size_t release_leases(const std::string& owner) = 0;

  /// Takes or keeps the lease of `role` (e.g. "maintenance") for `owner`
  /// until `now + lease`: true if `owner` holds it when the call returns.
  /// It succeeds if nobody holds the role, `owner` holds it already, or the
  /// holder's lease expired; so at most one owner holds a role at a time,
  /// and it moves within `lease` of its holder's last call. A zero `lease`
  /// hands the role back: it is free for anyone at once.
  virtual bool
  try_lead(const std::string& role, const std::string& owner, millis lease)
    = 0;

  /// The execution `id` as committed; unset when there is none (or it
  /// was removed by retention).
  virtual std::optional<execution_record> get(const std::string& id) = 0;

  /// The sleeping execution woken by `sleeping_id`; unset when there is
  /// none.
  virtual std::optional<execution_record>
  get_by_sleeping_id(const std::string& sleeping_id) = 0;

  /// Every child of `parent_id` (finalize included), ordered by index with
  /// the finalize last.
  virtual std::vector<execution_record>
  children_of(const std::string& parent_id) = 0;

  /// Sleeping executions still `running` whose deadline is `<= now()`, up to
  /// `limit`, oldest deadline first, and the earliest later deadline.
  virtual sleeper_scan scan_sleepers(std::size_t limit) = 0;

  /// One page of executions matching `req.filter`, newest first (see
  /// list_query.hpp). Read-only; each page is consistent in itself, and
  /// paging on never repeats or skips a row that existed throughout.
  /// @throws durable::error (non-retryable) for a limit out of range or a
  ///         cursor that no listing returned; nothing is read then.
  virtual list_page list(const list_request& req) = 0;

  /// The number of executions per status among those matching `f`.
  /// Read-only; counts every matching row (meant for stats, not hot paths).
  virtual status_counts count_by_status(const execution_filter& f) = 0;

  /// Per task, the ready executions that are due (`start_at <= now()`):
  /// how many, and the earliest `start_at`. Tasks without one are left
  /// out; ordered by task id. Read-only. Reads every due ready row through
  /// the stores' index of ready rows by task and `start_at`, not the whole
  /// table: meant for the maintenance leader's backlog metrics every few
  /// seconds, not for hot paths.
  virtual std::vector<ready_backlog_entry> ready_backlog() = 0;

  /// Records a node's report in the cluster's registry (node_registry.hpp):
  /// creates or replaces the node's entry, with `heartbeat_at` = now(),
  /// and adds `r.finished` to the cluster's counts of the current minute
  /// (minute_of(now())). Removes the entries of nodes that have not
  /// reported for node_registry_keep and the minutes older than that. One
  /// transaction; idempotent but for the counts (a report retried after
  /// an in-doubt commit may count its executions twice: they are for
  /// charts, not for bookkeeping).
  /// @throws durable::error (non-retryable) for an empty incarnation or a
  ///         non-final status in `r.finished`; nothing is written then.
  virtual void report_node(const node_report& r) = 0;

  /// Every node in the registry, by name, then newest start first.
  /// Read-only.
  virtual std::vector<node_info> nodes() = 0;

  /// The cluster's finished executions per minute and status, for the
  /// minutes in `[from, to)`, oldest first (then by status); minutes
  /// without any are left out. Read-only; reads only the registry's
  /// counts (at most one row per minute, node and status), never the
  /// executions.
  virtual std::vector<finished_count>
  finished_by_minute(timestamp from, timestamp to) = 0;

  /// Marks the execution watched, so that its end is announced, and returns
  /// it as stored (nullopt if it does not exist).
  virtual std::optional<execution_record> watch(const std::string& id) = 0;

  /// Removes one execution (tests and retention). True if it existed.
  virtual bool erase(const std::string& id) = 0;

  /// Removes up to `req.limit` finished trees (see prune_request), each
  /// whole: its root and every descendant, in one transaction per call.
  /// Within a status, the roots that finished first go first (across
  /// statuses no order is promised). Ids, sleeping ids and idempotency keys are
  /// columns of the rows, so they are free for new executions once their
  /// rows are gone. Announces nothing: nobody waits for a finished row.
  /// A tree whose root is finished but still holds an unfinished row (only
  /// a bug or a hand-edited row can make one) is left alone. Meant for the
  /// maintenance leader and `durablectl prune`, not for hot paths; each
  /// store finds the roots through an index on finished roots by
  /// `finished_at` (see its schema), not by a scan.
  /// @throws durable::error (non-retryable) for a limit out of range, no
  ///         status or a status that is not final; nothing is removed then.
  virtual prune_result prune(const prune_request& req) = 0;

  /// Registers a listener; returns a token for unsubscribe().
  virtual std::uint64_t subscribe(store_listener listener) = 0;

  /// Removes a listener; after it returns the listener is never called again.
  virtual void unsubscribe(std::uint64_t token) = 0;
};

} // namespace durable
