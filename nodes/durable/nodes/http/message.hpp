#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/// One HTTP exchange as the API's handlers see it, independent of the
/// library that reads it off the socket (transport.hpp).
namespace durable::nodes::http {

/// Query parameters, percent-decoded, in the order sent.
using query_params = std::multimap<std::string, std::string>;

/// A request: its start line decoded, its header fields and (once read)
/// its body.
struct request {
  /// As sent: "GET", "HEAD", "POST", ...
  std::string method;
  /// The request target as sent ("/v1/executions?limit=5").
  std::string target;
  /// The target's path, percent-decoded: storable text (url.hpp).
  std::string path;
  /// The target's query, percent-decoded.
  query_params params;
  /// Header fields in the order sent (names as sent).
  std::vector<std::pair<std::string, std::string>> headers;
  /// The body, de-chunked; empty until read.
  std::string body;
  /// What the route's pattern captured (the task id, the execution id).
  std::vector<std::string> captures;
  /// The index of the matched route in the server's table.
  std::size_t route = 0;

  /// The value of the first header field named `name` (compared
  /// case-insensitively), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;

  /// How many header fields are named `name`.
  std::size_t header_count(std::string_view name) const;
};

/// A response: status, extra header fields and a JSON body.
struct response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Whether the connection must be closed once this is sent.
  bool close = false;

  void set_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

} // namespace durable::nodes::http
