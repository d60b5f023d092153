#include "support/mysql_fixture.hpp"
#include "support/store_factory.hpp"

namespace durable::test {

std::shared_ptr<durable::store> make_store() {
  // A fresh database per call, on the server's clock.
  return mysql::make_store();
}

std::string store_name() {
  return "mysql";
}

} // namespace durable::test
