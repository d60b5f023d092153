#include "durable/storage/pg/outbox.hpp"

#include "durable/storage/pg/pg_store_impl.hpp"

namespace durable::storage::pg {

std::vector<insert_outcome> insert_in(pg_store& store,
                                      pqxx::transaction_base& txn,
                                      std::vector<execution_record> rows) {
  if (rows.empty())
    return {};
  // The caller's connection has not prepared our statements: plain ones.
  return store.internals().insert_rows(txn, rows, nullptr, false);
}

} // namespace durable::storage::pg
