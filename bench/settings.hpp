#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "durable/options.hpp"

namespace CLI {
class App;
} // namespace CLI

namespace durable::bench {

/// Everything one run of durable-bench is told on its command line. The
/// same struct configures `--worker` processes, so that every node of a
/// multi-node run registers the same tasks with the same options.
struct settings {
  // -- what to run ------------------------------------------------------------
  std::string workload = "simple";
  std::string store = "memory";
  std::size_t nodes = 1;

  // -- workload sizes ---------------------------------------------------------
  std::size_t executions = 10000; ///< simple, retry, sleepers, hold
  std::size_t parents = 10;       ///< fanout
  std::size_t children = 50;      ///< fanout: children per parent
  std::size_t chains = 1000;      ///< chain
  std::size_t chain_length = 5;   ///< chain: steps per chain
  int retry_failures = 2;         ///< retry: failed runs before success
  std::chrono::milliseconds retry_delay{1}; ///< retry: base delay

  // -- engine knobs -----------------------------------------------------------
  std::size_t batch = 1000; ///< executions per enqueue_many call
  /// Wait for each enqueue call's executions to finish before the next
  /// call: latencies on an otherwise idle node.
  bool serial = false;
  /// Slots per node: the engine's default (memory runs pass the bare-CAF
  /// ceiling's window, --caf-window, so both keep as many in flight).
  std::size_t max_concurrent = executor_options{}.max_concurrent;
  std::size_t claim_batch = 100;     ///< rows per claim (the engine default)
  std::size_t worker_threads = 4;    ///< blocking-body threads per node
  std::size_t scheduler_threads = 0; ///< CAF threads per node (0: cores)
  std::chrono::milliseconds poll_interval{500};
  std::chrono::milliseconds recheck_interval{5000};
  /// Count as durable-node does (durable::metrics): the store wrapped in
  /// metrics_store, the observer in engine_metrics.
  bool metrics = false;

  // -- stores -----------------------------------------------------------------
  std::string pg_url;      ///< default: DURABLE_PG_URL
  std::string mysql_url;   ///< default: DURABLE_MYSQL_URL
  std::string pg_schema;   ///< workers: the schema the main process made
  std::size_t pg_pool = 4; ///< connections per node
  std::string sqlite_path; ///< workers/debugging: default a temp file
  bool sqlite_normal_sync = false;

  // -- measuring --------------------------------------------------------------
  double duration_s = 0;   ///< > 0: repeat the workload this long
  double interval_s = 10;  ///< bucket width of the sustained series
  double pg_sample_s = 60; ///< sustained PostgreSQL runs: counters period
  /// > 0: retention on, completed trees kept this many seconds (the
  /// engine's retention_options::completed, its other defaults); rows
  /// finished are then counted as they finish, not read back.
  double retain_completed_s = 0;
  bool ceiling = true;                ///< measure the store's ceiling first
  std::size_t ceiling_executions = 0; ///< 0: as many rows as the workload
  std::size_t caf_window = 1000;      ///< in-flight window of the CAF ceiling
  /// PostgreSQL and MySQL ceilings: the connection counts tried at once;
  /// the best is the ceiling.
  std::vector<std::size_t> ceiling_connections{1, 2, 4, 8};
  bool progress = false; ///< force the progress bar (else: TTY only)
  bool validate = true;  ///< check every row's status and output
  std::string json_path;
  std::string plot_dir;
  bool plot_only = false; ///< draw --plot from --json without a run
  std::string label;      ///< free text stored in the JSON record

  // -- internal ---------------------------------------------------------------
  bool worker = false; ///< hidden: run as an extra node until stdin closes
};

/// The workloads the harness knows.
const std::vector<std::string>& workload_names();

/// Registers every option on `app` (the hidden `--worker` included).
void add_options(CLI::App& app, settings& s);

/// The arguments that make a `--worker` process register the same tasks
/// and join the same store as this run (`schema`: the PostgreSQL schema
/// the main process created).
std::vector<std::string> worker_arguments(const settings& s,
                                          const std::string& schema);

/// Checks combinations the parser cannot (several nodes need PostgreSQL,
/// sizes are positive); throws std::invalid_argument naming the option.
void check(const settings& s);

} // namespace durable::bench
