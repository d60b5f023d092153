#include "workloads.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace durable::bench {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_problems = 10;
constexpr millis body_timeout = 60s;
constexpr millis hold_timeout = 600s;
constexpr millis sleeper_timeout = 600s;
/// How long a --serial run waits for one call's executions: a hang guard.
constexpr millis serial_wait = 600s;

/// The workloads a `mixed` round blends, each at its configured size.
const std::vector<std::string>& mixed_parts() {
  static const std::vector<std::string> parts{"simple", "fanout", "chain",
                                              "retry", "sleepers"};
  return parts;
}

std::vector<int> iota_inputs(std::size_t n) {
  std::vector<int> xs(n);
  for (std::size_t i = 0; i < n; ++i)
    xs[i] = static_cast<int>(i);
  return xs;
}

/// Rows one top-level execution of `part` makes once finished.
std::size_t rows_each(const settings& s, const std::string& part) {
  if (part == "fanout")
    return s.children + 2; // parent, children, finalize
  if (part == "chain")
    return s.chain_length + 1;
  return 1;
}

/// What enqueue_batches needs besides its inputs.
struct batch_context {
  const settings& s;
  const enqueue_options& opts;
  /// Rows each top-level execution makes (rows_each).
  std::size_t rows_each = 1;
  const finished_counter& finished;
};

/// Waits until `finished` reaches `target` (--serial). It looks every
/// millisecond: the latencies come from the stored rows, so the pace only
/// delays the next call, and a finer poll would take CPU from the engine
/// it measures on a small machine.
void settle(const finished_counter& finished, std::size_t target) {
  const auto deadline = std::chrono::steady_clock::now() + serial_wait;
  while (finished() < target) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error(
        fmt::format("--serial: {} of {} rows finished after {} s", finished(),
                    target, serial_wait.count() / 1000));
    std::this_thread::sleep_for(1ms);
  }
}

/// Enqueues `inputs` in calls of `s.batch`; with `s.serial`, each call's
/// executions finish before the next call.
template <class In, class Out>
void enqueue_batches(executor& exec, const task_ref<In, Out>& t,
                     const std::vector<In>& inputs, const batch_context& c,
                     round& out) {
  const auto batch = c.s.batch;
  std::size_t target = c.s.serial ? c.finished() : 0;
  for (std::size_t begin = 0; begin < inputs.size(); begin += batch) {
    auto end = std::min(inputs.size(), begin + batch);
    std::vector<std::string> payloads;
    payloads.reserve(end - begin);
    for (auto i = begin; i < end; ++i)
      payloads.push_back(to_payload(inputs[i]));
    auto ids = exec.enqueue_raw(t.id(), std::move(payloads), c.opts);
    if (c.s.serial) {
      target += ids.size() * c.rows_each;
      settle(c.finished, target);
    }
    std::move(ids.begin(), ids.end(), std::back_inserter(out.top_ids));
  }
}

void enqueue_part(executor& exec, const task_set& t, const settings& s,
                  const std::string& part, const std::string& tag,
                  const enqueue_options& opts, const finished_counter& finished,
                  round& out) {
  const batch_context c{s, opts, rows_each(s, part), finished};
  if (part == "simple") {
    enqueue_batches(exec, t.add, iota_inputs(s.executions), c, out);
  } else if (part == "fanout") {
    std::vector<int> inputs(s.parents, static_cast<int>(s.children));
    enqueue_batches(exec, t.fan, inputs, c, out);
  } else if (part == "chain") {
    task_ref<int, int> chain{t.chain};
    enqueue_batches(exec, chain, iota_inputs(s.chains), c, out);
  } else if (part == "retry") {
    enqueue_batches(exec, t.flaky, iota_inputs(s.executions), c, out);
  } else if (part == "sleepers") {
    std::vector<std::string> ids;
    ids.reserve(s.executions);
    for (std::size_t i = 0; i < s.executions; ++i) {
      ids.push_back(fmt::format("bench-{}-{}", tag, i));
      out.to_wake.emplace_back(ids.back(), static_cast<int>(i));
    }
    enqueue_batches(exec, t.sleeper, ids, c, out);
  } else if (part == "hold") {
    enqueue_batches(exec, t.hold, iota_inputs(s.executions), c, out);
  } else {
    throw std::invalid_argument("unknown workload: " + part);
  }
}

std::size_t rows_of(const settings& s, const std::string& part) {
  if (part == "fanout")
    return s.parents * rows_each(s, part);
  if (part == "chain")
    return s.chains * rows_each(s, part);
  if (part == "mixed") {
    std::size_t n = 0;
    for (const auto& p : mixed_parts())
      n += rows_of(s, p);
    return n;
  }
  return s.executions;
}

std::optional<long long> as_int(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    if (j.is_number_integer())
      return j.get<long long>();
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

/// The output `r` must have, or nullopt with `why` set if it cannot tell.
std::optional<long long> expected_output(const row_sample& r, const settings& s,
                                         std::string& why) {
  auto input = as_int(r.input);
  if (r.task_id == "bench_add" || r.task_id == "bench_flaky"
      || r.task_id == "bench_hold") {
    if (input)
      return *input + 1;
  } else if (r.task_id == "bench_chain") {
    if (input)
      return *input + static_cast<long long>(s.chain_length);
  } else if (r.task_id == "bench_fan") {
    if (input)
      return *input * (*input + 1) / 2;
  } else if (r.task_id == "bench_sum") {
    // Its input is the parent's own output n and the children's results.
    try {
      auto n = nlohmann::json::parse(r.input).at("output").get<long long>();
      return n * (n + 1) / 2;
    } catch (const std::exception&) {
    }
  } else if (r.task_id == "bench_sleep") {
    // Woken with the number after the last '-' of its sleeping id.
    if (r.sleeping_id) {
      try {
        const auto& id = *r.sleeping_id;
        return std::stoll(id.substr(id.rfind('-') + 1));
      } catch (const std::exception&) {
      }
    }
    why = "no readable sleeping id";
    return std::nullopt;
  } else {
    why = "unknown task " + r.task_id;
    return std::nullopt;
  }
  why = "unreadable input " + r.input;
  return std::nullopt;
}

} // namespace

