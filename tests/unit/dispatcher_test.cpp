// The real dispatcher between a scripted claimer, inserter, storage actor
// and janitor (support/scripted_actor.hpp), on CAF's deterministic
// coordinator, with real execution actors and worker threads: every
// request the dispatcher and its actors send waits until the test answers
// it from a memory store of the test's own.
//
// One blocking slot (one worker thread, nothing queued) is what these tests
// watch: while a blocking body holds it, the dispatcher asks for no
// blocking work; once every holder let go, its next claim does. Each test
// takes one path that releases a blocking slot.
#include <algorithm>
#include <atomic>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include <doctest/doctest.h>

#include "durable/actors/dispatcher.hpp"
#include "durable/actors/messages.hpp"
#include "durable/actors/timer_service.hpp"
#include "durable/transitions.hpp"
#include "support/deterministic_fixture.hpp"
#include "support/scripted_actor.hpp"

using namespace std::chrono_literals;

namespace durable::test {

namespace {

using namespace durable::actors;

/// A blocking body that holds until the test opens it. `honours_cancel`:
/// it also returns once its cancel token fires; otherwise it outlives its
/// actor (a body that ignores cancellation).
struct gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  std::atomic<int> started{0};
  std::atomic<int> returned{0};

  task_definition task(std::string id, millis timeout, bool honours_cancel) {
    task_definition def;
    def.kind = task_kind::task;
    def.options.id = std::move(id);
    def.options.timeout = timeout;
    def.run = [this, honours_cancel](task_context& ctx, const std::string&) {
      ++started;
      while (opened.wait_for(1ms) != std::future_status::ready)
        if (honours_cancel && ctx.cancel_token.stop_requested())
          break;
      ++returned;
      return std::string{"\"done\""};
    };
    return def;
  }
};

task_definition inline_task(std::string id) {
  task_definition def;
  def.kind = task_kind::task;
  def.options.id = std::move(id);
  def.options.timeout = 10s;
  def.options.may_block = false;
  def.run = [](task_context&, const std::string& in) { return in; };
  return def;
}

/// Options with one blocking slot: one worker thread, none queued.
executor_options one_blocking_slot() {
  auto o = deterministic_fixture::fast_options();
  o.worker_threads = 1;
  o.max_queued_blocking = 0;
  return o;
}

/// A dispatcher whose claimer, inserter, storage actor and janitor are
/// scripted; worker pool and clock are the fixture's.
struct dispatcher_fixture {
  deterministic_fixture f;
  std::shared_ptr<storage::memory_store> db;
  std::shared_ptr<inbox> claimer = std::make_shared<inbox>();
  std::shared_ptr<inbox> inserter = std::make_shared<inbox>();
  std::shared_ptr<inbox> storage = std::make_shared<inbox>();
  std::shared_ptr<inbox> janitor = std::make_shared<inbox>();
  runtime_ptr rt = std::make_shared<runtime>();

  explicit dispatcher_fixture(executor_options opts = one_blocking_slot())
    : f(deterministic_fixture::fast_options(), 1) {
    db = std::make_shared<storage::memory_store>(
      [this] { return f.db->now(); });
    rt->db = db;
    rt->tasks = std::make_shared<task_registry>();
    rt->options = std::move(opts);
    rt->incarnation = "node_test";
    rt->workers = f.rt->workers;
    rt->detached_io = false;
    // A timer service of its own: timer tokens are per runtime, and the
    // fixture's engine sets timers too.
    rt->timers = f.sys.spawn(timer_service);
    rt->claimer = f.sys.spawn(scripted, claimer);
    rt->inserter = f.sys.spawn(scripted, inserter);
    rt->storage = f.sys.spawn(scripted, storage);
    rt->janitor = f.sys.spawn(scripted, janitor);
    rt->dispatcher = f.sys.spawn<caf::lazy_init>(dispatcher, rt);
    f.run();
  }

