#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "durable/forwarding_store.hpp"
#include "engine_test_support.hpp"

// A store refuses a row with a number out of range (stored_ranges.hpp),
// whatever let it through: the engine reports the refusal to whoever
// wrote the row, and nothing else is held up.

using namespace std::chrono_literals;
using durable::execution_record;
using durable::execution_status;
using durable::transition;
using engine_test::test_options;

namespace {

constexpr durable::millis huge_timeout{
  std::numeric_limits<std::int64_t>::max()};

const std::string problem = "timeout_ms 9223372036854775807 is out of range "
                            "(1..31536000000)";

/// Passes every call on, but first gives every new row of the task
/// `task` a timeout out of range: a row that escaped validate().
class widening_store final : public durable::forwarding_store {
public:
  widening_store(std::shared_ptr<durable::store> inner, std::string task)
    : forwarding_store(std::move(inner)), task_(std::move(task)) {}

  std::vector<durable::insert_outcome>
  insert(std::vector<execution_record> rows) override {
    for (auto& r : rows)
      widen(r);
    return inner()->insert(std::move(rows));
  }

  std::vector<durable::write_outcome>
  apply(std::vector<transition> ts) override {
    for (auto& t : ts)
      for (auto& child : t.children)
        widen(child);
    return inner()->apply(std::move(ts));
  }

private:
  void widen(execution_record& r) const {
    if (r.task_id == task_)
      r.timeout = huge_timeout;
  }

  std::string task_;
};

durable::task_ref<int, int> plus_one(durable::executor& exec, std::string id,
                                     std::atomic<int>& runs) {
  return exec.task<int, int>({.id = std::move(id), .timeout = 5s},
                             [&runs](durable::task_context&, int x) {
                               ++runs;
                               return x + 1;
                             });
}

} // namespace

TEST_SUITE("integration.stored_ranges") {
  TEST_CASE("an enqueue the store refuses for a number out of range says "
            "which and holds up nothing") {
    auto db = std::make_shared<widening_store>(durable::test::make_store(),
                                               "widened");
    durable::executor exec{db, test_options()};
    std::atomic<int> runs{0};
    auto widened = plus_one(exec, "widened", runs);
    auto plain = plus_one(exec, "plain", runs);
    for (int i = 0; i < 3; ++i) {
      CAPTURE(i);
      try {
        exec.enqueue(widened, i);
        FAIL("the enqueue of a row out of range succeeded");
      } catch (const durable::error& e) {
        CHECK(std::string{e.what()}
              == "Execution cannot be stored: " + problem);
        CHECK_FALSE(e.is_retryable());
      }
    }
    std::vector<durable::handle<int>> hs;
    for (int i = 0; i < 10; ++i)
      hs.push_back(exec.enqueue(plain, i));
    for (int i = 0; i < 10; ++i)
      CHECK(engine_test::await(hs[static_cast<std::size_t>(i)]).output
            == i + 1);
    CHECK(runs.load() == 10);
  }

  TEST_CASE("a parent whose child the store refuses fails and says which") {
    auto db = std::make_shared<widening_store>(durable::test::make_store(),
                                               "widened");
    durable::executor exec{db, test_options()};
    std::atomic<int> runs{0};
    auto child = plus_one(exec, "widened", runs);
    auto parent = exec.parent_task<int, std::string>(
      {.id = "parent", .timeout = 5s}, [child](durable::task_context&, int x) {
        durable::parent_output<std::string> out{.output = "spawned"};
        out.children.add(child, x);
        return out;
      });
    auto r = engine_test::await(exec.enqueue(parent, 1));
    CHECK(r.status() == execution_status::failed);
    REQUIRE(r.error().has_value());
    CHECK(r.error()->message.find("Execution cannot be stored: child te_")
          != std::string::npos);
    CHECK(r.error()->message.find(problem) != std::string::npos);
    CHECK_FALSE(r.error()->retryable);
    CHECK(runs.load() == 0);
  }

} // TEST_SUITE
