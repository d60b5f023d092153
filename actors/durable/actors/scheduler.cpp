#include "durable/actors/scheduler.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <utility>

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

/// Polls 50 us apart before a busy thread out of work waits (CAF: 500).
constexpr std::size_t idle_moderate_polls = 50;
/// A waiting thread wakes to steal this often (CAF: 10 ms).
constexpr std::chrono::milliseconds idle_relaxed_sleep{100};
/// A thread whose recent jobs came after waits this long on average is
/// idle: out of work, it skips the polls and waits at once.
constexpr std::chrono::microseconds idle_wait_threshold{2000};

/// CAF 0.17's work stealing, polling only while busy, and waking an idle
/// worker when a busy one has work queued behind the job it runs.
///
/// Out of work, CAF's worker spins, then polls its queue
/// `moderate-poll-attempts` times 50 us apart, then waits on its condition
/// variable, waking every `relaxed-sleep-duration` to steal. Each poll is
/// a timed sleep: a node that gets a job only from its timers, a few times
/// a second, spent most of its idle CPU in those polls. This policy keeps
/// a moving average of how long each worker waited for its jobs and polls
/// only while that average is short (a busy worker, whose next job is
/// likely to come within the polls); an idle worker spins, then waits.
///
/// A waiting worker is woken at once by work from outside the scheduler
/// (its own queue), but CAF leaves it asleep when another worker queues
/// work for itself (an actor's message to an actor it then runs): polling
/// workers found such work by stealing. Here a worker that queues a job
/// for itself while another worker waits wakes that one to steal it, so a
/// worker that stopped polling never leaves its peers' backlog alone for a
/// whole relaxed sleep. dequeue() follows CAF 0.17's
/// work_stealing::dequeue (docs/design.md, "An idle node sleeps").
class adaptive_stealing : public caf::policy::work_stealing {
public:
  using super = caf::policy::work_stealing;
  using clock = std::chrono::steady_clock;

  struct coordinator_data : super::coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator* p)
      : super::coordinator_data(p) {}

    /// Workers waiting on their condition variable.
    std::atomic<std::size_t> sleepers{0};
  };

  struct worker_data : super::worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator* p)
      : super::worker_data(p) {}

    // CAF copies one initial value into each worker.
    worker_data(const worker_data& other) : super::worker_data(other) {}

    /// Moving average (weight 1/2 per job) of the wait before a job.
    clock::duration average_wait{clock::duration::zero()};
    /// Set, under waitdata.lock, by a peer that has work to steal.
    bool steal_hint = false;
  };

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    auto& data = d(self);
    const auto start = clock::now();
    auto* job = find_job(self, data);
    data.average_wait = (data.average_wait + (clock::now() - start)) / 2;
    return job;
  }

  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    super::internal_enqueue(self, job);
    wake_a_sleeper(self);
  }

  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    super::resume_job_later(self, job);
    wake_a_sleeper(self);
  }

private:
  /// Wakes one waiting peer of `self` to steal, if any waits. A relaxed
  /// load when none does (a busy node): the common case costs nothing.
  template <class Worker>
  void wake_a_sleeper(Worker* self) {
    auto* parent = self->parent();
    if (d(parent).sleepers.load(std::memory_order_relaxed) == 0)
      return;
    for (std::size_t i = 0; i < parent->num_workers(); ++i) {
      auto* peer = parent->worker_by_id(i);
      if (peer == self)
        continue;
      auto& wait = d(peer).waitdata;
      std::lock_guard guard{wait.lock};
      if (wait.sleeping) {
        d(peer).steal_hint = true;
        wait.cv.notify_one();
        return;
      }
    }
  }

  template <class Worker>
  caf::resumable* find_job(Worker* self, worker_data& data) {
    auto& strategies = data.strategies;
    const std::size_t polling_strategies = data.average_wait
                                               < idle_wait_threshold
                                             ? 2
                                             : 1;
    for (std::size_t k = 0; k < polling_strategies; ++k) {
      const auto& s = strategies[k];
      for (std::size_t i = 0; i < s.attempts; i += s.step_size) {
        if (auto* job = data.queue.take_head())
          return job;
        if (i % s.steal_interval == 0)
          if (auto* job = try_steal(self))
            return job;
        if (s.sleep_duration.count() > 0)
          std::this_thread::sleep_for(s.sleep_duration);
      }
    }
    const auto& relaxed = strategies[2];
    auto& wait = data.waitdata;
    auto& sleepers = d(self->parent()).sleepers;
    for (std::size_t i = 1;; ++i) {
      bool woken;
      bool hinted;
      {
        std::unique_lock guard{wait.lock};
        wait.sleeping = true;
        sleepers.fetch_add(1, std::memory_order_relaxed);
        woken = wait.cv.wait_for(guard, relaxed.sleep_duration, [&] {
          return !data.queue.empty() || data.steal_hint;
        });
        sleepers.fetch_sub(1, std::memory_order_relaxed);
        wait.sleeping = false;
        hinted = std::exchange(data.steal_hint, false);
      }
      caf::resumable* job = nullptr;
      if (woken)
        job = data.queue.take_head();
      if (!job && (hinted || (!woken && i % relaxed.steal_interval == 0)))
        job = try_steal(self);
      if (job)
        return job;
    }
  }
};

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

/// CAF's coordinator with adaptive_stealing and a lean_clock. The base class
/// keeps its own clock and thread, which then stay idle: its members are
/// private, so the lean clock gets a thread of its own, stopped after the
/// workers are.
class lean_coordinator : public caf::scheduler::coordinator<adaptive_stealing> {
public:
  using super = caf::scheduler::coordinator<adaptive_stealing>;

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
  // How a scheduler thread out of work waits (docs/design.md, "An idle
  // node sleeps"; adaptive_stealing). CAF 0.17 spins 100 times, then
  // sleeps 50 us between 500 more polls (25 ms or more of wake-ups each
  // time a thread runs out of work), then waits on its condition variable,
  // waking every 10 ms to steal. Here only a busy thread polls, 50 times;
  // a waiting one is woken for work from outside the scheduler and for
  // work a peer queued for itself, so the relaxed wake-up is a safety net.
  // A caller's own values win.
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
