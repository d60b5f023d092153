#include "http/test_node.hpp"

#include <thread>

#include <doctest/doctest.h>

#include "durable/storage/memory_store.hpp"

namespace durable::test::http {

test_node::test_node(durable::nodes::http::server_options opts,
                     std::shared_ptr<durable::store> db,
                     std::size_t worker_threads) {
  if (!db)
    db = durable::storage::memory();
  exec_ = std::make_unique<durable::executor>(
    std::move(db), durable::executor_options{.worker_threads = worker_threads,
                                             .poll_interval = 20ms});
  auto& e = *exec_;
  e.task<json, json>({.id = "echo", .timeout = 10s},
                     [](durable::task_context&, const json& in) { return in; });
  e.task<json, json>({.id = "refuse", .timeout = 10s},
                     [](durable::task_context&, const json&) -> json {
                       throw durable::error::non_retryable("refused");
                     });
  e.task<json, json>({.id = "blocker", .timeout = 60s},
                     [](durable::task_context& ctx, const json&) -> json {
                       auto until = std::chrono::steady_clock::now() + guard;
                       while (!ctx.stop_requested()
                              && std::chrono::steady_clock::now() < until)
                         std::this_thread::sleep_for(2ms);
                       throw durable::error::cancelled();
                     });
  e.sleeping_task<json>({.id = "approval", .timeout = 60s});
  auto echo = durable::task_ref<json, json>{"echo"};
  e.parent_task<int, std::string>({.id = "fan_out", .timeout = 10s},
                                  [echo](durable::task_context&, const int& n) {
                                    durable::parent_output<std::string> out{
                                      .output = "spawned"};
                                    for (int i = 0; i < n; ++i)
                                      out.children.add(echo, json(i));
                                    return out;
                                  });
  if (!opts.log)
    opts.log = [this](std::string_view line) {
      std::lock_guard lock{log_mtx_};
      log_.emplace_back(line);
    };
  api_ = std::make_unique<durable::nodes::http::server>(e, std::move(opts));
  api_->start();
}

test_node::~test_node() {
  api_->stop();
  exec_->shutdown();
}

std::string test_node::url() const {
  return "http://127.0.0.1:" + std::to_string(port());
}

httplib::Client test_node::client(const std::string& token) const {
  httplib::Client c{"127.0.0.1", port()};
  c.set_read_timeout(guard);
  c.set_connection_timeout(guard);
  if (!token.empty())
    c.set_bearer_token_auth(token);
  return c;
}

std::vector<std::string> test_node::log_lines() const {
  std::lock_guard lock{log_mtx_};
  return log_;
}

json body_of(const httplib::Result& r) {
  REQUIRE(r);
  auto j = json::parse(r->body, nullptr, false);
  INFO("body: " << r->body);
  REQUIRE_FALSE(j.is_discarded());
  CHECK(r->get_header_value("Content-Type") == "application/json");
  return j;
}

httplib::Result post_json(httplib::Client& c, const std::string& path,
                          const json& body) {
  return c.Post(path.c_str(), body.dump(), "application/json");
}

std::string enqueue(httplib::Client& c, const std::string& task,
                    const json& input, const json& options) {
  json body{{"input", input}};
  if (!options.is_null())
    body["options"] = options;
  auto r = post_json(c, "/v1/tasks/" + task + "/executions", body);
  REQUIRE(r);
  INFO("body: " << r->body);
  REQUIRE(r->status == 202);
  auto j = body_of(r);
  auto id = j.at("execution_id").get<std::string>();
  CHECK(j.at("task_id") == task);
  CHECK(r->get_header_value("Location") == "/v1/executions/" + id);
  return id;
}

json wait_finished(httplib::Client& c, const std::string& id) {
  auto until = std::chrono::steady_clock::now() + guard;
  while (std::chrono::steady_clock::now() < until) {
    auto r = c.Get(("/v1/executions/" + id + "/wait?timeout_ms=10000").c_str());
    REQUIRE(r);
    if (r->status == 200)
      return body_of(r);
    INFO("body: " << r->body);
    REQUIRE(r->status == 202);
  }
  FAIL("execution " << id << " did not finish");
  return nullptr;
}

std::string expect_error(const httplib::Result& r, int status,
                         const std::string& kind) {
  REQUIRE(r);
  INFO("body: " << r->body);
  CHECK(r->status == status);
  auto j = body_of(r);
  REQUIRE(j.contains("error"));
  CHECK(j["error"]["kind"] == kind);
  REQUIRE(j["error"]["message"].is_string());
  auto message = j["error"]["message"].get<std::string>();
  CHECK_FALSE(message.empty());
  return message;
}

} // namespace durable::test::http
