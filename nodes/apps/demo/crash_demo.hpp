#pragma once

#include <optional>
#include <string>

/// The demo's crash mode (`durable-demo --crash`): durability shown with two
/// real processes and a real SIGKILL.
///
/// 1. Creates a fresh SQLite file (`db`, which must not exist, or a new
///    temporary folder's `crash.db`) and starts worker 1, a copy of this
///    program (crash_worker.hpp), which stores a fan-out and runs it.
/// 2. Reads the file until some children completed and some are running,
///    then kills worker 1 with SIGKILL and prints what the file holds.
/// 3. Starts worker 2 on the same file. It runs what was never started at
///    once, and takes over worker 1's rows (the running children and the
///    waiting parent) when their lease runs out: 1 s here, a setting of
///    the workers, so the demo takes seconds rather than the default 6 s
///    lease.
/// 4. Prints the finished tree, each execution with its `recoveries`
///    count, the re-run ones marked.
///
/// Narrates each phase on stdout and ends with one line
/// `result: root=<status> output=<n> expected=<n> recovered=<count>`.
/// Returns 0 if the root completed with the expected output and at least
/// one execution was recovered, 2 if `db` exists already, 1 otherwise
/// (a worker failed, or a phase passed its generous time limit).
namespace durable::demo {

int run_crash_demo(const std::optional<std::string>& db);

} // namespace durable::demo
