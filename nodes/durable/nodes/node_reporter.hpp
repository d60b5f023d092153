#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "durable/node_registry.hpp"
#include "durable/store.hpp"

/// Keeps a node in the cluster's registry (node_registry.hpp).
namespace durable::nodes {

/// Reports a node to its store (store::report_node()) at start, every
/// `interval` on a thread of its own, and once more as `stopped` by stop():
/// what it is (describe()) and what it finished since its previous report
/// (the difference of finished_total() between reports).
///
/// **Durability and errors.** A report that fails is logged through
/// `on_failure` and retried at the next interval with the executions of
/// both; one whose commit was in doubt may count its executions twice
/// (the counts feed charts). The registry is never read by the engine, so
/// a store that refuses reports costs the node nothing but its entry.
///
/// **Threading.** set_state() and stop() may be called from any thread;
/// the callbacks run on the reporter's thread (and stop()'s caller), one
/// at a time, and must not block for long.
class node_reporter {
public:
  /// What the reporter reads at each report.
  struct source {
    /// The node as it is now (`heartbeat_at` and `state` are set by the
    /// reporter).
    std::function<node_info()> describe;
    /// Executions finished since the process started, by final status.
    std::function<status_counts()> finished_total;
  };

  /// Starts reporting (the first report is sent before this returns).
  node_reporter(std::shared_ptr<store> db, source src,
                std::function<void(std::string_view)> on_failure,
                std::chrono::milliseconds interval = node_report_interval);

  /// stop().
  ~node_reporter();

  node_reporter(const node_reporter&) = delete;
  node_reporter& operator=(const node_reporter&) = delete;

  /// The state the next reports give (draining once a drain begins).
  void set_state(node_state s);

  /// Stops the thread and reports the node `stopped`. Idempotent.
  void stop();

private:
  void report();
  void loop();

  std::shared_ptr<store> db_;
  source src_;
  std::function<void(std::string_view)> on_failure_;
  std::chrono::milliseconds interval_;
  std::atomic<node_state> state_{node_state::running};
  /// finished_total() as of the last report that succeeded (reporter
  /// thread, then stop()'s caller after the join).
  status_counts reported_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

} // namespace durable::nodes
