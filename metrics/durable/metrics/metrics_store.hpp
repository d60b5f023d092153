#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "durable/forwarding_store.hpp"
#include "durable/metrics/registry.hpp"

/// A store that counts what this process commits through it.
namespace durable::metrics {

/// Wraps a store and forwards every call to it unchanged
/// (forwarding_store), counting:
/// - `durable_executions_enqueued_total{task}`: rows stored by insert()
///   (enqueues) and children stored by applied transitions;
/// - `durable_executions_started_total{task}`: body runs this node began:
///   rows a claim() returned `running` (a ready row started, or a running
///   row taken over from a lost owner, whose body runs again) and rows
///   stored already claimed by this node (executor_options::
///   claim_on_insert: an inserted row or a child stored `running` with an
///   owner). Sleeping executions, stored `running` without a body, are not
///   counted;
/// - `durable_executions_finished_total{task, status}`: applied
///   transitions whose row finished (completed, failed, cancelled,
///   timed_out…). Descendants a cascade cancels inside the store are not
///   seen, nor other nodes' commits: each node counts its own writes, so
///   a cluster's total is the sum over its nodes. A body that timed out on
///   its last attempt, and a sleeper whose deadline passed, finish as
///   `timed_out`; an attempt that timed out and is retried is a retry;
/// - `durable_execution_retries_total{task}`: applied transitions that put
///   a row back to `ready` for another attempt (transitions::fail_run with
///   attempts left; the only transition that stores `ready`);
/// - `durable_execution_recoveries_total{task}`: each recovery this node
///   counted in a row: rows it handed back (transitions::hand_back: the
///   write that should have moved the row on failed; the row counts one
///   recovery and the next take-over claim runs it again), and rows its
///   claims took over from an owner whose lease expired (claim_result::
///   taken_over; the node that lost them counts `durable_leases_lost_total`
///   when it is still alive). A handed-back or released row claimed again
///   counts nothing more;
/// - `durable_lease_renewals_total`: renew_leases() calls that returned
///   (failures are the engine's `durable_lease_renewal_failures_total`);
/// - `durable_store_apply_duration_seconds`,
///   `durable_store_claim_duration_seconds`,
///   `durable_store_insert_duration_seconds`: each apply(), claim() and
///   insert() call, from call to return (a batch is one call);
/// - `durable_store_apply_batch_size`: transitions per apply() call;
/// - `durable_notifications_received_total`: announcements of other
///   processes' commits delivered to this node's listener (on PostgreSQL,
///   each a NOTIFY from another node; stores without cross-process
///   announcements leave it at 0);
/// - `durable_resyncs_total`: announcements that may have been lost (the
///   listener's connection broke, or a commit did too much to list), after
///   which the engine re-checks everything it waits for.
///
/// The last two are counted as they reach the listener subscribed through
/// this store: a node's engine is its one listener (two listeners would
/// count each announcement twice).
///
/// **Threading, durability, errors.** Those of the wrapped store: every
/// call is the inner store's, and what it throws passes through (a call
/// that throws is timed, nothing is counted). Counting costs a few atomic
/// increments; a task's series are looked up once per task under a shared
/// lock and kept, so a call allocates nothing per row beyond one array per
/// batch. The registry must outlive this store.
class metrics_store : public forwarding_store {
public:
  /// Registers the metrics above in `reg`.
  /// @throws std::invalid_argument if one of them is registered already.
  metrics_store(std::shared_ptr<store> inner, registry& reg);

  std::vector<insert_outcome>
  insert(std::vector<execution_record> rows) override;
  std::vector<write_outcome> apply(std::vector<transition> ts) override;
  claim_result claim(const claim_request& req) override;
  std::vector<std::string> renew_leases(const std::string& owner,
                                        millis lease) override;
  std::uint64_t subscribe(store_listener listener) override;

  /// `durable_executions_finished_total` summed over tasks: what this
  /// node finished since it started, by final status (the node registry's
  /// per-minute counts, nodes::node_reporter). Any thread.
  status_counts finished_by_status() const;

private:
  /// The series of one task, created at its first use and kept.
  struct task_series {
    counter* enqueued;
    counter* started;
    counter* retries;
    counter* recoveries;
    /// `durable_executions_finished_total` by status, filled at a
    /// status's first finish (execution_status values index it).
    std::array<std::atomic<counter*>, 9> finished{};
  };

  task_series& series_of(std::string_view task);
  counter& finished_of(task_series& s, const execution_record& row);

  counter_family& enqueued_;
  counter_family& started_;
  counter_family& finished_;
  counter_family& retries_;
  counter_family& recoveries_;
  counter& renewals_;
  counter& notifications_;
  counter& resyncs_;
  histogram& apply_seconds_;
  histogram& apply_batch_;
  histogram& claim_seconds_;
  histogram& insert_seconds_;
  std::shared_mutex tasks_mtx_;
  std::map<std::string, task_series, std::less<>> tasks_;
};

} // namespace durable::metrics
