#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "durable/status.hpp"
#include "durable/time.hpp"

namespace durable {

struct engine_event; // durable/observer.hpp

/// Called once per engine_event (durable/observer.hpp): store failures,
/// lost leases, renewals failing and coming back, leadership changes,
/// conflicts and corrupt rows.
///
/// **Threading.** Called on the engine's own threads (the storage actors,
/// the lease keeper, scheduler threads), from several at once: it must be
/// thread-safe, return quickly (a log line, a counter) and must not call
/// the executor. An exception it throws is dropped.
using engine_observer = std::function<void(const engine_event&)>;

/// The ranges validate() holds options to. Stores hold every row to them
/// as well (stored_ranges.hpp), so they are stated once, here.
namespace option_limits {

/// The most retries retry_options::max_attempts allows.
inline constexpr int max_retry_attempts = 1000;
/// The longest retry_options::base_delay: one hour, in ms.
inline constexpr std::int64_t max_base_delay_ms = 3'600'000;
/// The longest retry_options::max_delay: 24 hours, in ms.
inline constexpr std::int64_t max_max_delay_ms = 86'400'000;
/// The smallest retry_options::multiplier.
inline constexpr double min_multiplier = 0.1;
/// The largest retry_options::multiplier.
inline constexpr double max_multiplier = 10.0;
// The reference gives timeouts and sleeps no maximum. One year keeps every
// time a store computes from them (now + timeout, in microseconds) far
// inside a 64-bit integer, and is longer than any task waits.
/// The longest task_options::timeout: one year, in ms.
inline constexpr std::int64_t max_timeout_ms = 31'536'000'000;
/// The longest task_options::sleep_before_run: one year, in ms.
inline constexpr std::int64_t max_sleep_before_run_ms = 31'536'000'000;
/// A lease is stored as `now + lease_duration`: one year at most too.
inline constexpr std::int64_t max_lease_ms = 31'536'000'000;

} // namespace option_limits

/// How a retry delay is randomised. `none` keeps the reference's exact
/// delays; `full` draws from [0, delay]; `equal` from [delay/2, delay].
enum class jitter_mode : std::uint8_t { none = 0, full = 1, equal = 2 };

/// Retry policy of a task. `max_attempts` counts *retries*: a task runs at
/// most `1 + max_attempts` times. The delay before retry k (k from 0) is
/// `base_delay * multiplier^k`, capped at `max_delay`, then jittered.
///
/// Ranges (checked by validate()): max_attempts 0..1000, base_delay
/// 0..1 h, multiplier 0.1..10, max_delay 0..24 h and >= base_delay.
struct retry_options {
  /// Retries after the first run; 0 (the default) never retries.
  int max_attempts = 0;
  /// The delay before the first retry.
  millis base_delay{0};
  /// What each further delay is multiplied by.
  double multiplier = 1.0;
  /// The cap on a delay; unset: no cap but the 24 h of option_limits.
  std::optional<millis> max_delay{};
  /// How the delay is randomised; none by default.
  jitter_mode jitter = jitter_mode::none;

