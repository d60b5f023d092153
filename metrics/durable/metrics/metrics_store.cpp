#include "durable/metrics/metrics_store.hpp"

#include <chrono>
#include <mutex>

#include "durable/assert.hpp"
#include "durable/status.hpp"

namespace durable::metrics {

namespace {

/// Calls `fn` and observes its duration in `h`, also when it throws (a
/// slow failure is a slow call too).
template <class F>
auto timed(histogram& h, F&& fn) {
  const auto start = std::chrono::steady_clock::now();
  auto observe = [&] {
    h.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
        .count());
  };
  try {
    auto out = fn();
    observe();
    return out;
  } catch (...) {
    observe();
    throw;
  }
}

/// A row stored already claimed by a node (claim_on_insert) starts its
/// body; a sleeping row is stored `running` too, but has no body and no
/// owner.
bool stored_started(const execution_record& r) noexcept {
  return r.status == execution_status::running && r.owner && !r.is_sleeping();
}

/// transitions::hand_back, the one transition that leaves an unfinished
/// row without an owner and with a lease at the epoch (finishing and
/// retrying clear the lease).
bool is_hand_back(const transition& t) noexcept {
  return !t.next.owner && t.next.lease_expires_at
         && *t.next.lease_expires_at == timestamp{}
         && !is_finished(t.next.status);
}

} // namespace

metrics_store::metrics_store(std::shared_ptr<store> inner, registry& reg)
  : forwarding_store(std::move(inner)),
    enqueued_(reg.add_counter("durable_executions_enqueued_total",
                              "Executions this node stored (enqueues and "
                              "children), by task",
                              {"task"})),
    started_(reg.add_counter("durable_executions_started_total",
                             "Body runs this node began (claimed ready or "
                             "taken-over running rows, rows stored claimed), "
                             "by task",
                             {"task"})),
    finished_(reg.add_counter("durable_executions_finished_total",
                              "Executions this node finished, by task and "
                              "final status",
                              {"task", "status"})),
    retries_(reg.add_counter("durable_execution_retries_total",
                             "Failed attempts this node put back to ready "
                             "for another attempt, by task",
                             {"task"})),
    recoveries_(reg.add_counter("durable_execution_recoveries_total",
                                "Executions this node handed back to the "
                                "cluster after a failed write or took over "
                                "from a node whose lease expired, by task",
                                {"task"})),
    renewals_(reg
                .add_counter("durable_lease_renewals_total",
                             "Lease renewals of this node that succeeded")
                .with({})),
    notifications_(reg
                     .add_counter("durable_notifications_received_total",
                                  "Announcements of other nodes' commits "
                                  "this node received (PostgreSQL NOTIFY)")
                     .with({})),
    resyncs_(reg
               .add_counter("durable_resyncs_total",
                            "Times announcements may have been lost and the "
                            "engine re-checked what it waits for")
               .with({})),
    apply_seconds_(
      reg
        .add_histogram("durable_store_apply_duration_seconds",
                       "Time of one store commit of a batch of transitions",
                       default_seconds_buckets())
        .with({})),
    apply_batch_(reg
                   .add_histogram("durable_store_apply_batch_size",
                                  "Transitions per store commit",
                                  {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000})
                   .with({})),
    claim_seconds_(reg
                     .add_histogram("durable_store_claim_duration_seconds",
                                    "Time of one store claim of ready or "
                                    "expired executions",
                                    default_seconds_buckets())
                     .with({})),
    insert_seconds_(reg
                      .add_histogram("durable_store_insert_duration_seconds",
                                     "Time of one store insert of a batch of "
                                     "new executions (enqueue)",
                                     default_seconds_buckets())
                      .with({})) {}

metrics_store::task_series& metrics_store::series_of(std::string_view task) {
  {
    std::shared_lock lock{tasks_mtx_};
    if (auto i = tasks_.find(task); i != tasks_.end())
      return i->second;
  }
  std::unique_lock lock{tasks_mtx_};
  if (auto i = tasks_.find(task); i != tasks_.end())
    return i->second;
  const std::vector<std::string> labels{std::string{task}};
  // A map's elements never move: the reference stays valid.
  auto& s = tasks_[std::string{task}];
  s.enqueued = &enqueued_.with(labels);
  s.started = &started_.with(labels);
  s.retries = &retries_.with(labels);
  s.recoveries = &recoveries_.with(labels);
  return s;
}

