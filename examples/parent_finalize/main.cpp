// parent_finalize: a parent task fans out one child per number, each child
// squares its number, and a finalize sums the squares, on the embedded
// SQLite store.
//
//   sum_of_squares([1..10])
//     ├─ square(1) … square(10)   children: own executions, run in parallel,
//     │                           each retried on its own
//     └─ finalize                 runs once every child ended; sees each
//                                 child's status and output, in order
//
//   parent_finalize [DB]   SQLite file (default parent_finalize.db)
//
// Prints the children and the total, and exits 0 when the total is 385
// (1² + … + 10²) and every child completed, 1 otherwise.
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "durable/durable.hpp"
#include "durable/storage/sqlite_store.hpp"

using namespace std::chrono_literals;

namespace {

int run(const std::string& db) {
  durable::executor exec{durable::storage::sqlite(db)};

  // The child: an ordinary task. Number 7 fails on its first run to show
  // that a child is retried on its own, without rerunning its siblings.
  auto square = exec.task<int, int>(
    {.id = "square",
     .timeout = 5s,
     .retry = {.max_attempts = 2, .base_delay = 20ms}},
    [](durable::task_context& ctx, int x) {
      if (x == 7 && ctx.attempt == 0)
        throw std::runtime_error("flaky worker");
      return x * x;
    });

  // The parent's body runs once: it returns its own output (here a label)
  // and the children to start. It does not wait for them; the engine
  // stores the children with the parent's result in one write.
  auto sum_of_squares = exec.parent_task<std::vector<int>, std::string>(
    {.id = "sum_of_squares", .timeout = 30s},
    [&square](durable::task_context&, const std::vector<int>& xs) {
      durable::parent_output<std::string> out{.output = "squares"};
      for (int x : xs)
        out.children.add(square, x);
      return out;
    },
    // The finalize runs after the last child ended, whatever its status
    // (like Promise.allSettled). Its return value is the parent's output,
    // so the parent's type becomes task_ref<std::vector<int>, long>.
    durable::finalize(
      [](const durable::finalize_input<std::string, int>& in) -> long {
        long total = 0;
        for (const auto& child : in.children) {
          if (!child.ok())
            throw durable::error::non_retryable("a child did not complete");
          total += child.output().value_or(0);
        }
        return total;
      }));

  std::vector<int> numbers(10);
  std::iota(numbers.begin(), numbers.end(), 1);
  auto handle = exec.enqueue(sum_of_squares, numbers);

  // wait() returns once the finalize ended: the parent is then finished.
  durable::finished<long> result = handle.wait();

  // Every child is a stored execution of its own, named by the parent.
  bool children_ok = result.execution.children.size() == numbers.size();
  for (const durable::execution_ref& ref : result.execution.children) {
    const durable::execution_record child = exec.get(ref.execution_id);
    std::printf("  %s %s %-9s runs=%d output=%s\n", ref.task_id.c_str(),
                ref.execution_id.c_str(),
                std::string{durable::to_string(child.status)}.c_str(),
                child.attempt + 1, child.output.value_or("-").c_str());
    children_ok &= child.status == durable::execution_status::completed;
  }

  const long expected = 385;
  std::printf("sum_of_squares %s, total %s (expected %ld)\n",
              std::string{durable::to_string(result.execution.status)}.c_str(),
              result.output ? std::to_string(*result.output).c_str() : "-",
              expected);
  return result.ok() && result.output == expected && children_ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  const std::string db = argc > 1 ? argv[1] : "parent_finalize.db";
  try {
    return run(db);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parent_finalize: %s\n", e.what());
    return 2;
  }
}
