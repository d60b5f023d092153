#pragma once

#include <cstddef>
#include <vector>

#include <nlohmann/json.hpp>

/// What grows during a sustained PostgreSQL run: the server's counters
/// (pg_monitor::counters()) read at a fixed period (sampler.hpp), and the
/// differences between consecutive readings. A statement whose time per call
/// rises from one interval to the next, or an index read more per scan, names
/// the cause of a throughput that decays.
namespace durable::bench {

/// The intervals between consecutive `readings`: `{t_s: [end of each
/// interval], statements: [{query, calls: [...], ms_per_call: [...]}] for
/// the `top` statements with the most time over the run, table:
/// {live_rows, dead_rows, autovacuums, heap_mb} at each interval's end,
/// indexes: [{name, mb: [...], tuples_per_scan: [...]}]}`. Null with fewer
/// than two readings.
nlohmann::json pg_trend(const std::vector<nlohmann::json>& readings,
                        std::size_t top);

/// Prints `trend` (pg_trend's result) as tables on stdout.
void print_trend(const nlohmann::json& trend);

} // namespace durable::bench
