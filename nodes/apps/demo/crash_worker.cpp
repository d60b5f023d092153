#include "demo/crash_worker.hpp"

#include <cstdio>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "durable/durable.hpp"
#include "durable/storage/sqlite_store.hpp"

using namespace std::chrono_literals;

namespace durable::demo {

namespace {

/// What one child returns.
struct piece {
  int value = 0;
  std::string ran_by;
};

void to_json(nlohmann::json& j, const piece& p) {
  j = nlohmann::json{{"value", p.value}, {"ran_by", p.ran_by}};
}

void from_json(const nlohmann::json& j, piece& p) {
  p.value = j.at("value").get<int>();
  p.ran_by = j.at("ran_by").get<std::string>();
}

void say(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

} // namespace

int run_crash_worker(const crash_worker_settings& s) {
  using w = crash_workload;
  executor_options opts;
  opts.node_name = s.name;
  opts.lease_duration = w::lease;
  opts.lease_renew_interval = w::renew;
  // Ready work is announced within the process; this only bounds how soon
  // the other process's rows are seen when an announcement is missed.
  opts.poll_interval = 50ms;
  opts.max_concurrent = w::max_concurrent;
  opts.worker_threads = w::max_concurrent;
  executor exec{storage::sqlite(s.db), opts};

  auto work = exec.task<int, piece>(
    {.id = "work", .timeout = 10s},
    [name = s.name](task_context& ctx, int index) {
      // Stands for real work: long enough that the kill finds some
      // children running, and stops early when asked to (drain, lease lost).
      auto until = std::chrono::steady_clock::now() + w::child_work;
      while (std::chrono::steady_clock::now() < until) {
        if (ctx.stop_requested())
          throw error::cancelled();
        std::this_thread::sleep_for(10ms);
      }
      return piece{index * index, name};
    });
  auto sum = exec.task<finalize_input<int, piece>, int>(
    {.id = "sum", .timeout = 10s},
    [](task_context&, const finalize_input<int, piece>& in) {
      int total = 0;
      for (const auto& c : in.children)
        total += c.output() ? c.output()->value : 0;
      return total;
    });
  auto fanout = exec.parent_task<int, int>(
    {.id = "fanout", .timeout = 10s},
    [&work](task_context&, int n) {
      parent_output<int> out{.output = n};
      for (int i = 0; i < n; ++i)
        out.children.add(work, i);
      return out;
    },
    sum);
  say("incarnation " + exec.incarnation());

  auto root = s.root;
  if (s.enqueue) {
    root = exec.enqueue(fanout, w::children).execution_id();
    say("root " + root);
  }
  auto done = exec.wait(root, 60s);
  exec.shutdown();
  return done && done->status == execution_status::completed ? 0 : 1;
}

} // namespace durable::demo
