// durable-demo: a workflow that uses every task kind, run to completion on
// the embedded store, with each execution's status, attempts, timings and
// output printed at the end; or, with --crash, a worker process killed in
// the middle of a fan-out and a second one finishing it (demo/crash_demo.hpp).
//
//   durable-demo [--db PATH]   SQLite file (default ./durable-demo.db)
//   durable-demo --memory      the in-memory store (nothing is kept)
//   durable-demo --crash [--db PATH]
//                              the crash mode, on a fresh SQLite file
//                              (default: in a new temporary folder)
//   durable-demo --crash-worker --db PATH --name NAME [--enqueue | --root ID]
//                              one worker of the crash mode, which starts
//                              them (demo/crash_worker.hpp)
//
// Re-running on the same file works: every run enqueues new executions, and
// the sleeping task's unique id carries the run's incarnation id.
#include <atomic>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "demo/crash_demo.hpp"
#include "demo/crash_worker.hpp"
#include "durable/durable.hpp"
#include "durable/storage/memory_store.hpp"
#include "durable/storage/sqlite_store.hpp"
#include "durable/version.hpp"

using namespace std::chrono_literals;

namespace {

struct order {
  std::string id;
  int quantity = 0;
};

void to_json(nlohmann::json& j, const order& o) {
  j = nlohmann::json{{"id", o.id}, {"quantity", o.quantity}};
}

void from_json(const nlohmann::json& j, order& o) {
  o.id = j.at("id").get<std::string>();
  o.quantity = j.at("quantity").get<int>();
}

double ms_between(durable::timestamp a, durable::timestamp b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void print(const durable::execution_record& r, int depth = 0) {
  auto run_ms = r.started_at && r.finished_at
                  ? ms_between(*r.started_at, *r.finished_at)
                  : 0.0;
  auto total_ms = r.finished_at ? ms_between(r.created_at, *r.finished_at)
                                : 0.0;
  std::string out = r.output ? *r.output
                             : (r.error ? "error: " + r.error->message : "-");
  if (out.size() > 60)
    out = out.substr(0, 57) + "...";
  fmt::print("{:<{}}{:<14} {:<9} {:<16} attempts={} run={:7.2f}ms "
             "total={:7.2f}ms  {}\n",
             "", depth * 2, r.task_id, durable::to_string(r.kind),
             durable::to_string(r.status), r.attempt + 1, run_ms, total_ms,
             out);
}

constexpr const char* usage = "durable-demo [--db PATH | --memory | --crash "
                              "[--db PATH]] [--help] [--version]";

std::shared_ptr<durable::store> open_store(int argc, char** argv) {
  std::string db = "durable-demo.db";
  bool memory = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--memory") == 0) {
      memory = true;
    } else if (std::strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
      db = argv[++i];
    } else {
      throw std::invalid_argument(
        fmt::format("unknown argument {} (usage: {})", argv[i], usage));
    }
  }
  if (memory) {
    fmt::print("store: memory\n");
    return durable::storage::memory();
  }
  fmt::print("store: sqlite {}\n", db);
  return durable::storage::sqlite(db);
}

