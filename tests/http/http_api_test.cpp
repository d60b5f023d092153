#include <future>
#include <set>
#include <thread>

#include <doctest/doctest.h>

#include "durable/nodes/http/api_error.hpp"
#include "durable/nodes/http/auth.hpp"
#include "durable/storage/sqlite_store.hpp"
#include "http/test_node.hpp"
#include "support/temp_dir.hpp"

using namespace durable::test::http;
namespace dh = durable::nodes::http;

namespace {

/// Long-polls `id` for up to 30 s on a thread of its own; the future holds
/// the result (a failed one if the request never reached the node).
std::future<httplib::Result> start_wait(const test_node& node,
                                        const std::string& id) {
  return std::async(std::launch::async, [&node, id] {
    auto wc = node.client();
    return wc.Get(("/v1/executions/" + id + "/wait?timeout_ms=30000").c_str());
  });
}

} // namespace

TEST_SUITE("http.api") {
  TEST_CASE("enqueue and wait return the finished execution with its output") {
    test_node node;
    auto c = node.client();
    auto id = enqueue(c, "echo", json{{"hello", "world"}, {"n", 42}});
    auto done = wait_finished(c, id);
    CHECK(done["execution_id"] == id);
    CHECK(done["task_id"] == "echo");
    CHECK(done["status"] == "completed");
    CHECK(done["output"] == json{{"hello", "world"}, {"n", 42}});
    CHECK(done["input"] == json{{"hello", "world"}, {"n", 42}});
    auto again = c.Get(("/v1/executions/" + id).c_str());
    REQUIRE(again);
    CHECK(again->status == 200);
    CHECK(body_of(again)["output"]["n"] == 42);
  }

  TEST_CASE("a failed execution carries its error") {
    test_node node;
    auto c = node.client();
    auto done = wait_finished(c, enqueue(c, "refuse", nullptr));
    CHECK(done["status"] == "failed");
    CHECK(done["error"]["message"] == "refused");
    CHECK(done["error"]["retryable"] == false);
  }

  TEST_CASE("get shows a parent with a summary of its children") {
    test_node node;
    auto c = node.client();
    auto id = enqueue(c, "fan_out", 3);
    auto done = wait_finished(c, id);
    CHECK(done["status"] == "completed");
    auto r = c.Get(("/v1/executions/" + id).c_str());
    auto j = body_of(r);
    CHECK(j["children_summary"]["total"] == 3);
    CHECK(j["children_summary"]["by_status"]["completed"] == 3);
    auto leaf = body_of(c.Get(
      ("/v1/executions/" + j["children"][0]["execution_id"].get<std::string>())
        .c_str()));
    CHECK(leaf["children_summary"]["total"] == 0);
    CHECK(leaf["parent"]["execution_id"] == id);
  }

  TEST_CASE("a retried enqueue with the same idempotency key never creates a "
            "second execution") {
    test_node node;
    auto c = node.client();
    auto first = enqueue(c, "echo", 1, {{"idempotency_key", "order-7"}});
    auto second = enqueue(c, "echo", 2, {{"idempotency_key", "order-7"}});
    CHECK(first == second);
    httplib::Headers h{{"Idempotency-Key", "order-7"}};
    auto third = c.Post("/v1/tasks/echo/executions", h,
                        json{{"input", 3}}.dump(), "application/json");
    REQUIRE(third);
    CHECK(third->status == 202);
    CHECK(body_of(third)["execution_id"] == first);
    auto other = enqueue(c, "echo", 4, {{"idempotency_key", "order-8"}});
    CHECK(other != first);
    auto list = body_of(c.Get("/v1/executions?task_id=echo"));
    CHECK(list["executions"].size() == 2);
    CHECK(wait_finished(c, first)["output"] == 1);
    // A header and a body key that differ are refused.
    auto clash = c.Post(
      "/v1/tasks/echo/executions", h,
      json{{"input", 3}, {"options", {{"idempotency_key", "other"}}}}.dump(),
      "application/json");
    expect_error(clash, 400, "bad_request");
  }

  TEST_CASE("a traceparent header or option is stored and shown, and a "
            "malformed "
            "or conflicting one is refused") {
    test_node node;
    auto c = node.client();
    const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-"
                           "00f067aa0ba902b7-01";
    auto post = [&c](const httplib::Headers& h, const json& body) {
      return c.Post("/v1/tasks/echo/executions", h, body.dump(),
                    "application/json");
    };
    auto by_header = post({{"traceparent", tp}}, {{"input", 1}});
    REQUIRE(by_header);
    REQUIRE(by_header->status == 202);
    auto id = body_of(by_header)["execution_id"].get<std::string>();
    CHECK(wait_finished(c, id)["traceparent"] == tp);

    auto by_option = enqueue(c, "echo", 2, {{"traceparent", tp}});
    CHECK(wait_finished(c, by_option)["traceparent"] == tp);
    // Both, equal: accepted.
    auto both = post({{"traceparent", tp}},
                     {{"input", 3}, {"options", {{"traceparent", tp}}}});
    REQUIRE(both);
    CHECK(both->status == 202);

    auto batch = c.Post("/v1/tasks/echo/executions/batch",
                        {{"traceparent", tp}}, json{{"inputs", {4, 5}}}.dump(),
                        "application/json");
    REQUIRE(batch);
    REQUIRE(batch->status == 202);
    const auto batch_ids = body_of(batch)["execution_ids"];
    for (const auto& e : batch_ids)
      CHECK(wait_finished(c, e.get<std::string>())["traceparent"] == tp);

    auto untraced = enqueue(c, "echo", 6);
    CHECK_FALSE(wait_finished(c, untraced).contains("traceparent"));

    const auto before = body_of(c.Get("/v1/executions?task_id=echo"));
    auto upper = tp;
    upper[5] = 'F';
    CHECK(expect_error(post({{"traceparent", upper}}, {{"input", 7}}), 400,
                       "bad_request")
            .starts_with("Invalid traceparent: the trace id"));
    auto other = tp;
    other[40] = 'a';
    expect_error(post({{"traceparent", tp}},
                      {{"input", 8}, {"options", {{"traceparent", other}}}}),
                 400, "bad_request");
    expect_error(post({{"traceparent", tp}, {"traceparent", tp}},
                      {{"input", 9}}),
                 400, "bad_request");
    // Nothing refused was stored.
    CHECK(body_of(c.Get("/v1/executions?task_id=echo"))["executions"].size()
          == before["executions"].size());
  }

  TEST_CASE("per-call options override the task's options") {
    test_node node;
    auto c = node.client();
    auto id = enqueue(c, "echo", 5,
                      {{"timeout_ms", 1234},
                       {"retry",
                        {{"max_attempts", 2},
                         {"base_delay_ms", 10},
                         {"multiplier", 2.0},
                         {"jitter", "none"}}}});
    auto done = wait_finished(c, id);
    CHECK(done["timeout_ms"] == 1234);
    CHECK(done["retry"]["max_attempts"] == 2);
    CHECK(done["retry"]["base_delay_ms"] == 10);
    auto later = enqueue(c, "echo", 6, {{"sleep_before_run_ms", 60000}});
    auto row = body_of(c.Get(("/v1/executions/" + later).c_str()));
    CHECK(row["status"] == "ready");
    CHECK(row["start_at_us"].get<std::int64_t>()
          >= row["created_at_us"].get<std::int64_t>() + 60'000'000);
  }

  TEST_CASE("wait answers 202 with the current state at its deadline") {
    test_node node;
    auto c = node.client();
    auto id = enqueue(c, "blocker", nullptr);
    auto r = c.Get(("/v1/executions/" + id + "/wait?timeout_ms=50").c_str());
    REQUIRE(r);
    CHECK(r->status == 202);
    auto j = body_of(r);
    CHECK(j["execution_id"] == id);
    CHECK((j["status"] == "ready" || j["status"] == "running"));
    auto zero = c.Get(("/v1/executions/" + id + "/wait?timeout_ms=0").c_str());
    REQUIRE(zero);
    CHECK(zero->status == 202);
    auto cancelled = body_of(
      post_json(c, "/v1/executions/" + id + "/cancel", json::object()));
    CHECK(cancelled["status"] == "cancelled");
    CHECK(wait_finished(c, id)["status"] == "cancelled");
  }

  TEST_CASE("wait returns as soon as the execution finishes") {
    test_node node;
    auto c = node.client();
    auto id = enqueue(c, "blocker", nullptr);
    auto waiter = start_wait(node, id);
    // Cancel only once the waiter has had a chance to start waiting; either
    // order must end in a 200 with the cancelled execution.
    std::this_thread::sleep_for(20ms);
    auto cancelled = post_json(c, "/v1/executions/" + id + "/cancel",
                               json::object());
    REQUIRE(cancelled);
    CHECK(cancelled->status == 200);
    auto r = waiter.get();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body)["status"] == "cancelled");
  }

  TEST_CASE("cancel is a no-op on a finished execution") {
    test_node node;
    auto c = node.client();
    auto id = enqueue(c, "echo", 9);
    wait_finished(c, id);
    auto j = body_of(
      post_json(c, "/v1/executions/" + id + "/cancel", json::object()));
    CHECK(j["status"] == "completed");
    CHECK(j["output"] == 9);
  }

  TEST_CASE("wake completes or fails a sleeping execution") {
    test_node node;
    auto c = node.client();
    auto ok = enqueue(c, "approval", "order-1");
    auto bad = enqueue(c, "approval", "order-2");
    auto woken = body_of(post_json(c, "/v1/tasks/approval/wake",
                                   {{"sleeping_id", "order-1"},
                                    {"output", {{"approved", true}}}}));
    CHECK(woken["execution_id"] == ok);
    CHECK(woken["status"] == "completed");
    CHECK(woken["output"] == json{{"approved", true}});
    auto failed = body_of(post_json(c, "/v1/tasks/approval/wake",
                                    {{"sleeping_id", "order-2"},
                                     {"error", "rejected by a human"}}));
    CHECK(failed["execution_id"] == bad);
    CHECK(failed["status"] == "failed");
    CHECK(failed["error"]["message"] == "rejected by a human");
    // Waking a finished execution returns it unchanged.
    auto again = body_of(
      post_json(c, "/v1/tasks/approval/wake",
                {{"sleeping_id", "order-1"}, {"output", 2}}));
    CHECK(again["output"] == json{{"approved", true}});
    expect_error(post_json(c, "/v1/tasks/approval/wake",
                           {{"sleeping_id", "order-unknown"}, {"output", 1}}),
                 404, "not_found");
    expect_error(post_json(c, "/v1/tasks/echo/wake",
                           {{"sleeping_id", "order-1"}, {"output", 1}}),
                 400, "bad_request");
    expect_error(post_json(c, "/v1/tasks/nope/wake",
                           {{"sleeping_id", "order-1"}, {"output", 1}}),
                 404, "not_found");
    expect_error(
      post_json(c, "/v1/tasks/approval/wake",
                {{"sleeping_id", "order-3"}, {"output", 1}, {"error", "x"}}),
      400, "bad_request");
    expect_error(post_json(c, "/v1/tasks/approval/wake", {{"output", 1}}), 400,
                 "bad_request");
    expect_error(post_json(c, "/v1/tasks/approval/wake",
                           {{"sleeping_id", 7}, {"output", 1}}),
                 400, "bad_request");
  }

  TEST_CASE("list filters and pages newest first") {
    test_node node;
    auto c = node.client();
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i)
      ids.push_back(enqueue(c, "echo", i));
    for (const auto& id : ids)
      wait_finished(c, id);
    auto refused = enqueue(c, "refuse", nullptr);
    wait_finished(c, refused);
    std::vector<std::string> seen;
    std::string path = "/v1/executions?task_id=echo&limit=2";
    for (int page = 0; page < 10; ++page) {
      auto j = body_of(c.Get(path.c_str()));
      CHECK(j["executions"].size() <= 2);
      for (const auto& e : j["executions"]) {
        seen.push_back(e["execution_id"]);
        CHECK_FALSE(e.contains("input"));
        CHECK(e["status"] == "completed");
      }
      if (j["next_cursor"].is_null())
        break;
      path = "/v1/executions?task_id=echo&limit=2&cursor="
             + j["next_cursor"].get<std::string>();
    }
    CHECK(std::set<std::string>(seen.begin(), seen.end())
          == std::set<std::string>(ids.begin(), ids.end()));
    CHECK(seen.size() == 5);
    auto failed = body_of(c.Get("/v1/executions?status=failed,timed_out"));
    REQUIRE(failed["executions"].size() == 1);
    CHECK(failed["executions"][0]["execution_id"] == refused);
    CHECK(failed["next_cursor"].is_null());
    auto newest = body_of(c.Get("/v1/executions?limit=1"));
    CHECK(newest["executions"][0]["execution_id"] == refused);
    expect_error(c.Get("/v1/executions?status=bogus"), 400, "bad_request");
    expect_error(c.Get("/v1/executions?limit=0"), 400, "bad_request");
    expect_error(c.Get("/v1/executions?limit=x"), 400, "bad_request");
    expect_error(c.Get("/v1/executions?cursor=forged"), 400, "bad_request");
    expect_error(c.Get("/v1/executions?colour=red"), 400, "bad_request");
    auto none = body_of(c.Get("/v1/executions?created_before_us=1"));
    CHECK(none["executions"].empty());
  }

  TEST_CASE("tree shows a parent with its children and honours its bounds") {
    test_node node;
    auto c = node.client();
    auto id = enqueue(c, "fan_out", 4);
    wait_finished(c, id);
    auto t = body_of(c.Get(("/v1/executions/" + id + "/tree").c_str()));
    CHECK(t["nodes"] == 5);
    CHECK(t["root"]["execution_id"] == id);
    REQUIRE(t["root"]["children"].size() == 4);
    CHECK(t["root"]["children"][2]["parent"]["index"] == 2);
    CHECK_FALSE(t["root"].contains("truncated"));
    auto small = body_of(
      c.Get(("/v1/executions/" + id + "/tree?max_nodes=2").c_str()));
    CHECK(small["nodes"] == 2);
    CHECK(small["root"]["truncated"] == true);
    auto shallow = body_of(
      c.Get(("/v1/executions/" + id + "/tree?max_depth=0").c_str()));
    CHECK(shallow["root"]["children"].empty());
    CHECK(shallow["root"]["truncated"] == true);
    expect_error(c.Get("/v1/executions/te_missing/tree"), 404, "not_found");
  }

  TEST_CASE("stats counts executions by status") {
    test_node node;
    auto c = node.client();
    wait_finished(c, enqueue(c, "echo", 1));
    wait_finished(c, enqueue(c, "echo", 2));
    wait_finished(c, enqueue(c, "refuse", 3));
    auto s = body_of(c.Get("/v1/stats"));
    CHECK(s["total"] == 3);
    CHECK(s["by_status"]["completed"] == 2);
    CHECK(s["by_status"]["failed"] == 1);
    auto echo = body_of(c.Get("/v1/stats?task_id=echo"));
    CHECK(echo["total"] == 2);
    CHECK_FALSE(echo["by_status"].contains("failed"));
  }

  TEST_CASE("unknown tasks and executions are 404 with a JSON error") {
    test_node node;
    auto c = node.client();
    auto m = expect_error(post_json(c, "/v1/tasks/no_such_task/executions",
                                    {{"input", 1}}),
                          404, "not_found");
    CHECK(m.find("no_such_task") != std::string::npos);
    for (const char* path :
         {"/v1/executions/te_missing", "/v1/executions/te_missing/wait"})
      CHECK(expect_error(c.Get(path), 404, "not_found").find("te_missing")
            != std::string::npos);
    expect_error(post_json(c, "/v1/executions/te_missing/cancel",
                           json::object()),
                 404, "not_found");
  }

  TEST_CASE("invalid options and inputs are 400 naming the problem") {
    dh::server_options opts;
    opts.max_body_bytes = 4 * 1024 * 1024;
    test_node node{opts};
    auto c = node.client();
    auto path = "/v1/tasks/echo/executions";
    auto m = expect_error(
      post_json(c, path, {{"input", 1}, {"options", {{"timeout_ms", -5}}}}),
      400, "bad_request");
    CHECK(m.find("timeout") != std::string::npos);
    m = expect_error(
      post_json(c, path, {{"input", 1}, {"options", {{"timeout_ms", "soon"}}}}),
      400, "bad_request");
    CHECK(m.find("options.timeout_ms") != std::string::npos);
    m = expect_error(
      post_json(c, path,
                {{"input", 1},
                 {"options", {{"retry", {{"max_attempts", 5000}}}}}}),
      400, "bad_request");
    CHECK(m.find("retry") != std::string::npos);
    m = expect_error(
      post_json(c, path,
                {{"input", 1}, {"options", {{"retry", {{"jitter", "full"}}}}}}),
      400, "bad_request");
    CHECK(m.find("max_attempts") != std::string::npos);
    m = expect_error(post_json(c, path, {{"input", 1}, {"optoins", {}}}), 400,
                     "bad_request");
    CHECK(m.find("optoins") != std::string::npos);
    m = expect_error(post_json(c, path, {{"input", 1}, {"options", 3}}), 400,
                     "bad_request");
    expect_error(c.Post(path, "[1, 2]", "application/json"), 400,
                 "bad_request");
    m = expect_error(c.Post(path, "{\"input\": ", "application/json"), 400,
                     "invalid_json");
    CHECK(m.find("Malformed JSON") != std::string::npos);
    expect_error(c.Post(path, "{\"input\": 1} trailing", "application/json"),
                 400, "invalid_json");
    // Input over the executor's 1 MiB cap but under the body cap.
    json big{{"input", std::string(1024 * 1024 + 10, 'x')}};
    m = expect_error(post_json(c, path, big), 400, "bad_request");
    CHECK(m.find("exceeds maximum allowed size") != std::string::npos);
    expect_error(c.Get("/v1/executions/te_x/wait?timeout_ms=-1"), 400,
                 "bad_request");
    expect_error(c.Get("/v1/executions/te_x?verbose=1"), 400, "bad_request");
    // Nothing was stored by any refused call.
    CHECK(body_of(c.Get("/v1/stats"))["total"] == 0);
  }

  TEST_CASE("oversize bodies are 413 and unknown routes 404 and wrong methods "
            "405") {
    dh::server_options opts;
    opts.max_body_bytes = 4096;
    test_node node{opts};
    auto c = node.client();
    json big{{"input", std::string(8192, 'x')}};
    expect_error(post_json(c, "/v1/tasks/echo/executions", big), 413,
                 "payload_too_large");
    expect_error(c.Get("/v1/nothing/here"), 404, "not_found");
    // (`/` itself redirects to the web console: console_route_test.cpp.)
    expect_error(c.Get("/nowhere"), 404, "not_found");
    auto r = c.Delete("/v1/executions/te_x");
    expect_error(r, 405, "method_not_allowed");
    CHECK(r->get_header_value("Allow") == "GET");
    auto g = c.Get("/v1/tasks/echo/executions");
    expect_error(g, 405, "method_not_allowed");
    CHECK(g->get_header_value("Allow") == "POST");
    expect_error(c.Put("/v1/executions/te_x/cancel", "{}", "application/json"),
                 405, "method_not_allowed");
    // The server still serves after all that.
    auto id = enqueue(c, "echo", 1);
    CHECK(wait_finished(c, id)["status"] == "completed");
  }

  TEST_CASE("a bearer token guards every route") {
    dh::server_options opts;
    opts.token = "s3cret-token";
    test_node node{opts};
    auto anonymous = node.client();
    auto m = expect_error(anonymous.Get("/v1/stats"), 401, "unauthorized");
    CHECK(m.find("s3cret") == std::string::npos);
    CHECK(anonymous.Get("/v1/stats")->get_header_value("WWW-Authenticate")
          == "Bearer");
    expect_error(anonymous.Get("/v1/nothing"), 401, "unauthorized");
    expect_error(post_json(anonymous, "/v1/tasks/echo/executions",
                           {{"input", 1}}),
                 401, "unauthorized");
    auto wrong = node.client("s3cret-tokem");
    expect_error(wrong.Get("/v1/stats"), 401, "unauthorized");
    auto prefix = node.client("s3cret");
    expect_error(prefix.Get("/v1/stats"), 401, "unauthorized");
    httplib::Headers basic{{"Authorization", "Basic czNjcmV0LXRva2Vu"}};
    expect_error(anonymous.Get("/v1/stats", basic), 401, "unauthorized");
    auto right = node.client("s3cret-token");
    auto ok = right.Get("/v1/health");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    auto id = enqueue(right, "echo", 3);
    CHECK(wait_finished(right, id)["output"] == 3);
    // Nothing the server logged carries the token.
    for (const auto& line : node.log_lines())
      CHECK(line.find("s3cret") == std::string::npos);
  }

  TEST_CASE("a non-loopback address without a token is refused") {
    test_node node;
    dh::server_options open;
    open.bind_address = "0.0.0.0";
    CHECK_THROWS_WITH_AS(dh::server(node.exec(), open),
                         doctest::Contains("bearer token is required"),
                         durable::error);
    open.bind_address = "::";
    CHECK_THROWS_AS(dh::server(node.exec(), open), durable::error);
    dh::server_options guarded = open;
    guarded.bind_address = "0.0.0.0";
    guarded.token = "t0ken";
    guarded.log = [](std::string_view) {};
    dh::server s{node.exec(), guarded};
    s.start();
    CHECK(s.port() != 0);
    httplib::Client c{"127.0.0.1", s.port()};
    expect_error(c.Get("/v1/stats"), 401, "unauthorized");
    s.stop();
    CHECK(dh::is_loopback_address("127.0.0.1"));
    CHECK(dh::is_loopback_address("127.1.2.3"));
    CHECK(dh::is_loopback_address("::1"));
    CHECK(dh::is_loopback_address("localhost"));
    CHECK_FALSE(dh::is_loopback_address("0.0.0.0"));
    CHECK_FALSE(dh::is_loopback_address("10.0.0.1"));
    CHECK_FALSE(dh::is_loopback_address("example.com"));
  }

  TEST_CASE("too many concurrent waits are answered 503 with Retry-After") {
    dh::server_options opts;
    opts.threads = 4;
    opts.max_concurrent_waits = 1;
    test_node node{opts};
    auto c = node.client();
    auto id = enqueue(c, "blocker", nullptr);
    auto waiter = start_wait(node, id);
    bool refused = false;
    auto until = std::chrono::steady_clock::now() + guard;
    while (!refused && std::chrono::steady_clock::now() < until) {
      // Our short polls may hold the only place when the long one arrives: it
      // is refused then, and simply starts again.
      if (waiter.wait_for(0s) == std::future_status::ready) {
        auto lost = waiter.get();
        REQUIRE(lost);
        CHECK(lost->status == 503);
        waiter = start_wait(node, id);
      }
      auto r = c.Get(("/v1/executions/" + id + "/wait?timeout_ms=0").c_str());
      REQUIRE(r);
      if (r->status == 503) {
        refused = true;
        CHECK(r->get_header_value("Retry-After") == "1");
        expect_error(r, 503, "unavailable");
      } else {
        CHECK(r->status == 202);
      }
    }
    CHECK(refused);
    // Other routes still answer while the only wait place is taken.
    CHECK(c.Get("/v1/stats")->status == 200);
    post_json(c, "/v1/executions/" + id + "/cancel", json::object());
    auto done = waiter.get();
    REQUIRE(done);
    CHECK(done->status == 200);
  }

  TEST_CASE("internal failures are answered 500 without their details") {
    auto db = std::make_shared<durable::storage::sqlite_store>(
      durable::test::make_temp_dir("durable-http-") + "/node.db");
    test_node node{{}, db};
    auto c = node.client();
    auto id = enqueue(c, "echo", 1);
    wait_finished(c, id);
    // Break the store behind the node's back.
    db->execute("DROP TABLE executions");
    for (const char* path : {"/v1/executions", "/v1/stats"}) {
      CAPTURE(path);
      auto m = expect_error(c.Get(path), 500, "internal");
      CHECK(m.rfind("Internal server error [ref=", 0) == 0);
      CHECK(m.find("executions") == std::string::npos);
      CHECK(m.find("sqlite") == std::string::npos);
    }
    auto m = expect_error(c.Get(("/v1/executions/" + id).c_str()), 500,
                          "internal");
    CHECK(m.find("no such table") == std::string::npos);
    // The detail is in the log, under the reference the client got.
    auto ref = m.substr(m.find("[ref="));
    bool logged = false;
    for (const auto& line : node.log_lines())
      logged = logged
               || (line.find(ref) != std::string::npos
                   && line.find("no such table") != std::string::npos);
    CHECK(logged);
  }

  TEST_CASE("errors map to statuses in one place") {
    CHECK(dh::to_api_error(durable::error::not_found("x")).status() == 404);
    CHECK(dh::to_api_error(durable::error::non_retryable("x")).status() == 400);
    CHECK(dh::to_api_error(durable::error::retryable("x")).status() == 400);
    CHECK(dh::to_api_error(durable::error::internal("x")).status() == 500);
    CHECK(dh::to_api_error(durable::error::cancelled()).status() == 400);
    CHECK(dh::constant_time_equal("abc", "abc"));
    CHECK_FALSE(dh::constant_time_equal("abc", "abd"));
    CHECK_FALSE(dh::constant_time_equal("abc", "abcd"));
    CHECK_FALSE(dh::constant_time_equal("", "a"));
    CHECK(dh::bearer_token("Bearer xyz")
          == std::optional<std::string_view>{"xyz"});
    CHECK(dh::bearer_token("bearer xyz")
          == std::optional<std::string_view>{"xyz"});
    CHECK_FALSE(dh::bearer_token("Basic xyz").has_value());
    CHECK_FALSE(dh::bearer_token("Bearer ").has_value());
  }

  TEST_CASE("stopping the server ends a long poll in progress") {
    dh::server_options opts;
    opts.wait_slice = 50ms;
    test_node node{opts};
    auto c = node.client();
    auto id = enqueue(c, "blocker", nullptr);
    auto waiter = start_wait(node, id);
    std::this_thread::sleep_for(20ms);
    node.api().stop();
    CHECK_FALSE(node.api().running());
    auto r = waiter.get();
    // Either the poll was answered 202 when the server stopped, or it never
    // reached the server; it never hangs.
    if (r)
      CHECK(r->status == 202);
    node.exec().cancel(id);
  }

} // TEST_SUITE
