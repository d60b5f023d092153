// durable-http-bench: the HTTP API as a web app sees it.
//
// Starts durable-node (and, with --second-node, a second one on the same
// PostgreSQL schema that claims work without serving HTTP), then measures,
// on kept-alive connections with TCP_NODELAY:
//
//  1. latency: `--requests` sequential enqueues of a trivial task on one
//     connection, each followed by a long poll for its result: enqueue
//     p50/p90/p99 and enqueue -> result p50/p90/p99;
//  2. throughput: `--connections` clients enqueueing one execution per
//     request for `--seconds`: requests per second;
//  3. batch insert: `--batches` requests of `--batch-size` executions each
//     (POST .../executions/batch), held back an hour (sleep_before_run) so
//     that only the insert is measured: executions stored per second.
//
// One JSON record per run goes to `--json` (bench/results/).

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <optional>
#include <signal.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spawn.h>

#include "stats.hpp"

extern char** environ;

namespace {

using clock_type = std::chrono::steady_clock;
using nlohmann::json;

struct settings {
  std::string node_binary = DURABLE_NODE_BINARY;
  std::string store = "memory";
  std::string pg_url;
  bool claim_on_insert = true;
  bool second_node = false;
  std::size_t requests = 2000;
  std::size_t connections = 4;
  double seconds = 5;
  std::size_t batch_size = 1000;
  std::size_t batches = 20;
  std::string json_path;
  std::string label;
};

/// A durable-node process, stopped with SIGTERM when destroyed.
class node_process {
public:
  explicit node_process(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // Its log would drown the report: the node's own tests cover it.
    posix_spawn_file_actions_t quiet;
    posix_spawn_file_actions_init(&quiet);
    posix_spawn_file_actions_addopen(&quiet, STDOUT_FILENO, "/dev/null",
                                     O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&quiet, STDERR_FILENO, "/dev/null",
                                     O_WRONLY, 0);
    const int rc = posix_spawn(&pid_, argv[0], &quiet, nullptr, argv.data(),
                               environ);
    posix_spawn_file_actions_destroy(&quiet);
    if (rc != 0)
      throw std::runtime_error("cannot start " + args.front());
  }

  ~node_process() {
    if (pid_ <= 0)
      return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }

  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

private:
  pid_t pid_ = -1;
};

/// A loopback port nobody listens on now (the kernel's pick).
std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  const bool ok = fd >= 0
                  && bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0
                  && getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                       == 0;
  if (fd >= 0)
    close(fd);
  if (!ok)
    throw std::runtime_error("no free loopback port");
  return ntohs(addr.sin_port);
}

httplib::Client client_for(std::uint16_t port) {
  httplib::Client c{"127.0.0.1", port};
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);
  c.set_read_timeout(60, 0);
  return c;
}

void wait_ready(std::uint16_t port) {
  auto c = client_for(port);
  const auto deadline = clock_type::now() + std::chrono::seconds{60};
  while (clock_type::now() < deadline) {
    if (auto r = c.Get("/v1/health/ready"); r && r->status == 200)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  throw std::runtime_error("durable-node was not ready within 60 s");
}

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
    .count();
}

json distribution_json(const durable::bench::distribution& d) {
  return {{"count", d.count},
          {"p50", d.p50},
          {"p90", d.p90},
          {"p99", d.p99},
          {"max", d.max}};
}

std::string enqueue_path(const char* suffix = "") {
  return fmt::format("/v1/tasks/example_square/executions{}", suffix);
}

const httplib::Headers json_headers{{"Content-Type", "application/json"}};

