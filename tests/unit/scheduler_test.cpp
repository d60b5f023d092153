// The engine's scheduler (actors/scheduler.hpp) on real threads and the
// real clock: CAF's timeouts and delayed messages still work on it, while
// actors that never set a timeout exit without the clock.
#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include <doctest/doctest.h>

#include "durable/actors/scheduler.hpp"

using namespace std::chrono_literals;

namespace {

/// A two-thread actor system on the engine's scheduler.
struct engine_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  engine_system() {
    cfg.set("scheduler.max-threads", 2);
    durable::actors::use_engine_scheduler(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

/// Waits for `f` (hang guard: 20 s) and returns whether it got a value.
bool arrives(std::future<void>& f) {
  return f.wait_for(20s) == std::future_status::ready;
}

/// Whether an actor waiting with a 20 ms receive timeout gets it.
bool receive_timeout_fires(caf::actor_system& sys) {
  std::promise<void> fired;
  auto f = fired.get_future();
  sys.spawn([&fired](caf::event_based_actor* self) -> caf::behavior {
    return {
      caf::after(20ms) >>
        [&fired, self] {
          fired.set_value();
          self->quit();
        },
    };
  });
  return arrives(f);
}

} // namespace

TEST_SUITE("scheduler") {
  TEST_CASE("a system configured for it runs on the engine scheduler") {
    engine_system engine;
    CHECK(durable::actors::runs_engine_scheduler(*engine.sys));
    caf::actor_system_config plain_cfg;
    caf::actor_system plain{plain_cfg};
    CHECK_FALSE(durable::actors::runs_engine_scheduler(plain));
  }

  TEST_CASE("receive timeouts fire on the engine scheduler") {
    engine_system engine;
    CHECK(receive_timeout_fires(*engine.sys));
  }

  TEST_CASE("a request with a deadline times out on the engine scheduler") {
    engine_system engine;
    // Accepts the request and keeps it unanswered.
    auto silent = engine.sys->spawn(
      [](caf::event_based_actor* self) -> caf::behavior {
        auto held = std::make_shared<std::vector<caf::response_promise>>();
        return {
          [self, held](int) { held->push_back(self->make_response_promise()); },
        };
      });
    caf::scoped_actor self{*engine.sys};
    bool timed_out = false;
    self->request(silent, 50ms, 1)
      .receive([](int) {},
               [&](caf::error& err) {
                 timed_out = err == caf::sec::request_timeout;
               });
    CHECK(timed_out);
    self->send_exit(silent, caf::exit_reason::user_shutdown);
  }

  TEST_CASE(
    "actors exit with and without timeouts, and later ones still fire") {
    engine_system engine;
    // Many actors that never touch the clock, and some that exit with a long
    // timeout pending: afterwards the clock still delivers on time.
    for (int i = 0; i < 2000; ++i)
      engine.sys->spawn([](caf::event_based_actor* self) { self->quit(); });
    for (int i = 0; i < 200; ++i)
      engine.sys->spawn([](caf::event_based_actor* self) -> caf::behavior {
        self->send(self, 0);
        return {
          [self](int) { self->quit(); },
          caf::after(std::chrono::seconds(3600)) >> [] {},
        };
      });
    std::promise<void> delivered;
    auto f = delivered.get_future();
    auto receiver = engine.sys->spawn(
      [&delivered](caf::event_based_actor* self) -> caf::behavior {
        return {
          [&delivered, self](int) {
            delivered.set_value();
            self->quit();
          },
        };
      });
    // A delayed message goes through the clock thread.
    engine.sys->spawn([receiver](caf::event_based_actor* self) {
      self->delayed_send(receiver, 30ms, 1);
    });
    CHECK(arrives(f));
    CHECK(receive_timeout_fires(*engine.sys));
  }

} // TEST_SUITE
