#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <caf/all.hpp>

#include "durable/actors/engine.hpp"
#include "durable/actors/runtime.hpp"
#include "durable/storage/memory_store.hpp"
#include "durable/task_definition.hpp"

namespace durable::test {

/// CAF's test coordinator with a job queue that other threads may feed:
/// a worker thread that runs a blocking body sends to actors (the body's
/// timeout, its result) while the test thread runs them, and the
/// coordinator's queue is a plain deque. Every enqueue, and every run of
/// the fixture, holds `mtx` (recursive: a job run under it enqueues).
class shared_test_coordinator : public caf::scheduler::test_coordinator {
public:
  using test_coordinator::test_coordinator;

  void enqueue(caf::resumable* ptr) override;

  std::recursive_mutex mtx;
};

/// An engine on CAF's deterministic test coordinator: nothing runs until
/// the test calls run() or advance(), and time is virtual. The memory
/// store's clock follows the coordinator's clock, so store deadlines and
/// actor timers agree.
///
/// Blocking bodies still run on real worker threads (one by default); tests
/// that use them wait for the pool with settle() before run().
class deterministic_fixture {
public:
  /// Puts a decorator (tests/support/faulty_store.hpp, or a test's own)
  /// between the engine and the memory store `db`.
  using store_wrapper = std::function<std::shared_ptr<store>(
    std::shared_ptr<store>)>;

  explicit deterministic_fixture(executor_options opts = fast_options(),
                                 std::size_t worker_threads = 1,
                                 const store_wrapper& wrap = {});
  ~deterministic_fixture();

  /// Options with intervals far apart, so that only what a test advances
  /// to happens.
  static executor_options fast_options();

  /// Runs every pending message.
  void run();

  /// Moves virtual time forward and runs what becomes due.
  void advance(caf::timespan d);

  /// Waits (real time, bounded) until the worker pool is idle, then runs.
  void settle();

  /// Registers a task.
  void add(task_definition def);

  /// Stores a new execution of `task_id` (as the facade would) and runs.
  execution_record enqueue(const std::string& task_id,
                           std::string input = "null");

  execution_record get(const std::string& id);

  caf::actor_system_config cfg;
  caf::actor_system sys;
  shared_test_coordinator& sched;
  caf::actor_clock::time_point origin;
  timestamp epoch;
  std::shared_ptr<storage::memory_store> db;
  actors::runtime_ptr rt;
  std::uint64_t listener = 0;

private:
  static caf::actor_system_config& configure(caf::actor_system_config& cfg);
};

} // namespace durable::test
