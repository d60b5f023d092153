#include "durable/metrics/metrics_store.hpp"

#include <chrono>

#include "durable/status.hpp"

namespace durable::metrics {

metrics_store::metrics_store(std::shared_ptr<store> inner, registry& reg)
  : forwarding_store(std::move(inner)),
    enqueued_(reg.add_counter("durable_executions_enqueued_total",
                              "Executions this node stored (enqueues and "
                              "children), by task",
                              {"task"})),
    finished_(reg.add_counter("durable_executions_finished_total",
                              "Executions this node finished, by task and "
                              "final status",
                              {"task", "status"})),
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
                   .with({})) {}

std::vector<insert_outcome>
metrics_store::insert(std::vector<execution_record> rows) {
  // The outcomes name executions, not tasks: keep the tasks in order.
  std::vector<std::string> tasks;
  tasks.reserve(rows.size());
  for (const auto& r : rows)
    tasks.push_back(r.task_id);
  auto out = inner()->insert(std::move(rows));
  for (std::size_t i = 0; i < out.size() && i < tasks.size(); ++i)
    if (out[i].result == insert_outcome::kind::inserted)
      enqueued_.with({tasks[i]}).inc();
  return out;
}

std::vector<write_outcome> metrics_store::apply(std::vector<transition> ts) {
  // A finished row is counted from its outcome (the row as stored); only
  // the children's tasks, which no outcome names, are kept before the
  // transitions move into the store: (index in the batch, task).
  std::vector<std::pair<std::size_t, std::string>> children;
  for (std::size_t i = 0; i < ts.size(); ++i)
    for (const auto& child : ts[i].children)
      children.emplace_back(i, child.task_id);
  apply_batch_.observe(static_cast<double>(ts.size()));
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now()
                                         - start)
      .count();
  };
  std::vector<write_outcome> out;
  try {
    out = inner()->apply(std::move(ts));
  } catch (...) {
    apply_seconds_.observe(elapsed());
    throw;
  }
  apply_seconds_.observe(elapsed());
  auto applied = [&out](std::size_t i) {
    return i < out.size() && out[i].status == write_status::applied;
  };
  for (std::size_t i = 0; i < out.size(); ++i)
    if (applied(i) && out[i].current && is_finished(out[i].current->status))
      finished_
        .with({out[i].current->task_id,
               std::string{to_string(out[i].current->status)}})
        .inc();
  for (const auto& [i, task] : children)
    if (applied(i))
      enqueued_.with({task}).inc();
  return out;
}

} // namespace durable::metrics
