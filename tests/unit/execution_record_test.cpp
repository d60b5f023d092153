#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "durable/execution_record.hpp"
#include "durable/ids.hpp"

namespace durable::test {

namespace {

const timestamp t0 = from_micros(1'700'000'000'000'000);

task_options opts(std::int64_t timeout_ms, std::int64_t sleep_ms = 0) {
  task_options o;
  o.id = "t";
  o.timeout = millis{timeout_ms};
  o.sleep_before_run = millis{sleep_ms};
  return o;
}

execution_record plain(std::string input = "null") {
  return make_execution("t", task_kind::task, opts(1000), std::move(input), t0);
}

} // namespace

TEST_SUITE("core.execution_record") {
  TEST_CASE("a new task execution is ready at now plus sleep_before_run") {
    auto r = make_execution("t", task_kind::task, opts(1000, 250), "1", t0);
    CHECK_EQ(r.status, execution_status::ready);
    CHECK_EQ(r.start_at, t0 + millis{250});
    CHECK_EQ(r.created_at, t0);
    CHECK_EQ(r.updated_at, t0);
    CHECK_FALSE(r.started_at.has_value());
    CHECK_FALSE(r.expires_at.has_value());
    CHECK_FALSE(r.is_finished());
    CHECK_FALSE(r.is_sleeping());
  }

  TEST_CASE("a new execution is its own root with a fresh id") {
    auto r = plain();
    CHECK(is_execution_id(r.id));
    CHECK_EQ(r.root, execution_ref{"t", r.id});
    CHECK_NE(plain().id, r.id);
    CHECK_EQ(r.version, 0);
    CHECK_EQ(r.attempt, 0);
    CHECK_EQ(r.recoveries, 0);
    CHECK_FALSE(r.parent.has_value());
    CHECK_FALSE(r.owner.has_value());
    CHECK_FALSE(r.lease_expires_at.has_value());
    CHECK_FALSE(r.error.has_value());
    CHECK_FALSE(r.watched);
  }

  TEST_CASE("a new execution keeps the given kind and input and options") {
    auto o = opts(5000, 20);
    o.retry.max_attempts = 3;
    o.retry.base_delay = millis{100};
    auto r = make_execution("p", task_kind::parent, o, R"({"a":1})", t0);
    CHECK_EQ(r.task_id, "p");
    CHECK_EQ(r.kind, task_kind::parent);
    CHECK_EQ(r.input, R"({"a":1})");
    CHECK_EQ(r.retry, o.retry);
    CHECK_EQ(r.timeout, millis{5000});
    CHECK_EQ(r.sleep_before_run, millis{20});
  }

  TEST_CASE("a new sleeping execution runs until now plus sleep and timeout") {
    auto r = make_execution("wait", task_kind::sleeping, opts(60'000, 500),
                            "null", t0);
    CHECK(r.is_sleeping());
    CHECK_EQ(r.status, execution_status::running);
    CHECK_EQ(r.started_at, t0);
    CHECK_EQ(r.expires_at, t0 + millis{60'500});
    CHECK_FALSE(r.owner.has_value());
    CHECK_FALSE(r.lease_expires_at.has_value());
  }

  TEST_CASE("to_json writes the identity and state and options of a record") {
    auto r = plain();
    r.status = execution_status::waiting_for_children;
    r.version = 7;
    r.attempt = 2;
    r.recoveries = 1;
    nlohmann::json j = r;
    CHECK_EQ(j.at("execution_id"), r.id);
    CHECK_EQ(j.at("task_id"), "t");
    CHECK_EQ(j.at("kind"), "task");
    CHECK_EQ(j.at("root"),
             nlohmann::json{{"task_id", "t"}, {"execution_id", r.id}});
    CHECK_EQ(j.at("status"), "waiting_for_children");
    CHECK_EQ(j.at("version"), 7);
    CHECK_EQ(j.at("attempt"), 2);
    CHECK_EQ(j.at("recoveries"), 1);
    CHECK_EQ(j.at("timeout_ms"), 1000);
    CHECK_EQ(j.at("retry"), nlohmann::json(r.retry));
    CHECK_EQ(j.at("start_at_us"), to_micros(t0));
    CHECK_EQ(j.at("children"), nlohmann::json::array());
  }

  TEST_CASE("to_json embeds payloads that are JSON as parsed values") {
    auto r = plain(R"({"n":[1,2,3]})");
    r.output = "42";
    r.run_output = R"("done")";
    nlohmann::json j = r;
    CHECK_EQ(j.at("input"), nlohmann::json{{"n", {1, 2, 3}}});
    CHECK_EQ(j.at("output"), 42);
    CHECK_EQ(j.at("run_output"), "done");
  }

  TEST_CASE("to_json keeps payloads that are not JSON as strings") {
    auto r = plain("hello world");
    r.output = "{broken";
    nlohmann::json j = r;
    CHECK_EQ(j.at("input"), "hello world");
    CHECK_EQ(j.at("output"), "{broken");
    CHECK_EQ(nlohmann::json(plain("")).at("input"), "");
    CHECK_EQ(nlohmann::json(plain("1 2")).at("input"), "1 2");
  }

  TEST_CASE("to_json omits optional fields that are empty") {
    nlohmann::json j = plain();
    for (const char* key :
         {"parent", "sleeping_id", "idempotency_key", "output", "run_output",
          "error", "owner", "finalize", "lease_expires_at_us", "started_at_us",
          "expires_at_us", "waiting_for_children_started_at_us",
          "waiting_for_finalize_started_at_us", "finished_at_us",
          "closed_at_us"}) {
      CAPTURE(key);
      CHECK_FALSE(j.contains(key));
    }
  }

  TEST_CASE("to_json writes optional fields that are set") {
    auto r = plain();
    r.parent = parent_link{"p", "te_parent", 3, false, true};
    r.sleeping_id = "s1";
    r.idempotency_key = "k1";
    r.error = cancelled_error();
    r.owner = "de_owner";
    r.finalize = execution_ref{"f", "te_final"};
    r.lease_expires_at = t0 + millis{1};
    r.started_at = t0 + millis{2};
    r.expires_at = t0 + millis{3};
    r.waiting_for_children_started_at = t0 + millis{4};
    r.waiting_for_finalize_started_at = t0 + millis{5};
    r.finished_at = t0 + millis{6};
    r.closed_at = t0 + millis{7};
    r.children = {{"c", "te_c1"}, {"c", "te_c2"}};
    nlohmann::json j = r;
    CHECK_EQ(j.at("parent").get<parent_link>(), *r.parent);
    CHECK_EQ(j.at("sleeping_id"), "s1");
    CHECK_EQ(j.at("idempotency_key"), "k1");
    CHECK_EQ(j.at("error").get<execution_error>(), cancelled_error());
    CHECK_EQ(j.at("owner"), "de_owner");
    CHECK_EQ(j.at("finalize").get<execution_ref>(), *r.finalize);
    auto us = to_micros(t0);
    CHECK_EQ(j.at("lease_expires_at_us"), us + 1000);
    CHECK_EQ(j.at("started_at_us"), us + 2000);
    CHECK_EQ(j.at("expires_at_us"), us + 3000);
    CHECK_EQ(j.at("waiting_for_children_started_at_us"), us + 4000);
    CHECK_EQ(j.at("waiting_for_finalize_started_at_us"), us + 5000);
    CHECK_EQ(j.at("finished_at_us"), us + 6000);
    CHECK_EQ(j.at("closed_at_us"), us + 7000);
    CHECK_EQ(j.at("children").get<std::vector<execution_ref>>(), r.children);
  }

  TEST_CASE("to_json includes the step and the store-managed watched flag") {
    auto r = plain();
    r.step = 4;
    r.watched = true;
    nlohmann::json j = r;
    CHECK_EQ(j.at("step"), 4);
    CHECK_EQ(j.at("watched"), true);
  }

  TEST_CASE("parent_link JSON round-trips and defaults its flags") {
    parent_link p{"seq", "te_x", 2, true, false};
    CHECK_EQ(nlohmann::json(p).get<parent_link>(), p);
    auto minimal = nlohmann::json{{"task_id", "seq"}, {"execution_id", "te_x"}}
                     .get<parent_link>();
    CHECK_EQ(minimal, parent_link{"seq", "te_x", 0, false, false});
    CHECK_THROWS(nlohmann::json{{"task_id", "seq"}}.get<parent_link>());
  }

  TEST_CASE("execution_ref JSON round-trips and requires both ids") {
    execution_ref ref{"t", "te_y"};
    CHECK_EQ(nlohmann::json(ref).get<execution_ref>(), ref);
    CHECK_THROWS(nlohmann::json{{"execution_id", "te_y"}}.get<execution_ref>());
  }

  TEST_CASE("every task kind has a name") {
    CHECK_EQ(to_string(task_kind::task), "task");
    CHECK_EQ(to_string(task_kind::parent), "parent");
    CHECK_EQ(to_string(task_kind::sequence), "sequence");
    CHECK_EQ(to_string(task_kind::loop), "loop");
    CHECK_EQ(to_string(task_kind::sleeping), "sleeping");
    CHECK_EQ(to_string(static_cast<task_kind>(5)), "unknown");
  }

} // TEST_SUITE

} // namespace durable::test
