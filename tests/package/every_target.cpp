// Includes every installed header and references one function of every
// installed library, so that a header missing from the package fails the
// compile and a library (or a dependency it does not declare) fails the
// link. Runs one task on the memory store to show the engine works.
#include <cstdio>
#include <string>
#include <vector>

#include "durable/actors/actor_task.hpp"
#include "durable/client/client.hpp"
#include "durable/durable.hpp"
#include "durable/metrics/engine_metrics.hpp"
#include "durable/metrics/metrics_store.hpp"
#include "durable/metrics/registry.hpp"
#include "durable/nodes/gateway.hpp"
#include "durable/nodes/http/remote_task.hpp"
#include "durable/nodes/http/server.hpp"
#include "durable/nodes/node.hpp"
#include "durable/storage/memory_store.hpp"
#include "durable/storage/pg/outbox.hpp"
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/sqlite_store.hpp"
#include "durable/version.hpp"

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  durable::executor exec{durable::storage::memory()};
  auto twice = exec.task<int, int>({.id = "twice", .timeout = 5s},
                                   [](durable::task_context&, int x) {
                                     return 2 * x;
                                   });
  auto done = exec.enqueue(twice, 21).wait();
  std::printf("durable %s: twice(21) = %d\n",
              std::string{durable::version()}.c_str(), done.output.value_or(0));
  // Never true: these calls only make the linker resolve each library.
  if (argc > 1000) {
    durable::metrics::registry reg;
    std::printf("%s", reg.render().c_str());
    durable::storage::sqlite(argv[1]);
    auto pg = durable::storage::pg::postgres();
    (void)&durable::storage::pg::insert_in;
    durable::nodes::http::server api{exec, {}};
    durable::nodes::publish_gateway(exec);
    durable::client c{{}};
    return durable::nodes::run_node(argc, argv, {});
  }
  return done.output == 42 ? 0 : 1;
}
