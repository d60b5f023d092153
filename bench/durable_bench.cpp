// durable-bench: end-to-end throughput and latency of the engine.
//
//   durable-bench --workload simple --executions 100000 --store memory
//
// The window opens at the first enqueue and closes when the last execution
// is finished (as the store reports it).
#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <sys/resource.h>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "counting_store.hpp"
#include "durable/durable.hpp"
#include "durable/storage/memory_store.hpp"

using namespace std::chrono_literals;

namespace {

struct settings {
  std::string workload = "simple";
  std::string store = "memory";
  std::size_t executions = 10000;
  std::size_t parents = 10;
  std::size_t children = 50;
  std::size_t chain_length = 5;
  std::size_t batch = 1000;
  std::size_t max_concurrent = 1000;
  std::size_t claim_batch = 200;
  std::string json_path;
};

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto i = static_cast<std::size_t>(p * static_cast<double>(xs.size() - 1));
  return xs[i];
}

std::size_t peak_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::size_t>(ru.ru_maxrss) * 1024;
}

std::shared_ptr<durable::store> open_store(const settings& s) {
  if (s.store == "memory")
    return durable::storage::memory();
  throw std::runtime_error("unknown store: " + s.store);
}

} // namespace

int main(int argc, char** argv) {
  settings s;
  CLI::App app{"durable-bench: throughput and latency of durable"};
  app.add_option("--workload", s.workload, "simple | fanout | chain")
    ->check(CLI::IsMember({"simple", "fanout", "chain"}));
  app.add_option("--store", s.store, "memory");
  app.add_option("--executions", s.executions, "executions (simple)");
  app.add_option("--parents", s.parents, "parents (fanout)");
  app.add_option("--children", s.children, "children per parent (fanout)");
  app.add_option("--chain-length", s.chain_length, "steps per chain");
  app.add_option("--batch", s.batch, "executions per enqueue_many call");
  app.add_option("--max-concurrent", s.max_concurrent, "slots");
  app.add_option("--claim-batch", s.claim_batch, "rows per claim");
  app.add_option("--json", s.json_path, "append one JSON record per run");
  CLI11_PARSE(app, argc, argv);

  auto counted = std::make_shared<durable::bench::counting_store>(
    open_store(s));
  durable::executor_options opts;
  opts.max_concurrent = s.max_concurrent;
  opts.claim_batch_size = s.claim_batch;
  durable::executor exec{counted, opts};

  auto noop = exec.task<int, int>(
    {.id = "noop", .timeout = 10s, .may_block = false},
    [](durable::task_context&, int x) { return x; });
  auto fan = exec.parent_task<int, int>(
    {.id = "fan", .timeout = 10s, .may_block = false},
    [&](durable::task_context&, int n) {
      durable::parent_output<int> out{.output = n};
      for (int i = 0; i < n; ++i)
        out.children.add(noop, i);
      return out;
    });

  std::size_t expected = 0;
  auto t0 = std::chrono::steady_clock::now();
  if (s.workload == "simple") {
    expected = s.executions;
    std::vector<int> inputs(s.batch);
    for (std::size_t done = 0; done < s.executions; done += s.batch) {
      inputs.resize(std::min(s.batch, s.executions - done));
      exec.enqueue_many(noop, inputs);
    }
  } else if (s.workload == "fanout") {
    expected = s.parents * (s.children + 1);
    std::vector<int> inputs(s.parents, static_cast<int>(s.children));
    exec.enqueue_many(fan, inputs);
  } else {
    std::vector<durable::task_ref<int, int>> steps(s.chain_length, noop);
    durable::task_definition def;
    def.kind = durable::task_kind::sequence;
    def.options = {"chain", 30s};
    for (auto& st : steps)
      def.steps.push_back(st.id());
    exec.add(def);
    expected = s.executions * (s.chain_length + 1);
    std::vector<std::string> inputs(s.executions, "1");
    exec.enqueue_raw("chain", inputs);
  }
  auto t_enq = std::chrono::steady_clock::now();
  while (counted->finished() < expected) {
    std::this_thread::sleep_for(1ms);
    std::cerr << fmt::format("\r{} / {} finished", counted->finished(),
                             expected)
              << std::flush;
  }
  auto t1 = std::chrono::steady_clock::now();
  std::cerr << "\n";
  auto secs = std::chrono::duration<double>(t1 - t0).count();
  auto enq_secs = std::chrono::duration<double>(t_enq - t0).count();
  std::vector<double> to_start;
  std::vector<double> to_finish;
  for (const auto& x : counted->samples()) {
    to_start.push_back(
      std::chrono::duration<double, std::milli>(x.started - x.created)
        .count());
    to_finish.push_back(
      std::chrono::duration<double, std::milli>(x.finished - x.created)
        .count());
  }
  nlohmann::json rec{
    {"workload", s.workload},
    {"store", s.store},
    {"nodes", 1},
    {"executions", expected},
    {"seconds", secs},
    {"executions_per_s", static_cast<double>(expected) / secs},
    {"enqueue_per_s", static_cast<double>(expected) / enq_secs},
    {"latency_ms",
     {{"enqueue_to_start",
       {{"p50", percentile(to_start, 0.5)}, {"p99", percentile(to_start, 0.99)}}},
      {"enqueue_to_finish",
       {{"p50", percentile(to_finish, 0.5)},
        {"p99", percentile(to_finish, 0.99)}}}}},
    {"peak_rss_bytes", peak_rss_bytes()},
  };
  fmt::print("{:<8} {:<7} {:>9} execs {:>7.2f} s {:>10.0f} execs/s "
             "(enqueue {:>10.0f}/s)  start p50 {:.2f} ms p99 {:.2f} ms  "
             "finish p50 {:.2f} ms p99 {:.2f} ms  rss {:.1f} MiB\n",
             s.workload, s.store, expected, secs,
             rec["executions_per_s"].get<double>(),
             rec["enqueue_per_s"].get<double>(), percentile(to_start, 0.5),
             percentile(to_start, 0.99), percentile(to_finish, 0.5),
             percentile(to_finish, 0.99),
             static_cast<double>(peak_rss_bytes()) / (1024.0 * 1024.0));
  if (!s.json_path.empty()) {
    std::ofstream out{s.json_path, std::ios::app};
    out << rec.dump() << "\n";
  }
  return 0;
}