/// Phase 1: sequential enqueue, then a long poll for the result.
json latency_phase(std::uint16_t port, std::size_t n) {
  auto c = client_for(port);
  std::vector<double> enqueue_ms;
  std::vector<double> result_ms;
  enqueue_ms.reserve(n);
  result_ms.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = clock_type::now();
    auto r = c.Post(enqueue_path().c_str(), json_headers,
                    json{{"input", {{"x", i % 1000}}}}.dump(),
                    "application/json");
    if (!r || r->status != 202)
      throw std::runtime_error("enqueue failed");
    enqueue_ms.push_back(ms_since(t0));
    auto id = json::parse(r->body).at("execution_id").get<std::string>();
    auto w = c.Get(
      fmt::format("/v1/executions/{}/wait?timeout_ms=30000", id).c_str());
    if (!w || w->status != 200
        || json::parse(w->body).at("status") != "completed")
      throw std::runtime_error("execution " + id + " did not complete");
    result_ms.push_back(ms_since(t0));
  }
  return {{"enqueue_ms",
           distribution_json(durable::bench::percentiles(enqueue_ms))},
          {"enqueue_to_result_ms",
           distribution_json(durable::bench::percentiles(result_ms))}};
}

/// Phase 2: `connections` clients enqueue for `seconds`.
json throughput_phase(std::uint16_t port, std::size_t connections,
                      double seconds) {
  std::atomic<std::size_t> done{0};
  std::atomic<bool> failed{false};
  const auto until = clock_type::now()
                     + std::chrono::duration_cast<clock_type::duration>(
                       std::chrono::duration<double>{seconds});
  const auto t0 = clock_type::now();
  std::vector<std::thread> clients;
  for (std::size_t k = 0; k < connections; ++k)
    clients.emplace_back([&] {
      auto c = client_for(port);
      const auto body = json{{"input", {{"x", 7}}}}.dump();
      while (clock_type::now() < until) {
        auto r = c.Post(enqueue_path().c_str(), json_headers, body,
                        "application/json");
        if (!r || r->status != 202) {
          failed = true;
          return;
        }
        ++done;
      }
    });
  for (auto& t : clients)
    t.join();
  if (failed)
    throw std::runtime_error("an enqueue failed under load");
  const double elapsed = ms_since(t0) / 1000;
  return {{"connections", connections},
          {"requests", done.load()},
          {"seconds", elapsed},
          {"requests_per_s", static_cast<double>(done.load()) / elapsed}};
}

/// Phase 3: batches of `size` executions, held back an hour.
json batch_phase(std::uint16_t port, std::size_t size, std::size_t batches) {
  auto c = client_for(port);
  json inputs = json::array();
  for (std::size_t i = 0; i < size; ++i)
    inputs.push_back({{"x", i}});
  const auto body = json{{"inputs", inputs},
                         {"options", {{"sleep_before_run_ms", 3'600'000}}}}
                      .dump();
  std::vector<double> request_ms;
  const auto t0 = clock_type::now();
  for (std::size_t b = 0; b < batches; ++b) {
    const auto t = clock_type::now();
    auto r = c.Post(enqueue_path("/batch").c_str(), json_headers, body,
                    "application/json");
    if (!r || r->status != 202)
      throw std::runtime_error(
        fmt::format("batch enqueue failed: {}", r ? r->body : "no answer"));
    request_ms.push_back(ms_since(t));
  }
  const double elapsed = ms_since(t0) / 1000;
  return {{"batch_size", size},
          {"batches", batches},
          {"seconds", elapsed},
          {"executions_per_s", static_cast<double>(size * batches) / elapsed},
          {"request_ms",
           distribution_json(durable::bench::percentiles(request_ms))}};
}

std::vector<std::string> node_args(const settings& s, const std::string& name,
                                   const std::string& schema,
                                   std::optional<std::uint16_t> http_port) {
  std::vector<std::string> a{s.node_binary, "--name", name};
  if (s.store == "postgres") {
    a.insert(a.end(), {"--store", "postgres", "--pg-url", s.pg_url,
                       "--pg-schema", schema});
  } else {
    a.insert(a.end(), {"--store", "memory"});
  }
  a.insert(a.end(),
           {"--claim-on-insert", s.claim_on_insert ? "true" : "false"});
  if (http_port)
    a.insert(a.end(), {"--http-port", std::to_string(*http_port)});
  return a;
}

} // namespace

