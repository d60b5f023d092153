#include "durable/actors/task_registry.hpp"

#include <mutex>

#include <fmt/format.h>

#include "durable/error.hpp"

namespace durable::actors {

void task_registry::add(task_definition def) {
  std::unique_lock guard{mtx_};
  auto id = def.options.id;
  if (tasks_.count(id) != 0)
    throw error::non_retryable(
      fmt::format("Task with given id already exists [taskId={}]", id));
  tasks_.emplace(std::move(id),
                 std::make_shared<const task_definition>(std::move(def)));
  ++generation_;
}

task_definition_ptr task_registry::find(const std::string& id) const {
  std::shared_lock guard{mtx_};
  auto i = tasks_.find(id);
  return i == tasks_.end() ? nullptr : i->second;
}

std::vector<std::string> task_registry::ids() const {
  std::shared_lock guard{mtx_};
  std::vector<std::string> result;
  result.reserve(tasks_.size());
  for (const auto& [id, def] : tasks_)
    result.push_back(id);
  return result;
}

std::uint64_t task_registry::generation() const {
  std::shared_lock guard{mtx_};
  return generation_;
}

} // namespace durable::actors
