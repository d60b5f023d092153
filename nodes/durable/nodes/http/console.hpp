#pragma once

#include <optional>

#include "durable/nodes/http/message.hpp"

/// The web console's routes (docs/console.md): the files of nodes/ui/,
/// compiled into the binary (console_assets.hpp), under `/ui/`.
///
/// - `GET /` and `GET /ui` → 302 to `/ui/`;
/// - `GET /ui/` → index.html; `GET /ui/<path>` → that file, 404 if none;
///   HEAD alike; any other method → 405 (`Allow: GET, HEAD`).
///
/// The console answers **without the bearer token**: the page must load to
/// show its login form. It holds no data; everything it shows comes from
/// the API, which requires the token as always (the page sends it from
/// `sessionStorage`, never in a URL).
///
/// Every response carries a Content-Security-Policy that allows scripts,
/// styles and connections to this origin only (no inline script or style,
/// no framing), `X-Content-Type-Options: nosniff`, `Referrer-Policy:
/// no-referrer` and `Cache-Control: no-cache`; a file carries a strong
/// `ETag` and a matching `If-None-Match` is answered 304.
///
/// Pure and non-blocking (the files are in memory): safe on the
/// transport's event-loop thread, where the server calls it before it
/// checks the token.
namespace durable::nodes::http {

/// The Content-Security-Policy of every console response.
inline constexpr std::string_view console_csp
  = "default-src 'none'; script-src 'self'; style-src 'self'; img-src "
    "'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

/// The console's answer to `req` (its method and target; no body is
/// read), or nullopt when the target is not the console's (`/v1/…`,
/// `/metrics`, `POST /`), for the API to answer.
std::optional<response> console_response(const request& req);

} // namespace durable::nodes::http
