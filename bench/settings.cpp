#include "settings.hpp"

#include <stdexcept>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace durable::bench {

const std::vector<std::string>& workload_names() {
  static const std::vector<std::string> names{
    "simple", "fanout", "chain", "retry", "sleepers", "mixed", "hold"};
  return names;
}

namespace {

/// A duration option given in milliseconds (CLI11 has no std::chrono).
void add_millis(CLI::App& app, const std::string& name,
                std::chrono::milliseconds& target,
                const std::string& description) {
  app.add_option_function<long long>(
    name, [&target](long long v) { target = std::chrono::milliseconds{v}; },
    description);
}

} // namespace

void add_options(CLI::App& app, settings& s) {
  // A repeated option takes its last value, so that scripts can override.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app
    .add_option("--workload", s.workload,
                "simple | fanout | chain | retry | sleepers | mixed | hold")
    ->check(CLI::IsMember(workload_names()));
  app
    .add_option(
      "--store", s.store,
      "memory | sqlite | postgres | mysql (mysql: in a build with the "
      "MySQL store)")
    ->check(CLI::IsMember({"memory", "sqlite", "postgres", "mysql"}));
  app.add_option("--nodes", s.nodes,
                 "executor processes (more than 1 needs postgres)");
  app.add_option("--executions", s.executions,
                 "executions (simple, retry, sleepers, hold)");
  app.add_option("--parents", s.parents, "parents (fanout)");
  app.add_option("--children", s.children, "children per parent (fanout)");
  app.add_option("--chains", s.chains, "chains (chain)");
  app.add_option("--chain-length", s.chain_length, "steps per chain (chain)");
  app.add_option("--retry-failures", s.retry_failures,
                 "failed runs before a retry task succeeds");
  add_millis(app, "--retry-delay-ms", s.retry_delay,
             "base retry delay in ms (retry)");
  app.add_option("--batch", s.batch, "executions per enqueue_many call");
  app.add_flag("--serial", s.serial,
               "wait for each call's executions to finish before the next "
               "call (latency on an idle node)");
  app.add_option("--max-concurrent", s.max_concurrent,
                 "slots per node (default: the engine's)");
  app.add_option("--claim-batch", s.claim_batch, "rows per claim");
  app.add_flag("--metrics", s.metrics,
               "count Prometheus metrics as durable-node does (store "
               "decorator and observer)");
  app.add_option("--worker-threads", s.worker_threads,
                 "threads for blocking bodies per node");
  app.add_option("--scheduler-threads", s.scheduler_threads,
                 "CAF scheduler threads per node (0: one per core)");
  add_millis(app, "--poll-interval-ms", s.poll_interval,
             "the engine's safety-net poll");
  add_millis(app, "--recheck-interval-ms", s.recheck_interval,
             "the engine's safety-net re-check of waiting parents");
  app.add_option("--pg-url", s.pg_url,
                 "PostgreSQL URL (default DURABLE_PG_URL)");
  app.add_option("--pg-pool", s.pg_pool, "PostgreSQL connections per node");
  app.add_option("--mysql-url", s.mysql_url,
                 "MySQL/MariaDB URL mysql://user[:password]@host[:port]/db: "
                 "each run makes a database of its own on that server "
                 "(default DURABLE_MYSQL_URL)");
  app.add_option("--pg-schema", s.pg_schema)->group("");
  app.add_option("--sqlite-path", s.sqlite_path,
                 "SQLite file (default: a fresh temp file, removed after)");
  app.add_flag("--sqlite-normal-sync", s.sqlite_normal_sync,
               "PRAGMA synchronous = NORMAL instead of FULL");
  app.add_option("--duration", s.duration_s,
                 "repeat the workload for this many seconds (sustained run)");
  app.add_option("--interval", s.interval_s,
                 "bucket width in seconds of the sustained series");
  app.add_option("--pg-sample", s.pg_sample_s,
                 "sustained PostgreSQL runs: read the server's statement and "
                 "table counters every this many seconds");
  app.add_option("--retain-completed", s.retain_completed_s,
                 "retention on: keep completed trees this many seconds "
                 "(one node; rates counted as rows finish, latencies of "
                 "the rows still stored)");
  app.add_flag("!--no-ceiling", s.ceiling, "skip measuring the ceiling");
  app.add_option("--ceiling-executions", s.ceiling_executions,
                 "rows of the ceiling run (default: as many as the workload)");
  app.add_option("--caf-window", s.caf_window,
                 "in-flight window of the bare-CAF ceiling");
  app
    .add_option("--ceiling-connections", s.ceiling_connections,
                "PostgreSQL and MySQL ceilings: connection counts run at "
                "once, "
                "comma-separated; the best is the ceiling")
    ->delimiter(',');
  app.add_flag("--progress", s.progress,
               "show the progress bar even when stderr is not a terminal");
  app.add_flag("!--no-validate", s.validate,
               "skip checking every row's status and output");
  app.add_option("--json", s.json_path, "append one JSON record per run");
  app.add_option("--plot", s.plot_dir,
                 "draw PNG charts of the --json file (or this run) here");
  app.add_flag("--plot-only", s.plot_only,
               "only draw --plot from the records of --json, run nothing");
  app.add_option("--label", s.label, "free text stored in the JSON record");
  app.add_flag("--worker", s.worker)->group("");
}

