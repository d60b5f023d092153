// An executor inside a user's own actor system, and task bodies that are
// the user's own CAF actors.
#include <caf/all.hpp>

#include <doctest/doctest.h>

#include "durable/actors/actor_task.hpp"
#include "durable/durable.hpp"
#include "support/store_factory.hpp"

using namespace std::chrono_literals;

namespace {

caf::actor_system_config& quiet(caf::actor_system_config& cfg) {
  cfg.set("scheduler.max-threads", 2);
  return cfg;
}

/// A user's actor that doubles numbers and refuses negative ones.
caf::behavior doubler(caf::event_based_actor*) {
  return {
    [](int x) -> caf::result<int> {
      if (x < 0)
        return caf::make_error(caf::sec::invalid_argument, "negative");
      return 2 * x;
    },
  };
}

} // namespace

TEST_SUITE("integration.embedding") {
  TEST_CASE("an executor runs inside the user's own actor system") {
    caf::actor_system_config cfg;
    caf::actor_system sys{quiet(cfg)};
    {
      durable::executor exec{
        sys, durable::test::make_store(), {.poll_interval = 20ms}};
      CHECK(&exec.system() == &sys);
      auto inc = exec.task<int, int>({.id = "inc", .timeout = 5s},
                                     [](durable::task_context&, int x) {
                                       return x + 1;
                                     });
      auto r = exec.enqueue(inc, 1).wait_for(30s);
      REQUIRE(r.has_value());
      CHECK(r->output == 2);
    }
    // The executor's actors are gone: the user's system shuts down cleanly
    // when it goes out of scope (a leftover actor would hang this test).
  }

  TEST_CASE("an actor task persists the reply of the user's actor") {
    caf::actor_system_config cfg;
    caf::actor_system sys{quiet(cfg)};
    auto worker = sys.spawn(doubler);
    {
      durable::executor exec{
        sys, durable::test::make_store(), {.poll_interval = 20ms}};
      auto twice = exec.actor_task<int, int>({.id = "twice", .timeout = 5s},
                                             worker);
      auto r = exec.enqueue(twice, 21).wait_for(30s);
      REQUIRE(r.has_value());
      CHECK(r->ok());
      CHECK(r->output == 42);
      CHECK(exec.get(r->execution.id).output == "42");
    }
    caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
  }

  TEST_CASE("an error reply of the user's actor fails the execution") {
    caf::actor_system_config cfg;
    caf::actor_system sys{quiet(cfg)};
    auto worker = sys.spawn(doubler);
    {
      durable::executor exec{
        sys, durable::test::make_store(), {.poll_interval = 20ms}};
      auto twice = exec.actor_task<int, int>(
        {.id = "twice", .timeout = 5s, .retry = {.max_attempts = 1}}, worker);
      auto r = exec.enqueue(twice, -1).wait_for(30s);
      REQUIRE(r.has_value());
      CHECK(r->status() == durable::execution_status::failed);
      CHECK(r->execution.attempt == 1); // retried once: an error reply is
                                        // retryable like any exception
      CHECK(r->error()->message.find("Actor task failed") == 0);
    }
    caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
  }
}
