// The web console's routes on a real server: its files without the token,
// their headers, conditional requests, and the option that turns it off.
#include <string>

#include <doctest/doctest.h>

#include "durable/nodes/http/console.hpp"
#include "http/test_node.hpp"

using namespace durable::test::http;
namespace dh = durable::nodes::http;

namespace {

constexpr const char* token = "console-route-token";

dh::server_options with_token(bool console = true) {
  dh::server_options opts;
  opts.token = token;
  opts.console = console;
  return opts;
}

void check_console_headers(const httplib::Result& r) {
  REQUIRE(r);
  CHECK(r->get_header_value("Content-Security-Policy") == dh::console_csp);
  CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK(r->get_header_value("Referrer-Policy") == "no-referrer");
  CHECK(r->get_header_value("Cache-Control") == "no-cache");
}

} // namespace

TEST_SUITE("http.console") {
  TEST_CASE("the console's files answer without the token, the API not") {
    test_node node{with_token()};
    auto c = node.client();
    auto page = c.Get("/ui/");
    check_console_headers(page);
    CHECK(page->status == 200);
    CHECK(page->get_header_value("Content-Type") == "text/html; charset=utf-8");
    CHECK(page->body.find("<script type=\"module\" src=\"app.js\">")
          != std::string::npos);
    auto script = c.Get("/ui/app.js");
    check_console_headers(script);
    CHECK(script->status == 200);
    CHECK(script->get_header_value("Content-Type")
          == "text/javascript; charset=utf-8");
    auto nested = c.Get("/ui/views/tree.js");
    REQUIRE(nested);
    CHECK(nested->status == 200);
    expect_error(c.Get("/v1/stats"), 401, "unauthorized");
  }

  TEST_CASE("a file's ETag answers a matching If-None-Match with 304") {
    test_node node;
    auto c = node.client();
    auto first = c.Get("/ui/style.css");
    REQUIRE(first);
    const auto etag = first->get_header_value("ETag");
    REQUIRE(etag.size() > 2);
    CHECK(etag.front() == '"');
    auto again = c.Get("/ui/style.css", {{"If-None-Match", etag}});
    check_console_headers(again);
    CHECK(again->status == 304);
    CHECK(again->body.empty());
    CHECK(again->get_header_value("ETag") == etag);
    auto listed = c.Get("/ui/style.css",
                        {{"If-None-Match", "\"other\", W/" + etag}});
    REQUIRE(listed);
    CHECK(listed->status == 304);
    auto other = c.Get("/ui/index.html", {{"If-None-Match", etag}});
    REQUIRE(other);
    CHECK(other->status == 200);
  }

  TEST_CASE("/ and /ui redirect to /ui/; a missing file is 404; only GET "
            "and HEAD") {
    test_node node{with_token()};
    auto c = node.client();
    for (const char* path : {"/", "/ui", "/?x=1"}) {
      INFO(path);
      auto r = c.Get(path);
      check_console_headers(r);
      CHECK(r->status == 302);
      CHECK(r->get_header_value("Location") == "/ui/");
    }
    auto missing = c.Get("/ui/../server.cpp");
    check_console_headers(missing);
    expect_error(missing, 404, "not_found");
    expect_error(c.Get("/ui/nothing.js"), 404, "not_found");
    auto posted = post_json(c, "/ui/", json::object());
    expect_error(posted, 405, "method_not_allowed");
    CHECK(posted->get_header_value("Allow") == "GET, HEAD");
    auto head = c.Head("/ui/app.js");
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(head->body.empty());
    // POST / is the API's: the token first.
    expect_error(post_json(c, "/", json::object()), 401, "unauthorized");
  }

  TEST_CASE("a server with the console off answers /ui/ as any unknown "
            "path") {
    test_node node{with_token(false)};
    expect_error(node.client().Get("/ui/"), 401, "unauthorized");
    expect_error(node.client(token).Get("/ui/"), 404, "not_found");
    expect_error(node.client(token).Get("/"), 404, "not_found");
  }
}
