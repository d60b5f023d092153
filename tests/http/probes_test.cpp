#include <doctest/doctest.h>

#include "http/test_node.hpp"

using namespace durable::test::http;
namespace dh = durable::nodes::http;

TEST_SUITE("http.probes") {
  TEST_CASE("ready is 200 on a node whose store answers") {
    test_node node;
    auto c = node.client();
    auto r = c.Get("/v1/health/ready");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(body_of(r)["status"] == "ready");
    expect_error(c.Get("/v1/health/ready?x=1"), 400, "bad_request");
    expect_error(post_json(c, "/v1/health/ready", json::object()), 405,
                 "method_not_allowed");
  }

  TEST_CASE("a draining node answers 503 with Retry-After but stays live") {
    test_node node;
    auto c = node.client();
    auto done = enqueue(c, "echo", 1);
    wait_finished(c, done);
    auto blocked = enqueue(c, "blocker", nullptr);
    node.api().drain();
    CHECK(node.api().draining());
    // Every route that would start work or read is refused, with a hint.
    auto refused = [](const httplib::Result& r) {
      REQUIRE(r);
      CHECK(r->get_header_value("Retry-After") == "1");
      auto m = expect_error(r, 503, "unavailable");
      CHECK(m.find("draining") != std::string::npos);
    };
    refused(post_json(c, "/v1/tasks/echo/executions", {{"input", 2}}));
    refused(c.Get(("/v1/executions/" + done).c_str()));
    refused(c.Get("/v1/executions"));
    refused(c.Get("/v1/stats"));
    refused(
      post_json(c, "/v1/executions/" + blocked + "/cancel", json::object()));
    auto ready = c.Get("/v1/health/ready");
    REQUIRE(ready);
    CHECK(ready->get_header_value("Retry-After") == "1");
    CHECK(expect_error(ready, 503, "unavailable") == "draining");
    auto live = c.Get("/v1/health");
    REQUIRE(live);
    CHECK(live->status == 200);
    // Nothing was enqueued while draining.
    auto counts = node.exec().storage()->count_by_status({});
    std::size_t total = 0;
    for (auto [status, n] : counts)
      total += n;
    CHECK(total == 2);
    node.exec().cancel(blocked);
  }

  TEST_CASE("the probes may answer without the token") {
    dh::server_options opts;
    opts.token = "s3cret-token";
    opts.public_probes = true;
    test_node node{opts};
    auto anonymous = node.client();
    CHECK(anonymous.Get("/v1/health")->status == 200);
    CHECK(anonymous.Get("/v1/health/ready")->status == 200);
    CHECK(anonymous.Get("/v1/health/ready?probe=1")->status == 400);
    expect_error(anonymous.Get("/v1/stats"), 401, "unauthorized");
    expect_error(anonymous.Get("/v1/health/"), 401, "unauthorized");
    expect_error(post_json(anonymous, "/v1/tasks/echo/executions",
                           {{"input", 1}}),
                 401, "unauthorized");
    dh::server_options closed;
    closed.token = "s3cret-token";
    test_node guarded{closed};
    auto other = guarded.client();
    expect_error(other.Get("/v1/health"), 401, "unauthorized");
    expect_error(other.Get("/v1/health/ready"), 401, "unauthorized");
  }
}
