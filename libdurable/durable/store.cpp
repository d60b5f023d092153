#include "durable/store.hpp"

#include <fmt/format.h>

namespace durable {

std::string_view to_string(store_failure f) noexcept {
  switch (f) {
    case store_failure::conflict:
      return "conflict";
    case store_failure::unavailable:
      return "unavailable";
    case store_failure::in_doubt:
      return "in doubt";
    case store_failure::corrupt:
      return "corrupt";
    case store_failure::fatal:
      return "fatal";
  }
  return "fatal";
}

store_error::store_error(store_failure failure, std::string message)
  : error(std::move(message),
          failure == store_failure::conflict
            || failure == store_failure::unavailable,
          true),
    failure_(failure) {}

std::optional<store_failure> failure_of(const std::exception& e) noexcept {
  if (const auto* se = dynamic_cast<const store_error*>(&e))
    return se->failure();
  return std::nullopt;
}

void validate(const prune_request& req) {
  auto invalid = [](std::string why) {
    throw error::non_retryable("Invalid prune request: " + why);
  };
  if (req.limit < 1 || req.limit > prune_request::max_limit)
    invalid(fmt::format("limit must be in 1..{}", prune_request::max_limit));
  if (req.statuses.empty())
    invalid("no status");
  for (auto s : req.statuses)
    if (!is_finished(s))
      invalid(fmt::format("{} is not a final status", to_string(s)));
  if (req.except_tasks.size() > prune_request::max_except_tasks)
    invalid(fmt::format("{} excluded tasks, at most {}",
                        req.except_tasks.size(),
                        prune_request::max_except_tasks));
  for (const auto& t : req.except_tasks) {
    if (t.empty())
      invalid("an excluded task id is empty");
    if (req.task_id && *req.task_id == t)
      invalid("the task to prune is also excluded");
  }
}

store::~store() = default;

} // namespace durable
