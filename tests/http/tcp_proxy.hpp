#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

/// A TCP forwarder on an ephemeral loopback port, for tests that take a
/// server away from a client and give it back: a store that loses its
/// database without the database being stopped.
namespace durable::test::http {

/// Threading: start() and stop() from the test's thread; forwarding runs
/// on one thread of the proxy's own. Errors: the constructor throws
/// std::system_error when it cannot listen.
class tcp_proxy {
public:
  /// Forwards connections to 127.0.0.1:`target_port`; listens until
  /// stop().
  explicit tcp_proxy(std::uint16_t target_port);
  ~tcp_proxy();

  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  std::uint16_t port() const noexcept {
    return port_;
  }

  /// Closes every forwarded connection and stops listening: connections to
  /// port() are refused until start().
  void stop();

  /// Listens again on the same port.
  void start();

private:
  void run();

  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> running_{false};
  std::thread thread_;
};

} // namespace durable::test::http
