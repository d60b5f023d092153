#pragma once

#include <functional>
#include <string>

#include "durable/actors/executor.hpp"
#include "durable/nodes/node_config.hpp"

/// The composition root of a node process: configuration, store, actor
/// system, executor, the program's tasks, and a drain on SIGTERM.
///
/// A program that links durable::nodes registers its task libraries and
/// calls run_node() from main:
///
///     int main(int argc, char** argv) {
///       return durable::nodes::run_node(argc, argv, {
///         .name = "my-node",
///         .register_tasks = [](durable::executor& exec,
///                              const durable::nodes::node_config& cfg) {
///           my_tasks::register_all(exec);
///         }});
///     }
namespace durable::nodes {

/// What a program built on durable::nodes adds to the node: its name and
/// its tasks. Passed to run_node().
struct node_program {
  /// The program's name in --help.
  std::string name = "durable-node";
  /// The one-line description at the top of --help.
  std::string description = "A durable node: runs the registered tasks.";
  /// Registers the program's tasks on the node's executor (before it
  /// starts claiming, so a rolling deploy with a new task set never claims
  /// what it cannot run).
  std::function<void(executor&, const node_config&)> register_tasks;
};

/// Parses the configuration, runs the node until SIGTERM or SIGINT, then
/// drains: stops claiming, fires the shutdown token of running bodies,
/// waits up to the grace period, hands the remaining leases back, exits.
///
/// Prints one line `ready name=<name> incarnation=<id> gateway_port=<port
/// or -1> http_port=<port or -1>` on stdout once the node claims work (scripts
/// and tests wait for it); logs go to stderr.
///
/// Under a service manager (systemd, `Type=notify`), sends `READY=1` once
/// the node serves (after the `ready` line), `STOPPING=1` when the drain
/// begins, status lines and watchdog keep-alives (service_notify.hpp).
///
/// `--check-config` reads and validates the settings, prints a summary
/// line on stdout and exits without opening anything.
///
/// Returns the process exit code: 0 after a drain (or a valid
/// `--check-config`), 2 for bad configuration (the message names the
/// setting), 1 if the node cannot start (e.g. the store is unreachable).
int run_node(int argc, char** argv, const node_program& program);

} // namespace durable::nodes
