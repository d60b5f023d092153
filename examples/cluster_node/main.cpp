// cluster_node: a node program of your own. durable::nodes::run_node()
// does what every node does (reads flags, environment and config file,
// opens the store, serves the HTTP API and the C++ gateway if asked, drains
// on SIGTERM); the program only registers its tasks.
//
// Start it twice on one PostgreSQL schema and the two processes form a
// cluster: they share nothing but the database, each claims work when it
// has room, and a node that dies has its work taken over once its lease
// expires.
//
//   cluster_node --store postgres --pg-url "$DURABLE_PG_URL" \
//     --name a --gateway-port 0 --max-concurrent 4
//   cluster_node --store postgres --pg-url "$DURABLE_PG_URL" \
//     --name b --gateway-port 0 --max-concurrent 4
//
// Each prints `ready name=… gateway_port=… http_port=…` once it claims
// work, and exits 0 after a clean drain (SIGTERM or Ctrl-C). Work is
// enqueued from outside: the client_cpp example, the HTTP API or
// durablectl. `cluster_node --help` lists every setting.
#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "durable/durable.hpp"
#include "durable/nodes/node.hpp"

using namespace std::chrono_literals;

namespace {

// What word_count returns. Inputs and outputs are stored as JSON, so a
// type needs to_json/from_json; nlohmann's macro writes both. A client in
// another process declares the same struct to read it back typed.
struct count_result {
  int words = 0;
  std::string node; // which node ran it, to show the work is shared
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(count_result, words, node)

int count_words(const std::string& text) {
  int words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n';
    words += !space && !in_word;
    in_word = !space;
  }
  return words;
}

// Registers this program's tasks. Every node of a cluster must register
// the same task ids: a node claims only executions of tasks it knows.
void register_tasks(durable::executor& exec,
                    const durable::nodes::node_config& cfg) {
  exec.task<std::string, count_result>(
    {.id = "word_count",
     .timeout = 30s,
     .retry = {.max_attempts = 3, .base_delay = 100ms}},
    [name = cfg.name](durable::task_context& ctx, const std::string& text) {
      // Pretend the work takes a while, so that both nodes get some. A
      // body that waits should stop when the node drains or the execution
      // is cancelled: the stop token says so.
      for (int i = 0; i < 20 && !ctx.stop_requested(); ++i)
        std::this_thread::sleep_for(10ms);
      return count_result{count_words(text), name};
    });
}

} // namespace

int main(int argc, char** argv) {
  return durable::nodes::run_node(
    argc, argv,
    {.name = "cluster_node",
     .description = "A durable node running the word_count task.",
     .register_tasks = register_tasks});
}
