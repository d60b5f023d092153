#pragma once

#include <string>

namespace durable {

/// A new execution id: `te_` followed by 24 characters from a 56-character
/// alphabet (digits and letters without I, L, O). Thread-safe.
std::string make_execution_id();

/// A new incarnation id for a node start: `de_` and 16 random characters.
/// Leases are owned by incarnations, never by node names.
std::string make_incarnation_id();

/// True if `id` has the shape make_execution_id() produces.
bool is_execution_id(const std::string& id) noexcept;

} // namespace durable