void hold_gate::wait(const std::stop_token& stop) {
  std::unique_lock lock{mtx_};
  cv_.wait(lock, stop, [this] { return open_; });
}

void hold_gate::open() {
  {
    std::lock_guard lock{mtx_};
    open_ = true;
  }
  cv_.notify_all();
}

task_set register_tasks(executor& exec, const settings& s, hold_gate& gate) {
  task_set t;
  t.add = exec.task<int, int>(
    {.id = "bench_add", .timeout = body_timeout, .may_block = false},
    [](task_context&, int x) { return x + 1; });
  const int failures = s.retry_failures;
  t.flaky = exec.task<int, int>(
    {.id = "bench_flaky",
     .timeout = body_timeout,
     .retry = {.max_attempts = failures, .base_delay = s.retry_delay},
     .may_block = false},
    [failures](task_context& ctx, int x) {
      if (ctx.attempt < failures)
        throw std::runtime_error("planned failure");
      return x + 1;
    });
  t.hold = exec.task<int, int>(
    {.id = "bench_hold", .timeout = hold_timeout, .may_block = true},
    [&gate](task_context& ctx, int x) {
      gate.wait(ctx.shutdown_token);
      return x + 1;
    });
  t.sum = exec.task<finalize_input<int, int>, int>(
    {.id = "bench_sum", .timeout = body_timeout, .may_block = false},
    [](task_context&, const finalize_input<int, int>& in) {
      int total = 0;
      for (const auto& c : in.children)
        total += c.output().value_or(0);
      return total;
    });
  auto add = t.add;
  t.fan = exec.parent_task<int, int>(
    {.id = "bench_fan", .timeout = body_timeout, .may_block = false},
    [add](task_context&, int n) {
      parent_output<int> out{.output = n};
      for (int i = 0; i < n; ++i)
        out.children.add(add, i);
      return out;
    },
    t.sum);
  task_definition chain;
  chain.kind = task_kind::sequence;
  chain.options = {"bench_chain", body_timeout};
  chain.steps.assign(s.chain_length, t.add.id());
  t.chain = chain.options.id;
  exec.add(std::move(chain));
  t.sleeper = exec.sleeping_task<int>(
    {.id = "bench_sleep", .timeout = sleeper_timeout});
  return t;
}

std::size_t rows_per_round(const settings& s) {
  return rows_of(s, s.workload);
}

round enqueue_round(executor& exec, const task_set& t, const settings& s,
                    const std::string& tag, const enqueue_options& opts,
                    const finished_counter& finished) {
  if (s.serial && !finished)
    throw std::invalid_argument("--serial needs a count of finished rows");
  round out;
  out.expected_rows = rows_per_round(s);
  if (s.workload == "mixed")
    for (const auto& part : mixed_parts())
      enqueue_part(exec, t, s, part, tag, opts, finished, out);
  else
    enqueue_part(exec, t, s, s.workload, tag, opts, finished, out);
  return out;
}

void wake_all(executor& exec, const task_set& t, const round& r) {
  for (const auto& [id, value] : r.to_wake)
    exec.wake(t.sleeper, id, completed(value));
}

validation validate(const std::vector<row_sample>& rows,
                    const std::vector<std::string>& top_ids,
                    std::size_t expected_rows, const settings& s,
                    const prune_result& pruned) {
  validation v;
  v.rows = rows.size();
  auto problem = [&v](std::string what) {
    if (v.problems.size() < max_problems)
      v.problems.push_back(std::move(what));
    ++v.problem_count;
  };
  if (rows.size() + pruned.rows != expected_rows)
    problem(fmt::format("{} rows stored and {} removed by retention, {} "
                        "expected",
                        rows.size(), pruned.rows, expected_rows));
  std::unordered_set<std::string> ids;
  ids.reserve(rows.size());
  for (const auto& r : rows)
    ids.insert(r.id);
  std::size_t missing = 0;
  for (const auto& id : top_ids)
    if (!ids.contains(id))
      ++missing;
  if (missing != pruned.roots)
    problem(fmt::format("{} enqueued executions are not stored, {} removed "
                        "by retention",
                        missing, pruned.roots));
  for (const auto& r : rows) {
    ++v.checked;
    if (r.status != execution_status::completed) {
      problem(
        fmt::format("{} ({}) ended {}", r.id, r.task_id, to_string(r.status)));
      continue;
    }
    std::string why;
    auto want = expected_output(r, s, why);
    if (!want) {
      problem(fmt::format("{} ({}): {}", r.id, r.task_id, why));
      continue;
    }
    auto got = r.output ? as_int(*r.output) : std::nullopt;
    if (got != want)
      problem(fmt::format("{} ({}) input {} output {}, expected {}", r.id,
                          r.task_id, r.input, r.output.value_or("none"),
                          *want));
    if (r.task_id == "bench_flaky" && r.attempt != s.retry_failures)
      problem(fmt::format("{} (bench_flaky) completed at attempt {}, "
                          "expected {}",
                          r.id, r.attempt, s.retry_failures));
  }
  return v;
}

} // namespace durable::bench
