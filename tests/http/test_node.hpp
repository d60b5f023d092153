#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "durable/durable.hpp"
#include "durable/nodes/http/server.hpp"

/// A real node for the HTTP tests: an executor on a store (memory unless
/// given) with a few tasks, and the HTTP server on an ephemeral loopback
/// port. Every wait in these tests is a hang guard, never a measurement.
namespace durable::test::http {

using namespace std::chrono_literals;
using nlohmann::json;

/// Hang guard for waits on the node.
inline constexpr auto guard = 30s;

/// The tasks every test node registers:
/// - `echo` returns its input;
/// - `refuse` fails with a non-retryable error "refused";
/// - `blocker` runs until its run is cancelled (or the guard passes);
/// - `approval` sleeps until woken (sleeping task, JSON output);
/// - `fan_out` spawns `input` (an integer) `echo` children.
class test_node {
public:
  /// Threads that run bodies (8 unless a test needs a bottleneck).
  explicit test_node(durable::nodes::http::server_options opts = {},
                     std::shared_ptr<durable::store> db = nullptr,
                     std::size_t worker_threads = 8);

  ~test_node();

  test_node(const test_node&) = delete;
  test_node& operator=(const test_node&) = delete;

  durable::executor& exec() {
    return *exec_;
  }

  durable::nodes::http::server& api() {
    return *api_;
  }

  std::uint16_t port() const {
    return api_->port();
  }

  /// `http://127.0.0.1:<port>`.
  std::string url() const;

  /// A client of the node; sends `token` as a bearer token when not empty.
  httplib::Client client(const std::string& token = {}) const;

  /// Every line the server logged so far.
  std::vector<std::string> log_lines() const;

private:
  std::unique_ptr<durable::executor> exec_;
  std::unique_ptr<durable::nodes::http::server> api_;
  mutable std::mutex log_mtx_;
  std::vector<std::string> log_;
};

/// The body of a response as JSON (fails the test if it is not JSON).
json body_of(const httplib::Result& r);

/// POSTs JSON and returns the result.
httplib::Result post_json(httplib::Client& c, const std::string& path,
                          const json& body);

/// Enqueues `task` with `input`; requires 202 and returns the execution id.
std::string enqueue(httplib::Client& c, const std::string& task,
                    const json& input, const json& options = nullptr);

/// Long-polls until the execution finished (hang guard); returns it.
json wait_finished(httplib::Client& c, const std::string& id);

/// Requires an error response with `status` and `kind`; returns its message.
std::string expect_error(const httplib::Result& r, int status,
                         const std::string& kind);

} // namespace durable::test::http
