// durable-crash-worker: one node of the crash test (crash_test.cpp).
//
//   durable-crash-worker --store sqlite:PATH|pg:SCHEMA|mysql://URL
//                        [--enqueue] [--wait]
//                        [--lease-ms N] [--log FILE] [--children N]
//                        [--max-concurrent N]
//
// Registers a small workflow (a parent fanning out to N children that sleep
// 50-200 ms each, a finalize task summing them, independent tasks and a
// three-step sequence). `--enqueue` enqueues its roots, each with a fixed
// idempotency key, so a second worker on the same store finds the same
// executions. `--wait` runs until every root finished (finding the roots by
// their keys, which never creates a second execution), then prints one line
// "result <json>" with every root's status and output, and exits 0 if all
// completed. Each child body appends "<execution id> <attempt> <pid>" to the
// `--log` file (O_APPEND) and prints "progress child <index>".
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "durable/durable.hpp"
#include "durable/storage/memory_store.hpp"
#ifdef DURABLE_WITH_MYSQL
#include "durable/storage/mysql_store.hpp"
#endif
#include "durable/storage/pg/pg_store.hpp"
#include "durable/storage/sqlite_store.hpp"

using namespace std::chrono_literals;

namespace {

/// Opens the store a URL names: `sqlite:PATH`, `pg:SCHEMA` (the server of
/// DURABLE_PG_URL, that schema), `mysql://user@host:port/database` (in a
/// build with the MySQL store) or `memory:`.
std::shared_ptr<durable::store> open_store(std::string_view url) {
#ifdef DURABLE_WITH_MYSQL
  if (url.starts_with("mysql://") || url.starts_with("mariadb://")) {
    durable::storage::mysql_options opts;
    opts.url = std::string{url};
    return durable::storage::mysql(opts);
  }
#endif
  constexpr std::string_view pg_scheme = "pg:";
  if (url.starts_with(pg_scheme)) {
    durable::storage::pg::pg_options opts;
    opts.schema = std::string{url.substr(pg_scheme.size())};
    opts.pool_size = 2;
    return durable::storage::pg::postgres(opts);
  }
  constexpr std::string_view sqlite_scheme = "sqlite:";
  if (url.starts_with(sqlite_scheme)) {
    auto path = url.substr(sqlite_scheme.size());
    if (path.starts_with("//"))
      path.remove_prefix(2);
    if (path.empty())
      throw std::invalid_argument("sqlite: URL without a path");
    return durable::storage::sqlite(std::string{path});
  }
  if (url == "memory:")
    return durable::storage::memory();
  throw std::invalid_argument(fmt::format(
    "unsupported store URL \"{}\" (expected sqlite:PATH, pg:SCHEMA, "
    "mysql://URL or memory:)",
    url));
}

struct settings {
  std::string store;
  bool enqueue = false;
  bool wait = false;
  durable::millis lease{1000};
  std::string log;
  int children = 20;
  std::size_t max_concurrent = 4;
};

settings parse(int argc, char** argv) {
  settings s;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        throw std::invalid_argument(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--store")
      s.store = value();
    else if (arg == "--enqueue")
      s.enqueue = true;
    else if (arg == "--wait")
      s.wait = true;
    else if (arg == "--lease-ms")
      s.lease = durable::millis{std::stoll(value())};
    else if (arg == "--log")
      s.log = value();
    else if (arg == "--children")
      s.children = std::stoi(value());
    else if (arg == "--max-concurrent")
      s.max_concurrent = static_cast<std::size_t>(std::stoul(value()));
    else
      throw std::invalid_argument(fmt::format("unknown argument {}", arg));
  }
  if (s.store.empty())
    throw std::invalid_argument("--store is required");
  return s;
}

/// Appends one line with a single write(2), so that lines of two processes
/// never interleave.
void append_line(const std::string& path, const std::string& line) {
  if (path.empty())
    return;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0)
    throw std::runtime_error("cannot open log " + path);
  auto text = line + "\n";
  auto n = ::write(fd, text.data(), text.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(text.size()))
    throw std::runtime_error("cannot write log " + path);
}

