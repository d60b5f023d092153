// client_cpp: enqueues executions of `word_count` on a running node (the
// cluster_node example) through its gateway, waits for each and checks the
// results.
//
//   client_cpp GATEWAY_PORT [MIN_NODES]
//
// GATEWAY_PORT is the node's `--gateway-port` (its `ready` line names it
// when 0 picked one). The client connects to one node only; with several
// nodes on one database, any of them may run the work. Exits 0 when every
// count is right and at least MIN_NODES (default 1) different nodes ran
// some of it, 1 otherwise, 2 when the node cannot be reached.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "durable/client/client.hpp"

using namespace std::chrono_literals;

// The node's output type, declared again on this side (see
// ../cluster_node/main.cpp): the result travels as JSON.
struct count_result {
  int words = 0;
  std::string node;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(count_result, words, node)

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: client_cpp GATEWAY_PORT [MIN_NODES]\n");
    return 2;
  }
  const auto port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  const std::size_t min_nodes = argc > 2 ? std::atoi(argv[2]) : 1;
  try {
    // Connects (TCP and CAF's handshake) or throws within connect_timeout.
    durable::client node{{.host = "127.0.0.1", .port = port}};

    // A task is named by its id and typed on this side; no body is needed
    // here. A wrong type shows as an error of the execution, not here.
    const durable::task_ref<std::string, count_result> word_count{"word_count"};

    // Twelve inputs with 1..12 words, enqueued in one batch (one commit).
    std::vector<std::string> texts;
    std::string text;
    for (int i = 1; i <= 12; ++i) {
      text += i == 1 ? "word" : " word";
      texts.push_back(text);
    }
    auto handles = node.enqueue_many(word_count, texts);

    // wait() blocks until the node pushes the end; no polling.
    bool ok = true;
    std::map<std::string, int> by_node;
    for (std::size_t i = 0; i < handles.size(); ++i) {
      durable::finished<count_result> r = handles[i].wait();
      const int expected = static_cast<int>(i) + 1;
      const bool right = r.ok() && r.output && r.output->words == expected;
      std::printf("%s %-9s words=%d node=%s%s\n",
                  handles[i].execution_id().c_str(),
                  std::string{durable::to_string(r.execution.status)}.c_str(),
                  r.output ? r.output->words : -1,
                  r.output ? r.output->node.c_str() : "-",
                  right ? "" : "   <- unexpected");
      ok &= right;
      if (r.output)
        ++by_node[r.output->node];
    }
    for (const auto& [name, count] : by_node)
      std::printf("node %s ran %d\n", name.c_str(), count);
    if (by_node.size() < min_nodes) {
      std::printf("expected at least %zu nodes to run some work\n", min_nodes);
      ok = false;
    }
    return ok ? 0 : 1;
  } catch (const durable::error& e) {
    std::fprintf(stderr, "client_cpp: %s\n", e.what());
    return 2;
  }
}
