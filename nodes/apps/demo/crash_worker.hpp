#pragma once

#include <chrono>
#include <string>

/// One worker process of the demo's crash mode (crash_demo.hpp): an
/// executor on a SQLite file that runs one fan-out, a parent `fanout` with
/// `children` children `work` (each works `child_work`, then returns its
/// index squared and the name of the worker that ran it) and a finalize
/// task `sum` adding the children's values.
///
/// It writes on stdout, one line each, flushed:
///
///     incarnation <id>    once its executor runs (the owner of its leases)
///     root <id>           with `enqueue`: the fan-out it stored
///
/// and exits once the root finished: 0 if it completed, 1 otherwise (or if
/// it did not finish within a minute). Nothing else is printed on stdout;
/// errors go to stderr, with exit code 2.
namespace durable::demo {

/// What both workers agree on; the orchestrator reads it too.
struct crash_workload {
  static constexpr int children = 20;
  static constexpr int max_concurrent = 4;
  static constexpr std::chrono::milliseconds child_work{400};
  /// Short, so that the second worker takes the first one's rows over
  /// within about a second of the kill (the engine's default is 6 s).
  static constexpr std::chrono::milliseconds lease{1000};
  static constexpr std::chrono::milliseconds renew{200};

  /// What the finalize returns when every child ran: 0² + 1² + ... + 19².
  static constexpr int expected_sum() {
    int sum = 0;
    for (int i = 0; i < children; ++i)
      sum += i * i;
    return sum;
  }
};

struct crash_worker_settings {
  /// The SQLite file.
  std::string db;
  /// A label for the children's output (`worker 1`).
  std::string name;
  /// Store the fan-out (the first worker), or not (the second).
  bool enqueue = false;
  /// Without `enqueue`: the root to run until it finished.
  std::string root;
};

/// Runs a worker; returns its exit code.
int run_crash_worker(const crash_worker_settings& s);

} // namespace durable::demo
