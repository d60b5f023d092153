#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

/// PNG charts of run records, drawn by gnuplot (Debian `gnuplot-nox`).
namespace durable::bench {

/// Writes into `dir` (created if missing) the data files, a gnuplot script
/// `plots.gp` and, by running gnuplot on it:
/// - `throughput.png`: executions/s of each workload/store/nodes next to
///   its ceiling (the last record of each combination);
/// - `latency.png`: enqueue -> start and enqueue -> finish p50/p90/p99;
/// - `sustained.png`: executions/s per interval of every sustained run.
/// Throws std::runtime_error if gnuplot is missing or fails.
void draw_plots(const std::vector<nlohmann::json>& records,
                const std::string& dir);

} // namespace durable::bench
