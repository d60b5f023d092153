#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "durable/durable.hpp"
#include "readback.hpp"
#include "settings.hpp"

/// The workloads: the tasks they register (the same on every node), how a
/// round of each is enqueued, how many rows it makes, and what a correct
/// outcome looks like row by row.
namespace durable::bench {

/// Holds the bodies of the `hold` workload open until released, so that
/// many executions are in flight at once. Threading: any thread.
class hold_gate {
public:
  /// Blocks until open() or until `stop` fires.
  void wait(const std::stop_token& stop);

  void open();

private:
  std::mutex mtx_;
  std::condition_variable_any cv_;
  bool open_ = false;
};

/// The registered tasks. Every body is deterministic in its input, so
/// that validate() can check every stored output:
/// - `bench_add` (x -> x + 1, non-blocking), also every chain step and
///   every fanout child;
/// - `bench_fan` (n -> n children `bench_add(0..n-1)`, finalize task
///   `bench_sum` -> n(n+1)/2);
/// - `bench_chain`, a sequence of `chain_length` `bench_add` steps
///   (x -> x + chain_length);
/// - `bench_flaky` (x -> x + 1 after failing `retry_failures` runs);
/// - `bench_sleep`, a sleeping task woken with the number in its id;
/// - `bench_hold` (x -> x + 1, blocking until the gate opens).
struct task_set {
  task_ref<int, int> add;
  task_ref<int, int> flaky;
  task_ref<int, int> hold;
  task_ref<finalize_input<int, int>, int> sum;
  task_ref<int, int> fan;
  std::string chain;
  task_ref<std::string, int> sleeper;
};

task_set register_tasks(executor& exec, const settings& s, hold_gate& gate);

/// What one round enqueued.
struct round {
  /// Top-level execution ids, in enqueue order.
  std::vector<std::string> top_ids;
  /// Every row the round makes once finished (children, steps, finalize).
  std::size_t expected_rows = 0;
  /// Sleeping ids to wake, with the output each is woken with.
  std::vector<std::pair<std::string, int>> to_wake;
};

/// Rows one round of `s.workload` makes (children and steps included).
std::size_t rows_per_round(const settings& s);

/// Counts the rows finished so far (children and steps included).
using finished_counter = std::function<std::size_t()>;

/// Enqueues one round of `s.workload` in batches of `s.batch`; `tag`
/// makes sleeping ids unique across rounds. Sleepers are not woken here.
/// `opts` applies to every enqueue (the hold workload delays starts).
/// With `s.serial`, each call waits until `finished` counts every row of
/// its executions, so the store sees nothing but their own work (no wait
/// or read of the harness's); throws std::runtime_error if that takes
/// longer than a generous hang guard.
round enqueue_round(executor& exec, const task_set& t, const settings& s,
                    const std::string& tag, const enqueue_options& opts = {},
                    const finished_counter& finished = {});

/// Wakes every sleeper of `r` (one blocking call each).
void wake_all(executor& exec, const task_set& t, const round& r);

/// The outcome of checking every stored row.
struct validation {
  std::size_t rows = 0;
  std::size_t checked = 0;
  /// Human-readable problems, at most `max_problems` of them.
  std::vector<std::string> problems;
  std::size_t problem_count = 0;

  bool ok() const noexcept {
    return problem_count == 0;
  }
};

/// Checks that there are exactly `expected_rows` rows less those
/// retention removed (`pruned`), that `top_ids` are all among them but as
/// many as `pruned.roots`, and that every row finished `completed` with
/// the output its task must produce for its input (and, for
/// `bench_flaky`, after exactly `retry_failures` failed runs).
validation validate(const std::vector<row_sample>& rows,
                    const std::vector<std::string>& top_ids,
                    std::size_t expected_rows, const settings& s,
                    const prune_result& pruned = {});

} // namespace durable::bench