int run(int argc, char** argv) {
  durable::executor exec{open_store(argc, argv), {.poll_interval = 100ms}};

  // A plain task and a parent that fans out to it, with a finalize task.
  auto price = exec.task<order, double>(
    {.id = "price", .timeout = 5s},
    [](durable::task_context&, const order& o) { return o.quantity * 2.5; });
  auto total = exec.task<durable::finalize_input<std::string, double>, double>(
    {.id = "total", .timeout = 5s},
    [](durable::task_context&,
       const durable::finalize_input<std::string, double>& in) {
      double sum = 0;
      for (const auto& c : in.children)
        sum += c.output().value_or(0.0);
      return sum;
    });
  auto checkout = exec.parent_task<std::vector<order>, std::string>(
    {.id = "checkout", .timeout = 5s},
    [&](durable::task_context&, const std::vector<order>& orders) {
      durable::parent_output<std::string> out{.output = "priced"};
      for (const auto& o : orders)
        out.children.add(price, o);
      return out;
    },
    total);

  // A typed chain: string -> int -> int -> string.
  auto parse = exec.task<std::string, int>(
    {.id = "parse", .timeout = 5s},
    [](durable::task_context&, const std::string& s) { return std::stoi(s); });
  auto square = exec.task<int, int>({.id = "square", .timeout = 5s},
                                    [](durable::task_context&, int x) {
                                      return x * x;
                                    });
  auto render = exec.task<int, std::string>({.id = "render", .timeout = 5s},
                                            [](durable::task_context&, int x) {
                                              return fmt::format("<{}>", x);
                                            });
  auto pipeline = exec.sequence("pipeline", parse, square, render);

  // A task that fails twice, then succeeds on its third attempt.
  auto flaky = exec.task<int, std::string>(
    {.id = "flaky",
     .timeout = 5s,
     .retry = {.max_attempts = 3, .base_delay = 50ms, .multiplier = 2}},
    [](durable::task_context& ctx, int) -> std::string {
      if (ctx.attempt < 2)
        throw std::runtime_error(fmt::format("transient #{}", ctx.attempt));
      return "succeeded on attempt " + std::to_string(ctx.attempt + 1);
    });

  // A looping task: polls until its third iteration reports done.
  std::atomic<int> polls{0};
  auto poll = exec.task<int, durable::loop_step<int>>(
    {.id = "poll", .timeout = 5s}, [&](durable::task_context&, int target) {
      return ++polls >= target ? durable::loop_step<int>::finished(polls)
                               : durable::loop_step<int>::again();
    });
  auto until_ready = exec.looping_task("until_ready", poll, 10,
                                       [](int) { return 20ms; });

  // A recursive parent: counts down by spawning itself.
  durable::task_ref<int, durable::parent_result<int>> countdown;
  countdown = exec.parent_task<int, int>(
    {.id = "countdown", .timeout = 5s}, [&](durable::task_context&, int n) {
      durable::parent_output<int> out{.output = n};
      if (n > 0)
        out.children.add(countdown, n - 1);
      return out;
    });

  // A sleeping task, woken by the demo itself below.
  auto approval = exec.sleeping_task<bool>({.id = "approval", .timeout = 60s});

  auto h_checkout = exec.enqueue(
    checkout, std::vector<order>{{"a", 2}, {"b", 4}, {"c", 6}});
  auto h_pipeline = exec.enqueue(pipeline, std::string{"12"});
  auto h_flaky = exec.enqueue(flaky, 0);
  auto h_loop = exec.enqueue(until_ready, 3);
  auto h_countdown = exec.enqueue(countdown, 3);
  // Unique per run: a sleeping id stays taken by the previous run's row.
  const auto approval_id = "order-42-" + exec.incarnation();
  auto h_approval = exec.enqueue(approval, approval_id);

  std::this_thread::sleep_for(50ms);
  exec.wake(approval, approval_id, durable::completed(true));

  std::vector<std::string> roots{
    h_checkout.execution_id(),  h_pipeline.execution_id(),
    h_flaky.execution_id(),     h_loop.execution_id(),
    h_countdown.execution_id(), h_approval.execution_id()};
  int failures = 0;
  fmt::print("{:<14} {:<9} {:<16} {}\n", "task", "kind", "status",
             "attempts, timings, output");
  for (const auto& id : roots) {
    auto done = exec.wait(id, 30s);
    if (!done) {
      fmt::print("{} did not finish\n", id);
      ++failures;
      continue;
    }
    if (done->status != durable::execution_status::completed)
      ++failures;
    print(*done);
    for (const auto& c : exec.storage()->children_of(id))
      print(c, 1);
  }
  return failures == 0 ? 0 : 1;
}

bool has_flag(int argc, char** argv, const char* flag) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], flag) == 0)
      return true;
  return false;
}

int crash_demo(int argc, char** argv) {
  std::optional<std::string> db;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--crash") == 0)
      continue;
    if (std::strcmp(argv[i], "--db") == 0 && i + 1 < argc)
      db = argv[++i];
    else
      throw std::invalid_argument(
        fmt::format("unknown argument {} (usage: {})", argv[i], usage));
  }
  return durable::demo::run_crash_demo(db);
}

int crash_worker(int argc, char** argv) {
  durable::demo::crash_worker_settings s;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        throw std::invalid_argument(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--crash-worker")
      continue;
    if (arg == "--db")
      s.db = value();
    else if (arg == "--name")
      s.name = value();
    else if (arg == "--enqueue")
      s.enqueue = true;
    else if (arg == "--root")
      s.root = value();
    else
      throw std::invalid_argument(fmt::format("unknown argument {}", arg));
  }
  if (s.db.empty() || s.name.empty() || s.enqueue == !s.root.empty())
    throw std::invalid_argument("--crash-worker needs --db, --name and one "
                                "of --enqueue and --root");
  return durable::demo::run_crash_worker(s);
}

} // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0
        || std::strcmp(argv[i], "-h") == 0) {
      fmt::print("Runs a workflow that uses every task kind on the embedded "
                 "store and prints each\nexecution's status, attempts, "
                 "timings and output.\nUsage: {}\n  --db PATH   SQLite file "
                 "(default durable-demo.db)\n  --memory    the in-memory "
                 "store (nothing is kept)\n  --crash     instead: start a "
                 "worker process, kill it (SIGKILL) in the middle\n"
                 "              of a fan-out and let a second one finish the "
                 "tree, on a fresh\n              SQLite file (--db PATH, "
                 "which must not exist; default: a new\n              "
                 "temporary folder)\n",
                 usage);
      return 0;
    }
    if (std::strcmp(argv[i], "--version") == 0) {
      fmt::print("durable-demo {}\n", durable::version());
      return 0;
    }
  }
  try {
    if (has_flag(argc, argv, "--crash-worker"))
      return crash_worker(argc, argv);
    if (has_flag(argc, argv, "--crash"))
      return crash_demo(argc, argv);
    return run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "durable-demo: {}\n", e.what());
    return 2;
  }
}
