#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "durable/next_step.hpp"

namespace durable::test {

namespace {

namespace ns = next_step;

const timestamp now = from_micros(1'700'000'000'000'000);

execution_record row(std::string id, task_kind kind, execution_status status) {
  task_options o;
  o.id = "t";
  auto r = make_execution("t", kind, o, "\"in\"", now);
  r.id = std::move(id);
  r.status = status;
  return r;
}

/// A supervisor `p` of `kind` waiting for children `ids`.
execution_record supervisor(task_kind kind, std::vector<std::string> ids) {
  auto p = row("p", kind, execution_status::waiting_for_children);
  for (auto& id : ids)
    p.children.push_back({"c", std::move(id)});
  p.step = static_cast<std::uint32_t>(p.children.size()) - 1;
  return p;
}

execution_record child(std::string id, execution_status status,
                       std::optional<std::string> output = std::nullopt,
                       bool finalize = false) {
  auto c = row(std::move(id), task_kind::task, status);
  c.parent = parent_link{"t", "p", 0, false, finalize};
  c.output = std::move(output);
  if (status == execution_status::failed)
    c.error = execution_error{error_kind::generic, "boom", false, false};
  return c;
}

task_definition sequence_of(int steps) {
  task_definition d;
  d.kind = task_kind::sequence;
  for (int i = 0; i < steps; ++i)
    d.steps.push_back("c");
  return d;
}

task_definition loop_of(int max) {
  task_definition d;
  d.kind = task_kind::loop;
  d.iteration_task = "it";
  d.max_iterations = max;
  return d;
}

} // namespace

TEST_SUITE("core.next_step") {
  TEST_CASE("a parent waits for its unfinished children by id") {
    task_definition d;
    d.kind = task_kind::parent;
    auto m = ns::after_children(supervisor(task_kind::parent, {"a", "b"}), d,
                                {child("a", execution_status::completed, "1"),
                                 child("b", execution_status::running)});
    auto* w = std::get_if<ns::wait_for>(&m);
    REQUIRE(w);
    CHECK(w->unfinished == std::vector<std::string>{"b"});
  }

  TEST_CASE("a parent with a child missing fails, naming the counts") {
    task_definition d;
    d.kind = task_kind::parent;
    auto m = ns::after_children(supervisor(task_kind::parent, {"a", "b"}), d,
                                {child("a", execution_status::completed)});
    auto* f = std::get_if<ns::fail>(&m);
    REQUIRE(f);
    CHECK(f->status == execution_status::failed);
    CHECK(f->error.message
          == "Some children task executions not found [expected=2] [found=1]");
    CHECK_FALSE(f->error.retryable);
  }

  TEST_CASE("a parent without finalize completes with its children's outcome, "
            "checked before it is stored") {
    task_definition d;
    d.kind = task_kind::parent;
    auto p = supervisor(task_kind::parent, {"a"});
    p.run_output = "\"own\"";
    auto m = ns::after_children(p, d,
                                {child("a", execution_status::completed, "7")});
    auto* c = std::get_if<ns::complete>(&m);
    REQUIRE(c);
    CHECK(c->built);
    auto out = nlohmann::json::parse(c->output);
    CHECK(out["output"] == "own");
    CHECK(out["children"][0]["output"] == 7);
  }

  TEST_CASE("a parent with a finalize finalizes on the children's outcome") {
    task_definition d;
    d.kind = task_kind::parent;
    d.finalize_task = "fin";
    auto m = ns::after_children(
      supervisor(task_kind::parent, {"a"}), d,
      {child("a", execution_status::failed),
       child("f", execution_status::ready, std::nullopt, true)});
    auto* f = std::get_if<ns::finalize>(&m);
    REQUIRE(f);
    CHECK(nlohmann::json::parse(f->input)["children"].size() == 1);
    CHECK(std::holds_alternative<ns::finalize>(ns::parent_done(d, "{}")));
  }

  TEST_CASE("a parent waiting for its finalize task follows that task") {
    auto p = row("p", task_kind::parent,
                 execution_status::waiting_for_finalize);
    p.finalize = execution_ref{"fin", "f"};
    auto fin = child("f", execution_status::completed, "\"done\"", true);
    auto m = ns::after_children(p, task_definition{}, {fin});
    auto* c = std::get_if<ns::complete>(&m);
    REQUIRE(c);
    CHECK(c->output == "\"done\"");
    CHECK_FALSE(c->built); // stored by the finalize: checked already

    fin.status = execution_status::running;
    CHECK(std::get<ns::wait_for>(ns::after_finalize_task(p, &fin)).unfinished
          == std::vector<std::string>{"f"});

    auto missing = ns::after_finalize_task(p, nullptr);
    CHECK(std::get<ns::fail>(missing).error.message
          == "Some children task executions not found [finalize]");

    auto failed = child("f", execution_status::failed, std::nullopt, true);
    failed.error->retryable = true;
    auto m2 = ns::after_finalize_task(p, &failed);
    auto& f = std::get<ns::fail>(m2);
    CHECK(f.status == execution_status::finalize_failed);
    CHECK(f.error.message == "boom"); // the finalize's own error, unchanged
    CHECK(f.error.retryable);
  }

  TEST_CASE("a sequence starts its next step with the last step's output") {
    auto s = supervisor(task_kind::sequence, {"s0"});
    auto m = ns::after_current_step(
      s, sequence_of(3), child("s0", execution_status::completed, "5"));
    auto& next = std::get<ns::start_step>(m);
    CHECK(next.index == 1);
    CHECK(next.input == "5");
  }

  TEST_CASE("a sequence completes with its last step's output") {
    auto s = supervisor(task_kind::sequence, {"s0", "s1"});
    auto m = ns::after_step(s, sequence_of(2),
                            child("s1", execution_status::completed, "9"));
    CHECK(std::get<ns::complete>(m).output == "9");
  }

  TEST_CASE("a sequence whose step failed ends finalize_failed naming it") {
    auto s = supervisor(task_kind::sequence, {"s0", "s1"});
    s.task_id = "seq";
    auto m = ns::after_children(s, sequence_of(3),
                                {child("s0", execution_status::completed, "1"),
                                 child("s1", execution_status::failed)});
    auto& f = std::get<ns::fail>(m);
    CHECK(f.status == execution_status::finalize_failed);
    CHECK(f.error.message
          == "Sequential task failed [parentTaskId=seq] [index=1]: boom");
  }

  TEST_CASE("a step read unfinished is waited for") {
    auto s = supervisor(task_kind::sequence, {"s0"});
    auto m = ns::after_current_step(s, sequence_of(2),
                                    child("s0", execution_status::running));
    CHECK(std::get<ns::wait_for>(m).unfinished
          == std::vector<std::string>{"s0"});
  }

  TEST_CASE("a loop ends when an iteration says done, with its output") {
    auto l = supervisor(task_kind::loop, {"i0"});
    auto m = ns::after_iteration(
      l, loop_of(5),
      child("i0", execution_status::completed,
            R"({"done": true, "output": {"n": 3}})"));
    auto out = nlohmann::json::parse(std::get<ns::complete>(m).output);
    CHECK(out["is_success"] == true);
    CHECK(out["output"]["n"] == 3);
  }

  TEST_CASE("a loop runs its next iteration on its own input") {
    auto l = supervisor(task_kind::loop, {"i0"});
    auto m = ns::after_iteration(
      l, loop_of(5), child("i0", execution_status::completed, "{}"));
    auto& next = std::get<ns::start_step>(m);
    CHECK(next.index == 1);
    CHECK(next.input == "\"in\"");
  }

  TEST_CASE("a loop past max_iterations completes unsuccessful") {
    auto l = supervisor(task_kind::loop, {"i0", "i1"});
    auto m = ns::after_iteration(
      l, loop_of(2), child("i1", execution_status::completed, "{}"));
    CHECK(std::get<ns::complete>(m).output == R"({"is_success":false})");
  }

  TEST_CASE("a loop whose iteration failed ends finalize_failed naming it") {
    auto l = supervisor(task_kind::loop, {"i0"});
    auto m = ns::after_iteration(l, loop_of(3),
                                 child("i0", execution_status::failed));
    CHECK(std::get<ns::fail>(m).error.message
          == "Iteration task failed [taskId=it]: boom");
  }

  TEST_CASE("a claimed row runs its body, its first step, or its children") {
    task_definition def;
    def.kind = task_kind::task;
    auto r = row("t", task_kind::task, execution_status::running);
    CHECK(std::holds_alternative<ns::run_body>(ns::at_start(r, &def, 3)));
    r.kind = task_kind::sequence;
    r.input = "7";
    auto m = ns::at_start(r, &def, 3);
    REQUIRE(std::holds_alternative<ns::start_step>(m));
    CHECK(std::get<ns::start_step>(m).index == 0);
    CHECK(std::get<ns::start_step>(m).input == "7");
    r.status = execution_status::waiting_for_finalize;
    CHECK(std::holds_alternative<ns::adopt>(ns::at_start(r, &def, 3)));
    r.status = execution_status::completed;
    CHECK(std::holds_alternative<ns::stand_down>(ns::at_start(r, &def, 3)));
  }

  TEST_CASE("a claimed row fails when its task is unknown or it was recovered "
            "too often") {
    task_definition def;
    auto r = row("t", task_kind::task, execution_status::running);
    r.task_id = "gone_task";
    auto m = ns::at_start(r, nullptr, 3);
    REQUIRE(std::holds_alternative<ns::fail>(m));
    CHECK(std::get<ns::fail>(m).error.kind == error_kind::not_found);
    CHECK(std::get<ns::fail>(m).error.message
          == "Task not found [taskId=gone_task]");
    r.recoveries = 4;
    m = ns::at_start(r, &def, 3);
    REQUIRE(std::holds_alternative<ns::fail>(m));
    CHECK(std::get<ns::fail>(m).status == execution_status::failed);
    CHECK(std::get<ns::fail>(m).error.message
          == "Task execution recovered too many times [recoveries=4] "
             "[maxRecoveries=3]");
    CHECK_FALSE(std::get<ns::fail>(m).error.retryable);
    r.recoveries = 3;
    CHECK(std::holds_alternative<ns::run_body>(ns::at_start(r, &def, 3)));
  }
} // TEST_SUITE

} // namespace durable::test
