#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "durable/durable.hpp"

/// The chaos tier's workload: trees, chains, loops, sleepers and plain
/// tasks whose bodies record each run. Registered by `durable-chaos-node`
/// (which runs them) and by the chaos driver (which only enqueues and
/// wakes them).
///
/// Every output is a pure function of the input, whichever node runs it
/// and however often, so the driver can check each one. Every body appends
/// one line to its node's run log as it starts (run_log), before it does
/// anything else, so the driver can count and explain every run.
namespace durable::chaos {

/// Input of `chaos_square`: x*x after `ms`; with `fail_first` the first
/// attempt fails (retryable), so every run of attempt 1 is a retry.
struct work_input {
  int x = 0;
  int ms = 0;
  bool fail_first = false;
};

void to_json(nlohmann::json& j, const work_input& w);
void from_json(const nlohmann::json& j, work_input& w);

/// Input of `chaos_tree`: children square(1..n), each taking `ms`.
struct tree_input {
  int n = 0;
  int ms = 0;
};

void to_json(nlohmann::json& j, const tree_input& t);
void from_json(const nlohmann::json& j, tree_input& t);

/// The run log of one node incarnation: one line per body start,
/// tab-separated, appended with one write(2) to an O_APPEND file, so a
/// line survives a SIGKILL of the node as soon as the body started:
///
///     <execution id> <task id> <attempt> <incarnation> <node> <start µs>
///     <parent execution id or -> <1 for a finalize run, else 0>
///
/// The start is microseconds since the epoch of the system clock, which
/// on one machine is the clock of the PostgreSQL server (the store's
/// clock) as well. Thread-safe.
class run_log {
public:
  /// Opens (creates) `path`; throws on failure.
  run_log(const std::string& path, std::string incarnation, std::string node);
  ~run_log();

  run_log(const run_log&) = delete;
  run_log& operator=(const run_log&) = delete;

  /// Records the start of a body now.
  void record(const task_context& ctx);

private:
  int fd_ = -1;
  std::string incarnation_;
  std::string node_;
};

/// The handles of the chaos tasks as registered on one executor.
struct chaos_tasks {
  task_ref<work_input, int> square;
  /// Parent with children `chaos_square` (1..n) and the finalize task
  /// `chaos_sum`: n(n+1)(2n+1)/6.
  task_ref<tree_input, long long> tree;
  /// Sequence of three `chaos_add` steps: x + 3.
  task_ref<int, int> chain;
  /// Loop of `chaos_tick` until iteration x: x.
  task_ref<int, loop_result<int>> loop;
  /// Sleeping task woken by the driver.
  task_ref<std::string, std::string> sleeper;
};

/// Registers the chaos tasks on `exec`; their bodies record to `log` (null:
/// this executor runs no bodies).
chaos_tasks register_chaos_tasks(executor& exec, std::shared_ptr<run_log> log);

/// The output `chaos_tree` must produce for n children.
long long expected_tree(int n);

} // namespace durable::chaos
