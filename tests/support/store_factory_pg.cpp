#include "support/pg_fixture.hpp"
#include "support/store_factory.hpp"

namespace durable::test {

std::shared_ptr<durable::store> make_store() {
  // A fresh schema per call; pools stay small (2 cores in CI).
  return pg::make_store({}, 3);
}

std::string store_name() {
  return "pg";
}

} // namespace durable::test
