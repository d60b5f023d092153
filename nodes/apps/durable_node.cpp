// durable-node: a node process that runs the example task library.
//
//   durable-node --store postgres --pg-url postgresql://… --name a
//
// A real deployment links durable::nodes into its own program and registers
// its own tasks the same way.
#include "durable/nodes/node.hpp"
#include "example_tasks.hpp"

int main(int argc, char** argv) {
  return durable::nodes::run_node(
    argc, argv,
    {.name = "durable-node",
     .description = "A durable node running the example tasks.",
     .register_tasks = [](durable::executor& exec,
                          const durable::nodes::node_config& cfg) {
       durable::examples::register_example_tasks(exec, cfg.name);
     }});
}
