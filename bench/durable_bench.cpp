// durable-bench: end-to-end throughput, latency and memory of the engine,
// next to the ceiling of the layer under it, measured in the same run.
//
//   durable-bench --workload simple --executions 100000 --store memory
//   durable-bench --workload fanout --parents 100 --children 50
//     --store postgres --nodes 3 --json bench/results/latest.json
//
// A run: measure the ceiling (no engine around), open a fresh store, start
// the extra nodes, enqueue the workload (repeatedly with --duration), wait
// until every row finished, stop, read every row back and compute rates
// and latencies from the store's own timestamps, validate every row, then
// report (stdout table, --json record, --plot charts). See README.md.
#include <chrono>
#include <cmath>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "ceilings.hpp"
#include "counting_store.hpp"
#include "durable/durable.hpp"
#include "durable/metrics/engine_metrics.hpp"
#include "durable/metrics/metrics_store.hpp"
#include "durable/metrics/registry.hpp"
#include "durable/version.hpp"
#include "memory_probe.hpp"
#include "nodes.hpp"
#include "pg_monitor.hpp"
#include "pg_trend.hpp"
#include "plot.hpp"
#include "progress.hpp"
#include "readback.hpp"
#include "report.hpp"
#include "sampler.hpp"
#include "settings.hpp"
#include "stats.hpp"
#include "stores.hpp"
#include "workloads.hpp"

using namespace std::chrono_literals;

