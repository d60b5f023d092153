#include "durable/next_step.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "durable/transitions.hpp"

namespace durable::next_step {

namespace {

using nlohmann::json;

execution_error non_retryable(std::string message) {
  return {error_kind::generic, std::move(message), false, false};
}

} // namespace

first_move at_start(const execution_record& row, const task_definition* def,
                    int max_recoveries) {
  if (def == nullptr)
    return fail{execution_status::failed,
                {error_kind::not_found,
                 fmt::format("Task not found [taskId={}]", row.task_id)}};
  if (row.recoveries > max_recoveries)
    return fail{execution_status::failed,
                {error_kind::generic,
                 fmt::format("Task execution recovered too many times "
                             "[recoveries={}] [maxRecoveries={}]",
                             row.recoveries, max_recoveries),
                 false, true}};
  switch (row.status) {
    case execution_status::running:
      if (row.kind == task_kind::sequence || row.kind == task_kind::loop)
        return start_step{0, row.input};
      return run_body{};
    case execution_status::waiting_for_children:
    case execution_status::waiting_for_finalize:
      return adopt{};
    default:
      return stand_down{};
  }
}

move after_children(const execution_record& row, const task_definition& def,
                    std::vector<execution_record> kids) {
  if (row.status == execution_status::waiting_for_finalize) {
    const execution_record* fin = nullptr;
    for (const auto& k : kids)
      if (row.finalize && k.id == row.finalize->execution_id)
        fin = &k;
    return after_finalize_task(row, fin);
  }
  // The children in order, finalize excluded (it is last).
  std::vector<execution_record> mine;
  mine.reserve(kids.size());
  std::vector<std::string> unfinished;
  for (auto& k : kids) {
    if (k.parent && k.parent->is_finalize)
      continue;
    if (!k.is_finished())
      unfinished.push_back(k.id);
    mine.push_back(std::move(k));
  }
  if (!unfinished.empty())
    return wait_for{std::move(unfinished)};
  const bool stepwise = row.kind == task_kind::sequence
                        || row.kind == task_kind::loop;
  if (mine.size() < row.children.size() || (stepwise && mine.empty()))
    return fail{execution_status::failed,
                non_retryable(fmt::format(
                  "Some children task executions not found [expected={}] "
                  "[found={}]",
                  row.children.size(), mine.size()))};
  switch (row.kind) {
    case task_kind::sequence:
      return after_step(row, def, mine.back());
    case task_kind::loop:
      return after_iteration(row, def, mine.back());
    default:
      return parent_done(def,
                         transitions::children_outcome(row.run_output, mine));
  }
}

move after_current_step(const execution_record& row, const task_definition& def,
                        const execution_record& child) {
  if (!child.is_finished())
    return wait_for{{child.id}};
  if (row.kind == task_kind::sequence)
    return after_step(row, def, child);
  return after_iteration(row, def, child);
}

move parent_done(const task_definition& def, std::string outcome) {
  if (def.has_finalize())
    return finalize{std::move(outcome)};
  return complete{std::move(outcome), true};
}

move after_finalize_task(const execution_record& parent,
                         const execution_record* fin) {
  if (fin == nullptr)
    return fail{
      execution_status::failed,
      non_retryable("Some children task executions not found [finalize]")};
  if (!fin->is_finished())
    return wait_for{{fin->id}};
  if (fin->status == execution_status::completed)
    return complete{fin->output.value_or("null")};
  return fail{execution_status::finalize_failed,
              transitions::finalize_task_error(parent, *fin)};
}

move after_step(const execution_record& sequence, const task_definition& def,
                const execution_record& step) {
  if (step.status != execution_status::completed) {
    auto msg = step.error ? step.error->message : std::string{"unknown"};
    return fail{execution_status::finalize_failed,
                non_retryable(fmt::format(
                  "Sequential task failed [parentTaskId={}] [index={}]: {}",
                  sequence.task_id, sequence.step, msg))};
  }
  auto output = step.output.value_or("null");
  auto next = sequence.step + 1;
  if (next >= def.steps.size())
    return complete{std::move(output)};
  return start_step{next, std::move(output)};
}

move after_iteration(const execution_record& loop, const task_definition& def,
                     const execution_record& it) {
  if (it.status != execution_status::completed) {
    auto msg = it.error ? it.error->message : std::string{"unknown error"};
    return fail{
      execution_status::finalize_failed,
      non_retryable(fmt::format("Iteration task failed [taskId={}]: {}",
                                def.iteration_task, msg))};
  }
  auto result = json::parse(it.output.value_or("null"), nullptr, false);
  if (result.is_object() && result.value("done", false))
    return complete{
      json{{"is_success", true}, {"output", result.value("output", json{})}}
        .dump()};
  auto next = loop.step + 1;
  if (static_cast<int>(next) >= def.max_iterations)
    return complete{json{{"is_success", false}}.dump()};
  return start_step{next, loop.input};
}

} // namespace durable::next_step
