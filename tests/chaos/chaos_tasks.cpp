#include "chaos/chaos_tasks.hpp"

#include <chrono>
#include <fcntl.h>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace durable::chaos {

namespace {

using namespace std::chrono_literals;

/// Sleeps `ms`, returning early (retryable) when the run should stop.
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

void check_ms(int ms) {
  if (ms < 0 || ms > 60'000)
    throw std::invalid_argument("ms must be in 0..60000");
}

} // namespace

void to_json(nlohmann::json& j, const work_input& w) {
  j = nlohmann::json{{"x", w.x}, {"ms", w.ms}, {"fail_first", w.fail_first}};
}

void from_json(const nlohmann::json& j, work_input& w) {
  w.x = j.at("x").get<int>();
  w.ms = j.value("ms", 0);
  w.fail_first = j.value("fail_first", false);
  check_ms(w.ms);
}

void to_json(nlohmann::json& j, const tree_input& t) {
  j = nlohmann::json{{"n", t.n}, {"ms", t.ms}};
}

void from_json(const nlohmann::json& j, tree_input& t) {
  t.n = j.at("n").get<int>();
  t.ms = j.value("ms", 0);
  if (t.n < 0 || t.n > 100)
    throw std::invalid_argument("n must be in 0..100");
  check_ms(t.ms);
}

long long expected_tree(int n) {
  return static_cast<long long>(n) * (n + 1) * (2 * n + 1) / 6;
}

run_log::run_log(const std::string& path, std::string incarnation,
                 std::string node)
  : incarnation_(std::move(incarnation)), node_(std::move(node)) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw std::runtime_error("cannot open the run log " + path);
}

run_log::~run_log() {
  if (fd_ >= 0)
    ::close(fd_);
}

void run_log::record(const task_context& ctx) {
  const auto start = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto line = ctx.execution_id + '\t' + ctx.task_id + '\t'
              + std::to_string(ctx.attempt) + '\t' + incarnation_ + '\t' + node_
              + '\t' + std::to_string(start) + '\t'
              + (ctx.parent ? ctx.parent->execution_id : std::string{"-"})
              + '\t' + (ctx.parent && ctx.parent->is_finalize ? "1" : "0")
              + '\n';
  // One write of a short line to an O_APPEND file: never interleaved with
  // another thread's line, and in the page cache once it returns.
  if (::write(fd_, line.data(), line.size())
      != static_cast<ssize_t>(line.size()))
    throw std::runtime_error("cannot write the run log");
}

chaos_tasks register_chaos_tasks(executor& exec, std::shared_ptr<run_log> log) {
  chaos_tasks t;
  auto record = [log](const task_context& ctx) {
    if (log)
      log->record(ctx);
  };
  const retry_options retry{.max_attempts = 5, .base_delay = 100ms};
  t.square = exec.task<work_input, int>(
    {.id = "chaos_square", .timeout = 5min, .retry = retry},
    [record](task_context& ctx, const work_input& in) {
      record(ctx);
      take(ctx, in.ms);
      if (in.fail_first && ctx.attempt == 0)
        throw error::retryable("First attempt fails on purpose");
      return in.x * in.x;
    });
  auto sum = exec.task<finalize_input<int, int>, long long>(
    {.id = "chaos_sum", .timeout = 5min, .retry = retry},
    [record](task_context& ctx, const finalize_input<int, int>& in) {
      record(ctx);
      long long total = 0;
      for (const auto& c : in.children)
        total += c.output().value_or(-1'000'000);
      return total;
    });
  auto square = t.square;
  t.tree = exec.parent_task<tree_input, int>(
    {.id = "chaos_tree", .timeout = 5min, .retry = retry},
    [record, square](task_context& ctx, const tree_input& in) {
      record(ctx);
      parent_output<int> out{.output = in.n};
      for (int i = 1; i <= in.n; ++i)
        out.children.add(square, work_input{i, in.ms, false});
      return out;
    },
    sum);
  auto add = exec.task<int, int>(
    {.id = "chaos_add", .timeout = 5min, .retry = retry},
    [record](task_context& ctx, int x) {
      record(ctx);
      take(ctx, 100);
      return x + 1;
    });
  t.chain = exec.sequence("chaos_chain", add, add, add);
  auto tick = exec.task<int, loop_step<int>>(
    {.id = "chaos_tick", .timeout = 5min, .retry = retry},
    [record](task_context& ctx, int target) {
      record(ctx);
      take(ctx, 100);
      const int done = ctx.parent ? static_cast<int>(ctx.parent->index) + 1 : 1;
      return done >= target ? loop_step<int>::finished(done)
                            : loop_step<int>::again();
    });
  t.loop = exec.looping_task("chaos_loop", tick, 100);
  t.sleeper = exec.sleeping_task<std::string>(
    {.id = "chaos_sleeper", .timeout = 10min});
  return t;
}

} // namespace durable::chaos
