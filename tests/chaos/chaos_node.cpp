// durable-chaos-node: durable-node with the chaos tier's task set, whose
// bodies record each run (tests/chaos/chaos_tasks.hpp). Same flags as
// durable-node; the run log of each start goes to
// $DURABLE_CHAOS_RUNS_DIR/runs-<incarnation>.tsv.
#include <cstdlib>
#include <iostream>
#include <memory>

#include "chaos/chaos_tasks.hpp"
#include "durable/nodes/node.hpp"

int main(int argc, char** argv) {
  const char* dir = std::getenv("DURABLE_CHAOS_RUNS_DIR");
  if (dir == nullptr || *dir == '\0') {
    std::cerr << "durable-chaos-node: set DURABLE_CHAOS_RUNS_DIR\n";
    return 2;
  }
  return durable::nodes::run_node(
    argc, argv,
    {.name = "durable-chaos-node",
     .description = "A durable node running the chaos test's tasks.",
     .register_tasks = [dir](durable::executor& exec,
                             const durable::nodes::node_config& cfg) {
       const auto& inc = exec.incarnation();
       auto log = std::make_shared<durable::chaos::run_log>(
         std::string{dir} + "/runs-" + inc + ".tsv", inc, cfg.name);
       durable::chaos::register_chaos_tasks(exec, std::move(log));
     }});
}
