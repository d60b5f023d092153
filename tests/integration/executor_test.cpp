#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "durable/metrics/metrics_store.hpp"
#include "durable/metrics/registry.hpp"
#include "durable/transitions.hpp"
#include "engine_test_support.hpp"

using namespace std::chrono_literals;
using durable::execution_status;
using engine_test::await;
using engine_test::test_options;
using engine_test::thrown_kind;
using engine_test::thrown_message;

namespace {

durable::task_ref<int, int> add_one(durable::executor& exec,
                                    std::atomic<int>* runs = nullptr) {
  return exec.task<int, int>({.id = "add_one", .timeout = 5s},
                             [runs](durable::task_context&, int x) {
                               if (runs)
                                 ++*runs;
                               return x + 1;
                             });
}

/// Counts the runs of each input of a task shared by several executors.
struct run_counter {
  explicit run_counter(std::size_t n) : counts(n) {}

  std::vector<std::atomic<int>> counts;

  durable::task_ref<int, int> define(durable::executor& exec,
                                     durable::millis work = 0ms) {
    return exec.task<int, int>({.id = "counted", .timeout = 10s},
                               [this, work](durable::task_context&, int x) {
                                 ++counts.at(static_cast<std::size_t>(x));
                                 if (work > 0ms)
                                   std::this_thread::sleep_for(work);
                                 return x * 3;
                               });
  }
};

/// A row of `task_id` claimed by an owner that will never renew its lease
/// (a dead node): its lease is already over when this returns.
durable::execution_record crash_row(durable::store& db,
                                    const std::string& task_id,
                                    std::string input, int attempt) {
  // Due a second ago: db.now() is this process's estimate of the store's
  // clock, and a row due at an estimate a little ahead of the server's
  // own now is not claimable yet.
  auto row = durable::make_execution(task_id, durable::task_kind::task,
                                     {.id = task_id, .timeout = 10s},
                                     std::move(input), db.now() - 1s);
  row.attempt = attempt;
  auto id = row.id;
  auto ins = db.insert({row});
  REQUIRE(ins.at(0).result == durable::insert_outcome::kind::inserted);
  durable::claim_request req;
  req.owner = "dead-node";
  req.lease = durable::millis{1};
  req.limit = 1;
  req.task_ids = {task_id};
  auto res = db.claim(req);
  REQUIRE(res.claimed.size() == 1);
  REQUIRE(res.claimed[0].id == id);
  std::this_thread::sleep_for(5ms); // the lease of 1 ms is over
  return *db.get(id);
}

} // namespace

