#pragma once

#include <optional>
#include <string>
#include <string_view>

/// Bearer-token checks of the HTTP API.
///
/// A node that listens on anything but a loopback address must have a
/// token (the server refuses to start without one); with a token, every
/// route requires `Authorization: Bearer <token>`. Tokens are compared in
/// time that does not depend on where they differ, and never logged.
namespace durable::nodes::http {

/// True if `a == b`, in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// True for addresses that only this host can reach: `localhost`,
/// 127.0.0.0/8 and `::1`. Anything else (including `0.0.0.0` and `::`,
/// which listen on every interface) is not loopback.
bool is_loopback_address(std::string_view address);

/// The token of an `Authorization: Bearer <token>` header value; nullopt if
/// the value is not of that form.
std::optional<std::string_view> bearer_token(std::string_view header);

} // namespace durable::nodes::http
