#include "ceilings.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>
#include <malloc.h>

namespace durable::bench {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
    .count();
}

ceiling_result cycle_result(const char* store, std::string method,
                            std::size_t executions, std::size_t completed,
                            double insert_seconds, double cycle_seconds,
                            std::size_t insert_batch, std::size_t claim_batch,
                            std::size_t claims) {
  if (completed != executions)
    throw std::runtime_error(fmt::format("{} ceiling: completed {} of {} rows",
                                         store, completed, executions));
  ceiling_result out;
  out.method = std::move(method);
  out.executions = executions;
  out.seconds = insert_seconds + cycle_seconds;
  const auto n = static_cast<double>(executions);
  out.per_s = n / out.seconds;
  out.details = {
    {"insert_per_s", n / insert_seconds},
    {"claim_complete_per_s", n / cycle_seconds},
    {"insert_batch", insert_batch},
    {"claim_batch", claim_batch},
    {"claims", claims},
  };
  return out;
}

void print_ceiling_forms(const ceiling_result& c) {
  const auto& d = c.details;
  if (!d.contains("per_s_by_connections"))
    return;
  std::string forms;
  for (const auto& [n, per_s] : d["per_s_by_connections"].items())
    forms += fmt::format("{}{}: {:.0f}/s", forms.empty() ? "" : ", ", n,
                         per_s.get<double>());
  fmt::print(stderr,
             "ceiling by connections: {}; one connection, inserts first "
             "(the former ceiling): {:.0f}/s\n",
             forms, d.value("single_connection_per_s", 0.0));
}

double interleaved_cycle(
  const char* store, std::size_t executions, std::size_t claim_batch,
  std::size_t connections,
  const std::function<void(std::size_t, std::size_t, std::size_t,
                           const std::string&)>& insert,
  const std::function<std::size_t(std::size_t, std::size_t,
                                  const std::string&)>& claim) {
  std::atomic<std::size_t> completed{0};
  std::atomic<bool> failed{false};
  std::mutex mtx;
  std::string failure;
  auto work = [&](std::size_t k) {
    try {
      const auto share = executions / connections
                         + (k < executions % connections ? 1 : 0);
      const auto tag = fmt::format("{}_", k);
      const auto owner = fmt::format("ceiling-owner-{}", k);
      std::size_t inserted = 0;
      while (completed.load() < executions && !failed.load()) {
        if (inserted < share) {
          const auto next = std::min(share, inserted + claim_batch);
          insert(k, inserted, next, tag);
          inserted = next;
        }
        const auto done = claim(k, claim_batch, owner);
        completed += done;
        // Every row of its own is in: what is left is held by others.
        if (done == 0 && inserted == share)
          std::this_thread::yield();
      }
    } catch (const std::exception& e) {
      std::lock_guard guard{mtx};
      failure = e.what();
      failed = true;
    }
  };
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < connections; ++k)
    threads.emplace_back(work, k);
  for (auto& t : threads)
    t.join();
  const double seconds = seconds_since(t0);
  if (failed)
    throw std::runtime_error(fmt::format("{} ceiling with {} connections: {}",
                                         store, connections, failure));
  if (completed.load() != executions)
    throw std::runtime_error(
      fmt::format("{} ceiling with {} connections: {} of {} rows completed",
                  store, connections, completed.load(), executions));
  return static_cast<double>(executions) / seconds;
}

ceiling_result
best_ceiling_form(std::string method, std::size_t executions,
                  std::size_t claim_batch,
                  const std::vector<std::size_t>& connections,
                  const std::function<double(std::size_t)>& concurrent,
                  const ceiling_result& single) {
  ceiling_result out;
  out.method = std::move(method);
  out.executions = executions;
  auto by = nlohmann::json::object();
  std::size_t best = 0;
  for (auto n : connections) {
    auto per_s = concurrent(n);
    by[std::to_string(n)] = per_s;
    if (per_s > out.per_s) {
      out.per_s = per_s;
      best = n;
    }
  }
  // A ceiling the engine can pass is none: on a small run the former form
  // (no contention at all) can be the faster one, and then it is the
  // ceiling.
  std::string best_form = fmt::format("{} connections", best);
  if (single.per_s > out.per_s) {
    out.per_s = single.per_s;
    best_form = "one connection, inserts first";
  }
  out.seconds = static_cast<double>(executions) / out.per_s;
  out.details = {
    {"claim_batch", claim_batch},
    {"per_s_by_connections", std::move(by)},
    {"best_connections", best},
    {"best_form", best_form},
    // The form this harness called its ceiling before: one connection,
    // every insert first, then claim and complete batch by batch.
    {"single_connection_per_s", single.per_s},
    {"single_connection", single.details},
  };
  return out;
}

namespace {

ceiling_result measure_here(const settings& s, const store_place& place,
                            std::size_t executions) {
  if (place.kind() == "postgres")
    return pg_ceiling(place.pg_url(), place.pg_schema() + "_ceiling",
                      executions, s.batch, s.claim_batch,
                      s.ceiling_connections);
  if (place.kind() == "mysql")
    return mysql_ceiling(place.mysql_url(), place.mysql_database() + "_ceiling",
                         executions, s.batch, s.claim_batch,
                         s.ceiling_connections);
  if (place.kind() == "sqlite") {
    // Without this the SQLite cycle spends over half its time in madvise
    // and TLB flushes (perf): each transaction frees the top of the heap
    // and glibc hands it back to the kernel, only to take it again. The
    // engine's long-lived storage thread does not hit this pattern.
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    return sqlite_ceiling(place.sqlite_path() + "-ceiling",
                          place.sqlite_normal_sync(), executions, s.batch,
                          s.claim_batch);
  }
  auto threads = s.scheduler_threads;
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  return caf_ceiling(executions, s.caf_window, threads);
}

nlohmann::json to_json(const ceiling_result& r) {
  return {{"method", r.method},
          {"executions", r.executions},
          {"seconds", r.seconds},
          {"per_s", r.per_s},
          {"details", r.details}};
}

} // namespace

ceiling_result measure_ceiling(const settings& s, const store_place& place,
                               std::size_t executions) {
  // A child process of its own, so that the ceiling shares no heap, no
  // threads and no allocator settings with the run measured after it.
  // Called before the run starts any thread, so fork is safe.
  int fds[2];
  if (pipe(fds) != 0)
    throw std::runtime_error("ceiling: cannot create a pipe");
  auto pid = fork();
  if (pid < 0)
    throw std::runtime_error("ceiling: cannot fork");
  if (pid == 0) {
    close(fds[0]);
    nlohmann::json out;
    int rc = 0;
    try {
      out = to_json(measure_here(s, place, executions));
    } catch (const std::exception& e) {
      out = {{"error", e.what()}};
      rc = 1;
    }
    auto text = out.dump();
    for (std::size_t done = 0; done < text.size();) {
      auto n = ::write(fds[1], text.data() + done, text.size() - done);
      if (n <= 0)
        break;
      done += static_cast<std::size_t>(n);
    }
    close(fds[1]);
    _exit(rc);
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  for (;;) {
    auto n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception&) {
    throw std::runtime_error(fmt::format(
      "ceiling: the measuring process ended without a result (status {})",
      status));
  }
  if (j.contains("error"))
    throw std::runtime_error(j["error"].get<std::string>());
  ceiling_result r;
  r.method = j.at("method").get<std::string>();
  r.executions = j.at("executions").get<std::size_t>();
  r.seconds = j.at("seconds").get<double>();
  r.per_s = j.at("per_s").get<double>();
  r.details = j.at("details");
  return r;
}

} // namespace durable::bench