TEST_SUITE("integration.executor") {
  // -- options and lifecycle
  // ----------------------------------------------------

  TEST_CASE("invalid executor options are rejected with Invalid options") {
    auto rejects = [](durable::executor_options o) {
      return thrown_message([&] {
        durable::executor exec{durable::test::make_store(), o};
      });
    };
    auto base = test_options();
    auto o = base;
    o.max_concurrent = 0;
    CHECK(rejects(o).starts_with("Invalid options: "));
    o = base;
    o.claim_batch_size = 1001;
    CHECK(rejects(o).starts_with("Invalid options: "));
    o = base;
    o.max_children = 0;
    CHECK(rejects(o).starts_with("Invalid options: "));
    o = base;
    o.lease_duration = 100ms;
    CHECK(rejects(o).starts_with("Invalid options: "));
    o = base;
    o.lease_duration = 1000ms;
    o.lease_renew_interval = 600ms;
    CHECK(rejects(o).starts_with("Invalid options: "));
    o = base;
    o.poll_interval = 1ms;
    CHECK(rejects(o).starts_with("Invalid options: "));
    o = base;
    o.max_recoveries = -1;
    CHECK(rejects(o).starts_with("Invalid options: "));
    o = base;
    o.max_input_bytes = 10;
    CHECK(rejects(o).find("max_input_bytes") != std::string::npos);
  }

  TEST_CASE("an executor without a store is rejected") {
    auto msg = thrown_message([] {
      durable::executor exec{std::shared_ptr<durable::store>{}, test_options()};
    });
    CHECK(msg.starts_with("Invalid options: "));
  }

  TEST_CASE("defining a task after shutdown throws") {
    durable::executor exec{durable::test::make_store(), test_options()};
    exec.shutdown();
    auto msg = thrown_message([&] { add_one(exec); });
    CHECK(msg == "Durable executor shutdown");
  }

  TEST_CASE("shutdown waits for a running task that returns early") {
    auto db = durable::test::make_store();
    std::string id;
    std::atomic<bool> started{false};
    std::atomic<bool> saw_shutdown{false};
    {
      durable::executor exec{db, test_options()};
      auto worker = exec.task<int, std::string>(
        {.id = "worker", .timeout = 60s}, [&](durable::task_context& ctx, int) {
          started = true;
          std::atomic<bool> never{false};
          engine_test::block_until(never, ctx);
          saw_shutdown = ctx.shutdown_token.stop_requested();
          std::this_thread::sleep_for(100ms); // shutdown really waits
          return std::string{"early result"};
        });
      auto h = exec.enqueue(worker, 1);
      id = h.execution_id();
      REQUIRE(engine_test::eventually([&] { return started.load(); }));
      exec.shutdown();
      CHECK(saw_shutdown);
      auto r = h.get(); // handles read the store after shutdown
      CHECK(r.status == execution_status::completed);
      CHECK(r.output == "\"early result\"");
    }
    auto row = db->get(id);
    REQUIRE(row.has_value());
    CHECK(row->status == execution_status::completed);
    CHECK_FALSE(row->owner.has_value());
  }

  TEST_CASE("a task that cancels itself on shutdown ends cancelled") {
    auto db = durable::test::make_store();
    durable::executor exec{db, test_options()};
    std::atomic<bool> started{false};
    auto worker = exec.task<int, int>(
      {.id = "worker", .timeout = 60s, .retry = {.max_attempts = 3}},
      [&](durable::task_context& ctx, int) -> int {
        started = true;
        std::atomic<bool> never{false};
        engine_test::block_until(never, ctx);
        throw durable::error::cancelled();
      });
    auto h = exec.enqueue(worker, 1);
    REQUIRE(engine_test::eventually([&] { return started.load(); }));
    exec.shutdown();
    auto row = db->get(h.execution_id());
    REQUIRE(row.has_value());
    CHECK(row->status == execution_status::cancelled);
    CHECK(row->error->message == "Task execution cancelled");
    CHECK(row->attempt == 0);
  }

  TEST_CASE("shutdown hands the maintenance role back at once") {
    auto store = durable::test::make_store();
    durable::executor exec{store, test_options()};
    // A zero lease probes without keeping the role: false once the
    // executor's lease keeper holds it.
    const auto until = std::chrono::steady_clock::now() + 30s; // hang guard
    while (store->try_lead("maintenance", "probe", 0ms)) {
      REQUIRE(std::chrono::steady_clock::now() < until);
      std::this_thread::sleep_for(5ms);
    }
    exec.shutdown();
    CHECK(store->try_lead("maintenance", "probe", 60s));
  }

  TEST_CASE("shutdown is idempotent") {
    durable::executor exec{durable::test::make_store(), test_options()};
    CHECK_FALSE(exec.is_shut_down());
    exec.shutdown();
    CHECK(exec.is_shut_down());
    exec.shutdown();
    CHECK(exec.is_shut_down());
    // The destructor shuts down a third time.
  }

  TEST_CASE("enqueue and get_handle after shutdown throw") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto task = add_one(exec);
    auto h = exec.enqueue(task, 1);
    REQUIRE(await(h).ok());
    exec.shutdown();
    CHECK(thrown_message([&] { exec.enqueue(task, 2); })
          == "Durable executor shutdown");
    CHECK(thrown_message([&] {
            exec.enqueue_many(task, {1, 2});
          })
          == "Durable executor shutdown");
    CHECK(thrown_message([&] { exec.enqueue_async(task, 3).get(); })
          == "Durable executor shutdown");
    CHECK(thrown_message([&] { exec.get_handle(task, h.execution_id()); })
          == "Durable executor shutdown");
    // Reading what is stored still works.
    CHECK(h.get().status == execution_status::completed);
  }

  // -- registration
  // -------------------------------------------------------------

  TEST_CASE("enqueueing a task unknown to the executor throws not found") {
    durable::executor a{durable::test::make_store(), test_options()};
    durable::executor b{durable::test::make_store(), test_options()};
    auto task = add_one(a);
    CHECK(thrown_message([&] { b.enqueue(task, 1); })
          == "Task not found [taskId=add_one]");
    CHECK(thrown_kind([&] { b.enqueue(task, 1); })
          == durable::error_kind::not_found);
    CHECK(thrown_kind([&] { b.enqueue_raw("nope", {"1"}); })
          == durable::error_kind::not_found);
  }

  TEST_CASE("a duplicate task id is rejected") {
    durable::executor exec{durable::test::make_store(), test_options()};
    add_one(exec);
    auto msg = thrown_message([&] { add_one(exec); });
    CHECK(msg.starts_with("Task with given id already exists"));
    CHECK(msg.find("add_one") != std::string::npos);
    auto other_kind = thrown_message(
      [&] { exec.sleeping_task<int>({.id = "add_one", .timeout = 5s}); });
    CHECK(other_kind.starts_with("Task with given id already exists"));
  }

  TEST_CASE("get_handle for an unknown task throws not found") {
    durable::executor a{durable::test::make_store(), test_options()};
    durable::executor b{durable::test::make_store(), test_options()};
    auto task = add_one(a);
    auto h = a.enqueue(task, 1);
    CHECK(thrown_message([&] { b.get_handle(task, h.execution_id()); })
          == "Task not found [taskId=add_one]");
  }

  TEST_CASE("get_handle for a missing execution throws not found") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto task = add_one(exec);
    CHECK(thrown_message([&] { exec.get_handle(task, "te_missing"); })
          == "Task execution not found [executionId=te_missing]");
    CHECK(thrown_kind([&] { exec.get_handle(task, "te_missing"); })
          == durable::error_kind::not_found);
  }

  TEST_CASE("get_handle for an execution of another task throws") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto task = add_one(exec);
    auto other = exec.task<int, int>({.id = "other", .timeout = 5s},
                                     [](durable::task_context&, int x) {
                                       return x;
                                     });
    auto h = exec.enqueue(other, 1);
    auto msg = thrown_message([&] { exec.get_handle(task, h.execution_id()); });
    CHECK(msg.find("belongs to another task") != std::string::npos);
    CHECK(thrown_kind([&] { exec.get_handle(task, h.execution_id()); })
          == durable::error_kind::not_found);
    auto same = exec.get_handle(other, h.execution_id());
    CHECK(await(same).output == 1);
  }

  TEST_CASE("get after the row is erased throws not found") {
    auto db = durable::test::make_store();
    durable::executor exec{db, test_options()};
    auto task = add_one(exec);
    auto h = exec.enqueue(task, 1);
    REQUIRE(await(h).ok());
    REQUIRE(db->erase(h.execution_id()));
    CHECK(thrown_message([&] { h.get(); })
          == "Task execution not found [executionId=" + h.execution_id() + "]");
    CHECK(thrown_kind([&] { h.wait_for(1s); })
          == durable::error_kind::not_found);
  }

  TEST_CASE("a handle rebuilt with get_handle sees the same execution") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto task = add_one(exec);
    auto h = exec.enqueue(task, 41);
    auto again = exec.get_handle(task, h.execution_id());
    CHECK(again.execution_id() == h.execution_id());
    CHECK(again.task_id() == "add_one");
    CHECK(await(again).output == 42);
  }

  // -- two executors on one store
  // -----------------------------------------------

  TEST_CASE("two executors racing for the same work run each execution once") {
    auto db = durable::test::make_store();
    durable::executor a{db, test_options()};
    durable::executor b{db, test_options()};
    constexpr int n = 200;
    run_counter counter{n};
    auto ta = counter.define(a, 1ms);
    counter.define(b, 1ms);
    std::vector<int> inputs;
    for (int i = 0; i < n; ++i)
      inputs.push_back(i);
    auto hs = a.enqueue_many(ta, inputs);
    for (int i = 0; i < n; ++i) {
      auto r = await(hs[static_cast<std::size_t>(i)]);
      CHECK(r.ok());
      CHECK(r.output == 3 * i);
    }
    for (int i = 0; i < n; ++i)
      CHECK(counter.counts[static_cast<std::size_t>(i)] == 1);
  }

  TEST_CASE("a task enqueued on one executor runs once on either of two") {
    auto db = durable::test::make_store();
    durable::executor a{db, test_options()};
    durable::executor b{db, test_options()};
    run_counter counter{5};
    auto ta = counter.define(a);
    auto tb = counter.define(b);
    std::vector<durable::handle<int>> hs;
    for (int i = 0; i < 5; ++i)
      hs.push_back(i % 2 == 0 ? a.enqueue(ta, i) : b.enqueue(tb, i));
    for (int i = 0; i < 5; ++i) {
      // Either executor's handle sees every execution of the shared store.
      auto r = await(
        b.get_handle(tb, hs[static_cast<std::size_t>(i)].execution_id()));
      CHECK(r.output == 3 * i);
    }
    for (auto& c : counter.counts)
      CHECK(c == 1);
  }

  TEST_CASE("a parent with 3 children over two executors keeps child order") {
    auto db = durable::test::make_store();
    durable::executor a{db, test_options()};
    durable::executor b{db, test_options()};
    auto define = [](durable::executor& exec) {
      auto child = exec.task<int, int>(
        {.id = "child", .timeout = 5s}, [](durable::task_context&, int x) {
          std::this_thread::sleep_for(std::chrono::milliseconds{(3 - x) * 20});
          return x * x;
        });
      return exec.parent_task<int, std::string>(
        {.id = "parent", .timeout = 5s},
        [child](durable::task_context&, int n) {
          durable::parent_output<std::string> out;
          for (int i = 0; i < n; ++i)
            out.children.add(child, i);
          return out;
        });
    };
    auto pa = define(a);
    define(b);
    auto r = await(a.enqueue(pa, 3));
    REQUIRE(r.ok());
    REQUIRE(r.output->children.size() == 3);
    for (int i = 0; i < 3; ++i)
      CHECK(r.output->children[static_cast<std::size_t>(i)].output()->get<int>()
            == i * i);
  }

  TEST_CASE("a parent with 1000 children over two executors") {
    auto db = durable::test::make_store();
    durable::executor a{db, test_options()};
    durable::executor b{db, test_options()};
    std::vector<std::atomic<int>> runs(1000);
    auto define = [&runs](durable::executor& exec) {
      auto child = exec.task<int, std::string>(
        {.id = "child", .timeout = 10s},
        [&runs](durable::task_context&, int x) {
          ++runs.at(static_cast<std::size_t>(x));
          return "out_" + std::to_string(x);
        });
      return exec.parent_task<int, std::string>(
        {.id = "parent", .timeout = 10s},
        [child](durable::task_context&, int n) {
          durable::parent_output<std::string> out;
          for (int i = 0; i < n; ++i)
            out.children.add(child, i);
          return out;
        });
    };
    auto pa = define(a);
    define(b);
    auto r = await(a.enqueue(pa, 1000), 60s);
    REQUIRE(r.ok());
    REQUIRE(r.output->children.size() == 1000);
    std::set<std::string> unique;
    for (int i = 0; i < 1000; ++i) {
      const auto& c = r.output->children[static_cast<std::size_t>(i)];
      CHECK(c.output()->get<std::string>() == "out_" + std::to_string(i));
      unique.insert(c.output()->get<std::string>());
    }
    CHECK(unique.size() == 1000);
    for (auto& c : runs)
      CHECK(c == 1);
  }

  TEST_CASE("an execution of a task the node does not know stays ready") {
    auto db = durable::test::make_store();
    durable::executor exec{db, test_options()};
    add_one(exec);
    auto row = durable::make_execution("unknown_here", durable::task_kind::task,
                                       {.id = "unknown_here", .timeout = 5s},
                                       "20", db->now());
    auto id = row.id;
    REQUIRE(db->insert({row}).at(0).result
            == durable::insert_outcome::kind::inserted);
    // Several polls pass; the node never claims what it cannot run.
    std::this_thread::sleep_for(400ms);
    CHECK(exec.get(id).status == execution_status::ready);
    CHECK_FALSE(exec.get(id).owner.has_value());
    // A node that registers the task runs it.
    std::atomic<int> runs{0};
    auto known = exec.task<int, int>({.id = "unknown_here", .timeout = 5s},
                                     [&](durable::task_context&, int x) {
                                       ++runs;
                                       return x * 2;
                                     });
    auto r = await(exec.get_handle(known, id));
    CHECK(r.ok());
    CHECK(r.output == 40);
    CHECK(runs == 1);
  }

  TEST_CASE(
    "a second executor that knows the task runs what the first cannot") {
    auto db = durable::test::make_store();
    durable::executor a{db, test_options()};
    durable::executor b{db, test_options()};
    add_one(a);
    auto only_b = b.task<int, int>({.id = "only_b", .timeout = 5s},
                                   [](durable::task_context&, int x) {
                                     return -x;
                                   });
    auto h = b.enqueue(only_b, 5);
    CHECK(await(h).output == -5);
  }

  TEST_CASE("deleted children make the waiting parent fail") {
    auto db = durable::test::make_store();
    durable::executor exec{db, test_options()};
    auto sleeper = exec.sleeping_task<int>({.id = "sleeper", .timeout = 60s});
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s}, [&](durable::task_context&, int) {
        durable::parent_output<std::string> out;
        out.children.add(sleeper, std::string{"gone"});
        out.children.add(sleeper, std::string{"kept"});
        return out;
      });
    auto h = exec.enqueue(parent, 0);
    REQUIRE(engine_test::reaches(exec, h.execution_id(),
                                 execution_status::waiting_for_children));
    auto p = exec.get(h.execution_id());
    REQUIRE(p.children.size() == 2);
    REQUIRE(db->erase(p.children[0].execution_id));
    exec.wake(sleeper, "kept", durable::completed(1));
    auto r = await(h);
    CHECK(r.status() == execution_status::failed);
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message.starts_with(
      "Some children task executions not found"));
  }

  // -- recovery and leases
  // ------------------------------------------------------

  TEST_CASE("an execution of a dead node is recovered with the same attempt") {
    auto db = durable::test::make_store();
    auto dead = crash_row(*db, "recoverable", "5", 1);
    REQUIRE(dead.owner == "dead-node");
    REQUIRE(dead.status == execution_status::running);
    REQUIRE(dead.recoveries == 0);
    std::atomic<int> runs{0};
    std::atomic<int> seen_attempt{-1};
    durable::executor exec{db, test_options()};
    auto task = exec.task<int, int>({.id = "recoverable", .timeout = 10s},
                                    [&](durable::task_context& ctx, int x) {
                                      ++runs;
                                      seen_attempt = ctx.attempt;
                                      return x + 100;
                                    });
    auto r = await(exec.get_handle(task, dead.id));
    REQUIRE(r.ok());
    CHECK(r.output == 105);
    CHECK(r.execution.recoveries == 1);
    CHECK(r.execution.attempt == 1);
    CHECK(seen_attempt == 1);
    CHECK(runs == 1);
  }

  TEST_CASE("the node that takes over a dead node's execution counts its "
            "recovery") {
    auto db = durable::test::make_store();
    auto dead = crash_row(*db, "recoverable", "5", 1);
    REQUIRE(dead.owner == "dead-node");
    durable::metrics::registry reg;
    auto counted = std::make_shared<durable::metrics::metrics_store>(db, reg);
    durable::executor exec{counted, test_options()};
    auto task = exec.task<int, int>({.id = "recoverable", .timeout = 10s},
                                    [](durable::task_context&, int x) {
                                      return x + 100;
                                    });
    auto r = await(exec.get_handle(task, dead.id));
    REQUIRE(r.ok());
    CHECK(r.execution.recoveries == 1);
    const auto text = reg.render();
    CHECK(
      text.find("\ndurable_execution_recoveries_total{task=\"recoverable\"} "
                "1\n")
      != std::string::npos);
    CHECK(text.find("\ndurable_executions_started_total{task=\"recoverable\"} "
                    "1\n")
          != std::string::npos);
  }

  TEST_CASE("an execution recovered more than max_recoveries times fails") {
    auto db = durable::test::make_store();
    auto dead = crash_row(*db, "crashy", "5", 0);
    std::atomic<int> runs{0};
    auto opts = test_options();
    opts.max_recoveries = 0;
    durable::executor exec{db, opts};
    auto task = exec.task<int, int>({.id = "crashy", .timeout = 10s},
                                    [&](durable::task_context&, int x) {
                                      ++runs;
                                      return x;
                                    });
    auto r = await(exec.get_handle(task, dead.id));
    CHECK(r.status() == execution_status::failed);
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message.starts_with(
      "Task execution recovered too many times"));
    CHECK_FALSE(r.error()->retryable);
    CHECK(runs == 0);
  }

  TEST_CASE("a waiting parent adopted more than max_recoveries times fails") {
    // Its node died while it waited for its (finished) child, as a node
    // whose inline finalize crashes it would: the adopter counts a recovery
    // and fails it past max_recoveries instead of running the finalize again.
    auto db = durable::test::make_store();
    auto dead = crash_row(*db, "crashy_parent", "1", 0);
    dead.kind = durable::task_kind::parent;
    auto child = durable::transitions::make_child(
      dead, "crashy_child", durable::task_kind::task,
      {.id = "crashy_child", .timeout = 10s}, "1", 0, 1, false, db->now());
    child.status = execution_status::completed;
    child.output = "2";
    child.finished_at = db->now();
    auto wait = durable::transitions::wait_for_children(dead, "\"spawned\"",
                                                        {child}, db->now());
    REQUIRE(db->apply({wait})[0].status == durable::write_status::applied);
    std::this_thread::sleep_for(5ms); // the lease of 1 ms is over
    std::atomic<int> finalized{0};
    auto opts = test_options();
    opts.max_recoveries = 0;
    durable::executor exec{db, opts};
    exec.task<int, int>({.id = "crashy_child", .timeout = 10s},
                        [](durable::task_context&, int x) { return x; });
    auto parent = exec.parent_task<int, std::string>(
      {.id = "crashy_parent", .timeout = 10s},
      [](durable::task_context&, int) {
        return durable::parent_output<std::string>{.output = "spawned"};
      },
      durable::finalize([&](const durable::finalize_input<std::string, int>&) {
        ++finalized;
        return std::string{"finalized"};
      }));
    auto r = await(exec.get_handle(parent, dead.id));
    CHECK(r.status() == execution_status::failed);
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message.starts_with(
      "Task execution recovered too many times"));
    CHECK(r.execution.recoveries == 1);
    CHECK(finalized == 0);
  }

  TEST_CASE("a live node renews its lease so nobody else recovers its work") {
    auto db = durable::test::make_store();
    auto opts = test_options();
    // Twenty renewals per lease: a busy machine (the tiers run two at a
    // time) may delay a few without the lease running out.
    opts.lease_duration = 2000ms;
    opts.lease_renew_interval = 100ms;
    durable::executor a{db, opts};
    durable::executor b{db, opts};
    std::atomic<int> runs{0};
    auto define = [&](durable::executor& exec) {
      return exec.task<int, int>({.id = "long", .timeout = 20s},
                                 [&](durable::task_context&, int x) {
                                   ++runs;
                                   // Outlives its lease twice over.
                                   std::this_thread::sleep_for(4500ms);
                                   return x;
                                 });
    };
    auto ta = define(a);
    define(b);
    auto r = await(a.enqueue(ta, 8));
    REQUIRE(r.ok());
    CHECK(r.execution.recoveries == 0);
    CHECK(runs == 1);
  }

  TEST_CASE("work handed back at shutdown runs elsewhere without a recovery") {
    auto db = durable::test::make_store();
    auto opts = test_options();
    opts.shutdown_grace = 100ms;
    std::atomic<int> runs_a{0};
    std::atomic<int> runs_b{0};
    std::atomic<bool> started{false};
    auto a = std::make_unique<durable::executor>(db, opts);
    auto ta = a->task<int, int>({.id = "handover", .timeout = 20s},
                                [&](durable::task_context&, int x) {
                                  ++runs_a;
                                  started = true;
                                  // Ignores the shutdown token on purpose.
                                  std::this_thread::sleep_for(500ms);
                                  return x;
                                });
    auto id = a->enqueue(ta, 3).execution_id();
    REQUIRE(engine_test::eventually([&] { return started.load(); }));
    a->shutdown();
    a.reset();
    auto row = db->get(id);
    REQUIRE(row.has_value());
    CHECK(row->status == execution_status::running);
    CHECK_FALSE(row->owner.has_value());
    durable::executor b{db, opts};
    auto tb = b.task<int, int>({.id = "handover", .timeout = 20s},
                               [&](durable::task_context&, int x) {
                                 ++runs_b;
                                 return x * 10;
                               });
    auto r = await(b.get_handle(tb, id));
    REQUIRE(r.ok());
    CHECK(r.output == 30);
    CHECK(r.execution.recoveries == 0);
    CHECK(runs_a == 1);
    CHECK(runs_b == 1);
  }

  TEST_CASE("a waiting parent is adopted by another node after shutdown") {
    auto db = durable::test::make_store();
    auto define = [](durable::executor& exec) {
      auto sleeper = exec.sleeping_task<int>({.id = "sleeper", .timeout = 60s});
      auto parent = exec.parent_task<int, std::string>(
        {.id = "parent", .timeout = 5s},
        [sleeper](durable::task_context&, int) {
          durable::parent_output<std::string> out{.output = "adopted"};
          out.children.add(sleeper, std::string{"event-1"});
          return out;
        },
        durable::finalize(
          [](const durable::finalize_input<std::string, int>& in) {
            return in.output + " "
                   + std::to_string(in.children.at(0).output().value_or(-1));
          }));
      return std::make_pair(sleeper, parent);
    };
    std::string id;
    {
      durable::executor a{db, test_options()};
      auto [sleeper, parent] = define(a);
      id = a.enqueue(parent, 0).execution_id();
      REQUIRE(
        engine_test::reaches(a, id, execution_status::waiting_for_children));
    }
    durable::executor b{db, test_options()};
    auto [sleeper, parent] = define(b);
    b.wake(sleeper, "event-1", durable::completed(7));
    auto r = await(b.get_handle(parent, id));
    REQUIRE(r.ok());
    CHECK(r.output == "adopted 7");
    CHECK(r.execution.recoveries == 0);
  }

  // -- enqueue
  // ------------------------------------------------------------------

  TEST_CASE("a repeated idempotency key returns the first execution") {
    auto mem = std::make_shared<durable::storage::memory_store>();
    durable::executor exec{mem, test_options()};
    std::atomic<int> runs{0};
    auto task = add_one(exec, &runs);
    auto first = exec.enqueue(task, 1, {.idempotency_key = "order-1"});
    auto size = mem->size();
    auto second = exec.enqueue(task, 99, {.idempotency_key = "order-1"});
    CHECK(second.execution_id() == first.execution_id());
    CHECK(mem->size() == size);
    CHECK(await(second).output == 2);
    auto third = exec.enqueue(task, 1, {.idempotency_key = "order-2"});
    CHECK(third.execution_id() != first.execution_id());
    CHECK(await(third).ok());
    CHECK(runs == 2);
    CHECK(exec.get(first.execution_id()).idempotency_key == "order-1");
  }

  TEST_CASE("an idempotency key held by another task's execution is refused") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto task = add_one(exec);
    auto other = exec.task<int, int>({.id = "other_task", .timeout = 5s},
                                     [](durable::task_context&, int x) {
                                       return x;
                                     });
    auto first = exec.enqueue(task, 1, {.idempotency_key = "order-7"});
    try {
      exec.enqueue(other, 1, {.idempotency_key = "order-7"});
      FAIL("a key of another task's execution was accepted");
    } catch (const durable::error& e) {
      CHECK_FALSE(e.is_retryable());
      CHECK(std::string{e.what()}
            == "Idempotency key is used by an execution of another task "
               "[idempotencyKey=order-7, taskId=add_one, executionId="
                 + first.execution_id() + "]");
    }
    // The same task still gets its first execution back.
    CHECK(exec.enqueue(task, 5, {.idempotency_key = "order-7"}).execution_id()
          == first.execution_id());
    CHECK(await(first).output == 2);
  }

  TEST_CASE("enqueue_many stores every input and returns handles in order") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto task = add_one(exec);
    std::vector<int> inputs;
    for (int i = 0; i < 50; ++i)
      inputs.push_back(i * 10);
    auto hs = exec.enqueue_many(task, inputs);
    REQUIRE(hs.size() == 50);
    std::set<std::string> ids;
    for (std::size_t i = 0; i < hs.size(); ++i) {
      ids.insert(hs[i].execution_id());
      CHECK(hs[i].execution_id().starts_with("te_"));
      CHECK(await(hs[i]).output == inputs[i] + 1);
    }
    CHECK(ids.size() == 50);
  }

  TEST_CASE("enqueue_many with an idempotency key is idempotent per item") {
    auto mem = std::make_shared<durable::storage::memory_store>();
    durable::executor exec{mem, test_options()};
    auto task = add_one(exec);
    auto first = exec.enqueue_many(task, {1, 2, 3}, {.idempotency_key = "b"});
    auto size = mem->size();
    auto again = exec.enqueue_many(task, {1, 2, 3}, {.idempotency_key = "b"});
    REQUIRE(again.size() == 3);
    for (std::size_t i = 0; i < 3; ++i)
      CHECK(again[i].execution_id() == first[i].execution_id());
    CHECK(mem->size() == size);
  }

  TEST_CASE("enqueue_async gives a handle once the execution is stored") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto task = add_one(exec);
    std::vector<std::future<durable::handle<int>>> fs;
    for (int i = 0; i < 10; ++i)
      fs.push_back(exec.enqueue_async(task, i));
    for (int i = 0; i < 10; ++i) {
      auto h = fs[static_cast<std::size_t>(i)].get();
      CHECK(await(h).output == i + 1);
    }
  }

  TEST_CASE("enqueue_async for an unknown task reports not found") {
    durable::executor a{durable::test::make_store(), test_options()};
    durable::executor b{durable::test::make_store(), test_options()};
    auto task = add_one(a);
    CHECK(thrown_message([&] { b.enqueue_async(task, 1).get(); })
          == "Task not found [taskId=add_one]");
  }

  TEST_CASE("invalid enqueue overrides are refused and store nothing") {
    auto mem = std::make_shared<durable::storage::memory_store>();
    durable::executor exec{mem, test_options()};
    auto task = add_one(exec);
    auto msg = thrown_message(
      [&] { exec.enqueue(task, 1, {.timeout = durable::millis{0}}); });
    CHECK(msg.starts_with("Invalid timeout value for task add_one"));
    msg = thrown_message([&] {
      exec.enqueue(task, 1,
                   {.retry = durable::retry_options{.max_attempts = 1001}});
    });
    CHECK(msg.starts_with("Invalid retry options for task add_one"));
    CHECK(mem->size() == 0);
  }

  // -- cancel
  // -------------------------------------------------------------------

  TEST_CASE("cancel on a finished execution keeps its stored version") {
    durable::executor exec{durable::test::make_store(), test_options()};
    auto task = add_one(exec);
    auto h = exec.enqueue(task, 1);
    auto done = await(h);
    REQUIRE(done.ok());
    auto after = exec.cancel(h.execution_id());
    CHECK(after.status == execution_status::completed);
    CHECK(after.version == done.execution.version);
    h.cancel();
    auto r = h.get();
    CHECK(r.status == execution_status::completed);
    CHECK(r.output == "2");
    CHECK_FALSE(r.error.has_value());
  }

  TEST_CASE("eight threads cancelling one running execution all succeed") {
    durable::executor exec{durable::test::make_store(), test_options()};
    std::atomic<int> runs{0};
    std::atomic<bool> started{false};
    std::atomic<bool> saw_cancel{false};
    auto task = exec.task<int, int>(
      {.id = "long", .timeout = 60s, .retry = {.max_attempts = 5}},
      [&](durable::task_context& ctx, int x) {
        ++runs;
        started = true;
        std::atomic<bool> never{false};
        engine_test::block_until(never, ctx);
        saw_cancel = ctx.cancel_token.stop_requested();
        return x;
      });
    auto h = exec.enqueue(task, 1);
    REQUIRE(engine_test::eventually([&] { return started.load(); }));
    std::vector<std::thread> threads;
    std::atomic<int> errors{0};
    for (int i = 0; i < 8; ++i)
      threads.emplace_back([&] {
        try {
          h.cancel();
        } catch (...) {
          ++errors;
        }
      });
    for (auto& t : threads)
      t.join();
    auto r = await(h);
    CHECK(errors == 0);
    CHECK(r.status() == execution_status::cancelled);
    CHECK(r.error()->message == "Task execution cancelled");
    REQUIRE(engine_test::eventually([&] { return saw_cancel.load(); }));
    CHECK(runs == 1);
  }

  TEST_CASE("concurrent cancels before the start prevent any run") {
    durable::executor exec{durable::test::make_store(), test_options()};
    std::atomic<int> runs{0};
    auto task = add_one(exec, &runs);
    auto h = exec.enqueue(task, 1, {.sleep_before_run = durable::millis{1500}});
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
      threads.emplace_back([&] { h.cancel(); });
    for (auto& t : threads)
      t.join();
    auto r = await(h);
    CHECK(r.status() == execution_status::cancelled);
    std::this_thread::sleep_for(1700ms); // past the original start time
    CHECK(runs == 0);
    CHECK(h.get().status == execution_status::cancelled);
  }

  TEST_CASE("cancelling an unknown execution throws not found") {
    durable::executor exec{durable::test::make_store(), test_options()};
    CHECK(thrown_kind([&] { exec.cancel("te_nothing"); })
          == durable::error_kind::not_found);
  }
}
