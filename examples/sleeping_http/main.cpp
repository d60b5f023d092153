// sleeping_http: a sleeping task waits for an external event (a reviewer's
// approval) and is woken by an HTTP request.
//
// A sleeping task has no body: its execution is stored with a unique id
// (its input) and stays `sleeping` until someone wakes it with an output
// or an error, or its timeout passes. Here the program embeds durable's
// HTTP API (docs/http-api.md) on 127.0.0.1 and a free port, then plays
// the outside world itself: it sends
//
//   POST /v1/tasks/approval/wake
//   {"sleeping_id": "order-…", "output": "approved by alice"}
//
// as a webhook or a web page would, and waits for the execution to end.
//
//   sleeping_http [DB]   SQLite file (default sleeping_http.db)
//
// Exits 0 when the HTTP call answered 200 and the sleeping execution
// completed with the output sent, 1 otherwise.
#include <chrono>
#include <cstdio>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "durable/durable.hpp"
#include "durable/nodes/http/server.hpp"
#include "durable/storage/sqlite_store.hpp"

using namespace std::chrono_literals;

namespace {

int run(const std::string& db) {
  durable::executor exec{durable::storage::sqlite(db)};

  // Output type std::string: what the waker sends. If nobody wakes it
  // within the timeout, the execution ends `timed_out`.
  auto approval = exec.sleeping_task<std::string>(
    {.id = "approval", .timeout = 1min});

  // Sleeping ids are unique across all executions of the store, so each
  // run of this program uses a new one.
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::string order = "order-"
                            + std::to_string(std::chrono::duration_cast<
                                               std::chrono::microseconds>(now)
                                               .count());
  auto handle = exec.enqueue(approval, order);
  std::printf("enqueued %s, status %s\n", order.c_str(),
              std::string{durable::to_string(handle.get().status)}.c_str());

  // The HTTP API in front of this executor. Port 0 picks a free port;
  // on loopback no token is needed. The server is declared after the
  // executor, so it stops first, as it must.
  durable::nodes::http::server api{exec,
                                   {.bind_address = "127.0.0.1", .port = 0}};
  api.start();
  std::printf("HTTP API on 127.0.0.1:%u\n", unsigned{api.port()});

  // The outside world: a plain HTTP client (cpp-httplib) posting JSON.
  const std::string payload = "approved by alice";
  httplib::Client web{"127.0.0.1", api.port()};
  const nlohmann::json body = {{"sleeping_id", order}, {"output", payload}};
  auto response = web.Post("/v1/tasks/approval/wake", body.dump(),
                           "application/json");
  if (!response) {
    std::printf("wake request failed: %s\n",
                httplib::to_string(response.error()).c_str());
    return 1;
  }
  // The answer is the woken execution as stored (JSON).
  std::printf("POST /v1/tasks/approval/wake -> %d\n", response->status);

  // The handle's wait() is woken by the store when the execution ends,
  // whichever process or thread woke it.
  auto result = handle.wait_for(10s);
  if (!result) {
    std::printf("the execution did not end within 10 s\n");
    return 1;
  }
  std::printf("%s %s, output %s\n", order.c_str(),
              std::string{durable::to_string(result->execution.status)}.c_str(),
              result->output.value_or("-").c_str());
  api.stop();
  return response->status == 200 && result->ok() && result->output == payload
           ? 0
           : 1;
}

} // namespace

int main(int argc, char** argv) {
  const std::string db = argc > 1 ? argv[1] : "sleeping_http.db";
  try {
    return run(db);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sleeping_http: %s\n", e.what());
    return 2;
  }
}