  /// Equal when every field is.
  friend bool operator==(const retry_options&, const retry_options&) = default;
};

/// JSON form of retry_options: `max_attempts` (required when read),
/// `base_delay_ms`, `multiplier`, `jitter` (as its number), and
/// `max_delay_ms` when set (null reads as unset).
///@{
void to_json(nlohmann::json& j, const retry_options& r);
void from_json(const nlohmann::json& j, retry_options& r);
///@}

/// The options every task kind shares. `timeout` is required (1 ms to one
/// year, 31,536,000,000 ms) and covers one run of the body (for a parent:
/// only its own run, not the wait for children). `sleep_before_run` (0 to
/// one year) delays the first start only. The reference sets no maximum;
/// ours keeps every time a store computes from them inside 64 bits.
struct task_options {
  /// The task's id (is_valid_task_id()): how executions and other nodes
  /// name it.
  std::string id{};
  /// How long one run of the body may take; required, 1 ms to one year.
  millis timeout{0};
  /// What happens after a failed run; by default nothing: no retries.
  retry_options retry{};
  /// How long after enqueue the first run starts; 0 to one year.
  millis sleep_before_run{0};
  /// Whether the body may block. Blocking bodies run on the executor's
  /// worker pool and are timed out at their deadline. Non-blocking ones run
  /// on the execution actor itself (no thread hop) and must return quickly
  /// (pure computation): nothing can interrupt them, so a run that took
  /// longer than `timeout` is recorded as timed out when it returns.
  bool may_block = true;
};

/// Per-enqueue overrides of a task's options.
struct enqueue_options {
  /// Replaces task_options::retry when set.
  std::optional<retry_options> retry{};
  /// Replaces task_options::sleep_before_run when set.
  std::optional<millis> sleep_before_run{};
  /// Replaces task_options::timeout when set.
  std::optional<millis> timeout{};
  /// A second enqueue with the same key returns the first execution.
  std::optional<std::string> idempotency_key{};
  /// A W3C `traceparent` (trace_context.hpp) stored with the execution and
  /// handed to its descendants; refused at enqueue when malformed.
  std::optional<std::string> traceparent{};
};

/// JSON form of enqueue_options, as the HTTP API takes them: `retry`,
/// `sleep_before_run_ms`, `timeout_ms`, `idempotency_key` and
/// `traceparent`, each only when set.
///@{
void to_json(nlohmann::json& j, const enqueue_options& o);
void from_json(const nlohmann::json& j, enqueue_options& o);
///@}

/// Task ids: 1..255 characters from [A-Za-z0-9_].
bool is_valid_task_id(std::string_view id) noexcept;

/// Why `id` is not a valid task id, in the reference's words ("Task id
/// cannot be empty", "Task id cannot be longer than 255 characters",
/// "Task id can only contain alphanumeric characters and underscores"),
/// or nullopt if it is one.
std::optional<std::string_view> task_id_problem(std::string_view id) noexcept;

/// Throws durable::error (non-retryable) with the reference's messages:
/// task_id_problem()'s, "Invalid timeout value for task <id>",
/// "Invalid retry options for task <id>: …",
/// "Invalid sleep ms before run for task <id>".
void validate(const task_options& opts);

/// Checks retry options alone; `task_id` names the task in the message.
void validate(const retry_options& r, std::string_view task_id);

/// Applies the overrides of `overrides` to `base`, validating each.
task_options merge(const task_options& base, const enqueue_options& overrides);

/// One task's own retention durations (retention_options::tasks), for the
/// trees whose root is an execution of that task. A status left unset falls
/// back to the general duration of retention_options; 0 keeps that task's
/// trees of that status forever, whatever the general duration.
struct task_retention {
  /// How long the task's completed trees are kept; unset: the general one.
  std::optional<millis> completed{};
  /// How long its failed trees are kept; unset: the general one.
  std::optional<millis> failed{};
  /// How long its timed-out trees are kept; unset: the general one.
  std::optional<millis> timed_out{};
  /// How long its trees whose finalize failed are kept; unset: the general
  /// one.
  std::optional<millis> finalize_failed{};
  /// How long its cancelled trees are kept; unset: the general one.
  std::optional<millis> cancelled{};

  /// The duration set for `s`; nullopt if unset or `s` is not final.
  std::optional<millis> for_status(execution_status s) const noexcept;
  /// Sets the duration of `s` (a final status; others are ignored).
  void set(execution_status s, millis d) noexcept;
  /// Sets every final status to `d`.
  void set_all(millis d) noexcept;
};

/// How long finished executions are kept (retention), per final status of
/// the root of their tree. The maintenance leader removes a whole tree (the
/// root and every descendant) once its root finished longer ago than the
/// duration of the root's status; 0 keeps trees of that status forever.
/// All zero (the default): nothing is ever removed, as before. `tasks`
/// overrides the durations for the trees of some root tasks.
struct retention_options {
  /// The most per-task overrides (`tasks`): each is excluded by name from
  /// the general sweep (prune_request::max_except_tasks).
  static constexpr std::size_t max_task_overrides = 1000;

  /// How long trees whose root completed are kept; 0: forever.
  millis completed{0};
  /// How long trees whose root failed are kept; 0: forever.
  millis failed{0};
  /// How long trees whose root timed out are kept; 0: forever.
  millis timed_out{0};
  /// How long trees whose root's finalize failed are kept; 0: forever.
  millis finalize_failed{0};
  /// How long trees whose root was cancelled are kept; 0: forever.
  millis cancelled{0};
  /// Trees removed per store call (1..prune_request::max_limit, 10000): one
  /// short transaction each, so the storage actor is never held long and
  /// the database's cleanup can follow.
  std::size_t batch_size = 1000;
  /// How often the leader sweeps while a sweep finds nothing to remove
  /// (100 ms..1 h). A sweep that fills a batch is followed by the next one
  /// at once (after the storage actor's queued work); one that removes
  /// nothing doubles the pause, up to ten times this.
  millis sweep_interval{5000};
  /// Per-task overrides by root task id (at most max_task_overrides): the
  /// statuses an override sets replace the durations above for that
  /// task's trees, the others fall back to them.
  std::map<std::string, task_retention, std::less<>> tasks{};

