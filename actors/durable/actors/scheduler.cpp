#include "durable/actors/scheduler.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <caf/abstract_actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/work_stealing.hpp>
#include <caf/scheduler/coordinator.hpp>
#include <caf/settings.hpp>

namespace durable::actors {

namespace {

/// Polls 50 us apart before a thread out of work waits (CAF: 500).
constexpr std::size_t idle_moderate_polls = 50;
/// A waiting thread wakes to steal this often (CAF: 10 ms).
constexpr std::chrono::milliseconds idle_relaxed_sleep{100};

/// CAF's thread-safe clock, minus the exit-time cancel of actors that
/// never set a timeout. Thread-safe: any scheduler thread may call it.
class lean_clock : public caf::detail::thread_safe_actor_clock {
public:
  using super = caf::detail::thread_safe_actor_clock;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                            caf::atom_value type, std::uint64_t id) override {
    remember(self);
    super::set_ordinary_timeout(t, self, type, id);
  }

  void set_request_timeout(time_point t, caf::abstract_actor* self,
                           caf::message_id id) override {
    remember(self);
    super::set_request_timeout(t, self, id);
  }

  void set_multi_timeout(time_point t, caf::abstract_actor* self,
                         caf::atom_value type, std::uint64_t id) override {
    remember(self);
    super::set_multi_timeout(t, self, type, id);
  }

  /// Called by every actor as it exits (and never again for that actor,
  /// so its address may be reused by the next one).
  void cancel_timeouts(caf::abstract_actor* self) override {
    if (forget(self))
      super::cancel_timeouts(self);
  }

private:
  void remember(caf::abstract_actor* self) {
    std::lock_guard guard{mtx_};
    users_.insert(self);
  }

  bool forget(caf::abstract_actor* self) {
    std::lock_guard guard{mtx_};
    return users_.erase(self) > 0;
  }

  std::mutex mtx_;
  /// Actors that set a timeout and have not exited yet.
  std::unordered_set<caf::abstract_actor*> users_;
};

/// CAF's coordinator with a lean_clock. The base class keeps its own clock
/// and thread, which then stay idle: its members are private, so the lean
/// clock gets a thread of its own, stopped after the workers are.
class lean_coordinator
  : public caf::scheduler::coordinator<caf::policy::work_stealing> {
public:
  using super = caf::scheduler::coordinator<caf::policy::work_stealing>;

  explicit lean_coordinator(caf::actor_system& sys) : super(sys) {}

  static caf::actor_system::module* make(caf::actor_system& sys,
                                         caf::detail::type_list<>) {
    return new lean_coordinator(sys);
  }

  lean_clock& clock() noexcept override {
    return clock_;
  }

protected:
  void start() override {
    clock_thread_ = std::thread{[this] {
      caf::detail::set_thread_name("durable.clock");
      system().thread_started();
      clock_.run_dispatch_loop();
      system().thread_terminates();
    }};
    super::start();
  }

  void stop() override {
    super::stop();
    clock_.cancel_dispatch_loop();
    clock_thread_.join();
  }

private:
  lean_clock clock_;
  std::thread clock_thread_;
};

} // namespace

void use_engine_scheduler(caf::actor_system_config& cfg) {
  cfg.load<lean_coordinator>();
  // How an idle scheduler thread waits (docs/design.md, "An idle node
  // sleeps"). CAF 0.17 spins 100 times, then sleeps 50 us between 500 more
  // polls (25 ms or more of wake-ups each time a thread runs out of work),
  // then waits on its condition variable, waking every 10 ms to steal.
  // Work from outside the scheduler (storage threads, timers, the HTTP
  // pool) wakes a waiting thread at once, so the short poll and the long
  // wait only change how soon an idle thread steals work that another
  // thread queued for itself. A caller's own values win.
  using namespace std::chrono_literals;
  caf::put_missing(cfg.content, "work-stealing.moderate-poll-attempts",
                   std::size_t{idle_moderate_polls});
  caf::put_missing(cfg.content, "work-stealing.relaxed-sleep-duration",
                   caf::timespan{idle_relaxed_sleep});
}

bool runs_engine_scheduler(caf::actor_system& sys) {
  return dynamic_cast<lean_clock*>(&sys.clock()) != nullptr;
}

} // namespace durable::actors