counter& metrics_store::finished_of(task_series& s,
                                    const execution_record& row) {
  const auto i = static_cast<std::size_t>(row.status);
  DURABLE_ASSERT(i < s.finished.size(), "a status indexes finished");
  if (auto* c = s.finished[i].load(std::memory_order_acquire))
    return *c;
  // Two threads may both look it up: with() gives both the same series.
  auto& c = finished_.with({row.task_id, std::string{to_string(row.status)}});
  s.finished[i].store(&c, std::memory_order_release);
  return c;
}

std::vector<insert_outcome>
metrics_store::insert(std::vector<execution_record> rows) {
  // The outcomes name executions, not tasks: keep each row's series (and
  // whether it is stored started) in order before the rows move.
  std::vector<std::pair<const task_series*, bool>> kept;
  kept.reserve(rows.size());
  for (const auto& r : rows)
    kept.emplace_back(&series_of(r.task_id), stored_started(r));
  auto out = timed(insert_seconds_,
                   [&] { return inner()->insert(std::move(rows)); });
  for (std::size_t i = 0; i < out.size() && i < kept.size(); ++i)
    if (out[i].result == insert_outcome::kind::inserted) {
      kept[i].first->enqueued->inc();
      if (kept[i].second)
        kept[i].first->started->inc();
    }
  return out;
}

std::vector<write_outcome> metrics_store::apply(std::vector<transition> ts) {
  // A finished or retried row is counted from its outcome (the row as
  // stored); what no outcome tells (the children, a hand-back) is kept
  // before the transitions move into the store: (index in the batch,
  // series, started), with a null series for a hand-back's marker.
  struct kept_row {
    std::size_t index;
    task_series* series;
    bool child;
    bool started;
  };
  std::vector<kept_row> kept;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    if (is_hand_back(ts[i]))
      kept.push_back({i, &series_of(ts[i].next.task_id), false, false});
    for (const auto& child : ts[i].children)
      kept.push_back(
        {i, &series_of(child.task_id), true, stored_started(child)});
  }
  apply_batch_.observe(static_cast<double>(ts.size()));
  auto out = timed(apply_seconds_,
                   [&] { return inner()->apply(std::move(ts)); });
  auto applied = [&out](std::size_t i) {
    return i < out.size() && out[i].status == write_status::applied;
  };
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (!applied(i) || !out[i].current)
      continue;
    const auto& row = *out[i].current;
    if (is_finished(row.status))
      finished_of(series_of(row.task_id), row).inc();
    else if (row.status == execution_status::ready)
      series_of(row.task_id).retries->inc();
  }
  for (const auto& k : kept) {
    if (!applied(k.index))
      continue;
    if (!k.child) {
      k.series->recoveries->inc();
      continue;
    }
    k.series->enqueued->inc();
    if (k.started)
      k.series->started->inc();
  }
  return out;
}

claim_result metrics_store::claim(const claim_request& req) {
  auto out = timed(claim_seconds_, [&] { return inner()->claim(req); });
  // Rows come oldest first, often runs of one task: look each run up once.
  task_series* series = nullptr;
  std::string_view task;
  for (const auto& r : out.claimed) {
    if (r.status != execution_status::running)
      continue; // a waiting parent taken over: no body starts
    if (!series || r.task_id != task) {
      series = &series_of(r.task_id);
      task = r.task_id;
    }
    series->started->inc();
  }
  for (auto i : out.taken_over)
    if (i < out.claimed.size())
      series_of(out.claimed[i].task_id).recoveries->inc();
  return out;
}

std::vector<std::string> metrics_store::renew_leases(const std::string& owner,
                                                     millis lease) {
  auto out = inner()->renew_leases(owner, lease);
  renewals_.inc();
  return out;
}

std::uint64_t metrics_store::subscribe(store_listener listener) {
  // The counters, not `this`: the registry outlives the store, and a store
  // may call its listeners until unsubscribe() returned.
  return inner()->subscribe(
    [&notifications = notifications_, &resyncs = resyncs_,
     next = std::move(listener)](std::vector<store_event> events) {
      bool from_other = false;
      for (const auto& e : events) {
        from_other = from_other || e.from_other_process;
        if (e.kind == store_event::type::resync)
          resyncs.inc();
      }
      // One delivery from the listener is one announcement.
      if (from_other)
        notifications.inc();
      next(std::move(events));
    });
}

status_counts metrics_store::finished_by_status() const {
  status_counts out;
  // Labels: task, status.
  finished_.each(
    [&out](const std::vector<std::string>& labels, const counter& c) {
      if (labels.size() == 2)
        if (auto status = parse_status(labels[1]))
          out[*status] += c.value();
    });
  return out;
}

} // namespace durable::metrics
