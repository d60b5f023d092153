// Retention: which store calls a sweep makes, and the maintenance leader's
// sweeps under CAF's deterministic coordinator (virtual time).
#include <string>

#include <doctest/doctest.h>

#include "durable/actors/retention.hpp"
#include "durable/error.hpp"
#include "support/deterministic_fixture.hpp"

using namespace std::chrono_literals;
using durable::execution_status;
using durable::task_definition;
using durable::task_kind;
using durable::test::deterministic_fixture;

namespace {

task_definition inline_task(std::string id, task_definition::run_fn fn) {
  task_definition def;
  def.kind = task_kind::task;
  def.options.id = std::move(id);
  def.options.timeout = 10s;
  def.options.may_block = false;
  def.run = std::move(fn);
  return def;
}

bool exists(deterministic_fixture& f, const std::string& id) {
  return f.db->get(id).has_value();
}

} // namespace

TEST_SUITE("actors.retention") {
  TEST_CASE("retention is off unless a status has a duration") {
    durable::retention_options r;
    CHECK_FALSE(r.enabled());
    CHECK(
      durable::actors::retention_requests(r, durable::system_now()).empty());
    r.timed_out = 1h;
    CHECK(r.enabled());
    CHECK(durable::executor_options{}.retention.enabled() == false);
  }

  TEST_CASE("statuses with the same duration share one store call") {
    durable::retention_options r;
    r.completed = 24h;
    r.cancelled = 24h;
    r.failed = 7 * 24h;
    r.finalize_failed = 7 * 24h;
    r.batch_size = 250;
    const auto now = durable::system_now();
    auto reqs = durable::actors::retention_requests(r, now);
    REQUIRE(reqs.size() == 2);
    CHECK(
      reqs[0].statuses
      == std::vector{execution_status::completed, execution_status::cancelled});
    CHECK(reqs[0].finished_before == now - 24h);
    CHECK(reqs[1].statuses
          == std::vector{execution_status::failed,
                         execution_status::finalize_failed});
    CHECK(reqs[1].finished_before == now - 7 * 24h);
    for (const auto& q : reqs) {
      CHECK(q.limit == 250);
      CHECK_FALSE(q.dry_run);
      CHECK_FALSE(q.task_id.has_value());
      CHECK_NOTHROW(durable::validate(q));
    }
  }

  TEST_CASE("a task override longer than the general duration gets its own "
            "call and is excluded from the general one") {
    durable::retention_options r;
    r.completed = 24h;
    r.failed = 7 * 24h;
    r.batch_size = 300;
    r.tasks["billing"].completed = 30 * 24h;
    const auto now = durable::system_now();
    auto reqs = durable::actors::retention_requests(r, now);
    REQUIRE(reqs.size() == 4);
    // The general calls leave the billing trees alone.
    for (int i : {0, 1}) {
      CHECK_FALSE(reqs[i].task_id.has_value());
      CHECK(reqs[i].except_tasks == std::vector<std::string>{"billing"});
    }
    CHECK(reqs[0].statuses == std::vector{execution_status::completed});
    CHECK(reqs[0].finished_before == now - 24h);
    CHECK(reqs[1].statuses == std::vector{execution_status::failed});
    CHECK(reqs[1].finished_before == now - 7 * 24h);
    // Billing: 30 d when completed; failed falls back to the general 7 d.
    for (int i : {2, 3}) {
      CHECK(reqs[i].task_id == "billing");
      CHECK(reqs[i].except_tasks.empty());
    }
    CHECK(reqs[2].statuses == std::vector{execution_status::completed});
    CHECK(reqs[2].finished_before == now - 30 * 24h);
    CHECK(reqs[3].statuses == std::vector{execution_status::failed});
    CHECK(reqs[3].finished_before == now - 7 * 24h);
    for (const auto& q : reqs) {
      CHECK(q.limit == 300);
      CHECK_NOTHROW(durable::validate(q));
    }
  }

  TEST_CASE("a task override shorter than the general duration and statuses "
            "sharing a duration share a call") {
    durable::retention_options r;
    r.completed = 24h;
    r.cancelled = 24h;
    r.tasks["scratch"].completed = 1h;
    r.tasks["scratch"].cancelled = 1h;
    r.tasks["scratch"].failed = 1h;
    const auto now = durable::system_now();
    auto reqs = durable::actors::retention_requests(r, now);
    REQUIRE(reqs.size() == 2);
    CHECK(
      reqs[0].statuses
      == std::vector{execution_status::completed, execution_status::cancelled});
    CHECK(reqs[0].finished_before == now - 24h);
    CHECK(reqs[0].except_tasks == std::vector<std::string>{"scratch"});
    CHECK(reqs[1].task_id == "scratch");
    CHECK(reqs[1].statuses
          == std::vector{execution_status::completed, execution_status::failed,
                         execution_status::cancelled});
    CHECK(reqs[1].finished_before == now - 1h);
  }

  TEST_CASE("a task override of 0 keeps that task's trees forever and an "
            "unnamed status falls back to the general duration") {
    durable::retention_options r;
    r.completed = 24h;
    r.failed = 7 * 24h;
    r.tasks["audit"].set_all(0ms);
    r.tasks["report"].failed = 0ms;
    const auto now = durable::system_now();
    auto reqs = durable::actors::retention_requests(r, now);
    REQUIRE(reqs.size() == 3);
    const std::vector<std::string> both{"audit", "report"};
    CHECK(reqs[0].except_tasks == both);
    CHECK(reqs[1].except_tasks == both);
    // Nothing for audit; report keeps its failed trees, and its completed
    // ones follow the general 24 h.
    CHECK(reqs[2].task_id == "report");
    CHECK(reqs[2].statuses == std::vector{execution_status::completed});
    CHECK(reqs[2].finished_before == now - 24h);
    CHECK(r.for_task("report", execution_status::completed) == 24h);
    CHECK(r.for_task("report", execution_status::failed) == 0ms);
    CHECK(r.for_task("other", execution_status::failed) == 7 * 24h);
    // An override alone turns retention on, for that task only.
    durable::retention_options only;
    only.tasks["scratch"].timed_out = 1h;
    CHECK(only.enabled());
    reqs = durable::actors::retention_requests(only, now);
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].task_id == "scratch");
    CHECK(reqs[0].statuses == std::vector{execution_status::timed_out});
    // Kept forever is not "on".
    durable::retention_options forever;
    forever.tasks["audit"].set_all(0ms);
    CHECK_FALSE(forever.enabled());
    CHECK(durable::actors::retention_requests(forever, now).empty());
  }

  TEST_CASE("task overrides that are invalid are refused naming the task") {
    auto refused = [](const durable::executor_options& o) -> std::string {
      try {
        durable::validate(o);
      } catch (const durable::error& e) {
        return e.what();
      }
      return "";
    };
    durable::executor_options o;
    o.retention.tasks["billing"].failed = -1ms;
    auto what = refused(o);
    CHECK(what.find("Invalid options") != std::string::npos);
    CHECK(what.find("billing") != std::string::npos);
    o.retention.tasks["billing"].failed = 1h;
    CHECK(refused(o).empty());
    o.retention.tasks["idle"];
    what = refused(o);
    CHECK(what.find("idle") != std::string::npos);
    CHECK(what.find("sets no status") != std::string::npos);
    o.retention.tasks.erase("idle");
    o.retention.tasks[""].completed = 1h;
    what = refused(o);
    CHECK(what.find("Task id cannot be empty") != std::string::npos);
    o.retention.tasks.erase("");
    o.retention.tasks["no spaces"].completed = 1h;
    CHECK(refused(o).find("alphanumeric") != std::string::npos);
    o.retention.tasks.erase("no spaces");
    for (std::size_t i = 0; i <= durable::retention_options::max_task_overrides;
         ++i)
      o.retention.tasks["t" + std::to_string(i)].completed = 1h;
    CHECK(refused(o).find("at most 1000") != std::string::npos);
  }

  TEST_CASE("prune requests refuse too many empty or contradicting "
            "exclusions") {
    durable::prune_request q;
    q.statuses = {execution_status::completed};
    q.except_tasks = {"a", "b"};
    CHECK_NOTHROW(durable::validate(q));
    q.task_id = "c";
    CHECK_NOTHROW(durable::validate(q));
    q.task_id = "b";
    CHECK_THROWS_AS(durable::validate(q), durable::error);
    q.task_id.reset();
    q.except_tasks.push_back("");
    CHECK_THROWS_AS(durable::validate(q), durable::error);
    q.except_tasks.assign(durable::prune_request::max_except_tasks + 1, "a");
    CHECK_THROWS_AS(durable::validate(q), durable::error);
  }

  TEST_CASE("retention options out of range are refused") {
    durable::executor_options o;
    o.retention.completed = -1ms;
    CHECK_THROWS_AS(durable::validate(o), durable::error);
    o.retention.completed = 1h;
    o.retention.batch_size = 0;
    CHECK_THROWS_AS(durable::validate(o), durable::error);
    o.retention.batch_size = 10'001;
    CHECK_THROWS_AS(durable::validate(o), durable::error);
    o.retention.batch_size = 10'000;
    o.retention.sweep_interval = 10ms;
    CHECK_THROWS_AS(durable::validate(o), durable::error);
    o.retention.sweep_interval = 1s;
    CHECK_NOTHROW(durable::validate(o));
  }

  TEST_CASE("the maintenance leader removes finished trees once their "
            "retention passed and keeps the rest") {
    auto opts = deterministic_fixture::fast_options();
    opts.retention.completed = 10s;
    opts.retention.sweep_interval = 1s;
    // Smaller than the trees to remove: a sweep takes several batches.
    opts.retention.batch_size = 2;
    deterministic_fixture f{opts};
    f.add(inline_task("double", [](auto&, const std::string& in) {
      return std::to_string(2 * std::stoi(in));
    }));
    f.add(inline_task("fail", [](auto&, const std::string&) -> std::string {
      throw durable::error::non_retryable("no");
    }));
    task_definition parent;
    parent.kind = task_kind::parent;
    parent.options.id = "fan";
    parent.options.timeout = 10s;
    parent.options.may_block = false;
    parent.run_parent = [](auto&, const std::string&) {
      durable::parent_run pr{"\"spawned\"", {}};
      for (int i = 1; i <= 3; ++i)
        pr.children.push_back({"double", std::to_string(i), {}});
      return pr;
    };
    f.add(parent);
    task_definition nap;
    nap.kind = task_kind::sleeping;
    nap.options.id = "nap";
    nap.options.timeout = 1h;
    f.add(nap);

    auto fan = f.enqueue("fan");
    REQUIRE(f.get(fan.id).status == execution_status::completed);
    auto kids = f.db->children_of(fan.id);
    REQUIRE(kids.size() == 3);
    std::vector<std::string> done;
    for (int i = 0; i < 3; ++i) {
      auto r = f.enqueue("double", std::to_string(i));
      REQUIRE(f.get(r.id).status == execution_status::completed);
      done.push_back(r.id);
    }
    auto failed = f.enqueue("fail");
    REQUIRE(f.get(failed.id).status == execution_status::failed);
    auto sleeper = durable::make_execution("nap", task_kind::sleeping,
                                           nap.options, "null", f.db->now());
    sleeper.sleeping_id = "nap-1";
    f.db->insert({sleeper});
    f.run();
    const auto stored = f.db->size();
    REQUIRE(stored == 4 + 3 + 1 + 1);

    // Sweeps run (the leader swept at start and every second since), but
    // nothing is old enough yet.
    f.advance(5s);
    CHECK(f.db->size() == stored);

    // Retention passed: the completed trees go, children with their root.
    for (int i = 0; i < 40; ++i)
      f.advance(1s);
    CHECK_FALSE(exists(f, fan.id));
    for (const auto& k : kids)
      CHECK_FALSE(exists(f, k.id));
    for (const auto& id : done)
      CHECK_FALSE(exists(f, id));
    // Failed trees have no retention; the sleeper has not finished.
    CHECK(exists(f, failed.id));
    CHECK(f.get(sleeper.id).status == execution_status::running);
    CHECK(f.db->size() == 2);
  }

  TEST_CASE("the maintenance leader keeps a task's trees as long as its "
            "override says") {
    auto opts = deterministic_fixture::fast_options();
    opts.retention.completed = 10s;
    opts.retention.sweep_interval = 1s;
    opts.retention.tasks["keep"].completed = 1h;
    opts.retention.tasks["brief"].completed = 2s;
    deterministic_fixture f{opts};
    for (const char* id : {"plain", "keep", "brief"})
      f.add(inline_task(id, [](auto&, const std::string& in) { return in; }));
    auto plain = f.enqueue("plain", "1");
    auto keep = f.enqueue("keep", "1");
    auto brief = f.enqueue("brief", "1");
    for (const auto* r : {&plain, &keep, &brief})
      REQUIRE(f.get(r->id).status == execution_status::completed);
    f.run();
    for (int i = 0; i < 6; ++i)
      f.advance(1s);
    CHECK_FALSE(exists(f, brief.id));
    CHECK(exists(f, plain.id));
    CHECK(exists(f, keep.id));
    for (int i = 0; i < 40; ++i)
      f.advance(1s);
    CHECK_FALSE(exists(f, plain.id));
    CHECK(exists(f, keep.id));
  }

  TEST_CASE("only the maintenance leader sweeps") {
    auto opts = deterministic_fixture::fast_options();
    opts.retention.completed = 10s;
    opts.retention.sweep_interval = 1s;
    deterministic_fixture f{opts};
    // Another owner takes the maintenance role; the node learns it at its
    // next renewal (every lease_renew_interval, 300 s here).
    REQUIRE(f.db->try_lead("maintenance", f.rt->incarnation, 0ms));
    REQUIRE(f.db->try_lead("maintenance", "someone_else", 3600s));
    f.advance(f.rt->options.lease_renew_interval + 1s);
    f.add(inline_task("double", [](auto&, const std::string& in) {
      return std::to_string(2 * std::stoi(in));
    }));
    auto r = f.enqueue("double", "1");
    REQUIRE(f.get(r.id).status == execution_status::completed);
    for (int i = 0; i < 40; ++i)
      f.advance(1s);
    CHECK(exists(f, r.id));
    // The role comes back at the next renewal, and the sweeps with it.
    REQUIRE(f.db->try_lead("maintenance", "someone_else", 0ms));
    f.advance(f.rt->options.lease_renew_interval);
    f.advance(1s);
    CHECK_FALSE(exists(f, r.id));
  }
}
