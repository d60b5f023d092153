#include "durable/storage/pg/transaction_runner.hpp"

#include <algorithm>

namespace durable::storage::pg {

std::string one_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\t', ' ');
  return text;
}

void pg_store::impl::fail(const char* op, const std::string& what,
                          store_failure failure) {
  const char* kind = failure == store_failure::in_doubt ? "is in doubt"
                                                        : "failed";
  throw store_error(failure, fmt::format("PostgreSQL store ({}): {} {}: {}",
                                         target, op, kind, what));
}

std::chrono::milliseconds
pg_store::impl::lease_call_patience(millis lease) const {
  if (lease.count() <= 0) // giving a role up (a drain): as any other call
    return opts.reconnect_timeout;
  return std::min(
    opts.reconnect_timeout,
    std::chrono::duration_cast<std::chrono::milliseconds>(lease / 2));
}

} // namespace durable::storage::pg
