#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "http/raw_http.hpp"
#include "http/test_node.hpp"

// Slow and abusive clients: connections that drip a request byte by byte
// (slowloris) or pile up cost a socket each, never a thread, and the
// connection caps close the slowest first. Latencies are reported, not
// asserted: the only timing asserted is a 2 s hang guard.

using namespace durable::test::http;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto hang_guard = 2s;

/// Connections that each sent the start of a request head and add one
/// byte every `every` until destroyed.
class slowloris {
public:
  slowloris(std::uint16_t port, std::size_t n,
            std::chrono::milliseconds every) {
    for (std::size_t i = 0; i < n; ++i) {
      conns_.push_back(std::make_unique<raw_connection>(port));
      conns_.back()->send("G");
    }
    drip_ = std::thread{[this, every] {
      while (!stop_.load()) {
        for (auto& c : conns_)
          c->send("E");
        std::this_thread::sleep_for(every);
      }
    }};
  }

  ~slowloris() {
    stop_.store(true);
    drip_.join();
  }

private:
  std::vector<std::unique_ptr<raw_connection>> conns_;
  std::atomic<bool> stop_{false};
  std::thread drip_;
};

/// Runs `call` and returns how long it took.
template <class F>
std::chrono::microseconds timed(F&& call) {
  auto start = steady::now();
  call();
  return std::chrono::duration_cast<std::chrono::microseconds>(steady::now()
                                                               - start);
}

} // namespace

TEST_SUITE("http.slow_clients") {
  TEST_CASE("200 slowloris connections stop neither health, enqueue nor long "
            "polls") {
    test_node node;
    slowloris attack{node.port(), 200, 200ms};
    std::this_thread::sleep_for(300ms); // every connection is in
    std::vector<std::chrono::microseconds> health, enqueue_wait;
    for (int i = 0; i < 20; ++i) {
      health.push_back(timed([&] {
        auto r = exchange(node.port(),
                          "GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n",
                          hang_guard);
        CHECK(r.status == 200);
      }));
      enqueue_wait.push_back(timed([&] {
        auto c = node.client();
        c.set_read_timeout(hang_guard);
        auto id = enqueue(c, "echo", i);
        auto r = c.Get(
          ("/v1/executions/" + id + "/wait?timeout_ms=1500").c_str());
        REQUIRE(r);
        CHECK(r->status == 200);
      }));
    }
    std::sort(health.begin(), health.end());
    std::sort(enqueue_wait.begin(), enqueue_wait.end());
    MESSAGE("under 200 slowloris connections: health p50 "
            << health[10].count() << " us, max " << health.back().count()
            << " us; enqueue + long poll p50 " << enqueue_wait[10].count()
            << " us, max " << enqueue_wait.back().count() << " us");
    CHECK(health.back() < hang_guard);
    CHECK(enqueue_wait.back() < hang_guard);
  }

  TEST_CASE("a kept-alive client never waits for a delayed ACK") {
    // Reports what a kept-alive client sees per request. Before accepted
    // sockets had TCP_NODELAY, a client that sends head and body in two
    // writes (Python's http.client) waited about 40 ms per request for a
    // delayed ACK.
    test_node node;
    raw_connection c{node.port()};
    const std::string body = R"({"input":{"x":1}})";
    const auto request = "POST /v1/tasks/echo/executions HTTP/1.1\r\nHost: "
                         "t\r\n"
                         "Content-Type: application/json\r\nContent-Length: "
                         + std::to_string(body.size()) + "\r\n\r\n" + body;
    std::vector<std::chrono::microseconds> took;
    for (int i = 0; i < 200; ++i)
      took.push_back(timed([&] {
        REQUIRE(c.send(request));
        CHECK(c.read_response(hang_guard).status == 202);
      }));
    std::sort(took.begin(), took.end());
    MESSAGE("enqueue on one kept-alive connection: p50 "
            << took[100].count() << " us, p99 " << took[198].count() << " us");
    CHECK(took.back() < hang_guard);
  }

  TEST_CASE("over the per-address cap the slowest connection is closed") {
    test_node node{{.max_connections_per_address = 4}};
    std::vector<std::unique_ptr<raw_connection>> slow;
    for (int i = 0; i < 4; ++i) {
      slow.push_back(std::make_unique<raw_connection>(node.port()));
      slow.back()->send("GET /v1/hea");
      std::this_thread::sleep_for(20ms); // an order of age
    }
    // A fifth connection is served; the oldest slow one makes room.
    CHECK(exchange(node.port(), "GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n",
                   hang_guard)
            .status
          == 200);
    CHECK(slow[0]->closed_within(hang_guard));
    // The younger ones are still there: finishing the request gets it served.
    REQUIRE(slow[3]->send("lth HTTP/1.1\r\nHost: t\r\n\r\n"));
    CHECK(slow[3]->read_response(hang_guard).status == 200);
  }

  TEST_CASE("when every connection runs a request, a new one is closed") {
    test_node node{{.max_connections = 2, .max_connections_per_address = 2}};
    auto c = node.client();
    const auto id = enqueue(c, "blocker", nullptr);
    const std::string poll = "GET /v1/executions/" + id
                             + "/wait?timeout_ms=20000 HTTP/1.1\r\nHost: "
                               "t\r\n\r\n";
    raw_connection a{node.port()}, b{node.port()};
    REQUIRE(a.send(poll));
    REQUIRE(b.send(poll));
    std::this_thread::sleep_for(200ms); // both polls are running
    raw_connection third{node.port()};
    third.send("GET /v1/health HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(third.closed_within(hang_guard));
    // The polls were not disturbed: cancelling answers both.
    node.exec().cancel(id);
    CHECK(a.read_response(10s).status == 200);
    CHECK(b.read_response(10s).status == 200);
  }

} // TEST_SUITE
