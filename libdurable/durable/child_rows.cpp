#include "durable/child_rows.hpp"

#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "durable/error.hpp"
#include "durable/payload.hpp"
#include "durable/transitions.hpp"
#include "durable/utf8.hpp"

namespace durable {

child_spec step_child(const task_definition& def, std::uint32_t k,
                      std::string input) {
  if (def.kind == task_kind::sequence)
    return {def.steps.at(k), std::move(input), {}, k, def.steps.size(), false};
  enqueue_options o;
  if (def.iteration_pause)
    o.sleep_before_run = def.iteration_pause(static_cast<int>(k));
  return {def.iteration_task,
          std::move(input),
          std::move(o),
          k,
          static_cast<std::size_t>(def.max_iterations),
          false};
}

std::variant<execution_record, execution_error>
make_child_row(const execution_record& parent, const task_definition* child_def,
               child_spec spec, std::size_t max_input_bytes, timestamp now) {
  if (child_def == nullptr)
    return execution_error{error_kind::not_found,
                           fmt::format("Task not found [taskId={}]",
                                       spec.task_id)};
  try {
    auto opts = merge(child_def->options, spec.overrides);
    auto& input = spec.input;
    // The name is formatted only for an input that is refused.
    if (input.size() > max_input_bytes || !utf8::is_storable(input))
      return *payload_problem(fmt::format("Input of child task {}",
                                          spec.task_id),
                              input, max_input_bytes);
    std::optional<std::string> sleeping_id;
    if (child_def->kind == task_kind::sleeping) {
      auto parsed = nlohmann::json::parse(input, nullptr, false);
      if (!parsed.is_string() || parsed.get<std::string>().empty()
          || parsed.get<std::string>().size() > 255)
        throw error::non_retryable(
          fmt::format("Invalid sleeping task unique id for task {}: must be a "
                      "non-empty string of at most 255 characters",
                      spec.task_id));
      sleeping_id = parsed.get<std::string>();
      if (auto why = utf8::problem("Sleeping task unique id", *sleeping_id))
        throw error::non_retryable(std::move(*why));
      input = "null";
    }
    auto c = transitions::make_child(parent, spec.task_id, child_def->kind,
                                     opts, std::move(input), spec.index,
                                     spec.siblings, spec.is_finalize, now);
    c.sleeping_id = std::move(sleeping_id);
    return c;
  } catch (const error& e) {
    return e.info();
  }
}

} // namespace durable
