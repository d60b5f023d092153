#include "report.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "memory_probe.hpp"

#ifndef DURABLE_BENCH_SOURCE_DIR
#define DURABLE_BENCH_SOURCE_DIR "."
#endif

namespace durable::bench {

namespace {

nlohmann::json dist_json(const distribution& d) {
  return {{"count", d.count},
          {"p50", d.p50},
          {"p90", d.p90},
          {"p99", d.p99},
          {"max", d.max}};
}

std::string git_commit() {
  std::string out;
  auto cmd = fmt::format("git -C '{}' rev-parse --short HEAD 2>/dev/null",
                         DURABLE_BENCH_SOURCE_DIR);
  if (auto* p = popen(cmd.c_str(), "r")) {
    std::array<char, 128> buf{};
    if (fgets(buf.data(), buf.size(), p))
      out = buf.data();
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  return out.empty() ? "unknown" : out;
}

std::string utc_now() {
  auto t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json options_json(const settings& s) {
  return {{"executions", s.executions},
          {"parents", s.parents},
          {"children", s.children},
          {"chains", s.chains},
          {"chain_length", s.chain_length},
          {"retry_failures", s.retry_failures},
          {"retry_delay_ms", s.retry_delay.count()},
          {"batch", s.batch},
          {"serial", s.serial},
          {"max_concurrent", s.max_concurrent},
          {"claim_batch", s.claim_batch},
          {"worker_threads", s.worker_threads},
          {"scheduler_threads", s.scheduler_threads},
          {"poll_interval_ms", s.poll_interval.count()},
          {"recheck_interval_ms", s.recheck_interval.count()},
          {"pg_pool", s.pg_pool},
          {"sqlite_synchronous", s.sqlite_normal_sync ? "NORMAL" : "FULL"},
          {"duration_s", s.duration_s},
          {"interval_s", s.interval_s},
          {"pg_sample_s", s.pg_sample_s},
          {"retain_completed_s", s.retain_completed_s},
          {"caf_window", s.caf_window}};
}

double get_or(const nlohmann::json& j, const nlohmann::json::json_pointer& p,
              double fallback = 0) {
  return j.contains(p) && j.at(p).is_number() ? j.at(p).get<double>()
                                              : fallback;
}

} // namespace

nlohmann::json to_json(const run_report& r) {
  const auto& s = r.options;
  const auto per_s = r.seconds > 0
                       ? static_cast<double>(r.rows.rows) / r.seconds
                       : 0.0;
  nlohmann::json j{
    {"workload", s.workload},
    {"store", s.store},
    {"nodes", s.nodes},
    {"executions", r.rows.rows},
    {"top_level_executions", r.rows.top_level},
    {"rounds", r.rounds},
    {"seconds", r.seconds},
    {"executions_per_s", per_s},
    {"top_level_per_s",
     r.seconds > 0 ? static_cast<double>(r.rows.top_level) / r.seconds : 0.0},
    {"enqueue_per_s", r.enqueue_seconds > 0
                        ? static_cast<double>(r.enqueued) / r.enqueue_seconds
                        : 0.0},
    {"latency_ms",
     {{"enqueue_to_start", dist_json(r.rows.enqueue_to_start)},
      {"enqueue_to_finish", dist_json(r.rows.enqueue_to_finish)},
      {"last_child_to_parent_done", dist_json(r.rows.child_to_parent)}}},
    {"peak_rss_bytes", r.peak_rss_bytes},
    {"allocator", running_allocator()},
    {"validated", r.validated},
    {"valid", r.checked.ok()},
    {"problems", r.checked.problems},
    {"git_commit", git_commit()},
    {"date", utc_now()},
    {"label", s.label},
    {"options", options_json(s)},
  };
  if (r.ceiling) {
    j["ceiling_per_s"] = r.ceiling->per_s;
    j["percent_of_ceiling"] = r.ceiling->per_s > 0
                                ? 100.0 * per_s / r.ceiling->per_s
                                : 0.0;
    j["ceiling"] = {{"method", r.ceiling->method},
                    {"executions", r.ceiling->executions},
                    {"seconds", r.ceiling->seconds},
                    {"details", r.ceiling->details}};
  } else {
    j["ceiling_per_s"] = nullptr;
  }
  if (r.rss_idle_bytes && r.rss_in_flight_bytes) {
    const auto grown = *r.rss_in_flight_bytes > *r.rss_idle_bytes
                         ? *r.rss_in_flight_bytes - *r.rss_idle_bytes
                         : 0;
    j["rss_idle_bytes"] = *r.rss_idle_bytes;
    j["rss_in_flight_bytes"] = *r.rss_in_flight_bytes;
    j["bytes_per_running_execution"] = static_cast<double>(grown)
                                       / static_cast<double>(s.executions);
  }
  if (r.pg_commits) {
    j["pg_commits"] = *r.pg_commits;
    j["pg_commits_per_execution"] = r.rows.rows > 0
                                      ? static_cast<double>(*r.pg_commits)
                                          / static_cast<double>(r.rows.rows)
                                      : 0.0;
    j["pg_settings"] = r.pg_settings;
    j["pg_statements"] = r.pg_statements;
    if (!r.pg_trend.is_null())
      j["pg_trend"] = r.pg_trend;
  }
  if (r.pruned) {
    j["pruned_roots"] = r.pruned->roots;
    j["pruned_rows"] = r.pruned->rows;
  }
  if (s.duration_s > 0 || r.rows.finished_per_interval.size() > 1) {
    std::vector<double> rates;
    for (auto n : r.rows.finished_per_interval)
      rates.push_back(static_cast<double>(n) / s.interval_s);
    j["intervals"] = {{"seconds", s.interval_s}, {"executions_per_s", rates}};
  }
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  j["machine"] = {{"cores", std::thread::hardware_concurrency()},
                  {"load_average", {load[0], load[1], load[2]}}};
  return j;
}

void append_json(const std::string& path, const nlohmann::json& record) {
  std::ofstream out{path, std::ios::app};
  out << record.dump() << "\n";
  if (!out)
    throw std::runtime_error("cannot write the JSON record to " + path);
}

std::vector<nlohmann::json> read_json_lines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in{path};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const std::exception&) {
    }
  }
  return out;
}

