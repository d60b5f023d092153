// The bare-CAF ceiling: the scheduler cost the engine cannot go below, one
// actor and two messages per execution (see ceilings.hpp).
#include <chrono>

#include <caf/all.hpp>

#include "ceilings.hpp"

namespace durable::bench {

namespace {

using run_atom = caf::atom_constant<caf::atom("brun")>;
using done_atom = caf::atom_constant<caf::atom("bdone")>;
using go_atom = caf::atom_constant<caf::atom("bgo")>;

caf::behavior ceiling_worker(caf::event_based_actor* self,
                             caf::actor dispatcher) {
  return {
    [=](run_atom, std::uint64_t i) {
      self->send(dispatcher, done_atom::value, i + 1);
      self->quit();
    },
  };
}

struct dispatcher_state {
  std::uint64_t total = 0;
  std::uint64_t spawned = 0;
  std::uint64_t done = 0;
  std::size_t window = 0;
  caf::response_promise finished;
  static inline const char* name = "bench_ceiling_dispatcher";
};

void spawn_one(caf::stateful_actor<dispatcher_state>* self) {
  auto w = self->spawn(ceiling_worker, caf::actor{self});
  self->send(w, run_atom::value, self->state.spawned++);
}

caf::behavior ceiling_dispatcher(caf::stateful_actor<dispatcher_state>* self,
                                 std::uint64_t total, std::size_t window) {
  self->state.total = total;
  self->state.window = window;
  return {
    [=](go_atom) -> caf::result<std::uint64_t> {
      auto& st = self->state;
      st.finished = self->make_response_promise();
      while (st.spawned < st.total && st.spawned < st.window)
        spawn_one(self);
      return st.finished;
    },
    [=](done_atom, std::uint64_t) {
      auto& st = self->state;
      if (st.spawned < st.total)
        spawn_one(self);
      if (++st.done == st.total) {
        st.finished.deliver(st.done);
        self->quit();
      }
    },
  };
}

} // namespace

ceiling_result caf_ceiling(std::size_t executions, std::size_t window,
                           std::size_t threads) {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", static_cast<int>(threads));
  caf::actor_system sys{cfg};
  ceiling_result out;
  out.method = "bare CAF: one spawned actor and two messages per execution";
  out.executions = executions;
  auto d = sys.spawn(ceiling_dispatcher, static_cast<std::uint64_t>(executions),
                     window);
  auto t0 = std::chrono::steady_clock::now();
  {
    caf::scoped_actor self{sys};
    self->request(d, caf::infinite, go_atom::value)
      .receive([](std::uint64_t) {}, [](caf::error&) {});
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now()
                                              - t0)
                  .count();
  out.per_s = static_cast<double>(executions) / out.seconds;
  out.details = {{"window", window}, {"scheduler_threads", threads}};
  return out;
}

} // namespace durable::bench
