#include "durable/payload.hpp"

#include <fmt/format.h>

#include "durable/utf8.hpp"

namespace durable {

std::optional<execution_error> payload_problem(std::string_view what,
                                               const std::string& payload,
                                               std::size_t max_bytes) {
  if (payload.size() > max_bytes)
    return execution_error{
      error_kind::generic,
      fmt::format("Serialized data size exceeds maximum allowed size "
                  "[size={}] [maxSize={}]",
                  payload.size(), max_bytes),
      false, false};
  if (auto why = utf8::problem(what, payload))
    return execution_error{error_kind::generic, std::move(*why), false, false};
  return std::nullopt;
}

} // namespace durable
