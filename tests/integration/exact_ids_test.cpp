#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "engine_test_support.hpp"

// An id names one execution exactly: bytes after a real id (a NUL and
// junk, as `%00junk` in a URL decodes to) or an id that is not text name
// none, on every store (a store that passes ids as C strings would read
// `<id>\0junk` as `<id>`).

using namespace std::chrono_literals;
using durable::error_kind;
using durable::execution_status;
using engine_test::test_options;

namespace {

/// The kind of error `call` throws; generic if it throws none.
error_kind error_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const durable::error& e) {
    return e.kind();
  }
  FAIL("the call succeeded");
  return error_kind::generic;
}

} // namespace

TEST_SUITE("integration.exact_ids") {
  TEST_CASE("an id with bytes after a real id names no execution") {
    // Before the executor: its body may still run while the executor stops.
    std::atomic<bool> started{false}, release{false};
    durable::executor exec{durable::test::make_store(), test_options()};
    auto task = engine_test::held_task(exec, started, release);
    auto h = exec.enqueue(task, 1);
    REQUIRE(engine_test::eventually([&] { return started.load(); }));
    const auto real = h.execution_id();
    const std::vector<std::string> bad{
      real + std::string{"\0junk", 5}, real + std::string(1, '\0'),
      std::string{"\0", 1} + real,     real + "\xFF",
      std::string(300, 'x'),           ""};
    for (const auto& id : bad) {
      INFO("id of " << id.size() << " bytes");
      CHECK(error_of([&] { exec.get(id); }) == error_kind::not_found);
      CHECK(error_of([&] { exec.wait(id, 10ms); }) == error_kind::not_found);
      CHECK(error_of([&] { exec.cancel(id); }) == error_kind::not_found);
    }
    // The real execution was neither cancelled nor touched.
    auto row = exec.get(real);
    CHECK(row.status == execution_status::running);
    release = true;
    CHECK(engine_test::await(h).output == 1);
  }

} // TEST_SUITE
