#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// HTTP as bytes on a socket, for tests that send what no well-behaved
/// client library would (malformed heads, lying lengths, slow drips).
namespace durable::test::http {

/// One response as read off the socket.
struct raw_response {
  /// 0 when the connection closed (or the guard passed) before a status
  /// line arrived.
  int status = 0;
  std::string head;
  std::string body;
};

/// A client connection to 127.0.0.1:`port`. Not thread-safe.
class raw_connection {
public:
  explicit raw_connection(std::uint16_t port);
  ~raw_connection();

  raw_connection(const raw_connection&) = delete;
  raw_connection& operator=(const raw_connection&) = delete;

  /// Sends all of `bytes`; false if the connection is gone.
  bool send(std::string_view bytes);

  /// Reads one response: its head, then as many body bytes as its
  /// Content-Length says (none for the answer to HEAD: `no_body`), or
  /// until the server closes. Gives up after `guard`.
  raw_response read_response(std::chrono::milliseconds guard,
                             bool no_body = false);

  /// Whether the server has closed the connection (EOF or reset) within
  /// `guard`; bytes that arrive first are dropped.
  bool closed_within(std::chrono::milliseconds guard);

private:
  int fd_ = -1;
  std::string pending_;
};

/// Connects, sends `bytes` and reads one response.
raw_response
exchange(std::uint16_t port, std::string_view bytes,
         std::chrono::milliseconds guard = std::chrono::seconds{10});

/// The value of header `name` in `head` (case-insensitive), or nullopt.
std::optional<std::string> header_of(const std::string& head,
                                     std::string_view name);

} // namespace durable::test::http
