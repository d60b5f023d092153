#include "durable/storage/memory_store.hpp"
#include "support/store_factory.hpp"

namespace durable::test {

std::shared_ptr<durable::store> make_store() {
  return durable::storage::memory();
}

std::string store_name() {
  return "memory";
}

} // namespace durable::test
