#include "example_tasks.hpp"

#include <chrono>
#include <thread>

namespace durable::examples {

namespace {

using namespace std::chrono_literals;

/// Sleeps `ms`, returning early (with a retryable error) when the execution
/// is cancelled, timed out or taken over. A drain (shutdown token) lets the
/// body finish within the node's grace period instead.
void take(task_context& ctx, int ms) {
  const auto until = std::chrono::steady_clock::now()
                     + std::chrono::milliseconds{ms};
  while (std::chrono::steady_clock::now() < until) {
    if (ctx.cancel_token.stop_requested())
      throw error::retryable("Stopped before finishing");
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
      10ms, until - std::chrono::steady_clock::now()));
  }
}

} // namespace

void to_json(nlohmann::json& j, const work_input& w) {
  j = nlohmann::json{{"x", w.x}, {"ms", w.ms}};
}

void from_json(const nlohmann::json& j, work_input& w) {
  w.x = j.at("x").get<int>();
  w.ms = j.value("ms", 0);
  if (w.ms < 0 || w.ms > 600'000)
    throw std::invalid_argument("ms must be in 0..600000");
}

void to_json(nlohmann::json& j, const fanout_input& f) {
  j = nlohmann::json{{"n", f.n}, {"ms", f.ms}};
}

void from_json(const nlohmann::json& j, fanout_input& f) {
  f.n = j.at("n").get<int>();
  f.ms = j.value("ms", 0);
  if (f.n < 0 || f.n > 1000)
    throw std::invalid_argument("n must be in 0..1000");
  if (f.ms < 0 || f.ms > 600'000)
    throw std::invalid_argument("ms must be in 0..600000");
}

long long expected_fanout(int n) {
  return static_cast<long long>(n) * (n + 1) * (2 * n + 1) / 6;
}

example_tasks register_example_tasks(executor& exec,
                                     const std::string& node_name) {
  example_tasks t;
  const retry_options retry{.max_attempts = 5, .base_delay = 100ms};
  t.square = exec.task<work_input, int>(
    {.id = "example_square", .timeout = 10min, .retry = retry},
    [](task_context& ctx, const work_input& in) {
      take(ctx, in.ms);
      return in.x * in.x;
    });
  auto sum = exec.task<finalize_input<int, int>, long long>(
    {.id = "example_sum_children", .timeout = 1min, .retry = retry},
    [](task_context&, const finalize_input<int, int>& in) {
      long long total = 0;
      for (const auto& c : in.children)
        total += c.output().value_or(0);
      return total;
    });
  auto square = t.square;
  t.fanout = exec.parent_task<fanout_input, int>(
    {.id = "example_fanout", .timeout = 10min, .retry = retry},
    [square](task_context&, const fanout_input& in) {
      parent_output<int> out{.output = in.n};
      for (int i = 1; i <= in.n; ++i)
        out.children.add(square, work_input{i, in.ms});
      return out;
    },
    sum);
  auto add_one = exec.task<int, int>(
    {.id = "example_add_one", .timeout = 1min, .retry = retry},
    [](task_context& ctx, int x) {
      take(ctx, 20);
      return x + 1;
    });
  t.pipeline = exec.sequence("example_pipeline", add_one, add_one, add_one);
  // The iteration's index (its position under the loop) says how far the
  // loop got, whichever node runs it.
  auto tick = exec.task<int, loop_step<int>>(
    {.id = "example_tick", .timeout = 1min, .retry = retry},
    [](task_context& ctx, int target) {
      take(ctx, 20);
      const int done = ctx.parent ? static_cast<int>(ctx.parent->index) + 1 : 1;
      return done >= target ? loop_step<int>::finished(done)
                            : loop_step<int>::again();
    });
  t.countdown = exec.looping_task("example_countdown", tick, 100);
  t.approval = exec.sleeping_task<std::string>(
    {.id = "example_approval", .timeout = 10min});
  t.whoami = exec.task<work_input, std::string>(
    {.id = "example_whoami", .timeout = 10min},
    [node_name](task_context& ctx, const work_input& in) {
      take(ctx, in.ms);
      return node_name;
    });
  return t;
}

} // namespace durable::examples
