#include <memory>
#include <string>

#include <doctest/doctest.h>

#include "durable/metrics/registry.hpp"
#include "http/test_node.hpp"

using namespace durable::test::http;
namespace dh = durable::nodes::http;

TEST_SUITE("http.metrics") {
  TEST_CASE("/metrics renders the registry as text, requests counted") {
    dh::server_options opts;
    opts.metrics = std::make_shared<durable::metrics::registry>();
    opts.metrics->add_counter("durable_test_total", "A user's own counter")
      .with({})
      .inc(7);
    test_node node{opts};
    auto c = node.client();
    wait_finished(c, enqueue(c, "echo", 1));
    expect_error(c.Get("/v1/nowhere"), 404, "not_found");
    auto r = c.Get("/metrics");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->get_header_value("Content-Type")
          == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(r->body.find("\ndurable_test_total 7\n") != std::string::npos);
    CHECK(r->body.find("durable_http_requests_total{route=\"/v1/tasks/"
                       "{task_id}/executions\",code=\"202\"} 1\n")
          != std::string::npos);
    CHECK(r->body.find("durable_http_requests_total{route=\"unmatched\","
                       "code=\"404\"} 1\n")
          != std::string::npos);
    CHECK(r->body.find("durable_http_request_duration_seconds_count{route="
                       "\"/v1/tasks/{task_id}/executions\"} 1\n")
          != std::string::npos);
    expect_error(c.Get("/metrics?x=1"), 400, "bad_request");
  }

  TEST_CASE("/metrics needs the token even with public probes") {
    dh::server_options opts;
    opts.token = "s3cret-token";
    opts.public_probes = true;
    opts.metrics = std::make_shared<durable::metrics::registry>();
    test_node node{opts};
    expect_error(node.client().Get("/metrics"), 401, "unauthorized");
    auto r = node.client("s3cret-token").Get("/metrics");
    REQUIRE(r);
    CHECK(r->status == 200);
  }

  TEST_CASE("without a registry there is no /metrics route") {
    test_node node;
    expect_error(node.client().Get("/metrics"), 404, "not_found");
  }
}
