#include "support/deterministic_fixture.hpp"

#include <thread>

#include <doctest/doctest.h>

#include "durable/actors/messages.hpp"

using namespace std::chrono_literals;

namespace durable::test {

void shared_test_coordinator::enqueue(caf::resumable* ptr) {
  std::lock_guard lock{mtx};
  test_coordinator::enqueue(ptr);
}

caf::actor_system_config&
deterministic_fixture::configure(caf::actor_system_config& cfg) {
  // A scheduler module given by the config replaces the one its policy
  // names.
  cfg.module_factories.push_back(
    [](caf::actor_system& sys) -> caf::actor_system::module* {
      return new shared_test_coordinator(sys);
    });
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  return cfg;
}

executor_options deterministic_fixture::fast_options() {
  executor_options o;
  o.poll_interval = 60s;
  o.lease_duration = 600s;
  o.lease_renew_interval = 300s;
  o.supervisor_recheck_interval = 600s;
  return o;
}

deterministic_fixture::deterministic_fixture(executor_options opts,
                                             std::size_t worker_threads,
                                             const store_wrapper& wrap)
  : sys(configure(cfg)),
    sched(dynamic_cast<shared_test_coordinator&>(sys.scheduler())),
    origin(sched.clock().now()),
    epoch(from_micros(1'700'000'000'000'000)) {
  db = std::make_shared<storage::memory_store>([this] {
    return epoch
           + std::chrono::duration_cast<std::chrono::microseconds>(
             sched.clock().now() - origin);
  });
  rt = std::make_shared<actors::runtime>();
  rt->db = wrap ? wrap(db) : db;
  rt->tasks = std::make_shared<actors::task_registry>();
  rt->options = std::move(opts);
  rt->incarnation = "de_deterministic";
  rt->workers = std::make_shared<actors::worker_pool>(worker_threads);
  rt->detached_io = false;
  listener = actors::start_engine(sys, rt);
  run();
}

deterministic_fixture::~deterministic_fixture() {
  rt->workers->close();
  actors::stop_engine(rt, listener);
  run();
}

void deterministic_fixture::run() {
  std::lock_guard lock{sched.mtx};
  sched.run();
}

void deterministic_fixture::advance(caf::timespan d) {
  std::lock_guard lock{sched.mtx};
  // Messages that came from other threads first (a worker sets a body's
  // timeout as the body starts): they happened before the time moves.
  sched.run();
  sched.advance_time(d);
  sched.run();
}

void deterministic_fixture::settle() {
  // Hang guard only: bodies in these tests return at once when released.
  for (int i = 0; i < 5000 && rt->workers->pending() > 0; ++i)
    std::this_thread::sleep_for(1ms);
  REQUIRE(rt->workers->pending() == 0);
  run();
}

void deterministic_fixture::add(task_definition def) {
  rt->tasks->add(std::move(def));
}

execution_record deterministic_fixture::enqueue(const std::string& task_id,
                                                std::string input) {
  auto def = rt->tasks->find(task_id);
  REQUIRE(def != nullptr);
  auto row = make_execution(task_id, def->kind, def->options, std::move(input),
                            db->now());
  auto out = db->insert({row});
  REQUIRE(out.front().result == insert_outcome::kind::inserted);
  run();
  return row;
}

execution_record deterministic_fixture::get(const std::string& id) {
  auto r = db->get(id);
  REQUIRE(r.has_value());
  return *r;
}

} // namespace durable::test
