#pragma once

#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "durable/task_definition.hpp"

namespace durable::actors {

/// The tasks one executor runs, by id.
///
/// Threading: safe from any thread. Definitions are immutable once added;
/// lookups return shared pointers that stay valid after later additions.
class task_registry {
public:
  /// Adds a definition. Throws durable::error "Task with given id already
  /// exists [taskId=…]" on a duplicate id.
  void add(task_definition def);

  /// The definition of `id`, or nullptr.
  task_definition_ptr find(const std::string& id) const;

  /// Every registered id (the claim filter: a node claims only these).
  std::vector<std::string> ids() const;

  /// Bumped by every add(), so readers can cache ids().
  std::uint64_t generation() const;

private:
  mutable std::shared_mutex mtx_;
  std::map<std::string, task_definition_ptr> tasks_;
  std::uint64_t generation_ = 0;
};

} // namespace durable::actors
