#pragma once

#include <string>
#include <string_view>

#include "durable/nodes/http/message.hpp"

/// Request targets, decoded strictly: what a handler sees is exactly what
/// the client sent, or the request is refused.
///
/// Pure functions; safe from any thread. Every function throws `api_error`
/// (400) naming what was wrong.
namespace durable::nodes::http {

/// The longest request target accepted (414 beyond; docs/http-api.md).
inline constexpr std::size_t max_target_bytes = 8 * 1024;

/// `s` with every `%XX` replaced by its byte (and, when `plus_is_space`,
/// every `+` by a space, as in a query). A `%` not followed by two hex
/// digits is refused.
std::string percent_decode(std::string_view s, bool plus_is_space,
                           std::string_view what);

/// Splits an origin-form target ("/path?query") into the request's `path`
/// and `params`. The decoded path and every decoded name and value must
/// be storable text (valid UTF-8 without NUL, utf8.hpp): no handler ever
/// sees a prefix of what was sent. A target that is not origin-form (no
/// leading `/`) or longer than max_target_bytes is refused.
void decode_target(request& req);

} // namespace durable::nodes::http