  ~dispatcher_fixture() {
    for (auto* a : {&rt->dispatcher, &rt->claimer, &rt->inserter, &rt->storage,
                    &rt->janitor, &rt->timers})
      caf::anon_send_exit(*a, caf::exit_reason::user_shutdown);
    f.run();
  }

  void add(task_definition def) {
    rt->tasks->add(std::move(def));
  }

  /// Stores a ready execution of `task_id` in `db` (not announced).
  execution_record store_ready(const std::string& task_id) {
    auto row = new_row(task_id);
    REQUIRE(db->insert({row}).front().result == insert_outcome::kind::inserted);
    return row;
  }

  execution_record new_row(const std::string& task_id) {
    auto def = rt->tasks->find(task_id);
    REQUIRE(def != nullptr);
    return make_execution(task_id, def->kind, def->options, "null", db->now());
  }

  void send(caf::message msg) {
    caf::anon_send(rt->dispatcher, std::move(msg));
    f.run();
  }

  /// Sends a poll and serves every claim the dispatcher makes from `db`
  /// (so ready rows there are claimed and started); true if one of them
  /// asked for a blocking task, i.e. found blocking room.
  bool claims_blocking_work() {
    send(caf::make_message(poll_atom::value));
    bool blocking = false;
    while (auto c = claimer->take(claim_atom::value)) {
      auto req = c->msg.get_as<claim_request>(1);
      for (const auto& id : req.task_ids) {
        auto def = rt->tasks->find(id);
        blocking = blocking || (def && def->options.may_block);
      }
      c->answer(db->claim(req));
      f.run();
    }
    return blocking;
  }

  /// Answers every pending write of the storage actor from `db`, until
  /// none is left.
  int answer_writes() {
    int n = 0;
    while (auto c = storage->take(apply_atom::value)) {
      auto out = db->apply({c->msg.get_as<transition>(1)});
      c->answer(std::move(out.front()));
      f.run();
      ++n;
    }
    return n;
  }

  /// Waits (real time, bounded) until `n` bodies of `g` started.
  void wait_started(gate& g, int n) {
    for (int i = 0; i < 5000 && g.started < n; ++i) {
      f.run();
      std::this_thread::sleep_for(1ms);
    }
    REQUIRE(g.started.load() >= n);
  }

  /// The dispatcher's answer to a request, once the test runs it.
  template <class T, class... Ts>
  std::shared_ptr<std::optional<T>> ask(Ts... xs) {
    auto out = std::make_shared<std::optional<T>>();
    auto d = rt->dispatcher;
    f.sys.spawn([=](caf::event_based_actor* self) {
      self->request(d, caf::infinite, xs...).then([=](T& x) {
        *out = std::move(x);
      });
    });
    f.run();
    return out;
  }

  engine_stats stats() {
    auto s = ask<engine_stats>(stats_atom::value);
    REQUIRE(s->has_value());
    return **s;
  }

  /// Starts one execution of blocking task `task_id` through a claim and
  /// waits for its body; the blocking slot is then held.
  execution_record run_blocking(gate& g, const std::string& task_id) {
    auto row = store_ready(task_id);
    CHECK(claims_blocking_work());
    wait_started(g, 1);
    CHECK(stats().running_bodies == 1);
    CHECK_FALSE(claims_blocking_work()); // the one blocking slot is held
    return row;
  }
};

} // namespace

