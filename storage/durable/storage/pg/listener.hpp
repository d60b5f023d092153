#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "durable/store.hpp"

/// The receiving end of the NOTIFY channel: one thread with its own
/// connection that LISTENs and hands other stores' events to a callback.
///
/// **Threading.** The callback runs on the listener's thread. Destruction
/// stops the thread at once (a self-pipe interrupts its wait) and joins it;
/// after the destructor returns the callback is never called again.
///
/// **Failures.** A broken connection is re-opened with backoff; since
/// notifications sent meanwhile are lost, the callback then gets one
/// `resync` event. Payloads that are not ours are ignored; the listener's
/// own store's payloads (same sender) are dropped, since the store announced
/// them in-process already.
namespace durable::storage::pg {

class listener {
public:
  using callback = std::function<void(std::vector<store_event>)>;

  /// Connects and LISTENs before returning (so no commit after the
  /// constructor returns is missed). @throws what libpqxx throws.
  listener(std::string url, std::string channel, std::string own_sender,
           std::string application_name, callback cb);

  ~listener();

  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;

private:
  struct connection_state;

  void run();

  /// Waits for the socket (or the stop pipe) up to `timeout`; false when
  /// stopping.
  bool wait(int fd, std::chrono::milliseconds timeout);

  /// (Re)connects and LISTENs; false when stopping.
  bool reconnect();

  void deliver(const std::string& payload);

  std::string url_;
  std::string channel_;
  std::string own_sender_;
  std::string application_name_;
  callback cb_;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::unique_ptr<connection_state> conn_;
  std::thread thread_;
};

} // namespace durable::storage::pg
