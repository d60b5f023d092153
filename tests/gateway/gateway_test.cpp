// The gateway and the client over a real loopback socket: a node (actor
// system, executor on the memory store, gateway on an ephemeral port) and a
// client with an actor system of its own, in one test process.
#include <chrono>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include <doctest/doctest.h>

#include "durable/actors/executor_actor.hpp"
#include "durable/actors/wire_errors.hpp"
#include "durable/client/client.hpp"
#include "support/gateway_node.hpp"

namespace durable::test {

namespace {

using namespace std::chrono_literals;

client_options to(std::uint16_t port) {
  client_options o;
  o.port = port;
  return o;
}

/// The error `call` throws (fails the test if it throws none).
error thrown_by(const std::function<void()>& call) {
  try {
    call();
  } catch (const error& e) {
    return e;
  }
  FAIL("the call threw no durable::error");
  return error{"unreachable"};
}

/// Checks that the client and the facade refuse a call the same way.
void check_same_error(const error& remote, const error& local, error_kind kind,
                      const std::string& message) {
  CHECK_EQ(remote.kind(), kind);
  CHECK_EQ(std::string{remote.what()}, message);
  CHECK_EQ(remote.info(), local.info());
}

} // namespace

TEST_SUITE("gateway.client") {
  TEST_CASE("a client enqueues and waits and gets an execution on the node") {
    gateway_node node;
    client c{to(node.port())};
    auto h = c.enqueue(node.add_one, 41);
    CHECK_FALSE(h.execution_id().empty());
    auto done = h.wait();
    CHECK(done.ok());
    CHECK_EQ(done.output, std::optional<int>{42});
    auto row = h.get();
    CHECK_EQ(row.id, h.execution_id());
    CHECK_EQ(row.status, execution_status::completed);
    CHECK_EQ(row.output, std::optional<std::string>{"42"});
    // The node stored exactly what the client saw.
    CHECK_EQ(node.exec().get(h.execution_id()).output, row.output);
  }

  TEST_CASE("a client built on one thread is destroyed on another while "
            "the first still lives") {
    // CAF pins an actor system's logger to the thread that built it: the
    // destructor would wait for that thread to end.
    gateway_node node;
    std::promise<std::unique_ptr<client>> built;
    std::promise<void> finish;
    std::thread builder{[&] {
      built.set_value(std::make_unique<client>(to(node.port())));
      finish.get_future().wait(); // outlives the destruction below
    }};
    auto c = built.get_future().get();
    CHECK(c->enqueue(node.add_one, 1).wait().ok());
    auto destroyed = std::async(std::launch::async, [&] { c.reset(); });
    const bool returned = destroyed.wait_for(std::chrono::seconds{30})
                          == std::future_status::ready;
    finish.set_value();
    builder.join();
    CHECK_MESSAGE(returned, "the client's destructor waited for its builder");
  }

  TEST_CASE("a client enqueues many executions in one call") {
    gateway_node node;
    client c{to(node.port())};
    auto hs = c.enqueue_many(node.add_one, std::vector<int>{1, 2, 3});
    REQUIRE_EQ(hs.size(), 3);
    for (int i = 0; i < 3; ++i)
      CHECK_EQ(hs[static_cast<std::size_t>(i)].wait().output,
               std::optional<int>{i + 2});
  }

  TEST_CASE("a repeated idempotency key returns the first execution remotely") {
    gateway_node node;
    client c{to(node.port())};
    enqueue_options o;
    o.idempotency_key = "once";
    auto first = c.enqueue(node.add_one, 1, o);
    auto second = c.enqueue(node.add_one, 2, o);
    CHECK_EQ(first.execution_id(), second.execution_id());
    CHECK_EQ(second.wait().output, std::optional<int>{2});
  }

  TEST_CASE("a sleeping execution waits remotely until a client wakes it") {
    gateway_node node;
    client c{to(node.port())};
    auto h = c.enqueue(node.approval, std::string{"order-42"});
    // Not finished: the wait gives up after its timeout with no record.
    CHECK_FALSE(h.wait_for(50ms).has_value());
    auto woken = c.wake(node.approval, "order-42", completed(true));
    CHECK_EQ(woken.id, h.execution_id());
    CHECK_EQ(woken.status, execution_status::completed);
    auto done = h.wait_for(60s);
    REQUIRE(done.has_value());
    CHECK(done->ok());
    CHECK_EQ(done->output, std::optional<bool>{true});
    // Waking a finished execution returns it unchanged.
    CHECK_EQ(c.wake(node.approval, "order-42", completed(false)).output,
             std::optional<std::string>{"true"});
  }

  TEST_CASE("a wait that started before the wake-up is pushed its end") {
    gateway_node node;
    client waiter{to(node.port())};
    client waker{to(node.port())};
    auto h = waiter.enqueue(node.approval, std::string{"order-7"});
    auto pending = std::async(std::launch::async, [&] { return h.wait(); });
    waker.wake(node.approval, "order-7", failed("rejected"));
    REQUIRE_EQ(pending.wait_for(120s), std::future_status::ready);
    auto done = pending.get();
    CHECK_EQ(done.status(), execution_status::failed);
    REQUIRE(done.error().has_value());
    CHECK_EQ(done.error()->message, "rejected");
    CHECK_FALSE(done.output.has_value());
  }

  TEST_CASE("a client cancels a sleeping execution") {
    gateway_node node;
    client c{to(node.port())};
    auto h = c.enqueue(node.approval, std::string{"order-9"});
    auto row = h.cancel();
    CHECK_EQ(row.status, execution_status::cancelled);
    CHECK_EQ(h.wait().status(), execution_status::cancelled);
    // Cancelling again is a no-op.
    CHECK_EQ(h.cancel().status, execution_status::cancelled);
  }

  TEST_CASE("an unknown task id is refused remotely as in process") {
    gateway_node node;
    client c{to(node.port())};
    auto remote = thrown_by([&] { c.enqueue_raw("nope", {"1"}); });
    auto local = thrown_by([&] { node.exec().enqueue_raw("nope", {"1"}); });
    check_same_error(remote, local, error_kind::not_found,
                     "Task not found [taskId=nope]");
    CHECK_FALSE(remote.is_retryable());
    // The node keeps serving.
    CHECK_EQ(c.enqueue(node.add_one, 1).wait().output, std::optional<int>{2});
  }

  TEST_CASE("a malformed sleeping id is refused remotely as in process") {
    gateway_node node;
    client c{to(node.port())};
    auto remote = thrown_by([&] { c.enqueue_raw("approval", {"{not json"}); });
    auto local = thrown_by(
      [&] { node.exec().enqueue_raw("approval", {"{not json"}); });
    check_same_error(remote, local, error_kind::generic,
                     "Invalid sleeping task unique id for task approval: must "
                     "be a non-empty string of at most 255 characters");
    CHECK_EQ(c.enqueue(node.add_one, 2).wait().output, std::optional<int>{3});
  }

  TEST_CASE("malformed input is refused at enqueue without calling the "
            "body") {
    gateway_node node;
    client c{to(node.port())};
    try {
      c.enqueue_raw("checked", {"{not json"});
      FAIL("a malformed input was enqueued");
    } catch (const durable::error& e) {
      CHECK_FALSE(e.is_retryable());
      CHECK(std::string_view{e.what()}.starts_with(
        "Invalid input to task checked: "));
    }
    // A body's own non-retryable error arrives the same way.
    auto bad = c.enqueue(node.checked, -1).wait();
    CHECK_EQ(bad.status(), execution_status::failed);
    REQUIRE(bad.error().has_value());
    CHECK_EQ(bad.error()->message, "negative input");
    CHECK_EQ(c.enqueue(node.checked, 5).wait().output, std::optional<int>{5});
  }

  TEST_CASE("an execution id that does not exist is not found remotely") {
    gateway_node node;
    client c{to(node.port())};
    const std::string missing = "00000000-0000-0000-0000-000000000000";
    const std::string message = "Task execution not found [executionId="
                                + missing + "]";
    auto local = thrown_by([&] { node.exec().get(missing); });
    check_same_error(thrown_by([&] { c.get(missing); }), local,
                     error_kind::not_found, message);
    check_same_error(thrown_by([&] { c.wait(missing); }), local,
                     error_kind::not_found, message);
    check_same_error(thrown_by([&] { c.wait_for(missing, 10ms); }), local,
                     error_kind::not_found, message);
    check_same_error(thrown_by([&] { c.cancel(missing); }), local,
                     error_kind::not_found, message);
    CHECK_EQ(c.enqueue(node.add_one, 3).wait().output, std::optional<int>{4});
  }

  TEST_CASE("bad wake-ups are refused remotely as in process") {
    gateway_node node;
    client c{to(node.port())};
    auto remote = thrown_by([&] { c.wake_raw("nope", "x", "true", ""); });
    auto local = thrown_by(
      [&] { node.exec().wake_raw("nope", "x", "true", ""); });
    check_same_error(remote, local, error_kind::not_found,
                     "Task not found [taskId=nope]");
    remote = thrown_by([&] { c.wake_raw("add_one", "x", "true", ""); });
    local = thrown_by(
      [&] { node.exec().wake_raw("add_one", "x", "true", ""); });
    check_same_error(remote, local, error_kind::generic,
                     "Task is not a sleeping task [taskId=add_one]");
    remote = thrown_by(
      [&] { c.wake(node.approval, "never", completed(true)); });
    local = thrown_by(
      [&] { node.exec().wake(node.approval, "never", completed(true)); });
    CHECK_EQ(remote.info(), local.info());
    CHECK_EQ(c.enqueue(node.add_one, 4).wait().output, std::optional<int>{5});
  }

  TEST_CASE("invalid enqueue options are refused remotely as in process") {
    gateway_node node;
    client c{to(node.port())};
    enqueue_options o;
    o.retry = retry_options{};
    o.retry->multiplier = std::numeric_limits<double>::infinity();
    auto remote = thrown_by([&] { c.enqueue(node.add_one, 1, o); });
    auto local = thrown_by([&] { node.exec().enqueue(node.add_one, 1, o); });
    CHECK_EQ(remote.info(), local.info());
    CHECK_EQ(remote.kind(), error_kind::generic);
    CHECK(std::string_view{remote.what()}.find("multiplier")
          != std::string_view::npos);
    CHECK_EQ(c.enqueue(node.add_one, 6).wait().output, std::optional<int>{7});
  }

  TEST_CASE("a client cannot connect where no gateway listens") {
    std::uint16_t port = 0;
    {
      gateway_node node;
      port = node.port();
    }
    auto e = thrown_by([&] { client c{to(port)}; });
    CHECK(
      std::string_view{e.what()}.starts_with("Cannot connect to durable node"));
  }

  TEST_CASE("a client call fails with connection lost once the node is gone") {
    auto node = std::make_unique<gateway_node>();
    client c{to(node->port())};
    auto h = c.enqueue(node->add_one, 1);
    CHECK(h.wait().ok());
    node.reset();
    auto e = thrown_by([&] { h.get(); });
    CHECK(std::string_view{e.what()}.starts_with(
      "Connection to durable node lost"));
    CHECK(e.is_retryable());
  }

} // TEST_SUITE

TEST_SUITE("gateway.publish") {
  TEST_CASE("a gateway refuses a non-loopback address") {
    gateway_node node;
    for (std::string address :
         {"0.0.0.0", "192.168.1.10", "::", "example.org"}) {
      nodes::gateway_options o;
      o.bind_address = address;
      auto e = thrown_by([&] { nodes::publish_gateway(node.exec(), o); });
      CHECK_EQ(e.kind(), error_kind::generic);
      CHECK_EQ(std::string{e.what()},
               "Invalid gateway address " + address
                 + ": the gateway binds to loopback addresses only, because "
                   "CAF 0.17's network layer has no authentication");
    }
    // The node still serves on its loopback gateway.
    client c{to(node.port())};
    CHECK_EQ(c.enqueue(node.add_one, 9).wait().output, std::optional<int>{10});
  }

  TEST_CASE("loopback addresses are recognised") {
    CHECK(nodes::is_loopback_address("127.0.0.1"));
    CHECK(nodes::is_loopback_address("127.1.2.3"));
    CHECK(nodes::is_loopback_address("::1"));
    CHECK(nodes::is_loopback_address("localhost"));
    CHECK_FALSE(nodes::is_loopback_address("128.0.0.1"));
    CHECK_FALSE(nodes::is_loopback_address("0.0.0.0"));
    CHECK_FALSE(nodes::is_loopback_address("::"));
    CHECK_FALSE(nodes::is_loopback_address(""));
  }

  TEST_CASE("a gateway needs an actor system with a middleman") {
    executor exec{storage::memory()};
    auto e = thrown_by([&] { nodes::publish_gateway(exec); });
    CHECK(std::string_view{e.what()}.starts_with(
      "Invalid gateway setup: the executor's actor system has no middleman"));
  }

  TEST_CASE("a second gateway on a taken port is refused") {
    gateway_node node;
    nodes::gateway_options o;
    o.port = node.port();
    o.reuse_address = false;
    auto e = thrown_by([&] { nodes::publish_gateway(node.exec(), o); });
    CHECK(std::string_view{e.what()}.starts_with("Cannot publish the gateway"));
  }

  TEST_CASE("the network configuration turns heartbeats on") {
    caf::actor_system_config cfg;
    nodes::network_options o;
    o.heartbeat_interval = 250ms;
    o.connection_timeout = 3s;
    nodes::prepare_network_config(cfg, o);
    CHECK_EQ(caf::get_or(cfg, "middleman.heartbeat-interval", caf::timespan{0}),
             caf::timespan{250ms});
    CHECK_EQ(caf::get_or(cfg, "middleman.connection-timeout", caf::timespan{0}),
             caf::timespan{3s});
  }

} // TEST_SUITE

TEST_SUITE("gateway.actor") {
  TEST_CASE("a CAF program talks to the executor actor with typed messages") {
    gateway_node node;
    caf::scoped_actor self{node.system()};
    auto target = node.exec().actor();
    std::vector<std::string> ids;
    self
      ->request(target, caf::infinite, actors::enqueue_atom::value,
                std::string{"add_one"}, std::vector<std::string>{"10", "20"},
                enqueue_options{})
      .receive([&](std::vector<std::string>& xs) { ids = std::move(xs); },
               [&](caf::error& err) { FAIL(node.system().render(err)); });
    REQUIRE_EQ(ids.size(), 2);
    std::optional<execution_record> row;
    self->request(target, caf::infinite, actors::wait_atom::value, ids[1])
      .receive([&](execution_record& r) { row = std::move(r); },
               [&](caf::error& err) { FAIL(node.system().render(err)); });
    REQUIRE(row.has_value());
    CHECK_EQ(row->output, std::optional<std::string>{"21"});
    // A refused call answers with durable's error category.
    std::optional<error> refused;
    self
      ->request(target, caf::infinite, caf::get_atom::value,
                std::string{"missing"})
      .receive([&](execution_record&) {},
               [&](caf::error& err) { refused = actors::from_caf_error(err); });
    REQUIRE(refused.has_value());
    CHECK_EQ(refused->kind(), error_kind::not_found);
    // A timed wait on an unfinished execution answers with no record.
    auto sleeper = node.exec().enqueue(node.approval, std::string{"s-1"});
    std::optional<actors::wait_reply> reply;
    self
      ->request(target, caf::infinite, actors::wait_atom::value,
                sleeper.execution_id(), caf::timespan{20ms})
      .receive([&](actors::wait_reply& r) { reply = std::move(r); },
               [&](caf::error& err) { FAIL(node.system().render(err)); });
    REQUIRE(reply.has_value());
    CHECK_FALSE(reply->record.has_value());
  }

} // TEST_SUITE

} // namespace durable::test
