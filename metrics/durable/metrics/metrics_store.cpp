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
  struct counted {
    std::string task;
    execution_status status;
    std::vector<std::string> child_tasks;
  };
  std::vector<counted> what;
  what.reserve(ts.size());
  for (const auto& t : ts) {
    counted c{t.next.task_id, t.next.status, {}};
    for (const auto& child : t.children)
      c.child_tasks.push_back(child.task_id);
    what.push_back(std::move(c));
  }
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
  for (std::size_t i = 0; i < out.size() && i < what.size(); ++i) {
    if (out[i].status != write_status::applied)
      continue;
    const auto& c = what[i];
    if (is_finished(c.status))
      finished_.with({c.task, std::string{to_string(c.status)}}).inc();
    for (const auto& task : c.child_tasks)
      enqueued_.with({task}).inc();
  }
  return out;
}

} // namespace durable::metrics