  /// The duration for trees whose root ended in `s` (0 for a status that
  /// is not final), without the per-task overrides.
  millis for_status(execution_status s) const noexcept;

  /// The duration for trees of root task `task_id` that ended in `s`: its
  /// override if it sets `s`, otherwise for_status(s).
  millis for_task(std::string_view task_id, execution_status s) const noexcept;

  /// True if any status has a duration, in general or for some task.
  bool enabled() const noexcept;
};

/// Options of one executor (one node). Ranges are checked by validate();
/// a violation throws "Invalid options: <what>".
struct executor_options {
  /// Bodies running at once on this node (the concurrency slots).
  std::size_t max_concurrent = 5000;
  /// Rows claimed per claim statement (1..1000).
  std::size_t claim_batch_size = 100;
  /// Children a parent may spawn in one run (1..1000).
  std::size_t max_children = 1000;
  /// Serialized input cap in bytes (1 KiB..10 MiB).
  std::size_t max_input_bytes = 1024 * 1024;
  /// Serialized output cap in bytes (1 KiB..10 MiB).
  std::size_t max_output_bytes = 1024 * 1024;
  /// Threads that run blocking bodies (1..4096).
  std::size_t worker_threads = 64;
  /// Claimed executions of blocking tasks that may wait for a worker
  /// thread (0..1000000). 0: a node holds no more of them than it has
  /// worker threads, and leaves the others in the store for a node with a
  /// free thread. More lets a node hold leases on work it cannot start yet
  /// (each one's timeout still counts from its body's start).
  std::size_t max_queued_blocking = 0;
  /// CAF scheduler threads; 0 means one per core.
  std::size_t scheduler_threads = 0;
  /// How long a claim lasts without renewal (500 ms..one year). A killed
  /// node's work runs again elsewhere within about this time (plus at most
  /// one renewal interval, see poll_interval).
  millis lease_duration{6000};
  /// How often the lease keeper renews (1 ms..lease_duration / 2).
  millis lease_renew_interval{1500};
  /// Safety-net poll for ready work (10 ms..60 s). Expired leases are
  /// looked for by a poll at most once per lease_renew_interval: in memory
  /// and SQLite that scan reads every active row of the node's tasks (on
  /// PostgreSQL only those of owners whose lease ran out).
  millis poll_interval{500};
  /// Safety-net re-check of a waiting parent's children, and of sleepers'
  /// deadlines by the maintenance leader (>= 10 ms). Both also learn what
  /// they wait for from the store's events and re-check after a resync.
  millis supervisor_recheck_interval{5000};
  /// Times an execution may be recovered from a dead owner before it fails.
  int max_recoveries = 3;
  /// How long shutdown waits for running bodies (0..10 min).
  millis shutdown_grace{15000};
  /// A label for logs; ownership uses a random per-start incarnation id.
  std::string node_name = "node";
  /// False: this executor enqueues, waits, cancels and wakes, but claims
  /// nothing and leads no maintenance (a client of a cluster whose nodes
  /// run the work; it still registers the tasks it enqueues).
  bool run_tasks = true;
  /// New rows this node could start at once (enqueued here, or children,
  /// steps and finalize tasks of executions it runs) are stored already
  /// claimed by it while it has free slots to spare (one claim batch stays
  /// free for ready rows waiting in the store): no claim has to find them,
  /// and they start as soon as their insert commits. False: every new row is
  /// stored ready and taken by whichever node claims first (spreads bursts
  /// across a cluster).
  bool claim_on_insert = true;
  /// Removal of old finished executions by the maintenance leader; off
  /// by default (see retention_options).
  retention_options retention{};
  /// Told what the engine survives on its own (see engine_observer); null
  /// drops it. durable-node writes each event as a log line.
  engine_observer observer{};
};

/// Throws durable::error "Invalid options: …" when a field is out of range.
void validate(const executor_options& opts);

} // namespace durable
