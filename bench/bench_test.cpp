// The harness's own checks: the validation that makes smoke runs fail, and
// the statistics every report is built from.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "settings.hpp"
#include "stats.hpp"
#include "workloads.hpp"

namespace durable::bench {

namespace {

using namespace std::chrono_literals;

const timestamp t0 = from_micros(1'000'000'000);

row_sample row(std::string id, std::string task, std::string input,
               std::string output, std::string parent = {}) {
  row_sample r;
  r.id = std::move(id);
  r.task_id = std::move(task);
  r.input = std::move(input);
  r.output = std::move(output);
  r.parent_id = std::move(parent);
  r.status = execution_status::completed;
  r.created_at = t0;
  r.started_at = t0 + 1ms;
  r.finished_at = t0 + 2ms;
  return r;
}

/// One fanout parent of 2 children as a correct run stores it.
std::vector<row_sample> fanout_rows() {
  auto fin = row("f", "bench_sum",
                 R"({"output":2,"children":[{"output":1},{"output":2}]})", "3",
                 "p");
  fin.is_finalize = true;
  return {row("p", "bench_fan", "2", "3"),
          row("c0", "bench_add", "0", "1", "p"),
          row("c1", "bench_add", "1", "2", "p"), fin};
}

settings fanout_settings() {
  settings s;
  s.workload = "fanout";
  s.parents = 1;
  s.children = 2;
  return s;
}

} // namespace

TEST_SUITE("bench.validation") {
  TEST_CASE("validate accepts a fanout whose rows all completed correctly") {
    auto s = fanout_settings();
    auto v = validate(fanout_rows(), {"p"}, rows_per_round(s), s);
    CHECK(v.ok());
    CHECK(v.checked == 4);
  }

  TEST_CASE("validate reports a wrong output and a missing row") {
    auto s = fanout_settings();
    auto rows = fanout_rows();
    rows[1].output = "7";
    rows.pop_back();
    auto v = validate(rows, {"p"}, rows_per_round(s), s);
    CHECK_FALSE(v.ok());
    CHECK(v.problem_count == 2);
  }

  TEST_CASE("validate reports an execution that did not complete") {
    auto s = fanout_settings();
    auto rows = fanout_rows();
    rows[2].status = execution_status::timed_out;
    CHECK(validate(rows, {"p"}, rows_per_round(s), s).problem_count == 1);
  }

  TEST_CASE(
    "validate reports a retry task that completed at the wrong attempt") {
    settings s;
    s.workload = "retry";
    s.executions = 1;
    s.retry_failures = 2;
    auto r = row("r", "bench_flaky", "4", "5");
    r.attempt = 1;
    CHECK(validate({r}, {"r"}, 1, s).problem_count == 1);
    r.attempt = 2;
    CHECK(validate({r}, {"r"}, 1, s).ok());
  }

  TEST_CASE("validate checks a sleeper against the number in its sleeping id") {
    settings s;
    s.workload = "sleepers";
    s.executions = 1;
    auto r = row("s", "bench_sleep", "null", "17");
    r.sleeping_id = "bench-r0-17";
    CHECK(validate({r}, {"s"}, 1, s).ok());
    r.output = "16";
    CHECK_FALSE(validate({r}, {"s"}, 1, s).ok());
  }

  TEST_CASE("validate counts the trees retention removed, and only those") {
    auto s = fanout_settings();
    s.parents = 2;
    auto rows = fanout_rows(); // tree "p"; tree "q" was removed
    CHECK(validate(rows, {"p", "q"}, rows_per_round(s), s, {1, 4}).ok());
    // Without the removal counted, the tree is missing.
    CHECK(validate(rows, {"p", "q"}, rows_per_round(s), s).problem_count == 2);
    // A row lost beside the removed tree is still found.
    rows.pop_back();
    CHECK(validate(rows, {"p", "q"}, rows_per_round(s), s, {1, 4}).problem_count
          == 1);
  }

} // TEST_SUITE

TEST_SUITE("bench.settings") {
  TEST_CASE("--retain-completed is refused with several nodes and for hold") {
    settings s;
    s.store = "postgres";
    s.retain_completed_s = 60;
    CHECK_NOTHROW(check(s));
    s.nodes = 2;
    CHECK_THROWS_WITH_AS(check(s), doctest::Contains("--nodes 1"),
                         std::invalid_argument);
    s.nodes = 1;
    s.workload = "hold";
    s.max_concurrent = s.executions;
    CHECK_THROWS_WITH_AS(check(s), doctest::Contains("hold"),
                         std::invalid_argument);
    s.workload = "simple";
    for (double bad : {-1.0, 0.0004, 86401.0}) {
      s.retain_completed_s = bad;
      CHECK_THROWS_WITH_AS(check(s), doctest::Contains("0.001..86400"),
                           std::invalid_argument);
    }
    s.retain_completed_s = 0; // off
    CHECK_NOTHROW(check(s));
  }

  TEST_CASE("--serial is refused for workloads that finish only after every "
            "enqueue") {
    for (const char* w : {"sleepers", "hold", "mixed"}) {
      settings s;
      s.workload = w;
      s.serial = true;
      s.max_concurrent = s.executions;
      CHECK_THROWS_WITH_AS(check(s), doctest::Contains("--serial"),
                           std::invalid_argument);
    }
    settings s;
    s.workload = "fanout";
    s.serial = true;
    CHECK_NOTHROW(check(s));
  }

} // TEST_SUITE

TEST_SUITE("bench.stats") {
  TEST_CASE("percentiles take the nearest rank") {
    std::vector<double> xs;
    for (int i = 1; i <= 100; ++i)
      xs.push_back(i);
    auto d = percentiles(xs);
    CHECK(d.count == 100);
    CHECK(d.p50 == 50);
    CHECK(d.p90 == 90);
    CHECK(d.p99 == 99);
    CHECK(d.max == 100);
    CHECK(percentiles({}).count == 0);
  }

  TEST_CASE("compute_stats measures child to parent delays and buckets rows") {
    auto rows = fanout_rows();
    rows[1].finished_at = t0 + 3ms;  // the last child
    rows[0].finished_at = t0 + 10ms; // the parent, after its finalize
    rows[3].finished_at = t0 + 9ms;  // the finalize does not count as a child
    rows[2].finished_at = t0 + 1500ms;
    rows[2].parent_id = "other";
    auto st = compute_stats(rows, t0, 1.0);
    CHECK(st.rows == 4);
    CHECK(st.top_level == 1);
    CHECK(st.child_to_parent.count == 1);
    CHECK(st.child_to_parent.p50 == doctest::Approx(7.0));
    REQUIRE(st.finished_per_interval.size() == 2);
    CHECK(st.finished_per_interval[0] == 3);
    CHECK(st.finished_per_interval[1] == 1);
    CHECK(st.enqueue_to_start.p50 == doctest::Approx(1.0));
  }

} // TEST_SUITE

} // namespace durable::bench
