#include <string>

#include <doctest/doctest.h>

#include "durable/transitions.hpp"

// What a parent's finalize leaves on the parent's row: the reference's
// wait timestamps and the finalize task's own error.

namespace durable::test {

namespace {

const timestamp now = from_micros(1'700'000'000'000'000);

execution_record running_parent() {
  task_options o;
  o.id = "parent_task";
  o.timeout = millis{30'000};
  auto r = make_execution("parent_task", task_kind::parent, o, "null",
                          now - millis{1000});
  r.status = execution_status::running;
  r.version = 2;
  return r;
}

execution_record finalize_of(const execution_record& parent,
                             execution_status status) {
  task_options o;
  o.id = "fin_task";
  o.timeout = millis{30'000};
  auto fin = transitions::make_child(parent, "fin_task", task_kind::task, o,
                                     "null", 0, 1, true, now);
  fin.status = status;
  return fin;
}

} // namespace

TEST_SUITE("core.transitions") {
  TEST_CASE("a parent without children that waits for its finalize task has "
            "both wait timestamps") {
    auto parent = running_parent();
    auto t = transitions::wait_for_finalize(
      parent, std::nullopt, finalize_of(parent, execution_status::ready), now);
    CHECK(t.next.status == execution_status::waiting_for_finalize);
    CHECK(t.next.waiting_for_finalize_started_at == now);
    CHECK(t.next.waiting_for_children_started_at == now);
  }

  TEST_CASE("a parent that waited for children keeps when that began") {
    auto parent = running_parent();
    const auto began = now - millis{500};
    parent.status = execution_status::waiting_for_children;
    parent.waiting_for_children_started_at = began;
    auto t = transitions::wait_for_finalize(
      parent, std::nullopt, finalize_of(parent, execution_status::ready), now);
    CHECK(t.next.waiting_for_children_started_at == began);
    CHECK(t.next.waiting_for_finalize_started_at == now);
  }

  TEST_CASE("a finalize task's own error reaches its parent unchanged") {
    auto parent = running_parent();
    auto fin = finalize_of(parent, execution_status::failed);
    fin.error = execution_error{error_kind::generic, "plain throw", true,
                                false};
    auto e = transitions::finalize_task_error(parent, fin);
    CHECK(e == *fin.error);
    // And through the one-commit path of a finalize run beside its parent.
    auto t = transitions::finalize_ran(parent, std::nullopt, fin, now);
    CHECK(t.next.status == execution_status::finalize_failed);
    REQUIRE(t.next.error.has_value());
    CHECK(*t.next.error == *fin.error);
    CHECK(t.next.error->retryable);
  }

  TEST_CASE("a finalize task that ended without an error gives its parent "
            "the reference's unknown-error message") {
    auto parent = running_parent();
    auto fin = finalize_of(parent, execution_status::cancelled);
    fin.error.reset();
    auto e = transitions::finalize_task_error(parent, fin);
    CHECK(e.message
          == "Finalize task failed with an unknown error "
             "[parentTaskId=parent_task] [finalizeTaskId=fin_task] "
             "[finalizeExecutionId="
               + fin.id + "]");
    CHECK_FALSE(e.retryable);
  }

  TEST_CASE("a run that returned completes, retries or fails by its outcome") {
    auto row = running_parent();
    row.retry.max_attempts = 3;
    SUBCASE("an output completes it; none is null") {
      auto t = transitions::run_returned(row, std::nullopt, std::nullopt, 64,
                                         millis{0}, now);
      CHECK(t.next.status == execution_status::completed);
      CHECK(t.next.output == "null");
    }
    SUBCASE("a retryable error makes it ready after the delay") {
      execution_error e{error_kind::generic, "boom", true, false};
      auto t = transitions::run_returned(row, std::string{"1"}, e, 64,
                                         millis{250}, now);
      CHECK(t.next.status == execution_status::ready);
      CHECK(t.next.start_at == now + millis{250});
      CHECK(t.next.error == e);
    }
    SUBCASE("an output over the limit fails it, never retried") {
      auto t = transitions::run_returned(row, std::string(65, '1'),
                                         std::nullopt, 64, millis{0}, now);
      CHECK(t.next.status == execution_status::failed);
      REQUIRE(t.next.error);
      CHECK_FALSE(t.next.error->retryable);
      CHECK(t.next.error->message
            == "Serialized data size exceeds maximum allowed size "
               "[size=65] [maxSize=64]");
    }
    SUBCASE("an output that is not storable text fails it, never retried") {
      auto t = transitions::run_returned(row, std::string("\"a\0b\"", 5),
                                         std::nullopt, 64, millis{0}, now);
      CHECK(t.next.status == execution_status::failed);
      REQUIRE(t.next.error);
      CHECK_FALSE(t.next.error->retryable);
      CHECK(t.next.error->message.find("Output") == 0);
    }
  }
} // TEST_SUITE

} // namespace durable::test
