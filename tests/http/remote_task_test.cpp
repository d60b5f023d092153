#include <arpa/inet.h>
#include <atomic>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <doctest/doctest.h>

#include "durable/nodes/http/remote_task.hpp"
#include "http/test_node.hpp"

using namespace durable::test::http;
namespace dh = durable::nodes::http;

namespace {

/// A small app on loopback that the remote-procedure tasks call: `/status/N`
/// answers status N, `/echo` answers `{"got": <input>}`, `/text` answers
/// 200 with plain text, `/hold` answers only once released.
class fake_app {
public:
  struct call {
    std::string path;
    std::string body;
    httplib::Headers headers;
  };

  fake_app() {
    svr_.Post("/status/([0-9]+)", [this](const auto& req, auto& res) {
      record(req);
      res.status = std::stoi(req.matches[1].str());
      res.set_content("{\"detail\": \"status " + req.matches[1].str() + "\"}",
                      "application/json");
    });
    svr_.Post("/echo", [this](const auto& req, auto& res) {
      record(req);
      res.set_content(json{{"got", json::parse(req.body)}}.dump(),
                      "application/json");
    });
    svr_.Post("/text", [this](const auto& req, auto& res) {
      record(req);
      res.set_content("hello", "text/plain");
    });
    svr_.Post("/empty", [this](const auto& req, auto& res) {
      record(req);
      res.status = 204;
    });
    svr_.Post("/hold", [this](const auto& req, auto& res) {
      record(req);
      auto until = std::chrono::steady_clock::now() + guard;
      while (!released_.load() && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(2ms);
      res.set_content("{}", "application/json");
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread{[this] { svr_.listen_after_bind(); }};
    auto until = std::chrono::steady_clock::now() + guard;
    while (!svr_.is_running() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(1ms);
  }

  ~fake_app() {
    released_.store(true);
    svr_.stop();
    thread_.join();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::vector<call> calls(const std::string& path) const {
    std::lock_guard lock{mtx_};
    std::vector<call> out;
    for (const auto& c : calls_)
      if (c.path == path)
        out.push_back(c);
    return out;
  }

  void release() {
    released_.store(true);
  }

private:
  void record(const httplib::Request& req) {
    std::lock_guard lock{mtx_};
    calls_.push_back({req.path, req.body, req.headers});
  }

  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> released_{false};
  mutable std::mutex mtx_;
  std::vector<call> calls_;
};

/// Registers a remote task calling `url` with two retries and no delay.
void add_remote(durable::executor& exec, const std::string& id,
                const std::string& url, durable::millis io_timeout = 20s) {
  dh::remote_task_options opts;
  opts.task = {
    .id = id, .timeout = 120s, .retry = {.max_attempts = 2, .base_delay = 0ms}};
  opts.url = url;
  opts.headers = {{"Authorization", "Bearer app-secret"}};
  opts.io_timeout = io_timeout;
  dh::remote_task(exec, opts);
}

durable::execution_record run(durable::executor& exec, const std::string& id,
                              const json& input) {
  auto ids = exec.enqueue_raw(id, {input.dump()});
  auto r = exec.wait(ids.at(0), guard);
  REQUIRE(r.has_value());
  return *r;
}

} // namespace

TEST_SUITE("http.remote_task") {
  TEST_CASE("a remote procedure task posts its input and returns the JSON "
            "answer with the context headers") {
    fake_app app;
    test_node node;
    add_remote(node.exec(), "remote_echo", app.url("/echo"));
    auto r = run(node.exec(), "remote_echo", json{{"order", 42}});
    CHECK(r.status == durable::execution_status::completed);
    REQUIRE(r.output.has_value());
    CHECK(json::parse(*r.output) == json{{"got", {{"order", 42}}}});
    auto calls = app.calls("/echo");
    REQUIRE(calls.size() == 1);
    auto header = [&](const char* name) {
      auto it = calls[0].headers.find(name);
      return it == calls[0].headers.end() ? std::string{"<none>"} : it->second;
    };
    CHECK(header("X-Durable-Execution-Id") == r.id);
    CHECK(header("X-Durable-Task-Id") == "remote_echo");
    CHECK(header("X-Durable-Attempt") == "0");
    CHECK(header("Idempotency-Key") == r.id + ":0");
    CHECK(header("traceparent") == "<none>");
    CHECK(header("Authorization") == "Bearer app-secret");
    CHECK(header("Content-Type") == "application/json");
    CHECK(json::parse(calls[0].body) == json{{"order", 42}});
  }

  TEST_CASE("a remote procedure call carries the execution's traceparent") {
    fake_app app;
    test_node node;
    add_remote(node.exec(), "remote_traced", app.url("/echo"));
    const std::string tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-"
                           "00f067aa0ba902b7-01";
    auto ids = node.exec().enqueue_raw("remote_traced", {"1"},
                                       {.traceparent = tp});
    auto r = node.exec().wait(ids.at(0), guard);
    REQUIRE(r.has_value());
    CHECK(r->status == durable::execution_status::completed);
    auto calls = app.calls("/echo");
    REQUIRE(calls.size() == 1);
    auto it = calls[0].headers.find("traceparent");
    REQUIRE(it != calls[0].headers.end());
    CHECK(it->second == tp);
  }

  TEST_CASE("retryable statuses are retried with a new attempt each time") {
    fake_app app;
    test_node node;
    for (int status : {408, 429, 500, 502, 503, 504}) {
      CAPTURE(status);
      auto path = "/status/" + std::to_string(status);
      auto id = "remote_" + std::to_string(status);
      add_remote(node.exec(), id, app.url(path));
      auto r = run(node.exec(), id, 1);
      CHECK(r.status == durable::execution_status::failed);
      REQUIRE(r.error.has_value());
      CHECK(r.error->retryable);
      CHECK(r.error->internal == (status >= 500));
      CHECK(r.error->message.find("[status=" + std::to_string(status) + "]")
            != std::string::npos);
      auto calls = app.calls(path);
      REQUIRE(calls.size() == 3); // 1 + max_attempts
      for (std::size_t i = 0; i < calls.size(); ++i) {
        CHECK(calls[i].headers.find("X-Durable-Attempt")->second
              == std::to_string(i));
        CHECK(calls[i].headers.find("Idempotency-Key")->second
              == r.id + ":" + std::to_string(i));
      }
    }
  }

  TEST_CASE("other statuses fail at once without a retry") {
    fake_app app;
    test_node node;
    struct expectation {
      int status;
      durable::error_kind kind;
      bool internal;
    };
    for (auto e : {expectation{404, durable::error_kind::not_found, false},
                   expectation{400, durable::error_kind::generic, false},
                   expectation{401, durable::error_kind::generic, false},
                   expectation{409, durable::error_kind::generic, false},
                   expectation{422, durable::error_kind::generic, false},
                   expectation{501, durable::error_kind::generic, true},
                   expectation{505, durable::error_kind::generic, true}}) {
      CAPTURE(e.status);
      auto path = "/status/" + std::to_string(e.status);
      auto id = "remote_" + std::to_string(e.status);
      add_remote(node.exec(), id, app.url(path));
      auto r = run(node.exec(), id, 1);
      CHECK(r.status == durable::execution_status::failed);
      REQUIRE(r.error.has_value());
      CHECK(r.error->kind == e.kind);
      CHECK_FALSE(r.error->retryable);
      CHECK(r.error->internal == e.internal);
      CHECK(r.error->message.find("status " + std::to_string(e.status))
            != std::string::npos);
      CHECK(app.calls(path).size() == 1);
    }
  }

  TEST_CASE("a network failure is retryable") {
    // A port that was free a moment ago and has nobody listening now.
    int port = 0;
    {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      REQUIRE(fd >= 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
              == 0);
      socklen_t len = sizeof(addr);
      REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
      port = ntohs(addr.sin_port);
      ::close(fd);
    }
    test_node node;
    add_remote(node.exec(), "remote_down",
               "http://127.0.0.1:" + std::to_string(port) + "/nothing");
    auto r = run(node.exec(), "remote_down", 1);
    CHECK(r.status == durable::execution_status::failed);
    REQUIRE(r.error.has_value());
    CHECK(r.error->retryable);
    CHECK(r.attempt == 2);
    CHECK(r.error->message.find("Remote procedure call failed")
          != std::string::npos);
  }

  TEST_CASE("a 2xx answer that is not JSON fails without a retry and an empty "
            "one is null") {
    fake_app app;
    test_node node;
    add_remote(node.exec(), "remote_text", app.url("/text"));
    auto r = run(node.exec(), "remote_text", 1);
    CHECK(r.status == durable::execution_status::failed);
    CHECK_FALSE(r.error->retryable);
    CHECK(app.calls("/text").size() == 1);
    add_remote(node.exec(), "remote_empty", app.url("/empty"));
    auto e = run(node.exec(), "remote_empty", 1);
    CHECK(e.status == durable::execution_status::completed);
    CHECK(e.output == std::optional<std::string>{"null"});
  }

  TEST_CASE("cancelling an execution ends its remote call") {
    fake_app app;
    // One body thread: the second call below can only run once the first
    // one's call has really ended, and the held call would outlast the hang
    // guard if cancelling did not end it.
    test_node node{{}, nullptr, 1};
    add_remote(node.exec(), "remote_hold", app.url("/hold"), 120s);
    add_remote(node.exec(), "remote_echo", app.url("/echo"));
    auto id = node.exec().enqueue_raw("remote_hold", {"1"}).at(0);
    auto until = std::chrono::steady_clock::now() + guard;
    while (app.calls("/hold").empty()
           && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(2ms);
    REQUIRE(app.calls("/hold").size() == 1);
    node.exec().cancel(id);
    auto r = node.exec().wait(id, guard);
    REQUIRE(r.has_value());
    CHECK(r->status == durable::execution_status::cancelled);
    auto next = node.exec().enqueue_raw("remote_echo", {"2"}).at(0);
    auto done = node.exec().wait(next, guard);
    REQUIRE(done.has_value());
    CHECK(done->status == durable::execution_status::completed);
    CHECK(app.calls("/hold").size() == 1);
  }

  TEST_CASE("remote procedure URLs are checked when the task is registered") {
    test_node node;
    dh::remote_task_options opts;
    opts.task = {.id = "remote_bad", .timeout = 1s};
    for (const char* url : {"ftp://x/y", "localhost:80/x", "http:///x",
                            "http://user:pw@host/x"}) {
      CAPTURE(url);
      opts.url = url;
      CHECK_THROWS_AS(dh::remote_task(node.exec(), opts), durable::error);
    }
    auto u = dh::parse_url("https://example.com:8443/api/run?x=1");
    CHECK(u.origin == "https://example.com:8443");
    CHECK(u.target == "/api/run?x=1");
    CHECK(dh::parse_url("http://h").target == "/");
    CHECK_FALSE(dh::error_for_status(200, "t", "").has_value());
    CHECK_FALSE(dh::error_for_status(204, "t", "").has_value());
  }

} // TEST_SUITE
