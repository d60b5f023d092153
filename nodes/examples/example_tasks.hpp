#pragma once

#include <string>

#include "durable/durable.hpp"

/// The example task library: what `durable-node` runs out of the box, and
/// the mixed workload of the cluster tests. Every task's result is a pure
/// function of its input (so a test can check it), whichever node runs it
/// and however often it is recovered; only `example_whoami` reports where
/// it ran.
///
/// Bodies that sleep (`ms`) wake every 10 ms to honour the cancel token, so
/// a cancel or a lost lease stops them promptly; a drain lets them finish.
namespace durable::examples {

/// Input of the tasks that do some work: a value and how long to take.
struct work_input {
  int x = 0;
  int ms = 0;
};

void to_json(nlohmann::json& j, const work_input& w);
void from_json(const nlohmann::json& j, work_input& w);

/// Input of `example_fanout`: n children of `example_square`, each taking
/// `ms`.
struct fanout_input {
  int n = 0;
  int ms = 0;
};

void to_json(nlohmann::json& j, const fanout_input& f);
void from_json(const nlohmann::json& j, fanout_input& f);

/// The handles of the example tasks, as registered on one executor.
struct example_tasks {
  /// x*x after `ms`.
  task_ref<work_input, int> square;
  /// Parent: children square(1..n), finalize `example_sum_children` sums
  /// them: n(n+1)(2n+1)/6.
  task_ref<fanout_input, long long> fanout;
  /// Sequence of three `example_add_one` steps: x + 3.
  task_ref<int, int> pipeline;
  /// Loop of `example_tick` until iteration x: output x.
  task_ref<int, loop_result<int>> countdown;
  /// Sleeping task woken from outside with a string.
  task_ref<std::string, std::string> approval;
  /// The name of the node that ran it, after `ms`.
  task_ref<work_input, std::string> whoami;
};

/// Registers every example task on `exec`; `node_name` is what
/// `example_whoami` answers.
example_tasks register_example_tasks(executor& exec,
                                     const std::string& node_name);

/// The output `example_fanout` must produce for n children.
long long expected_fanout(int n);

} // namespace durable::examples
