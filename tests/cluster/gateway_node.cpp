// durable-gateway-node: a node for the cluster tests. It runs an executor on
// the memory store (tasks of tests/support/gateway_node.hpp), publishes its
// gateway on an ephemeral loopback port, prints "port <n>" and serves until
// it is killed, its parent goes away, or ten minutes passed (a hang guard).
#include "support/gateway_node.hpp"

#include <chrono>
#include <cstdio>
#include <thread>
#include <unistd.h>

int main() {
  using namespace std::chrono_literals;
  const auto parent = ::getppid();
  durable::test::gateway_node node;
  std::printf("port %u\n", static_cast<unsigned>(node.port()));
  std::fflush(stdout);
  const auto deadline = std::chrono::steady_clock::now() + 10min;
  while (::getppid() == parent && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  return 0;
}
