#include "durable/storage/pg/outbox.hpp"

#include "durable/storage/pg/notification.hpp"
#include "durable/storage/pg/pg_store_impl.hpp"

namespace durable::storage::pg {

std::vector<insert_outcome> insert_in(pg_store& store,
                                      pqxx::transaction_base& txn,
                                      std::vector<execution_record> rows) {
  if (rows.empty())
    return {};
  // The caller's connection has not prepared our statements: plain ones.
  // The NOTIFY commits with the caller's transaction; its sender is not
  // this store, so this process's engine hears it too.
  auto& d = store.internals();
  return d.insert_storable(rows, [&](std::vector<execution_record>& storable) {
    // Rows already claimed keep their owner's lease floor below their
    // lease (owner_floors.hpp); written on the store's own connection.
    d.lower_floors(d.floors.needed(storable, to_micros(d.now())));
    std::vector<store_event> events;
    auto out = d.insert_rows(txn, storable, &events, false);
    if (d.opts.notify)
      if (auto payload = encode_notification("outbox", events))
        txn.exec_params("SELECT pg_notify($1, $2)", d.channel, *payload);
    return out;
  });
}

} // namespace durable::storage::pg
