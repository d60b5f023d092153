#include "durable/storage/sqlite_store.hpp"
#include "support/store_factory.hpp"
#include "support/temp_dir.hpp"

namespace durable::test {

std::shared_ptr<durable::store> make_store() {
  // A new file per call: stores of one test never share rows. The engine
  // suite runs every statement and transaction of the default store, but
  // with `synchronous = NORMAL`: an fsync per commit (FULL, the default,
  // tested by the conformance suite) costs milliseconds, and several
  // engine cases assume a store answers well within their 40-50 ms
  // timeouts or a 1 s head start. NORMAL still survives a killed process.
  durable::storage::sqlite_options opts;
  opts.synchronous = durable::storage::sqlite_options::sync_mode::normal;
  return durable::storage::sqlite(
    make_temp_dir("durable-engine-") + "/store.db", std::move(opts));
}

std::string store_name() {
  return "sqlite";
}

} // namespace durable::test
