// The routes the console reads beside the executions: the node registry
// (/v1/nodes), tasks (/v1/tasks), finished executions over time
// (/v1/stats/series), and the listing's search filters, through a real
// server on loopback (memory store).
#include <doctest/doctest.h>

#include "durable/node_registry.hpp"
#include "http/test_node.hpp"

using namespace durable::test::http;
using namespace std::chrono_literals;

namespace {

json get(httplib::Client& c, const std::string& path, int status = 200) {
  auto r = c.Get(path.c_str());
  REQUIRE(r);
  CHECK(r->status == status);
  return body_of(r);
}

std::vector<std::string> ids_in(const json& page) {
  std::vector<std::string> out;
  for (const auto& e : page["executions"])
    out.push_back(e["execution_id"].get<std::string>());
  return out;
}

} // namespace

TEST_SUITE("http.cluster") {
  TEST_CASE("nodes lists the registry with free slots and this node") {
    test_node node;
    auto& db = *node.exec().storage();
    durable::node_report r;
    r.node.incarnation = node.exec().incarnation();
    r.node.name = "here";
    r.node.version = "9.9.9";
    r.node.started_at = db.now() - 1min;
    r.node.running = 3;
    r.node.slots = 8;
    r.node.leader = true;
    db.report_node(r);
    r.node.incarnation = "de_other";
    r.node.name = "there";
    r.node.leader = false;
    r.node.state = durable::node_state::draining;
    db.report_node(r);
    auto c = node.client();
    auto j = get(c, "/v1/nodes");
    CHECK(j["this_incarnation"] == node.exec().incarnation());
    REQUIRE(j["nodes"].size() == 2);
    const auto& here = j["nodes"][0];
    CHECK(here["name"] == "here");
    CHECK(here["version"] == "9.9.9");
    CHECK(here["running"] == 3);
    CHECK(here["slots"] == 8);
    CHECK(here["free_slots"] == 5);
    CHECK(here["leader"] == true);
    CHECK(here["state"] == "running");
    CHECK(j["nodes"][1]["state"] == "draining");
    CHECK(here["heartbeat_at_us"].get<std::int64_t>()
          <= j["now_us"].get<std::int64_t>());
    CHECK(get(c, "/v1/nodes?x=1", 400)["error"]["message"]
          == "Unknown query parameter x");
  }

  TEST_CASE("tasks lists the registered tasks and the due backlog") {
    test_node node;
    auto c = node.client();
    auto j = get(c, "/v1/tasks");
    std::vector<std::string> registered;
    for (const auto& t : j["tasks"]) {
      CHECK(t["registered"] == true);
      CHECK(t["ready"] == 0);
      CHECK(t["oldest_ready_at_us"].is_null());
      registered.push_back(t["task_id"].get<std::string>());
    }
    CHECK(registered
          == std::vector<std::string>{"approval", "blocker", "echo", "fan_out",
                                      "refuse"});
    // A row of a task no node here runs waits as backlog.
    auto& db = *node.exec().storage();
    durable::task_options o;
    o.id = "elsewhere";
    o.timeout = 10s;
    auto row = durable::make_execution("elsewhere", durable::task_kind::task, o,
                                       "null", db.now() - 5s);
    row.id = "te_elsewhere";
    row.root = {row.task_id, row.id};
    auto stored = db.insert({row});
    REQUIRE(stored.size() == 1);
    REQUIRE(stored[0].result == durable::insert_outcome::kind::inserted);
    CHECK(db.get("te_elsewhere"));
    CHECK(db.ready_backlog().size() == 1);
    j = get(c, "/v1/tasks");
    REQUIRE(j["tasks"].size() == 6);
    const auto& e = j["tasks"][3];
    CHECK(e["task_id"] == "elsewhere");
    CHECK(e["registered"] == false);
    CHECK(e["ready"] == 1);
    CHECK(e["oldest_ready_at_us"] == durable::to_micros(row.start_at));
  }

  TEST_CASE("series sums the reported finishes per step with every status") {
    test_node node;
    auto& db = *node.exec().storage();
    durable::node_report r;
    r.node.incarnation = "de_a";
    r.node.name = "a";
    r.finished = {{durable::execution_status::completed, 7},
                  {durable::execution_status::failed, 2}};
    db.report_node(r);
    r.node.incarnation = "de_b";
    r.finished = {{durable::execution_status::completed, 5}};
    db.report_node(r);
    auto c = node.client();
    auto j = get(c, "/v1/stats/series");
    CHECK(j["step_s"] == 60);
    REQUIRE(j["points"].size() == 60);
    const auto& last = j["points"].back();
    CHECK(last["completed"] == 12);
    CHECK(last["failed"] == 2);
    CHECK(last["timed_out"] == 0);
    CHECK(last["finalize_failed"] == 0);
    CHECK(last["cancelled"] == 0);
    CHECK(j["points"][0]["completed"] == 0);
    CHECK(j["to_us"].get<std::int64_t>() - j["from_us"].get<std::int64_t>()
          == 3'600'000'000);
    // Wider steps hold the same minute.
    auto wide = get(c, "/v1/stats/series?step_s=900");
    CHECK(wide["points"].back()["completed"] == 12);
    CHECK(wide["points"].size() == 60);
    // From a given time: the points from there to now.
    auto since = get(c, "/v1/stats/series?from_us="
                          + std::to_string(durable::to_micros(
                            durable::minute_of(db.now()) - 4min)));
    CHECK(since["points"].size() == 5);
    CHECK(since["points"].back()["completed"] == 12);
    CHECK(get(c, "/v1/stats/series?step_s=90", 400)["error"]["message"]
          == "Query parameter step_s must be a multiple of 60 from 60 to "
             "86400");
    CHECK(get(c, "/v1/stats/series?to_us=9223372036854775807",
              400)["error"]["message"]
          == "Query parameter to_us must be at most 253402300799999999 (the "
             "year 9999)");
    CHECK(get(c, "/v1/stats/series?from_us=0", 400)["error"]["message"]
          == "A series has at most 1440 points: widen step_s or narrow the "
             "range");
    CHECK(get(c,
              "/v1/stats/series?from_us=2000000000000000&to_us="
              "1000000000000000",
              400)["error"]["message"]
          == "Query parameter from_us must be before to_us");
  }

  TEST_CASE("the listing finds by root, key, sleeping id and error text, in "
            "either order") {
    test_node node;
    auto c = node.client();
    auto parent = enqueue(c, "fan_out", 2);
    wait_finished(c, parent);
    auto failed = enqueue(c, "refuse", nullptr);
    wait_finished(c, failed);
    auto keyed = c.Post(
      "/v1/tasks/echo/executions",
      R"({"input": 1, "options": {"idempotency_key": "k-1"}})",
      "application/json");
    REQUIRE(keyed);
    auto keyed_id = body_of(keyed)["execution_id"].get<std::string>();
    auto tree = ids_in(get(c, "/v1/executions?order=oldest&root_id=" + parent));
    REQUIRE(tree.size() == 3);
    CHECK(tree[0] == parent);
    auto newest = ids_in(get(c, "/v1/executions?root_id=" + parent));
    CHECK(newest == std::vector<std::string>(tree.rbegin(), tree.rend()));
    CHECK(ids_in(get(c, "/v1/executions?root_id=te_nothing")).empty());
    CHECK(ids_in(get(c, "/v1/executions?idempotency_key=k-1"))
          == std::vector<std::string>{keyed_id});
    CHECK(ids_in(get(c, "/v1/executions?error=refus"))
          == std::vector<std::string>{failed});
    CHECK(ids_in(get(c, "/v1/executions?error=Refus")).empty());
    CHECK(get(c, "/v1/stats?root_id=" + parent)["total"] == 3);
    CHECK(get(c, "/v1/stats?error=refused")["by_status"]["failed"] == 1);
    auto dry = c.Post("/v1/executions/retry?error=refused&dry_run=true", "",
                      "application/json");
    REQUIRE(dry);
    CHECK(body_of(dry)["execution_ids"] == json::array({failed}));
    CHECK(get(c, "/v1/executions?order=up", 400)["error"]["message"]
          == "Query parameter order must be newest or oldest");
  }
} // TEST_SUITE