void say(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int run(const settings& s) {
  durable::executor_options opts;
  opts.lease_duration = s.lease;
  opts.lease_renew_interval = durable::millis{
    std::max<std::int64_t>(1, s.lease.count() / 5)};
  opts.poll_interval = 50ms;
  opts.max_concurrent = s.max_concurrent;
  opts.worker_threads = 8;
  opts.scheduler_threads = 2;
  opts.node_name = fmt::format("crash-worker-{}", ::getpid());
  durable::executor exec{open_store(s.store), opts};

  auto child = exec.task<int, int>(
    {.id = "crash_child", .timeout = 10s},
    [log = s.log](durable::task_context& ctx, int index) {
      auto until = std::chrono::steady_clock::now()
                   + durable::millis{50 + (index * 37) % 151};
      while (std::chrono::steady_clock::now() < until) {
        if (ctx.stop_requested())
          throw durable::error::cancelled();
        std::this_thread::sleep_for(5ms);
      }
      append_line(log, fmt::format("{} {} {}", ctx.execution_id, ctx.attempt,
                                   ::getpid()));
      say(fmt::format("progress child {}", index));
      return index * 10 + 1;
    });
  auto sum = exec.task<durable::finalize_input<int, int>, int>(
    {.id = "crash_sum", .timeout = 10s},
    [](durable::task_context&, const durable::finalize_input<int, int>& in) {
      int total = 0;
      for (const auto& c : in.children)
        total += c.output().value_or(-1000000);
      return total;
    });
  auto fanout = exec.parent_task<int, int>(
    {.id = "crash_fanout", .timeout = 10s},
    [&child](durable::task_context&, int n) {
      durable::parent_output<int> out{.output = n};
      for (int i = 0; i < n; ++i)
        out.children.add(child, i);
      return out;
    },
    sum);
  auto twice = exec.task<int, int>({.id = "crash_twice", .timeout = 10s},
                                   [](durable::task_context&, int x) {
                                     return 2 * x;
                                   });
  auto parse_step = exec.task<std::string, int>(
    {.id = "crash_parse", .timeout = 10s},
    [](durable::task_context&, const std::string& x) { return std::stoi(x); });
  auto square = exec.task<int, int>({.id = "crash_square", .timeout = 10s},
                                    [](durable::task_context&, int x) {
                                      return x * x;
                                    });
  auto render = exec.task<int, std::string>(
    {.id = "crash_render", .timeout = 10s},
    [](durable::task_context&, int x) { return fmt::format("<{}>", x); });
  auto chain = exec.sequence("crash_chain", parse_step, square, render);

  // Roots by idempotency key: a second worker gets the same executions.
  struct root {
    std::string key;
    std::string id;
  };
  std::vector<root> roots;
  auto key = [](std::string k) {
    return durable::enqueue_options{.idempotency_key = std::move(k)};
  };
  if (s.enqueue || s.wait) {
    roots.push_back(
      {"crash-fanout",
       exec.enqueue(fanout, s.children, key("crash-fanout")).execution_id()});
    for (int i = 1; i <= 3; ++i) {
      auto k = fmt::format("crash-twice-{}", i);
      roots.push_back({k, exec.enqueue(twice, i * 7, key(k)).execution_id()});
    }
    roots.push_back(
      {"crash-chain", exec.enqueue(chain, std::string{"12"}, key("crash-chain"))
                        .execution_id()});
    for (const auto& r : roots)
      say(fmt::format("root {} {}", r.key, r.id));
  }
  if (!s.wait)
    return 0;
  nlohmann::json result = nlohmann::json::object();
  bool all_completed = true;
  for (const auto& r : roots) {
    auto done = exec.wait(r.id, 120s);
    nlohmann::json entry{{"execution_id", r.id}};
    if (!done) {
      entry["status"] = "unfinished";
      all_completed = false;
    } else {
      entry["status"] = durable::to_string(done->status);
      if (done->output)
        entry["output"] = nlohmann::json::parse(*done->output, nullptr, false);
      if (done->error)
        entry["error"] = done->error->message;
      all_completed = all_completed
                      && done->status == durable::execution_status::completed;
    }
    result[r.key] = std::move(entry);
  }
  say("result " + result.dump());
  exec.shutdown();
  return all_completed ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "durable-crash-worker: %s\n", e.what());
    return 2;
  }
}