std::vector<std::string> worker_arguments(const settings& s,
                                          const std::string& schema) {
  auto num = [](auto x) { return fmt::format("{}", x); };
  return {"--worker",
          "--store",
          s.store,
          "--workload",
          s.workload,
          "--chain-length",
          num(s.chain_length),
          "--retry-failures",
          num(s.retry_failures),
          "--retry-delay-ms",
          num(s.retry_delay.count()),
          "--max-concurrent",
          num(s.max_concurrent),
          "--claim-batch",
          num(s.claim_batch),
          "--worker-threads",
          num(s.worker_threads),
          "--scheduler-threads",
          num(s.scheduler_threads),
          "--poll-interval-ms",
          num(s.poll_interval.count()),
          "--recheck-interval-ms",
          num(s.recheck_interval.count()),
          "--pg-url",
          s.pg_url,
          "--pg-pool",
          num(s.pg_pool),
          "--pg-schema",
          schema};
}

void check(const settings& s) {
  if (s.plot_only && (s.plot_dir.empty() || s.json_path.empty()))
    throw std::invalid_argument("--plot-only needs --json and --plot");
  auto positive = [](std::size_t v, const char* name) {
    if (v == 0)
      throw std::invalid_argument(fmt::format("{} must be at least 1", name));
  };
  positive(s.nodes, "--nodes");
  positive(s.executions, "--executions");
  positive(s.parents, "--parents");
  positive(s.children, "--children");
  positive(s.chains, "--chains");
  positive(s.chain_length, "--chain-length");
  positive(s.batch, "--batch");
  positive(s.claim_batch, "--claim-batch");
  positive(s.caf_window, "--caf-window");
  if (s.ceiling_connections.empty())
    throw std::invalid_argument("--ceiling-connections needs at least one "
                                "count");
  for (auto n : s.ceiling_connections)
    if (n < 1 || n > 64)
      throw std::invalid_argument(
        "--ceiling-connections counts must be within 1..64");
  if (s.nodes > 1 && s.store != "postgres")
    throw std::invalid_argument(
      "--nodes above 1 needs --store postgres (several processes' runs "
      "count finished rows with the PostgreSQL monitor; memory and SQLite "
      "are one process's, MySQL runs are one node for now)");
  if (s.retry_failures < 0 || s.retry_failures > 1000)
    throw std::invalid_argument("--retry-failures must be within 0..1000");
  if (s.interval_s <= 0)
    throw std::invalid_argument("--interval must be positive");
  if (s.duration_s < 0)
    throw std::invalid_argument("--duration must not be negative");
  // 0 is off; anything else must be at least the engine's unit, 1 ms.
  if (s.retain_completed_s != 0
      && !(s.retain_completed_s >= 0.001 && s.retain_completed_s <= 86400))
    throw std::invalid_argument(
      "--retain-completed must be 0 (off) or within 0.001..86400 seconds");
  if (s.retain_completed_s > 0 && s.nodes > 1)
    throw std::invalid_argument(
      "--retain-completed needs --nodes 1: several nodes' runs count "
      "finished rows in the table, which retention empties");
  if (s.retain_completed_s > 0 && s.workload == "hold")
    throw std::invalid_argument(
      "--retain-completed cannot run --workload hold (it measures memory "
      "per running execution, not a sustained rate)");
  if (!(s.pg_sample_s > 0))
    throw std::invalid_argument("--pg-sample must be positive");
  if (s.workload == "hold" && s.max_concurrent < s.executions)
    throw std::invalid_argument(
      "--workload hold needs --max-concurrent >= --executions (every "
      "execution is held open at once)");
  if (s.serial
      && (s.workload == "sleepers" || s.workload == "hold"
          || s.workload == "mixed"))
    throw std::invalid_argument(
      "--serial cannot wait for --workload " + s.workload
      + ": its executions finish only after every enqueue");
}

} // namespace durable::bench
