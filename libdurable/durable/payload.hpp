#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "durable/error.hpp"

/// The rule every payload (an input or output, JSON text) meets before a
/// store sees it. Pure; no thread, no store.
namespace durable {

/// The error of `payload` if no store may take it, non-retryable since the
/// same payload would fail again: over `max_bytes` (the reference's
/// "Serialized data size exceeds maximum allowed size [size=…]
/// [maxSize=…]") or not storable text (utf8::problem, naming `what`).
std::optional<execution_error> payload_problem(std::string_view what,
                                               const std::string& payload,
                                               std::size_t max_bytes);

} // namespace durable
