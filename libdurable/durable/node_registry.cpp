#include "durable/node_registry.hpp"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/status.hpp"

namespace durable {

namespace {

constexpr std::array<std::pair<node_state, std::string_view>, 3> names{{
  {node_state::running, "running"},
  {node_state::draining, "draining"},
  {node_state::stopped, "stopped"},
}};

} // namespace

std::string_view to_string(node_state s) noexcept {
  for (const auto& [state, name] : names)
    if (state == s)
      return name;
  return "running";
}

std::optional<node_state> parse_node_state(std::string_view name) noexcept {
  for (const auto& [state, text] : names)
    if (text == name)
      return state;
  return std::nullopt;
}

bool registry_order(const node_info& a, const node_info& b) noexcept {
  if (a.name != b.name)
    return a.name < b.name;
  if (a.started_at != b.started_at)
    return a.started_at > b.started_at;
  return a.incarnation < b.incarnation;
}

void validate(const node_report& r) {
  if (r.node.incarnation.empty())
    throw error::non_retryable("Invalid node report: empty incarnation");
  for (const auto& [status, n] : r.finished)
    if (!is_finished(status))
      throw error::non_retryable(fmt::format(
        "Invalid node report: {} is not a final status", to_string(status)));
}

timestamp minute_of(timestamp t) noexcept {
  return std::chrono::floor<std::chrono::minutes>(t);
}

} // namespace durable
