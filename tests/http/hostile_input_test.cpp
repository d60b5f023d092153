#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include <doctest/doctest.h>

#include "durable/list_query.hpp"
#include "http/raw_http.hpp"
#include "http/test_node.hpp"

// Bad input, one case per kind of hostility and per documented limit
// (docs/http-api.md, "Limits"): each gets its status and error body,
// nothing stored changes, and the node answers its health check after.

using namespace durable::test::http;

namespace {

/// Every stored execution as (id, status, version): what "nothing
/// changed" compares.
using snapshot = std::vector<
  std::tuple<std::string, std::string, std::int64_t>>;

snapshot stored(durable::executor& exec) {
  durable::list_request all;
  all.limit = 1000;
  snapshot out;
  for (const auto& r : exec.storage()->list(all).rows)
    out.emplace_back(r.id, std::string{durable::to_string(r.status)},
                     r.version);
  std::sort(out.begin(), out.end());
  return out;
}

std::string post(const std::string& path, const std::string& body,
                 const std::string& extra_headers = {}) {
  return "POST " + path + " HTTP/1.1\r\nHost: t\r\n" + extra_headers
         + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

std::string nested(std::size_t depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

struct bad_case {
  std::string name;
  std::string bytes;
  int status;
  std::string kind;
  /// A part of the error message.
  std::string says;
};

/// Sends `c`, checks the answer, that nothing stored changed and that the
/// node is healthy.
void expect_refused(test_node& node, const bad_case& c) {
  INFO("case: " << c.name);
  const auto before = stored(node.exec());
  auto r = exchange(node.port(), c.bytes);
  INFO("head: " << r.head << "\nbody: " << r.body);
  CHECK(r.status == c.status);
  auto j = json::parse(r.body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  CHECK(j["error"]["kind"] == c.kind);
  CHECK(j["error"]["message"].get<std::string>().find(c.says)
        != std::string::npos);
  CHECK(stored(node.exec()) == before);
  CHECK(exchange(node.port(), get("/v1/health")).status == 200);
}

} // namespace

TEST_SUITE("http.hostile_input") {
  TEST_CASE("every kind of bad request is refused and changes nothing") {
    test_node node;
    auto c = node.client();
    // Executions that a misdirected request could touch.
    const auto done = enqueue(c, "echo", json{{"x", 1}});
    wait_finished(c, done);
    const auto running = enqueue(c, "blocker", nullptr);
    const auto keyed = enqueue(c, "echo", 1, json{{"idempotency_key", "k-1"}});
    const std::string tasks = "/v1/tasks/echo/executions";
    const auto deep = "{\"input\":" + nested(70'000) + "}";
    const std::string cl_chunked = "POST " + tasks
                                   + " HTTP/1.1\r\nHost: t\r\nContent-Length: "
                                     "2\r\nTransfer-Encoding: "
                                     "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
    std::string chunked_3mib = "POST " + tasks
                               + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
                                 "chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i)
      chunked_3mib += "100000\r\n" + std::string(0x100000, ' ') + "\r\n";
    chunked_3mib += "0\r\n\r\n";
    std::string many_fields = "GET /v1/health HTTP/1.1\r\nHost: t\r\n";
    for (int i = 0; i < 150; ++i)
      many_fields += "X-" + std::to_string(i) + ": y\r\n";
    many_fields += "\r\n";

    const std::vector<bad_case> cases{
      // 1. Nesting that would overflow a recursive serializer's stack.
      {"deep input", post(tasks, deep), 400, "invalid_json",
       "nests deeper than 128 levels"},
      {"deep wake output",
       post("/v1/tasks/approval/wake",
            R"({"sleeping_id":"s","output":)" + nested(70'000) + "}"),
       400, "invalid_json", "nests deeper than 128 levels"},
      {"one level too deep", post(tasks, "{\"input\":" + nested(128) + "}"),
       400, "invalid_json", "nests deeper"},
      // 2. Numbers that would overflow a claim, or silently misbehave.
      {"int64 max timeout",
       post(tasks, R"({"options":{"timeout_ms":9223372036854775807}})"), 400,
       "bad_request", "Invalid timeout value"},
      {"timeout beyond a year",
       post(tasks, R"({"options":{"timeout_ms":10000000000000}})"), 400,
       "bad_request", "Invalid timeout value"},
      {"int64 max sleep before run",
       post(tasks,
            R"({"options":{"sleep_before_run_ms":9223372036854775807}})"),
       400, "bad_request", "Invalid sleep ms before run"},
      {"number beyond int64",
       post(tasks, R"({"options":{"timeout_ms":99999999999999999999}})"), 400,
       "bad_request", "timeout_ms"},
      // 4. Bodies past the limit whatever their framing.
      {"chunked body past the limit", chunked_3mib, 413, "payload_too_large",
       "exceeds 2097152 bytes"},
      {"Content-Length past the limit, body not sent",
       "POST " + tasks
         + " HTTP/1.1\r\nHost: t\r\nContent-Length: 1073741824\r\n\r\n"
         + std::string(1024, 'x'),
       413, "payload_too_large", "exceeds"},
      {"negative Content-Length",
       "POST " + tasks + " HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n{}",
       400, "bad_request", "Content-Length"},
      {"compressed body", post(tasks, "{}", "Content-Encoding: gzip\r\n"), 415,
       "unsupported_media_type", "Content-Encoding"},
      {"a body that is not JSON",
       post(tasks, "input=1",
            "Content-Type: application/x-www-form-urlencoded\r\n"),
       415, "unsupported_media_type", "The body must be JSON"},
      {"transfer coding other than chunked",
       "POST " + tasks
         + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       501, "bad_request", "Transfer-Encoding"},
      // 5. Ids are exact.
      {"GET with bytes after a real id",
       get("/v1/executions/" + running + "%00junk"), 400, "bad_request",
       "NUL byte"},
      {"wait with bytes after a real id",
       get("/v1/executions/" + running + "%00/wait?timeout_ms=1"), 400,
       "bad_request", "NUL byte"},
      {"cancel with bytes after a real id",
       post("/v1/executions/" + running + "%00junk/cancel", "{}"), 400,
       "bad_request", "NUL byte"},
      {"an idempotency key of another task",
       post("/v1/tasks/refuse/executions", "{}", "Idempotency-Key: k-1\r\n"),
       400, "bad_request", "used by an execution of another task"},
      // 6. Invalid text is the client's error.
      {"invalid UTF-8 in an id", get("/v1/executions/te_%FF%FE"), 400,
       "bad_request", "not valid UTF-8"},
      {"invalid UTF-8 in a query value", get("/v1/executions?task_id=%FF"), 400,
       "bad_request", "Query parameter task_id is not valid UTF-8"},
      {"invalid UTF-8 in a query name", get("/v1/executions?%C0=1"), 400,
       "bad_request", "not valid UTF-8"},
      {"malformed percent-encoding", get("/v1/executions?task_id=%G1"), 400,
       "bad_request", "malformed percent-encoding"},
      {"invalid UTF-8 in Idempotency-Key",
       post(tasks, "{}", "Idempotency-Key: \xFF\xFE\r\n"), 400, "bad_request",
       "not valid UTF-8"},
      {"NUL in an idempotency key",
       post(tasks, R"({"options":{"idempotency_key":"a\u0000b"}})"), 400,
       "bad_request", "NUL byte"},
      {"NUL in a sleeping id",
       post("/v1/tasks/approval/wake",
            R"({"sleeping_id":"a\u0000b","output":1})"),
       400, "bad_request", "NUL byte"},
      {"a number beyond a double", post(tasks, R"({"input":1e400})"), 400,
       "invalid_json", "out of range"},
      {"invalid UTF-8 in a JSON string", post(tasks, "{\"input\":\"\xFF\"}"),
       400, "invalid_json", "Malformed JSON"},
      // 7. Accepted before, refused now.
      {"Content-Length that is not a number",
       "POST " + tasks
         + " HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n{}",
       400, "bad_request", "Content-Length"},
      {"Content-Length with chunked", cl_chunked, 400, "bad_request",
       "Content-Length"},
      {"empty Idempotency-Key", post(tasks, "{}", "Idempotency-Key:\r\n"), 400,
       "bad_request", "idempotency key must have 1 to 255 bytes"},
      {"two Idempotency-Key fields",
       post(tasks, "{}", "Idempotency-Key: a\r\nIdempotency-Key: b\r\n"), 400,
       "bad_request", "more than once"},
      // Documented limits.
      {"target past 8 KiB", get("/v1/executions/" + std::string(9000, 'a')),
       414, "uri_too_long", "exceeds 8192 bytes"},
      {"head past 16 KiB",
       "GET /v1/health HTTP/1.1\r\nHost: t\r\nX: " + std::string(20'000, 'y')
         + "\r\n\r\n",
       431, "headers_too_large", "exceeds 16384 bytes"},
      {"more than 100 header fields", many_fields, 431, "headers_too_large",
       "more than 100 header fields"},
      {"body past the limit",
       post(tasks, "{\"input\":\"" + std::string(3 << 20, 'x') + "\"}"), 413,
       "payload_too_large", "exceeds"},
      {"not HTTP", "\x01\x02 / HTTP/9\r\n\r\n", 400, "bad_request",
       "Malformed HTTP request"},
      {"absolute-form target",
       "GET http://t/v1/health HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request",
       "must be a path"},
      {"tree depth beyond int64",
       get("/v1/executions/" + done + "/tree?max_depth=99999999999999999999"),
       400, "bad_request", "max_depth"},
      {"negative list limit", get("/v1/executions?limit=-1"), 400,
       "bad_request", "limit"},
    };
    for (const auto& bad : cases)
      expect_refused(node, bad);

    // JSON by any of its names is fine, and so is a body without a type.
    for (const char* type : {"application/json; charset=utf-8",
                             "Application/JSON", "application/vnd.api+json"})
      CHECK(exchange(node.port(),
                     post(tasks, "{}",
                          std::string{"Content-Type: "} + type + "\r\n"))
              .status
            == 202);
    // As deep as the limit allows is fine.
    CHECK(exchange(node.port(), post(tasks, "{\"input\":" + nested(127) + "}"))
            .status
          == 202);
    // The executions next to the bad requests are as they were.
    auto r = c.Get(("/v1/executions/" + running).c_str());
    REQUIRE(r);
    CHECK(body_of(r)["status"] == "running");
    r = c.Get(("/v1/executions/" + keyed).c_str());
    REQUIRE(r);
    CHECK(body_of(r)["task_id"] == "echo");
    CHECK(post_json(c, "/v1/executions/" + running + "/cancel", json::object())
            ->status
          == 200);
  }

  TEST_CASE("a request head that does not finish in time is answered 408") {
    test_node node{{.header_timeout = durable::millis{300}}};
    raw_connection slow{node.port()};
    REQUIRE(slow.send("GET /v1/hea"));
    auto r = slow.read_response(10s);
    INFO("head: " << r.head);
    CHECK(r.status == 408);
    CHECK(json::parse(r.body)["error"]["kind"] == "request_timeout");
    CHECK(slow.closed_within(10s));
  }

  TEST_CASE("a body that does not finish in time is answered 408") {
    test_node node{{.body_timeout = durable::millis{300}}};
    raw_connection slow{node.port()};
    REQUIRE(slow.send("POST /v1/tasks/echo/executions HTTP/1.1\r\nHost: t\r\n"
                      "Content-Length: 10\r\n\r\n{\"in"));
    auto r = slow.read_response(10s);
    INFO("head: " << r.head);
    CHECK(r.status == 408);
    CHECK(json::parse(r.body)["error"]["message"]
          == "The request body was not complete within 300 ms");
    CHECK(node.exec().storage()->list({}).rows.empty());
  }

  TEST_CASE("an idle kept-alive connection is closed") {
    test_node node{{.keep_alive_timeout = durable::millis{200}}};
    raw_connection c{node.port()};
    REQUIRE(c.send(get("/v1/health")));
    CHECK(c.read_response(10s).status == 200);
    CHECK(c.closed_within(10s));
  }

  TEST_CASE("a second server cannot listen on a bound port") {
    test_node node;
    test_node other;
    durable::nodes::http::server second{other.exec(), {.port = node.port()}};
    try {
      second.start();
      FAIL("a second server listened on port " << node.port());
    } catch (const durable::error& e) {
      CHECK(std::string{e.what()}.starts_with("Cannot listen on 127.0.0.1:"
                                              + std::to_string(node.port())));
    }
    CHECK(exchange(node.port(), get("/v1/health")).status == 200);
  }

  TEST_CASE("responses on a kept-alive connection and pipelined requests") {
    test_node node;
    raw_connection c{node.port()};
    // Two requests in one write: both answered, in order.
    REQUIRE(c.send(get("/v1/health") + get("/v1/executions/te_none")));
    CHECK(c.read_response(10s).status == 200);
    CHECK(c.read_response(10s).status == 404);
    // HEAD: the head of GET's answer, no body.
    REQUIRE(c.send("HEAD /v1/health HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto head = c.read_response(10s, true);
    CHECK(head.status == 200);
    REQUIRE(c.send(get("/v1/health")));
    auto next = c.read_response(10s);
    CHECK(next.status == 200);
    CHECK(json::parse(next.body)["status"] == "ok");
    // Expect: 100-continue gets its interim answer before the body is sent.
    REQUIRE(c.send("POST /v1/tasks/echo/executions HTTP/1.1\r\nHost: t\r\n"
                   "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
    CHECK(c.read_response(10s).status == 100);
    REQUIRE(c.send("{}"));
    CHECK(c.read_response(10s).status == 202);
  }

} // TEST_SUITE
