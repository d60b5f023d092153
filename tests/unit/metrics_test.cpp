#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "durable/execution_record.hpp"
#include "durable/metrics/backlog_metrics.hpp"
#include "durable/metrics/engine_metrics.hpp"
#include "durable/metrics/metrics_store.hpp"
#include "durable/metrics/registry.hpp"
#include "durable/observer.hpp"
#include "durable/options.hpp"
#include "durable/storage/memory_store.hpp"
#include "durable/store_rules.hpp"
#include "durable/transitions.hpp"

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

bool has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

claim_request claim_of(std::vector<std::string> tasks) {
  claim_request req;
  req.owner = "node_1";
  req.lease = 30s;
  req.limit = 10;
  req.task_ids = std::move(tasks);
  return req;
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

  TEST_CASE("a gauge family callback renders its samples sorted at each "
            "render") {
    metrics::registry reg;
    std::vector<metrics::gauge_sample> samples{
      {{"b"}, 2}, {{"a"}, 1.5}, {{"too", "many"}, 9}};
    reg.add_gauge_family_callback("durable_test_backlog", "Backlog", {"task"},
                                  [&] { return samples; });
    CHECK(reg.render()
          == "# HELP durable_test_backlog Backlog\n"
             "# TYPE durable_test_backlog gauge\n"
             "durable_test_backlog{task=\"a\"} 1.5\n"
             "durable_test_backlog{task=\"b\"} 2\n");
    samples.clear(); // series that vanish are not rendered
    CHECK(reg.render()
          == "# HELP durable_test_backlog Backlog\n"
             "# TYPE durable_test_backlog gauge\n");
    CHECK_THROWS_AS(reg.add_gauge_family_callback(
                      "durable_test_backlog", "x", {"task"},
                      [] { return std::vector<metrics::gauge_sample>{}; }),
                    std::invalid_argument);
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
    e.leading = true;
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
    e.leading = false;
    observe(e);
    CHECK(reg.render().find("\ndurable_leader 0\n") != std::string::npos);
  }
}