int main(int argc, char** argv) {
  settings s;
  if (const char* url = std::getenv("DURABLE_PG_URL"))
    s.pg_url = url;
  CLI::App app{"durable-http-bench: the HTTP API's latency and throughput "
               "against a durable-node it starts"};
  app.add_option("--node", s.node_binary, "the durable-node program");
  app.add_option("--store", s.store, "memory | postgres")
    ->check(CLI::IsMember({"memory", "postgres"}));
  app.add_option("--pg-url", s.pg_url, "PostgreSQL URL (DURABLE_PG_URL)");
  app.add_option("--claim-on-insert", s.claim_on_insert,
                 "the serving node stores new rows claimed by itself");
  app.add_flag("--second-node", s.second_node,
               "a second node (postgres) claims work too, without HTTP");
  app.add_option("--requests", s.requests, "sequential enqueue + wait");
  app.add_option("--connections", s.connections, "clients in phase 2");
  app.add_option("--seconds", s.seconds, "length of phase 2");
  app.add_option("--batch-size", s.batch_size, "executions per batch");
  app.add_option("--batches", s.batches, "batch requests");
  app.add_option("--json", s.json_path, "append one JSON record");
  app.add_option("--label", s.label, "free text in the record");
  CLI11_PARSE(app, argc, argv);
  if (s.store == "postgres" && s.pg_url.empty()) {
    fmt::print(stderr, "--store postgres needs --pg-url or DURABLE_PG_URL\n");
    return 2;
  }
  if (s.second_node && s.store != "postgres") {
    fmt::print(stderr, "--second-node needs --store postgres\n");
    return 2;
  }
  const auto schema = fmt::format("http_bench_{}", getpid());
  json record{{"tool", "durable-http-bench"},
              {"store", s.store},
              {"claim_on_insert", s.claim_on_insert},
              {"second_node", s.second_node},
              {"label", s.label}};
  try {
    const auto port = free_port();
    std::optional<node_process> serving;
    std::optional<node_process> second;
    serving.emplace(node_args(s, "http-bench-a", schema, port));
    wait_ready(port);
    if (s.second_node)
      second.emplace(node_args(s, "http-bench-b", schema, std::nullopt));
    record["latency"] = latency_phase(port, s.requests);
    record["throughput"] = throughput_phase(port, s.connections, s.seconds);
    record["batch_insert"] = batch_phase(port, s.batch_size, s.batches);
    second.reset();
    serving.reset();
  } catch (const std::exception& e) {
    fmt::print(stderr, "durable-http-bench: {}\n", e.what());
    return 1;
  }
  if (s.store == "postgres") {
    pqxx::connection conn{s.pg_url};
    pqxx::work tx{conn};
    tx.exec0("DROP SCHEMA IF EXISTS " + tx.quote_name(schema) + " CASCADE");
    tx.commit();
  }
  const auto& lat = record["latency"];
  fmt::print("enqueue p50 {:.3f} ms p99 {:.3f} ms; enqueue->result p50 "
             "{:.3f} ms p99 {:.3f} ms; {:.0f} enqueues/s on {} connections; "
             "batch insert {:.0f} executions/s\n",
             lat["enqueue_ms"]["p50"].get<double>(),
             lat["enqueue_ms"]["p99"].get<double>(),
             lat["enqueue_to_result_ms"]["p50"].get<double>(),
             lat["enqueue_to_result_ms"]["p99"].get<double>(),
             record["throughput"]["requests_per_s"].get<double>(),
             s.connections,
             record["batch_insert"]["executions_per_s"].get<double>());
  if (!s.json_path.empty())
    std::ofstream{s.json_path, std::ios::app} << record.dump() << '\n';
  return 0;
}
