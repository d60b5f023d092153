#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "durable/execution_record.hpp"
#include "durable/metrics/engine_metrics.hpp"
#include "durable/metrics/metrics_store.hpp"
#include "durable/metrics/registry.hpp"
#include "durable/observer.hpp"
#include "durable/options.hpp"
#include "durable/storage/memory_store.hpp"

namespace durable::test {

namespace {

using namespace std::chrono_literals;

execution_record row(std::string id, std::string task) {
  task_options opts;
  opts.id = task;
  opts.timeout = 10s;
  auto r = make_execution(std::move(task), task_kind::task, opts, "null",
                          system_now());
  r.id = std::move(id);
  r.root = {r.task_id, r.id};
  return r;
}

} // namespace

TEST_SUITE("metrics.registry") {
  TEST_CASE("counters and gauges render with HELP, TYPE and sorted series") {
    metrics::registry reg;
    auto& enq = reg.add_counter("durable_test_total", "Things counted",
                                {"task"});
    enq.with({"b"}).inc(2);
    enq.with({"a"}).inc();
    reg.add_gauge("durable_test_up", "Whether up").with({}).set(1);
    reg.add_gauge_callback("durable_test_slots", "Free slots",
                           [] { return 4.5; });
    CHECK(reg.render()
          == "# HELP durable_test_total Things counted\n"
             "# TYPE durable_test_total counter\n"
             "durable_test_total{task=\"a\"} 1\n"
             "durable_test_total{task=\"b\"} 2\n"
             "# HELP durable_test_up Whether up\n"
             "# TYPE durable_test_up gauge\n"
             "durable_test_up 1\n"
             "# HELP durable_test_slots Free slots\n"
             "# TYPE durable_test_slots gauge\n"
             "durable_test_slots 4.5\n");
  }

  TEST_CASE("a histogram renders cumulative buckets up to +Inf, sum, count") {
    metrics::registry reg;
    auto& h = reg.add_histogram("durable_test_seconds", "Latency",
                                {0.1, 0.5, 1}, {"route"});
    auto& r = h.with({"/v1/x"});
    r.observe(0.05);
    r.observe(0.1); // a bound is inclusive
    r.observe(0.75);
    r.observe(3);
    CHECK(reg.render()
          == "# HELP durable_test_seconds Latency\n"
             "# TYPE durable_test_seconds histogram\n"
             "durable_test_seconds_bucket{route=\"/v1/x\",le=\"0.1\"} 2\n"
             "durable_test_seconds_bucket{route=\"/v1/x\",le=\"0.5\"} 2\n"
             "durable_test_seconds_bucket{route=\"/v1/x\",le=\"1\"} 3\n"
             "durable_test_seconds_bucket{route=\"/v1/x\",le=\"+Inf\"} 4\n"
             "durable_test_seconds_sum{route=\"/v1/x\"} 3.9\n"
             "durable_test_seconds_count{route=\"/v1/x\"} 4\n");
  }

  TEST_CASE("an unlabelled metric reads 0 before its first update") {
    metrics::registry reg;
    reg.add_counter("durable_test_total", "n");
    reg.add_histogram("durable_test_size", "s", {1});
    CHECK(reg.render()
          == "# HELP durable_test_total n\n"
             "# TYPE durable_test_total counter\n"
             "durable_test_total 0\n"
             "# HELP durable_test_size s\n"
             "# TYPE durable_test_size histogram\n"
             "durable_test_size_bucket{le=\"1\"} 0\n"
             "durable_test_size_bucket{le=\"+Inf\"} 0\n"
             "durable_test_size_sum 0\n"
             "durable_test_size_count 0\n");
  }

  TEST_CASE("label values escape backslash, double quote and newline") {
    CHECK(metrics::escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
    metrics::registry reg;
    reg.add_counter("durable_test_total", "Help with \\ and\nnewline", {"task"})
      .with({"x\"y"})
      .inc();
    CHECK(reg.render()
          == "# HELP durable_test_total Help with \\\\ and\\nnewline\n"
             "# TYPE durable_test_total counter\n"
             "durable_test_total{task=\"x\\\"y\"} 1\n");
  }

  TEST_CASE("special values and a failing callback render as the format "
            "says") {
    CHECK(metrics::format_value(INFINITY) == "+Inf");
    CHECK(metrics::format_value(-INFINITY) == "-Inf");
    CHECK(metrics::format_value(NAN) == "NaN");
    CHECK(metrics::format_value(0.25) == "0.25");
    metrics::registry reg;
    reg.add_gauge_callback("durable_test_g", "g", []() -> double {
      throw std::runtime_error{"engine down"};
    });
    CHECK(reg.render()
          == "# HELP durable_test_g g\n# TYPE durable_test_g gauge\n"
             "durable_test_g NaN\n");
  }

  TEST_CASE("bad names, duplicates, label counts and bounds are refused") {
    metrics::registry reg;
    reg.add_counter("durable_ok_total", "x", {"a"});
    CHECK_THROWS_AS(reg.add_counter("durable_ok_total", "x"),
                    std::invalid_argument);
    CHECK_THROWS_AS(reg.add_counter("9bad", "x"), std::invalid_argument);
    CHECK_THROWS_AS(reg.add_counter("durable_b_total", "x", {"__a"}),
                    std::invalid_argument);
    CHECK_THROWS_AS(reg.add_histogram("durable_h", "x", {1}, {"le"}),
                    std::invalid_argument);
    CHECK_THROWS_AS(reg.add_histogram("durable_h2", "x", {1, 1}),
                    std::invalid_argument);
    auto& f = reg.add_counter("durable_c_total", "x", {"a", "b"});
    CHECK_THROWS_AS(f.with({"only one"}), std::invalid_argument);
  }
}

TEST_SUITE("metrics.engine") {
  TEST_CASE("engine events are counted and passed on to the next observer") {
    metrics::registry reg;
    metrics::engine_metrics m{reg};
    int passed = 0;
    auto observe = m.observer([&](const engine_event&) { ++passed; });
    engine_event e;
    e.kind = engine_event::type::store_failure;
    e.operation = "apply";
    e.failure = store_failure::unavailable;
    observe(e);
    observe(e);
    e.kind = engine_event::type::leadership;
    e.message = "this node is now the maintenance leader (it expires "
                "sleepers)";
    observe(e);
    e.kind = engine_event::type::conflict;
    observe(e);
    CHECK(passed == 4);
    auto text = reg.render();
    CHECK(text.find("durable_store_errors_total{operation=\"apply\","
                    "failure=\"unavailable\"} 2\n")
          != std::string::npos);
    CHECK(text.find("\ndurable_leader 1\n") != std::string::npos);
    CHECK(text.find("\ndurable_conflicts_total 1\n") != std::string::npos);
    CHECK(text.find("\ndurable_leases_lost_total 0\n") != std::string::npos);
    e.kind = engine_event::type::leadership;
    e.message = "this node is no longer the maintenance leader";
    observe(e);
    CHECK(reg.render().find("\ndurable_leader 0\n") != std::string::npos);
  }
}

TEST_SUITE("metrics.store") {
  TEST_CASE("the store decorator counts stored and finished executions") {
    metrics::registry reg;
    metrics::metrics_store db{std::make_shared<storage::memory_store>(), reg};
    auto outcomes = db.insert(
      {row("te_1", "task_a"), row("te_2", "task_a"), row("te_3", "task_b")});
    REQUIRE(outcomes.size() == 3);
    CHECK(db.insert({row("te_1", "task_a")}).at(0).result
          != insert_outcome::kind::inserted); // not counted twice
    auto stored = db.get("te_3");
    REQUIRE(stored);
    transition t{*stored, stored->version, {}, false};
    t.next.status = execution_status::cancelled;
    t.next.error = execution_error{.message = "cancelled"};
    auto written = db.apply({t});
    REQUIRE(written.size() == 1);
    REQUIRE(written[0].status == write_status::applied);
    auto text = reg.render();
    CHECK(text.find("durable_executions_enqueued_total{task=\"task_a\"} 2\n")
          != std::string::npos);
    CHECK(text.find("durable_executions_enqueued_total{task=\"task_b\"} 1\n")
          != std::string::npos);
    CHECK(text.find("durable_executions_finished_total{task=\"task_b\","
                    "status=\"cancelled\"} 1\n")
          != std::string::npos);
    CHECK(text.find("durable_store_apply_batch_size_count 1\n")
          != std::string::npos);
    CHECK(text.find("durable_store_apply_duration_seconds_count 1\n")
          != std::string::npos);
  }
}

} // namespace durable::test
