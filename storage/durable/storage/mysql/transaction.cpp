#include "durable/storage/mysql/transaction.hpp"

#include <exception>

#include "durable/storage/mysql/statements.hpp"
#include "durable/store_rules.hpp"

namespace durable::storage {

mysql_store::txn::txn(mysql_detail::connection& db, timestamp now, bool write)
  : db_(db), now_(now), write_(write) {
  db_.exec(write ? "START TRANSACTION" : "START TRANSACTION READ ONLY");
}

mysql_store::txn::~txn() {
  if (!done_)
    db_.rollback_quietly();
}

void mysql_store::txn::commit() {
  db_.commit();
  done_ = true;
}

// -- reading rows -------------------------------------------------------------

std::vector<execution_record> mysql_store::txn::rows(query& q) {
  std::vector<mysql_detail::decoded> raw;
  while (q.step())
    raw.push_back(mysql_detail::decode_row(q));
  std::vector<execution_record> out;
  out.reserve(raw.size());
  for (auto& d : raw) {
    if (!d.corrupt()) {
      out.push_back(std::move(d.row));
    } else if (repair(d)) {
      out.push_back(std::move(d.row));
    }
  }
  return out;
}

std::optional<execution_record>
mysql_store::txn::row_by_id(const std::string& id) {
  std::vector<execution_record> found;
  {
    auto q = prepare(write_ ? mysql_detail::by_id_locked_sql()
                            : mysql_detail::by_id_sql());
    q.bind(1, id);
    found = rows(q);
  }
  if (found.empty())
    return std::nullopt;
  return std::move(found.front());
}

std::optional<std::string>
mysql_store::txn::id_where(const char* sql, const std::string& value) {
  auto q = prepare(sql);
  q.bind(1, value);
  if (q.step())
    return q.text(0);
  return std::nullopt;
}

// -- writing rows -------------------------------------------------------------

bool mysql_store::txn::update(const execution_record& r,
                              std::uint64_t expected) {
  auto q = prepare(mysql_detail::guarded_update_sql());
  mysql_detail::bind_row(q, r);
  q.bind(mysql_detail::version_param, static_cast<std::int64_t>(expected));
  return q.run() == 1;
}

void mysql_store::txn::insert(const execution_record& r) {
  auto q = prepare(mysql_detail::insert_sql());
  if (r.owner) {
    auto leased = r;
    store_rules::lease_from_write(leased, now_);
    mysql_detail::bind_row(q, leased);
  } else {
    mysql_detail::bind_row(q, r);
  }
  q.run();
}

// -- repairs ------------------------------------------------------------------

bool mysql_store::txn::repair(mysql_detail::decoded& d) {
  if (!write_)
    throw mysql_detail::needs_repair{};
  auto what = d.detail();
  auto& r = d.row;
  r.status = execution_status::failed;
  r.error = execution_error{error_kind::generic, d.error_message(), false,
                            true};
  r.finished_at = now_;
  r.closed_at = now_;
  r.updated_at = now_;
  r.lease_expires_at.reset();
  r.owner.reset();
  r.run_output.reset();
  r.version += 1;
  try {
    // Guarded by id only: the stored version may be what is broken; the
    // row is locked (read FOR UPDATE) or about to be by this write.
    auto q = prepare(mysql_detail::update_sql());
    mysql_detail::bind_row(q, r);
    if (q.run() != 1)
      throw durable::error("the row vanished");
  } catch (const mysql_detail::mysql_error& e) {
    if (e.failure() != store_failure::fatal)
      throw; // the connection or a lock, not the row: retried
    found_corrupt(r.id, fmt::format("{}; it cannot be marked failed, so "
                                    "it is skipped: {}",
                                    what, e.what()));
    return false;
  } catch (const std::exception& e) {
    found_corrupt(r.id, fmt::format("{}; it cannot be marked failed, so "
                                    "it is skipped: {}",
                                    what, e.what()));
    return false;
  }
  found_corrupt(r.id, fmt::format("{}; marked failed", what));
  if (r.parent || r.watched)
    events_.push_back({store_event::type::finished,
                       r.id,
                       store_rules::parent_id_of(r),
                       {},
                       now_});
  return true;
}

void mysql_store::txn::found_corrupt(const std::string& id,
                                     std::string detail) {
  store_event e{store_event::type::corrupt, id, {}, {}, now_};
  e.detail = std::move(detail);
  events_.push_back(std::move(e));
}

} // namespace durable::storage
