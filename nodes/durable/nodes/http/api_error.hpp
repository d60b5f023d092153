#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "durable/error.hpp"

/// The errors of the HTTP API and the one place that maps them to statuses.
///
/// Every error response has the body `{"error": {"kind": K, "message": M}}`
/// where K is one of the `kind_*` constants below and M says what was wrong
/// in words a client can act on. Internal failures never reach a client in
/// detail: the server logs them with a reference and answers with that
/// reference only (no stack traces, SQL or secrets in responses).
namespace durable::nodes::http {

inline constexpr std::string_view kind_bad_request = "bad_request";
inline constexpr std::string_view kind_invalid_json = "invalid_json";
inline constexpr std::string_view kind_unauthorized = "unauthorized";
inline constexpr std::string_view kind_not_found = "not_found";
inline constexpr std::string_view kind_method_not_allowed = "method_not_"
                                                            "allowed";
inline constexpr std::string_view kind_payload_too_large = "payload_too_large";
inline constexpr std::string_view kind_uri_too_long = "uri_too_long";
inline constexpr std::string_view kind_headers_too_large = "headers_too_large";
inline constexpr std::string_view kind_request_timeout = "request_timeout";
inline constexpr std::string_view kind_unsupported_media_type = "unsupported_"
                                                                "media_type";
inline constexpr std::string_view kind_unavailable = "unavailable";
inline constexpr std::string_view kind_internal = "internal";

/// An error response: status, kind and message.
class api_error : public std::runtime_error {
public:
  api_error(int status, std::string_view kind, std::string message)
    : std::runtime_error(std::move(message)), status_(status), kind_(kind) {}

  int status() const noexcept {
    return status_;
  }

  const std::string& kind() const noexcept {
    return kind_;
  }

  /// 400: a request that cannot be served as sent.
  static api_error bad_request(std::string message) {
    return {400, kind_bad_request, std::move(message)};
  }

  /// 404: no such route, task or execution.
  static api_error not_found(std::string message) {
    return {404, kind_not_found, std::move(message)};
  }

private:
  int status_;
  std::string kind_;
};

/// Maps an error thrown by the executor or a store (REFERENCE §5.7):
/// not-found → 404; internal → 500; any other durable::error (invalid
/// input, options, cursor, a wake-up of a task that does not sleep, …) →
/// 400. The message of a 500 is the caller's to log, not to send.
api_error to_api_error(const durable::error& e);

/// `{"error": {"kind": kind, "message": message}}` as text.
std::string error_body(std::string_view kind, std::string_view message);

} // namespace durable::nodes::http
