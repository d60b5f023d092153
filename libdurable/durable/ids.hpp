#pragma once

#include <string>
#include <string_view>

namespace durable {

/// A new execution id: `te_` followed by 24 characters from a 56-character
/// alphabet (digits and letters without I, L, O). The first 8 encode the
/// wall-clock millisecond, most significant first, in an alphabet whose
/// byte order is its digit order, so ids sort by creation time under a
/// binary collation; the other 16 are random (about 93 bits). Stores keep
/// ids in B-trees: new ids land at the right edge instead of on a random
/// page, which keeps the index's working set small as a table grows.
/// Uniqueness rests on the random part alone. Thread-safe.
std::string make_execution_id();

/// A new incarnation id for a node start: `de_` and 16 random characters.
/// Leases are owned by incarnations, never by node names.
std::string make_incarnation_id();

/// True if `id` has the shape make_execution_id() produces.
bool is_execution_id(const std::string& id) noexcept;

/// Whether `id` may name a stored execution at all: not empty, at most
/// 255 bytes, storable text (utf8.hpp: no NUL, valid UTF-8). An id that
/// is not names none, on every store; asked for, it is not found. (A
/// store that passes ids as C strings would otherwise read `<id>\0junk`
/// as `<id>`, and act on that execution.)
bool may_name_execution(std::string_view id) noexcept;

} // namespace durable