namespace durable::bench {

namespace {

/// A run that makes no progress this long has hung (a lost execution).
constexpr auto stall_limit = 120s;

/// The hold workload enqueues its rows this far in the future, so that
/// the RSS with every row stored but none running can be read first.
constexpr auto hold_delay = 3s;

/// How many of the run's costliest PostgreSQL statements to report.
constexpr std::size_t top_statements = 8;

executor_options engine_options(const settings& s, const char* name) {
  executor_options o;
  o.max_concurrent = s.max_concurrent;
  o.claim_batch_size = s.claim_batch;
  o.worker_threads = s.worker_threads;
  // `hold` measures what a claimed execution costs while its body waits
  // for a worker thread: every one of them must be claimed at once.
  if (s.workload == "hold")
    o.max_queued_blocking = s.executions;
  o.scheduler_threads = s.scheduler_threads;
  o.poll_interval = s.poll_interval;
  o.supervisor_recheck_interval = s.recheck_interval;
  if (s.retain_completed_s > 0)
    o.retention.completed = millis{
      static_cast<long long>(std::llround(s.retain_completed_s * 1000))};
  o.node_name = name;
  return o;
}

/// Waits until `done()` reaches `target`; throws if it stalls.
void wait_for(const std::function<std::size_t()>& done, std::size_t target,
              std::chrono::milliseconds poll) {
  auto last = done();
  auto last_change = std::chrono::steady_clock::now();
  while (last < target) {
    std::this_thread::sleep_for(poll);
    auto now = done();
    if (now != last) {
      last = now;
      last_change = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_change > stall_limit) {
      throw std::runtime_error(fmt::format(
        "the run stalled: {} of {} rows finished, none in the last {} s", now,
        target, stall_limit.count()));
    }
  }
}

/// Rows finished between consecutive readings of `{"finished": n}`.
std::vector<std::size_t>
finished_per_reading(const std::vector<nlohmann::json>& readings) {
  std::vector<std::size_t> out;
  for (std::size_t i = 1; i < readings.size(); ++i)
    out.push_back(readings[i].at("finished").get<std::size_t>()
                  - readings[i - 1].at("finished").get<std::size_t>());
  return out;
}

/// `--worker`: one more node on the main process's store, until stdin
/// closes.
int run_worker(const settings& s) {
  store_place place{s};
  hold_gate gate;
  executor exec{place.open(), engine_options(s, "bench-worker")};
  register_tasks(exec, s, gate);
  std::cout << "ready" << std::endl;
  wait_for_stdin_eof();
  exec.shutdown();
  return 0;
}

/// The hold workload. Bytes per running execution: the RSS growth between
/// (a) every row stored but not yet due (enqueued `hold_delay` ahead) and
/// (b) every execution claimed and running, its body blocked on the gate,
/// divided by the number of executions. Only `worker_threads` bodies run
/// on a thread; the others wait in the worker pool's queue, so (b) - (a)
/// is the engine's own cost of a running execution (execution actor,
/// claimed row copy, task context, queued job), not threads' stacks. The
/// rows themselves were already stored in (a).
void run_hold(executor& exec, const task_set& tasks, const settings& s,
              hold_gate& gate, run_report& rep, round& r,
              const std::function<std::size_t()>& done) {
  auto t0 = std::chrono::steady_clock::now();
  r = enqueue_round(
    exec, tasks, s, "hold",
    {.sleep_before_run = std::chrono::duration_cast<millis>(hold_delay)});
  rep.enqueue_seconds += seconds_since(t0);
  std::this_thread::sleep_for(200ms);
  if (exec.running_count() != 0)
    throw std::runtime_error("hold: executions started before their delay");
  rep.rss_idle_bytes = current_rss_bytes();
  wait_for([&exec] { return exec.running_count(); }, s.executions, 20ms);
  std::this_thread::sleep_for(200ms);
  rep.rss_in_flight_bytes = current_rss_bytes();
  gate.open();
  wait_for(done, r.expected_rows, 5ms);
}

int run(const settings& s) {
  run_report rep;
  rep.options = s;
  store_place place{s};
  if (s.ceiling) {
    auto n = s.ceiling_executions ? s.ceiling_executions : rows_per_round(s);
    rep.ceiling = measure_ceiling(s, place, n);
    print_ceiling_forms(*rep.ceiling);
  }
  auto db = place.open();
  // As durable-node counts, when asked: what metrics cost on the hot path.
  metrics::registry registry;
  std::optional<metrics::engine_metrics> engine_counts;
  if (s.metrics) {
    db = std::make_shared<metrics::metrics_store>(db, registry);
    engine_counts.emplace(registry);
  }
  auto counted = std::make_shared<counting_store>(db);
  std::unique_ptr<pg_monitor> monitor;
  std::mutex monitor_mtx;
  std::optional<std::int64_t> commits_before;
  if (place.kind() == "postgres") {
    monitor = std::make_unique<pg_monitor>(place.pg_url(), place.pg_schema());
    rep.pg_settings = monitor->server_settings();
  }
  node_group nodes;
  if (s.nodes > 1)
    nodes.start(s.nodes - 1, worker_arguments(s, place.pg_schema()));
  // Rows finished so far: this process's count on one node; the store's
  // count when other processes run executions too.
  std::function<std::size_t()> done = [&counted] {
    return counted->finished();
  };
  auto poll = 1ms;
  if (s.nodes > 1) {
    done = [&] {
      std::lock_guard lock{monitor_mtx};
      return monitor->finished_rows();
    };
    poll = 100ms;
  }
  if (monitor)
    commits_before = monitor->commits();
  // Sustained PostgreSQL runs: what grows while it runs.
  std::unique_ptr<sampler> pg_counters;
  if (monitor && s.duration_s > 0)
    pg_counters = std::make_unique<sampler>(
      [&] {
        std::lock_guard lock{monitor_mtx};
        return monitor->counters();
      },
      std::chrono::milliseconds{static_cast<long long>(s.pg_sample_s * 1000)});
  std::vector<std::string> top_ids;
  std::size_t expected = 0;
  timestamp t0;
  std::vector<std::size_t> finished_series;
  double wall_seconds = 0;
  {
    auto opts = engine_options(s, "bench-main");
    if (engine_counts)
      opts.observer = engine_counts->observer(std::move(opts.observer));
    executor exec{counted, std::move(opts)};
    hold_gate gate;
    auto tasks = register_tasks(exec, s, gate);
    progress_bar bar{progress_wanted(s.progress),
                     fmt::format("{}/{}", s.workload, s.store), done};
    bar.set_total(rows_per_round(s));
    t0 = db->now();
    const auto start = std::chrono::steady_clock::now();
    // With retention the oldest rows are gone before the read back: the
    // series counts rows as they finish instead.
    std::optional<sampler> finished_counts;
    if (s.retain_completed_s > 0)
      finished_counts.emplace(
        [&done] {
          return nlohmann::json{{"finished", done()}};
        },
        std::chrono::milliseconds{
          static_cast<long long>(std::llround(s.interval_s * 1000))});
    do {
      round r;
      if (s.workload == "hold") {
        run_hold(exec, tasks, s, gate, rep, r, done);
      } else {
        auto e0 = std::chrono::steady_clock::now();
        r = enqueue_round(exec, tasks, s, fmt::format("r{}", rep.rounds), {},
                          done);
        rep.enqueue_seconds += seconds_since(e0);
        wake_all(exec, tasks, r);
      }
      ++rep.rounds;
      rep.enqueued += r.top_ids.size();
      expected += r.expected_rows;
      bar.set_total(expected);
      std::move(r.top_ids.begin(), r.top_ids.end(),
                std::back_inserter(top_ids));
      // Sustained runs enqueue the next round while this one is half
      // done, so that the engine never drains between rounds.
      const bool more = seconds_since(start) < s.duration_s;
      wait_for(done, more ? expected - r.expected_rows / 2 : expected, poll);
    } while (seconds_since(start) < s.duration_s);
    wait_for(done, expected, poll);
    if (pg_counters)
      rep.pg_trend = pg_trend(pg_counters->finish(), top_statements);
    if (finished_counts)
      finished_series = finished_per_reading(finished_counts->finish());
    bar.stop();
    exec.shutdown();
    wall_seconds = seconds_since(start);
  }
  const auto pruned = counted->pruned();
  const int failed_nodes = nodes.stop();
  rep.peak_rss_bytes = peak_rss_bytes();
  std::vector<row_sample> rows;
  if (place.kind() == "postgres") {
    // Closing the store's sessions flushes their statistics.
    counted.reset();
    db.reset();
    std::this_thread::sleep_for(500ms);
    rep.pg_commits = monitor->commits() - *commits_before;
    rep.pg_statements = monitor->top_statements(top_statements);
    monitor.reset();
    rows = read_pg_table(place.pg_url(), place.pg_schema());
  } else {
    rows = read_trees(*db, top_ids);
  }
  rep.rows = compute_stats(rows, t0, s.interval_s);
  if (rep.rows.last_finished)
    rep.seconds = std::chrono::duration<double>(*rep.rows.last_finished - t0)
                    .count();
  if (s.retain_completed_s > 0) {
    // Retention keeps the newest rows, so the last finished_at is still
    // stored; counts include what it removed.
    rep.pruned = pruned;
    rep.rows.rows += pruned.rows;
    rep.rows.top_level += pruned.roots;
    rep.rows.finished_per_interval = std::move(finished_series);
    if (!rep.rows.last_finished)
      rep.seconds = wall_seconds;
  }
  if (s.validate) {
    rep.checked = validate(rows, top_ids, expected, s, pruned);
    rep.validated = true;
  }
  if (failed_nodes > 0) {
    rep.checked.problems.push_back(
      fmt::format("{} worker nodes did not exit cleanly", failed_nodes));
    ++rep.checked.problem_count;
  }
  auto record = to_json(rep);
  if (!s.json_path.empty())
    append_json(s.json_path, record);
  print_table({record});
  if (rep.pruned)
    fmt::print("retention removed {} trees ({} rows) during the run\n",
               rep.pruned->roots, rep.pruned->rows);
  if (record.contains("pg_trend"))
    print_trend(record["pg_trend"]);
  if (!s.plot_dir.empty())
    draw_plots(s.json_path.empty() ? std::vector{record}
                                   : read_json_lines(s.json_path),
               s.plot_dir);
  if (!rep.checked.ok()) {
    std::cerr << fmt::format("durable-bench: {} problems found in the stored "
                             "rows (first ones printed above)\n",
                             rep.checked.problem_count);
    return 1;
  }
  return 0;
}

} // namespace

} // namespace durable::bench

int main(int argc, char** argv) {
  durable::bench::settings s;
  CLI::App app{"durable-bench: throughput, latency and memory of durable "
               "next to the ceiling of its store"};
  durable::bench::add_options(app, s);
  app.add_flag_callback(
    "--version",
    [] {
      fmt::print("durable-bench {}\n", durable::version());
      throw CLI::Success{};
    },
    "Print the version and exit");
  CLI11_PARSE(app, argc, argv);
  try {
    durable::bench::check_allocator();
    if (s.worker)
      return durable::bench::run_worker(s);
    durable::bench::check(s);
    if (s.plot_only) {
      durable::bench::draw_plots(durable::bench::read_json_lines(s.json_path),
                                 s.plot_dir);
      return 0;
    }
    return durable::bench::run(s);
  } catch (const std::exception& e) {
    std::cerr << "durable-bench: " << e.what() << "\n";
    return 2;
  }
}
