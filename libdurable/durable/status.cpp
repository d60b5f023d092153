#include "durable/status.hpp"

#include <array>

namespace durable {

namespace {

constexpr std::array<std::string_view, 9> names{
  "ready",
  "running",
  "waiting_for_children",
  "waiting_for_finalize",
  "completed",
  "failed",
  "timed_out",
  "finalize_failed",
  "cancelled",
};

} // namespace

std::string_view to_string(execution_status s) noexcept {
  auto i = static_cast<std::size_t>(s);
  return i < names.size() ? names[i] : "unknown";
}

std::optional<execution_status> parse_status(std::string_view s) noexcept {
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == s)
      return static_cast<execution_status>(i);
  return std::nullopt;
}

} // namespace durable