void print_table(const std::vector<nlohmann::json>& records) {
  using ptr = nlohmann::json::json_pointer;
  fmt::print("{:<9} {:<8} {:>2} {:>8} {:>7} {:>9} {:>9} {:>6} {:>9} "
             "{:>13} {:>13} {:>7} {:>7} {:>6} {:>6}\n",
             "workload", "store", "n", "execs", "secs", "execs/s", "ceiling",
             "%ceil", "enq/s", "start p50/p99", "finish p50/99", "child>p",
             "rssMiB", "B/exec", "pg c/e");
  for (const auto& j : records) {
    auto opt = [&](const char* p, const char* f = "{:.0f}") {
      return j.contains(ptr{p}) && j.at(ptr{p}).is_number()
               ? fmt::format(fmt::runtime(f), j.at(ptr{p}).get<double>())
               : std::string{"-"};
    };
    fmt::print(
      "{:<9} {:<8} {:>2} {:>8} {:>7.2f} {:>9.0f} {:>9} {:>6} {:>9.0f} "
      "{:>13} {:>13} {:>7} {:>7.1f} {:>6} {:>6}\n",
      j.value("workload", "?"), j.value("store", "?"), j.value("nodes", 0),
      j.value("executions", 0), get_or(j, ptr{"/seconds"}),
      get_or(j, ptr{"/executions_per_s"}), opt("/ceiling_per_s"),
      opt("/percent_of_ceiling", "{:.0f}%"), get_or(j, ptr{"/enqueue_per_s"}),
      fmt::format("{:.1f}/{:.1f}",
                  get_or(j, ptr{"/latency_ms/enqueue_to_start/p50"}),
                  get_or(j, ptr{"/latency_ms/enqueue_to_start/p99"})),
      fmt::format("{:.1f}/{:.1f}",
                  get_or(j, ptr{"/latency_ms/enqueue_to_finish/p50"}),
                  get_or(j, ptr{"/latency_ms/enqueue_to_finish/p99"})),
      get_or(j, ptr{"/latency_ms/last_child_to_parent_done/count"}) > 0
        ? fmt::format("{:.1f}", get_or(j, ptr{"/latency_ms/"
                                              "last_child_to_parent_done/"
                                              "p50"}))
        : std::string{"-"},
      get_or(j, ptr{"/peak_rss_bytes"}) / (1024.0 * 1024.0),
      opt("/bytes_per_running_execution"),
      opt("/pg_commits_per_execution", "{:.3f}"));
    if (j.contains("problems") && !j["problems"].empty())
      for (const auto& p : j["problems"])
        fmt::print("  invalid: {}\n", p.get<std::string>());
  }
}

} // namespace durable::bench