TEST_SUITE("actors.dispatcher") {
  TEST_CASE("a blocking body that returns frees its slot once its outcome is "
            "stored") {
    gate g;
    dispatcher_fixture x;
    x.add(g.task("slow", 10s, true));
    auto row = x.run_blocking(g, "slow");
    g.open.set_value();
    x.f.settle();
    CHECK_FALSE(x.claims_blocking_work()); // the outcome is not stored yet
    CHECK(x.answer_writes() == 1);
    CHECK(x.db->get(row.id)->status == execution_status::completed);
    CHECK(x.stats().running_bodies == 0);
    CHECK(x.stats().live_executions == 0);
    CHECK(x.claims_blocking_work());
  }

  TEST_CASE("a body that times out keeps its slot until it returns") {
    gate g;
    dispatcher_fixture x;
    x.add(g.task("slow", 100ms, false));
    auto row = x.run_blocking(g, "slow");
    x.f.advance(100ms);
    CHECK(x.answer_writes() == 1);
    CHECK(x.db->get(row.id)->status == execution_status::timed_out);
    CHECK(x.stats().live_executions == 0); // the actor ended
    CHECK(x.stats().running_bodies == 1);  // its body still runs
    CHECK_FALSE(x.claims_blocking_work());
    g.open.set_value();
    x.f.settle();
    CHECK(g.returned == 1);
    CHECK(x.stats().running_bodies == 0);
    CHECK(x.claims_blocking_work());
  }

  TEST_CASE("a cancelled body frees its slot once it returned") {
    gate g; // outlives the fixture, whose worker may run its body
    dispatcher_fixture x;
    x.add(g.task("slow", 10s, true));
    auto row = x.run_blocking(g, "slow");
    auto cur = *x.db->get(row.id);
    REQUIRE(x.db->apply({transitions::cancel(cur, x.db->now())}).front().status
            == write_status::applied);
    store_event cancelled;
    cancelled.kind = store_event::type::cancelled;
    cancelled.execution_id = row.id;
    cancelled.owner = x.rt->incarnation;
    x.send(caf::make_message(events_atom::value,
                             std::vector<store_event>{cancelled}));
    CHECK(x.stats().live_executions == 0);
    // The cancel token stopped the body; its worker lets go of the slot last.
    x.f.settle();
    CHECK(g.returned == 1);
    CHECK(x.answer_writes() == 0);
    CHECK(x.stats().running_bodies == 0);
    CHECK(x.claims_blocking_work());
  }

  TEST_CASE("an actor that ends while its body runs leaves the slot to the "
            "worker") {
    gate g;
    dispatcher_fixture x;
    x.add(g.task("slow", 10s, false));
    x.run_blocking(g, "slow");
    // A renewal that started after the claim did not find the row: another
    // node took it over. The actor ends; its body ignores the cancel.
    x.send(caf::make_message(renewed_atom::value, std::vector<std::string>{},
                             steady_nanos(), to_micros(x.db->now())));
    CHECK(x.stats().leases_lost == 1);
    CHECK(x.stats().live_executions == 0);
    CHECK(x.stats().running_bodies == 1);
    CHECK_FALSE(x.claims_blocking_work());
    g.open.set_value();
    x.f.settle();
    CHECK(x.stats().running_bodies == 0);
    CHECK(x.claims_blocking_work());
  }

  TEST_CASE("a finalize task run here holds a blocking slot from its take to "
            "its parent's write") {
    gate g;
    dispatcher_fixture x;
    x.add(inline_task("child"));
    x.add(g.task("fin", 10s, true));
    task_definition parent;
    parent.kind = task_kind::parent;
    parent.options.id = "fan";
    parent.options.timeout = 10s;
    parent.options.may_block = false;
    parent.run_parent = [](task_context&, const std::string&) {
      return parent_run{"\"spawned\"", {{"child", "1", {}}}};
    };
    parent.finalize_task = "fin";
    x.add(parent);
    auto row = x.store_ready("fan");
    x.claims_blocking_work();
    REQUIRE(x.rt->local_claims.load());
    // The parent's write goes through the dispatcher, which takes the child.
    auto write = x.storage->take(apply_atom::value);
    REQUIRE(write);
    auto& t = write->msg.get_mutable_as<transition>(1);
    REQUIRE(t.children.size() == 1);
    CHECK(t.children[0].owner == x.rt->incarnation);
    const auto child_id = t.children[0].id;
    write->answer(std::move(x.db->apply({t}).front()));
    x.f.run();
    CHECK(x.answer_writes() == 1); // the child ran inline here
    auto child = *x.db->get(child_id);
    REQUIRE(child.status == execution_status::completed);
    store_event finished;
    finished.kind = store_event::type::finished;
    finished.execution_id = child_id;
    finished.parent_id = row.id;
    finished.row = std::make_shared<const execution_record>(child);
    x.send(caf::make_message(events_atom::value,
                             std::vector<store_event>{finished}));
    // The parent took its finalize task: the blocking slot is held.
    x.wait_started(g, 1);
    CHECK(x.stats().running_bodies == 1);
    CHECK_FALSE(x.claims_blocking_work());
    g.open.set_value();
    x.f.settle();
    CHECK(x.answer_writes() == 1); // the finalize's outcome and the parent's
    CHECK(x.db->get(row.id)->status == execution_status::completed);
    CHECK(x.stats().running_bodies == 0);
    CHECK(x.stats().live_executions == 0);
    CHECK(x.claims_blocking_work());
  }

  TEST_CASE("a row taken on insert gives its blocking slot back when the "
            "insert fails or is rejected") {
    // How the inserter answers: rejected (the row is not stored), an error
    // reply (read back: not stored), a failed request (read back: not
    // stored).
    for (int how = 0; how < 3; ++how) {
      CAPTURE(how);
      gate g;
      dispatcher_fixture x;
      x.add(g.task("slow", 10s, true));
      auto reply = x.ask<insert_reply>(
        insert_atom::value, std::vector<execution_record>{x.new_row("slow")});
      auto insert = x.inserter->take(insert_atom::value);
      REQUIRE(insert);
      const auto& rows = insert->msg.get_as<std::vector<execution_record>>(1);
      REQUIRE(rows.size() == 1);
      CHECK(rows[0].status == execution_status::running); // taken here
      const auto id = rows[0].id;
      CHECK_FALSE(x.claims_blocking_work()); // reserved for it
      if (how == 0) {
        insert_outcome dup;
        dup.result = insert_outcome::kind::duplicate_id;
        insert->answer(insert_reply{{dup}, {}});
      } else if (how == 1) {
        insert->answer(insert_reply{{}, "the store is unavailable"});
      } else {
        insert->answer(caf::make_error(caf::sec::request_receiver_down));
      }
      x.f.run();
      if (how > 0) { // in doubt: read back
        auto fetch = x.storage->take(fetch_atom::value);
        REQUIRE(fetch);
        auto ids = fetch->msg.get_as<std::vector<std::string>>(1);
        CHECK(ids == std::vector<std::string>{id});
        fetch->answer(std::vector<maybe_record>{maybe_record{}});
        x.f.run();
      }
      CHECK(reply->has_value());
      CHECK(x.stats().running_bodies == 0);
      CHECK(x.stats().live_executions == 0);
      CHECK(g.started == 0);
      CHECK(x.claims_blocking_work());
    }
  }

  TEST_CASE("a drain ends once every blocking slot is free, a queued body's "
            "too") {
    gate g;
    auto opts = one_blocking_slot();
    opts.max_queued_blocking = 1; // one runs, one waits for the thread
    dispatcher_fixture x{opts};
    x.add(g.task("slow", 10s, true));
    auto first = x.store_ready("slow");
    auto second = x.store_ready("slow");
    CHECK(x.claims_blocking_work());
    x.wait_started(g, 1);
    CHECK(x.stats().running_bodies == 2);
    x.rt->shutdown.request_stop();
    auto drained = x.ask<bool>(drain_atom::value);
    CHECK_FALSE(drained->has_value());
    g.open.set_value();
    x.f.settle();
    // The first body's outcome. The second never started: its actor ends
    // without a write, and its worker's share of the slot goes with the
    // job (its lease is handed back after the drain, by the storage actor).
    CHECK(x.answer_writes() == 1);
    x.f.settle();
    CHECK(g.started == 1);
    CHECK(x.db->get(first.id)->status == execution_status::completed);
    CHECK(x.db->get(second.id)->status == execution_status::running);
    REQUIRE(drained->has_value());
    CHECK(**drained);
    CHECK(x.stats().running_bodies == 0);
    CHECK(x.stats().live_executions == 0);
  }

} // TEST_SUITE

} // namespace durable::test
