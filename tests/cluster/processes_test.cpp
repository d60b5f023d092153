// The gateway across real processes: a client program against a gateway
// published by this test process, and a node process killed with SIGKILL
// while a client program waits on it.
#include <chrono>
#include <future>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "durable/client/client.hpp"
#include "support/child_process.hpp"
#include "support/gateway_node.hpp"

#ifndef DURABLE_GATEWAY_CLIENT
#error "DURABLE_GATEWAY_CLIENT must name the durable-gateway-client binary"
#endif
#ifndef DURABLE_GATEWAY_NODE
#error "DURABLE_GATEWAY_NODE must name the durable-gateway-node binary"
#endif

namespace durable::test {

namespace {

using namespace std::chrono_literals;

/// A generous hang guard for a loaded 2-core machine, never a timing check.
auto guard() {
  return std::chrono::steady_clock::now() + 120s;
}

child_process client_program(std::uint16_t port,
                             std::vector<std::string> args) {
  args.insert(args.begin(), std::to_string(port));
  return child_process{DURABLE_GATEWAY_CLIENT, std::move(args),
                       durable::test::child_stderr{.merge = true}};
}

} // namespace

TEST_SUITE("gateway.processes") {
  TEST_CASE("a client process runs executions on a gateway of this process") {
    gateway_node node;
    auto proc = client_program(node.port(), {"run", "add_one", "1", "2", "3"});
    auto lines = proc.rest(guard());
    CHECK_EQ(proc.join(), 0);
    CHECK_EQ(lines, std::vector<std::string>{"1 completed 2", "2 completed 3",
                                             "3 completed 4"});
  }

  TEST_CASE("a client process reports a failed execution and a refused call") {
    gateway_node node;
    auto failing = client_program(node.port(), {"run", "checked", "4", "-1"});
    auto lines = failing.rest(guard());
    CHECK_EQ(failing.join(), 1);
    CHECK_EQ(lines, std::vector<std::string>{"4 completed 4", "-1 failed -"});
    auto refused = client_program(node.port(), {"run", "nope", "1"});
    lines = refused.rest(guard());
    CHECK_EQ(refused.join(), 3);
    CHECK_EQ(lines, std::vector<std::string>{
                      "error: not_found Task not found [taskId=nope]"});
    // The node keeps serving.
    auto again = client_program(node.port(), {"run", "add_one", "7"});
    lines = again.rest(guard());
    CHECK_EQ(again.join(), 0);
    CHECK_EQ(lines, std::vector<std::string>{"7 completed 8"});
  }

  TEST_CASE("a client waiting on a node killed with SIGKILL gets an error") {
    child_process node{DURABLE_GATEWAY_NODE, {}};
    auto first = node.next_line(guard());
    REQUIRE(first.has_value());
    REQUIRE(first->rfind("port ", 0) == 0);
    auto port = static_cast<std::uint16_t>(std::stoi(first->substr(5)));
    auto waiter = client_program(port, {"sleep", "order-1"});
    auto waiting = waiter.next_line(guard());
    REQUIRE(waiting.has_value());
    CHECK(waiting->rfind("waiting ", 0) == 0);
    node.kill_hard();
    auto lines = waiter.rest(guard());
    CHECK_EQ(waiter.join(), 3);
    REQUIRE_EQ(lines.size(), 1);
    CHECK(
      lines.front().rfind("error: generic Connection to durable node lost", 0)
      == 0);
  }

  TEST_CASE("a client in this process waiting on a killed node gets an error") {
    child_process node{DURABLE_GATEWAY_NODE, {}};
    auto first = node.next_line(guard());
    REQUIRE(first.has_value());
    client_options opts;
    opts.port = static_cast<std::uint16_t>(std::stoi(first->substr(5)));
    client c{opts};
    auto h = c.enqueue(task_ref<std::string, bool>{"approval"},
                       std::string{"order-2"});
    // The connection works and the execution waits for its wake-up.
    CHECK_FALSE(h.wait_for(10ms).has_value());
    auto pending = std::async(std::launch::async, [&] { return h.wait(); });
    node.kill_hard();
    REQUIRE_EQ(pending.wait_for(120s), std::future_status::ready);
    try {
      pending.get();
      FAIL("the wait returned although the node died");
    } catch (const error& e) {
      CHECK(std::string_view{e.what()}.starts_with(
        "Connection to durable node lost"));
      CHECK(e.is_retryable());
    }
    // Later calls fail the same way instead of hanging.
    try {
      h.get();
      FAIL("get returned although the node died");
    } catch (const error& e) {
      CHECK(std::string_view{e.what()}.starts_with(
        "Connection to durable node lost"));
    }
  }

} // TEST_SUITE

} // namespace durable::test
