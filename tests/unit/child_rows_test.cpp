#include <doctest/doctest.h>

#include "durable/child_rows.hpp"

namespace durable::test {

namespace {

using namespace std::chrono_literals;

const timestamp now = from_micros(1'700'000'000'000'000);

execution_record parent() {
  task_options o;
  o.id = "p";
  auto r = make_execution("p", task_kind::parent, o, "null", now);
  r.status = execution_status::running;
  return r;
}

task_definition task(task_kind kind = task_kind::task) {
  task_definition d;
  d.kind = kind;
  d.options.id = "c";
  d.options.timeout = 10s;
  return d;
}

execution_error
error_of(const std::variant<execution_record, execution_error>& made) {
  REQUIRE(std::holds_alternative<execution_error>(made));
  return std::get<execution_error>(made);
}

} // namespace

TEST_SUITE("core.child_rows") {
  TEST_CASE("a child is built below its parent at its place") {
    auto def = task();
    auto made = make_child_row(parent(), &def, {"c", "7", {}, 2, 3, false},
                               1024, now);
    REQUIRE(std::holds_alternative<execution_record>(made));
    auto& c = std::get<execution_record>(made);
    CHECK(c.input == "7");
    REQUIRE(c.parent);
    CHECK(c.parent->index == 2);
    CHECK(c.status == execution_status::ready);
  }

  TEST_CASE("a child whose task is not registered fails its parent") {
    auto e = error_of(
      make_child_row(parent(), nullptr, {"gone", "1"}, 1024, now));
    CHECK(e.kind == error_kind::not_found);
    CHECK(e.message == "Task not found [taskId=gone]");
  }

  TEST_CASE("a child input over the cap or not storable text is refused") {
    auto def = task();
    auto big = error_of(
      make_child_row(parent(), &def, {"c", std::string(20, '1')}, 10, now));
    CHECK(big.message
          == "Serialized data size exceeds maximum allowed size [size=20] "
             "[maxSize=10]");
    CHECK_FALSE(big.retryable);
    auto bad = error_of(
      make_child_row(parent(), &def, {"c", "\"\xff\""}, 1024, now));
    CHECK(bad.message.find("Input of child task c") == 0);
  }

  TEST_CASE("a sleeping child takes its unique id from its input") {
    auto def = task(task_kind::sleeping);
    auto made = make_child_row(parent(), &def, {"c", "\"order-1\""}, 1024, now);
    auto& c = std::get<execution_record>(made);
    CHECK(c.sleeping_id == "order-1");
    CHECK(c.input == "null");
    for (const char* bad : {"42", "\"\"", "null"}) {
      auto e = error_of(make_child_row(parent(), &def, {"c", bad}, 1024, now));
      CHECK(e.message
            == "Invalid sleeping task unique id for task c: must be a "
               "non-empty string of at most 255 characters");
    }
  }

  TEST_CASE("a loop's iteration carries the pause of its index") {
    task_definition loop;
    loop.kind = task_kind::loop;
    loop.iteration_task = "it";
    loop.max_iterations = 4;
    loop.iteration_pause = [](int k) { return millis{100 * k}; };
    auto spec = step_child(loop, 3, "\"in\"");
    CHECK(spec.task_id == "it");
    CHECK(spec.index == 3);
    CHECK(spec.siblings == 4);
    CHECK(spec.overrides.sleep_before_run == millis{300});
    task_definition seq;
    seq.kind = task_kind::sequence;
    seq.steps = {"a", "b"};
    CHECK(step_child(seq, 1, "1").task_id == "b");
    CHECK_FALSE(step_child(seq, 1, "1").overrides.sleep_before_run);
  }

} // TEST_SUITE

} // namespace durable::test
