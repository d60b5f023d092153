// retries_sqlite: three tasks on the embedded SQLite store, each showing
// how a failure is recorded.
//
//   charge_card   fails twice with a plain exception (retryable), then
//                 succeeds: three runs, status completed
//   slow_report   runs past its 200 ms timeout, is retried once and times
//                 out again: two runs, status timed_out
//   check_address throws a non-retryable error: one run, status failed,
//                 although it may retry three times
//
//   retries_sqlite [DB]   SQLite file (default retries_sqlite.db)
//
// Prints each execution as stored and exits 0 when every one ended as
// described above, 1 otherwise.
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

#include "durable/durable.hpp"
#include "durable/storage/sqlite_store.hpp"

using namespace std::chrono_literals;

namespace {

// One line per execution: what the store says happened to it.
bool report(const char* expected_what, const durable::execution_record& r,
            durable::execution_status expected_status, int expected_runs) {
  const int runs = r.attempt + 1;
  const bool as_expected = r.status == expected_status && runs == expected_runs;
  const std::string outcome = r.output  ? *r.output
                              : r.error ? "error: " + r.error->message
                                        : "";
  std::printf("%-14s %-10s runs=%d  %s%s\n", r.task_id.c_str(),
              std::string{durable::to_string(r.status)}.c_str(), runs,
              outcome.c_str(), as_expected ? "" : "   <- unexpected");
  if (!as_expected)
    std::printf("  expected %s\n", expected_what);
  return as_expected;
}

int run(const std::string& db) {
  // The store keeps every execution and every attempt in one file: a
  // process that dies mid-retry resumes where it stopped when restarted.
  durable::executor exec{durable::storage::sqlite(db)};

  // Retries count *retries*: max_attempts = 3 allows up to four runs, the
  // n-th retry after base_delay * multiplier^(n-1).
  auto charge_card = exec.task<int, std::string>(
    {.id = "charge_card",
     .timeout = 5s,
     .retry = {.max_attempts = 3, .base_delay = 50ms, .multiplier = 2}},
    [](durable::task_context& ctx, int cents) -> std::string {
      // ctx.attempt comes from the store, not from this process's memory.
      if (ctx.attempt < 2)
        throw std::runtime_error("payment gateway unavailable");
      return "charged " + std::to_string(cents) + " cents";
    });

  // The timeout covers one run. A blocking body is told through its
  // cancel token when its time is up, and should stop; a timeout is
  // retryable like any other failure.
  auto slow_report = exec.task<int, std::string>(
    {.id = "slow_report",
     .timeout = 200ms,
     .retry = {.max_attempts = 1, .base_delay = 50ms}},
    [](durable::task_context& ctx, int pages) -> std::string {
      for (int i = 0; i < 500 && !ctx.stop_requested(); ++i)
        std::this_thread::sleep_for(10ms);
      return std::to_string(pages) + " pages";
    });

  // durable::error::non_retryable ends the execution at once.
  auto check_address = exec.task<std::string, bool>(
    {.id = "check_address",
     .timeout = 5s,
     .retry = {.max_attempts = 3, .base_delay = 50ms}},
    [](durable::task_context&, const std::string& address) -> bool {
      if (address.empty())
        throw durable::error::non_retryable("no address given");
      return true;
    });

  // Each enqueue is stored before it returns; wait() is woken when the
  // execution ends.
  auto card = exec.enqueue(charge_card, 1250);
  auto report_run = exec.enqueue(slow_report, 12);
  auto address = exec.enqueue(check_address, std::string{});

  bool ok = true;
  ok &= report("completed after 3 runs", card.wait().execution,
               durable::execution_status::completed, 3);
  ok &= report("timed_out after 2 runs", report_run.wait().execution,
               durable::execution_status::timed_out, 2);
  ok &= report("failed after 1 run", address.wait().execution,
               durable::execution_status::failed, 1);
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  const std::string db = argc > 1 ? argv[1] : "retries_sqlite.db";
  try {
    return run(db);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "retries_sqlite: %s\n", e.what());
    return 2;
  }
}
