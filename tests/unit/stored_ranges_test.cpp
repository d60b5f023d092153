#include <chrono>
#include <limits>
#include <string>

#include <doctest/doctest.h>

#include "durable/store_rules.hpp"
#include "durable/stored_ranges.hpp"

namespace durable::test {

namespace {

namespace sr = stored_ranges;

const timestamp now = from_micros(1'700'000'000'000'000);

/// The options validate() accepts at the top of every range.
task_options largest_options() {
  task_options o;
  o.id = "t";
  o.timeout = millis{option_limits::max_timeout_ms};
  o.sleep_before_run = millis{option_limits::max_sleep_before_run_ms};
  o.retry = retry_options{option_limits::max_retry_attempts,
                          millis{option_limits::max_base_delay_ms},
                          option_limits::max_multiplier,
                          millis{option_limits::max_max_delay_ms},
                          jitter_mode::equal};
  validate(o);
  return o;
}

} // namespace

TEST_SUITE("core.stored_ranges") {
  TEST_CASE("check names the field and the range of a value outside it") {
    CHECK(sr::check("timeout_ms", 1, sr::timeout_ms) == std::nullopt);
    CHECK(sr::check("timeout_ms", 31'536'000'000, sr::timeout_ms)
          == std::nullopt);
    CHECK(sr::check("timeout_ms", 0, sr::timeout_ms)
          == "timeout_ms 0 is out of range (1..31536000000)");
    CHECK(sr::check("timeout_ms", std::numeric_limits<std::int64_t>::max(),
                    sr::timeout_ms)
          == "timeout_ms 9223372036854775807 is out of range "
             "(1..31536000000)");
    CHECK(sr::check("step", -1, sr::index)
          == "step -1 is out of range (0..4294967295)");
  }

  TEST_CASE("a row made from any options validate accepts is in range") {
    for (auto kind : {task_kind::task, task_kind::parent, task_kind::sequence,
                      task_kind::loop, task_kind::sleeping}) {
      auto r = make_execution("t", kind, largest_options(), "null", now);
      CHECK(sr::problem(r) == std::nullopt);
    }
  }

  TEST_CASE("a claim of a row in range stays in range") {
    auto r = make_execution("t", task_kind::task, largest_options(), "null",
                            now);
    r.attempt = option_limits::max_retry_attempts;
    r.status = execution_status::running;
    r.owner = "de_old";
    r.lease_expires_at = now;
    store_rules::claim(r, now, "de_new", millis{option_limits::max_lease_ms});
    CHECK(sr::problem(r) == std::nullopt);
  }

  TEST_CASE("times span what a nanosecond clock holds") {
    // The engine turns the wait for a stored time into a CAF timer (a
    // nanosecond duration): the last time in range still converts.
    using std::chrono::nanoseconds;
    CHECK(sr::time_us.max == nanoseconds::max().count() / 1000);
    auto last = from_micros(sr::time_us.max);
    CHECK(
      std::chrono::duration_cast<nanoseconds>(last.time_since_epoch()).count()
      > 0);
    execution_record r = make_execution("t", task_kind::task, largest_options(),
                                        "null", now);
    r.expires_at = last;
    CHECK(sr::problem(r) == std::nullopt);
    r.expires_at = last + std::chrono::microseconds{1};
    CHECK(sr::problem(r)
          == "expires_at 9223372036854776 is out of range "
             "(0..9223372036854775)");
  }

  TEST_CASE("a transition is checked with the version the store gives it") {
    auto r = make_execution("t", task_kind::task, largest_options(), "null",
                            now);
    transition t;
    t.next = r;
    t.expected_version = sr::version.max - 1;
    CHECK(sr::problem(t) == std::nullopt);
    t.expected_version = sr::version.max;
    CHECK(sr::problem(t)
          == "version 9007199254740991 leaves no room for one more write "
             "(0..9007199254740991)");
    t.expected_version = 0;
    auto child = r;
    child.id = "te_child";
    child.recoveries = -1;
    t.children.push_back(child);
    CHECK(sr::problem(t)
          == "child te_child: recoveries -1 is out of range (0..2147483646)");
  }

  TEST_CASE("the messages of a refusal and of a row found out of range") {
    CHECK(sr::refused_message("x 1 is out of range (2..3)")
          == "Execution cannot be stored: x 1 is out of range (2..3)");
    CHECK(sr::invalid_message("x 1 is out of range (2..3)")
          == "Stored execution is invalid: x 1 is out of range (2..3)");
  }

} // TEST_SUITE

} // namespace durable::test