TEST_SUITE("metrics.backlog") {
  TEST_CASE("the leader measures the due ready backlog per task at most "
            "once per max_age") {
    auto now = system_now();
    auto inner = std::make_shared<storage::memory_store>(
      [&now] { return now; });
    auto steady = std::chrono::steady_clock::time_point{};
    bool leader = false;
    metrics::registry reg;
    metrics::backlog_metrics backlog{reg, inner, [&leader] { return leader; },
                                     15s, [&steady] { return steady; }};
    auto a1 = row("te_1", "task_a");
    a1.start_at = now - 5s;
    auto a2 = row("te_2", "task_a");
    a2.start_at = now;
    auto later = row("te_3", "task_b");
    later.start_at = now + 1h; // not due: no backlog
    inner->insert({a1, a2, later});
    CHECK(reg.render().find("task=") == std::string::npos); // not leading
    leader = true;
    auto text = reg.render();
    CHECK(has(text, "durable_ready_executions{task=\"task_a\"} 2"));
    CHECK(has(text, "durable_oldest_ready_age_seconds{task=\"task_a\"} 5"));
    CHECK(text.find("task_b") == std::string::npos);
    // Within max_age the measurement stands.
    auto a3 = row("te_4", "task_a");
    a3.start_at = now - 1s;
    inner->insert({a3});
    steady += 14s;
    CHECK(has(reg.render(), "durable_ready_executions{task=\"task_a\"} 2"));
    steady += 1s;
    now += 2s;
    text = reg.render();
    CHECK(has(text, "durable_ready_executions{task=\"task_a\"} 3"));
    CHECK(has(text, "durable_oldest_ready_age_seconds{task=\"task_a\"} 7"));
    // Leadership lost: the series go, so that nodes never double count.
    leader = false;
    CHECK(reg.render().find("task=") == std::string::npos);
  }

  TEST_CASE("a failing backlog query renders no series until the next "
            "measurement") {
    struct failing_store final : forwarding_store {
      using forwarding_store::forwarding_store;
      int calls = 0;
      bool fail = true;
      std::vector<ready_backlog_entry> ready_backlog() override {
        ++calls;
        if (fail)
          throw store_error(store_failure::unavailable, "down");
        return forwarding_store::ready_backlog();
      }
    };
    auto db = std::make_shared<failing_store>(
      std::make_shared<storage::memory_store>());
    db->insert({row("te_1", "task_a")});
    auto steady = std::chrono::steady_clock::time_point{};
    metrics::registry reg;
    metrics::backlog_metrics backlog{reg, db, [] { return true; }, 15s,
                                     [&steady] { return steady; }};
    CHECK(reg.render().find("task=") == std::string::npos);
    CHECK(reg.render().find("task=") == std::string::npos);
    CHECK(db->calls == 1); // not asked again at every render
    db->fail = false;
    steady += 15s;
    CHECK(has(reg.render(), "durable_ready_executions{task=\"task_a\"} 1"));
    CHECK(db->calls == 2);
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

  TEST_CASE("claims and rows stored claimed count as started; sleepers do "
            "not") {
    metrics::registry reg;
    auto inner = std::make_shared<storage::memory_store>();
    metrics::metrics_store db{inner, reg};
    db.insert({row("te_1", "task_a"), row("te_2", "task_a")});
    // Stored claimed (claim_on_insert): running with an owner.
    auto claimed = row("te_3", "task_b");
    store_rules::claim(claimed, db.now(), "node_1", 30s);
    // A sleeper is stored running too, but without body or owner.
    task_options sleep_opts;
    sleep_opts.id = "task_s";
    sleep_opts.timeout = 10s;
    auto sleeper = make_execution("task_s", task_kind::sleeping, sleep_opts,
                                  "null", system_now());
    sleeper.id = "te_4";
    sleeper.root = {sleeper.task_id, sleeper.id};
    sleeper.sleeping_id = "s_1";
    REQUIRE(sleeper.status == execution_status::running);
    db.insert({claimed, sleeper});
    CHECK(
      has(reg.render(), "durable_executions_started_total{task=\"task_b\"} 1"));
    auto got = db.claim(claim_of({"task_a"}));
    CHECK(got.claimed.size() == 2);
    auto text = reg.render();
    CHECK(has(text, "durable_executions_started_total{task=\"task_a\"} 2"));
    CHECK(has(text, "durable_executions_started_total{task=\"task_s\"} 0"));
    CHECK(has(text, "durable_store_claim_duration_seconds_count 1"));
    CHECK(has(text, "durable_store_insert_duration_seconds_count 2"));
    // Nothing left to claim: a claim is timed, nothing more started.
    CHECK(db.claim(claim_of({"task_a"})).claimed.empty());
    text = reg.render();
    CHECK(has(text, "durable_executions_started_total{task=\"task_a\"} 2"));
    CHECK(has(text, "durable_store_claim_duration_seconds_count 2"));
  }

  TEST_CASE("a child stored claimed counts as enqueued and started") {
    metrics::registry reg;
    metrics::metrics_store db{std::make_shared<storage::memory_store>(), reg};
    db.insert({row("te_1", "task_p")});
    auto parent = db.claim(claim_of({"task_p"})).claimed.at(0);
    auto child = row("te_2", "task_c");
    child.parent = parent_link{parent.task_id, parent.id, 0, true, false};
    child.root = parent.root;
    store_rules::claim(child, db.now(), "node_1", 30s);
    auto ready_child = row("te_3", "task_c");
    ready_child.parent = parent_link{parent.task_id, parent.id, 1, false,
                                     false};
    ready_child.root = parent.root;
    auto t = transitions::wait_for_children(parent, std::nullopt,
                                            {child, ready_child}, db.now());
    REQUIRE(db.apply({t}).at(0).status == write_status::applied);
    auto text = reg.render();
    CHECK(has(text, "durable_executions_enqueued_total{task=\"task_c\"} 2"));
    CHECK(has(text, "durable_executions_started_total{task=\"task_c\"} 1"));
  }

  TEST_CASE("a failed attempt put back to ready counts a retry, a last "
            "timed-out attempt finishes timed_out") {
    metrics::registry reg;
    metrics::metrics_store db{std::make_shared<storage::memory_store>(), reg};
    auto r = row("te_1", "task_a");
    r.retry.max_attempts = 1;
    db.insert({r});
    auto run = db.claim(claim_of({"task_a"})).claimed.at(0);
    auto out = db.apply(
      {transitions::fail_run(run, timed_out_error(), db.now(), 0ms)});
    REQUIRE(out.at(0).status == write_status::applied);
    REQUIRE(out.at(0).current->status == execution_status::ready);
    auto text = reg.render();
    CHECK(has(text, "durable_execution_retries_total{task=\"task_a\"} 1"));
    CHECK(text.find("durable_executions_finished_total{") == std::string::npos);
    run = db.claim(claim_of({"task_a"})).claimed.at(0);
    out = db.apply(
      {transitions::fail_run(run, timed_out_error(), db.now(), 0ms)});
    REQUIRE(out.at(0).current->status == execution_status::timed_out);
    text = reg.render();
    CHECK(has(text, "durable_execution_retries_total{task=\"task_a\"} 1"));
    CHECK(has(text, "durable_executions_finished_total{task=\"task_a\","
                    "status=\"timed_out\"} 1"));
    CHECK(has(text, "durable_executions_started_total{task=\"task_a\"} 2"));
  }

  TEST_CASE("a hand-back counts a recovery; a conflicting one does not") {
    metrics::registry reg;
    metrics::metrics_store db{std::make_shared<storage::memory_store>(), reg};
    db.insert({row("te_1", "task_a")});
    auto run = db.claim(claim_of({"task_a"})).claimed.at(0);
    auto stale = transitions::hand_back(run, db.now());
    stale.expected_version += 7;
    REQUIRE(db.apply({stale}).at(0).status == write_status::conflict);
    CHECK(has(reg.render(),
              "durable_execution_recoveries_total{task=\"task_a\"} 0"));
    REQUIRE(db.apply({transitions::hand_back(run, db.now())}).at(0).status
            == write_status::applied);
    CHECK(has(reg.render(),
              "durable_execution_recoveries_total{task=\"task_a\"} 1"));
    // Taken again, the body runs again: a start, not another recovery.
    CHECK(db.claim(claim_of({"task_a"})).claimed.size() == 1);
    auto text = reg.render();
    CHECK(has(text, "durable_execution_recoveries_total{task=\"task_a\"} 1"));
    CHECK(has(text, "durable_executions_started_total{task=\"task_a\"} 2"));
  }

  TEST_CASE("a claim that takes rows over from expired leases counts a "
            "recovery for each row's task") {
    metrics::registry reg;
    // Ahead of the rows' start times, so that every row is due.
    auto now = std::make_shared<timestamp>(system_now() + 1min);
    metrics::metrics_store db{
      std::make_shared<storage::memory_store>([now] { return *now; }), reg};
    db.insert(
      {row("te_1", "task_a"), row("te_2", "task_a"), row("te_3", "task_b")});
    auto lost_node = claim_of({"task_a", "task_b"});
    lost_node.owner = "node_0";
    lost_node.lease = 1s;
    auto first = db.claim(lost_node);
    REQUIRE(first.claimed.size() == 3);
    CHECK(first.taken_over.empty());
    auto text = reg.render();
    CHECK(has(text, "durable_execution_recoveries_total{task=\"task_a\"} 0"));
    CHECK(has(text, "durable_execution_recoveries_total{task=\"task_b\"} 0"));
    // node_0 stops renewing; a ready row is claimed with the taken ones.
    db.insert({row("te_4", "task_b")});
    *now += 2s;
    auto got = db.claim(claim_of({"task_a", "task_b"}));
    REQUIRE(got.claimed.size() == 4);
    CHECK(got.taken_over.size() == 3);
    text = reg.render();
    CHECK(has(text, "durable_execution_recoveries_total{task=\"task_a\"} 2"));
    CHECK(has(text, "durable_execution_recoveries_total{task=\"task_b\"} 1"));
    CHECK(has(text, "durable_executions_started_total{task=\"task_a\"} 4"));
    CHECK(has(text, "durable_executions_started_total{task=\"task_b\"} 3"));
  }

  TEST_CASE("announcements from other processes and resyncs are counted as "
            "they reach the listener") {
    // Keeps the listener, so that the test delivers what a store would.
    struct held_listener final : forwarding_store {
      using forwarding_store::forwarding_store;
      store_listener listener;
      std::uint64_t subscribe(store_listener l) override {
        listener = std::move(l);
        return 1;
      }
    };
    auto inner = std::make_shared<held_listener>(
      std::make_shared<storage::memory_store>());
    metrics::registry reg;
    metrics::metrics_store db{inner, reg};
    std::vector<store_event> heard;
    db.subscribe([&heard](std::vector<store_event> events) {
      heard.insert(heard.end(), events.begin(), events.end());
    });
    REQUIRE(inner->listener);
    using t = store_event::type;
    auto event = [](t kind, bool other) {
      store_event e;
      e.kind = kind;
      e.from_other_process = other;
      return e;
    };
    // This store's own commit: not an announcement received.
    inner->listener({event(t::work_ready, false), event(t::finished, false)});
    // Two NOTIFYs of other nodes, the second one too big to list.
    inner->listener({event(t::work_ready, true), event(t::finished, true)});
    inner->listener({event(t::resync, true)});
    // The listener's own link broke.
    inner->listener({event(t::resync, false)});
    CHECK(heard.size() == 6);
    auto text = reg.render();
    CHECK(has(text, "durable_notifications_received_total 2"));
    CHECK(has(text, "durable_resyncs_total 2"));
  }

  TEST_CASE("successful lease renewals are counted") {
    metrics::registry reg;
    metrics::metrics_store db{std::make_shared<storage::memory_store>(), reg};
    CHECK(has(reg.render(), "durable_lease_renewals_total 0"));
    db.renew_leases("node_1", 30s);
    db.renew_leases("node_1", 30s);
    CHECK(has(reg.render(), "durable_lease_renewals_total 2"));
  }
}

} // namespace durable::test
