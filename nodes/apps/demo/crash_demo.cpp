#include "demo/crash_demo.hpp"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "demo/crash_worker.hpp"
#include "demo/worker_process.hpp"
#include "durable/execution_record.hpp"
#include "durable/storage/sqlite_store.hpp"

using namespace std::chrono_literals;

namespace durable::demo {

namespace {

using clock_type = std::chrono::steady_clock;
using w = crash_workload;

/// Thrown when a phase cannot go on; the message says why.
struct demo_failed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

/// A fresh folder under $TMPDIR (or /tmp) holding `crash.db`.
std::string fresh_db_path() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = fmt::format("{}/durable-demo-XXXXXX",
                                    tmp && *tmp ? tmp : "/tmp");
  if (::mkdtemp(pattern.data()) == nullptr)
    throw demo_failed("cannot create a folder for the SQLite file in "
                      + pattern.substr(0, pattern.rfind('/')));
  return pattern + "/crash.db";
}

/// The owners of the rows, by incarnation, as the reader knows them.
struct owners {
  std::string first;
  std::string second;
  bool first_dead = false;

  std::string label(const execution_record& r) const {
    if (r.is_finished() || !r.owner)
      return "-";
    if (*r.owner == first)
      return first_dead ? "worker 1 (dead)" : "worker 1";
    if (*r.owner == second)
      return "worker 2";
    return "another";
  }
};

std::string name_of(const execution_record& r) {
  if (!r.parent)
    return r.task_id;
  if (r.parent->is_finalize)
    return r.task_id + " (finalize)";
  return fmt::format("{} #{}", r.task_id, r.parent->index);
}

std::string output_of(const execution_record& r) {
  if (!r.output)
    return r.error ? "error: " + r.error->message : "";
  auto j = nlohmann::json::parse(*r.output, nullptr, false);
  if (j.is_object() && j.contains("value") && j.contains("ran_by"))
    return fmt::format("{:>3}, ran in {}", j["value"].dump(),
                       j["ran_by"].get<std::string>());
  return *r.output;
}

/// The root and its children (the finalize last), as stored now.
std::vector<execution_record> read_tree(store& db, const std::string& root) {
  std::vector<execution_record> rows;
  if (auto r = db.get(root))
    rows.push_back(std::move(*r));
  for (auto& c : db.children_of(root))
    rows.push_back(std::move(c));
  return rows;
}

void print_tree(const std::vector<execution_record>& rows, const owners& o,
                bool mark_recovered) {
  fmt::print("    {:<16} {:<21} {:<16} {:>10}  {}\n", "execution", "status",
             "lease owner", "recoveries", "output");
  for (const auto& r : rows) {
    auto line = fmt::format("    {:<16} {:<21} {:<16} {:>10}  {}", name_of(r),
                            to_string(r.status), o.label(r), r.recoveries,
                            output_of(r));
    if (mark_recovered && r.recoveries > 0)
      line += "  <- recovered";
    fmt::print("{}\n", line);
  }
}

struct counts {
  int completed = 0;
  int running = 0;
  int ready = 0;
};

counts count_children(const std::vector<execution_record>& rows) {
  counts c;
  for (const auto& r : rows) {
    if (!r.parent || r.parent->is_finalize)
      continue;
    if (r.status == execution_status::completed)
      ++c.completed;
    else if (r.status == execution_status::running)
      ++c.running;
    else if (r.status == execution_status::ready)
      ++c.ready;
  }
  return c;
}

/// The value of `<key> <value>`, the next line a worker prints.
std::string expect_line(worker_process& p, const std::string& key) {
  auto line = p.next_line(clock_type::now() + 30s);
  if (!line || line->rfind(key + " ", 0) != 0)
    throw demo_failed(
      fmt::format("worker (pid {}) did not report its {} (exit code {})",
                  p.pid(), key, p.exit_code().value_or(-1)));
  return line->substr(key.size() + 1);
}

int run(const std::optional<std::string>& db_arg) {
  const auto started = clock_type::now();
  std::string db;
  if (db_arg) {
    if (std::filesystem::exists(*db_arg)) {
      fmt::print(stderr,
                 "durable-demo: {} exists; the crash demo starts from a "
                 "fresh file (give a new path, or none for a temporary "
                 "one)\n",
                 *db_arg);
      return 2;
    }
    db = *db_arg;
  } else {
    db = fresh_db_path();
  }
  fmt::print(
    "Crash demo: every execution and each of its steps is a row in the "
    "store,\nso a process that dies mid-work loses nothing: another process "
    "on the same\nstore finishes the work.\n\n"
    "store: sqlite {} (a fresh file)\n\n",
    db);

  const std::vector<std::string> common{"--crash-worker", "--db", db};
  auto args = [&](std::vector<std::string> more) {
    auto all = common;
    all.insert(all.end(), more.begin(), more.end());
    return all;
  };

  // -- phase 1: worker 1 stores the fan-out and runs it ----------------------
  worker_process first{args({"--name", "worker 1", "--enqueue"})};
  owners o;
  o.first = expect_line(first, "incarnation");
  auto root = expect_line(first, "root");
  fmt::print(
    "[1/4] worker 1 (pid {}) stored `fanout`: a parent with {} children "
    "`work`\n      (each works {} ms, {} at a time) and a finalize `sum` "
    "adding their\n      values. A worker holds the rows it runs under a "
    "lease of {} ms, renewed\n      every {} ms (the engine's default is "
    "6 s; the demo's workers set a short\n      one so that it ends in "
    "seconds).\n\n",
    first.pid(), w::children, w::child_work.count(), w::max_concurrent,
    w::lease.count(), w::renew.count());

  // Wait, reading the file, until the kill can find both finished and
  // running children: a quarter done, and more than one running (right
  // after a child ends, its slot may not be claimed again yet).
  auto store = storage::sqlite(db);
  std::vector<execution_record> rows;
  counts c;
  const auto watch_deadline = clock_type::now() + 30s;
  for (;;) {
    rows = read_tree(*store, root);
    c = count_children(rows);
    if (c.completed >= w::children / 4 && c.running >= 2)
      break;
    if (c.completed == w::children)
      throw demo_failed("worker 1 finished every child before the kill");
    if (auto code = first.exit_code())
      throw demo_failed(fmt::format("worker 1 exited early, code {}", *code));
    if (clock_type::now() > watch_deadline)
      throw demo_failed("worker 1 made no progress within 30 s");
    std::this_thread::sleep_for(20ms);
  }

  // -- phase 2: SIGKILL -------------------------------------------------------
  first.kill_hard();
  const auto killed_at = clock_type::now();
  o.first_dead = true;
  rows = read_tree(*store, root);
  c = count_children(rows);
  int held = 0;
  for (const auto& r : rows)
    if (!r.is_finished() && r.owner == o.first)
      ++held;
  fmt::print(
    "[2/4] SIGKILL to worker 1 (pid {}), with {} children completed, {} "
    "running\n      and {} not started. The file holds, at this "
    "moment:\n\n",
    first.pid(), c.completed, c.running, c.ready);
  print_tree(rows, o, false);
  fmt::print(
    "\n      {} rows, the running children and the waiting parent, still "
    "name worker 1\n      as their lease owner. Nobody renews that lease "
    "now: within {} ms it\n      runs out.\n\n",
    held, w::lease.count());

  // -- phase 3: worker 2 on the same file -------------------------------------
  worker_process second{args({"--name", "worker 2", "--root", root})};
  o.second = expect_line(second, "incarnation");
  fmt::print(
    "[3/4] worker 2 (pid {}) opens the same file. It starts the children "
    "nobody\n      started, and takes over worker 1's rows once their lease "
    "ran out,\n      counting one recovery on each.\n\n",
    second.pid());
  std::optional<double> first_recovery;
  const auto finish_deadline = clock_type::now() + 60s;
  std::optional<int> code;
  while (!(code = second.exit_code())) {
    if (clock_type::now() > finish_deadline)
      throw demo_failed("worker 2 did not finish the tree within 60 s");
    if (!first_recovery)
      for (const auto& r : read_tree(*store, root))
        if (r.recoveries > 0) {
          first_recovery = seconds_since(killed_at);
          break;
        }
    std::this_thread::sleep_for(20ms);
  }

  // -- phase 4: the finished tree ---------------------------------------------
  rows = read_tree(*store, root);
  int recovered = 0;
  for (const auto& r : rows)
    if (r.recoveries > 0)
      ++recovered;
  fmt::print("[4/4] worker 2 exited with code {}. The finished tree:\n\n",
             *code);
  print_tree(rows, o, true);
  const auto& top = rows.front();
  auto output = top.output.value_or("-");
  fmt::print("\n      {} executions were recovered from worker 1 "
             "(recoveries > 0)",
             recovered);
  if (first_recovery)
    fmt::print(",\n      the first {:.1f} s after the kill", *first_recovery);
  fmt::print(
    ": the children it was running, which ran\n      again in worker 2, "
    "and the parent, whose wait for its children worker 2\n      took "
    "over. The children worker 1 had finished kept their results.\n"
    "      Whole demo: {:.1f} s. The file is kept: {}\n\n",
    seconds_since(started), db);
  fmt::print("result: root={} output={} expected={} recovered={}\n",
             to_string(top.status), output, w::expected_sum(), recovered);
  bool ok = *code == 0 && top.status == execution_status::completed
            && output == std::to_string(w::expected_sum()) && recovered > 0;
  return ok ? 0 : 1;
}

} // namespace

int run_crash_demo(const std::optional<std::string>& db) {
  try {
    return run(db);
  } catch (const demo_failed& e) {
    fmt::print(stderr, "durable-demo: {}\n", e.what());
    return 1;
  }
}

} // namespace durable::demo
