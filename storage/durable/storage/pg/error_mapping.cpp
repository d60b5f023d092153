#include "durable/storage/pg/error_mapping.hpp"

#include <pqxx/pqxx>

namespace durable::storage::pg {

namespace {

std::string with_state(std::string what, const std::string& sqlstate) {
  if (!sqlstate.empty())
    what += " (SQLSTATE " + sqlstate + ")";
  return what;
}

} // namespace

bool is_connection_sqlstate(std::string_view s) noexcept {
  return (s.size() == 5 && s.substr(0, 2) == "08") || s == "57P01"
         || s == "57P02" || s == "57P03" || s == "53300";
}

classified_failure classify(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  }
  // Order matters: both in-doubt types must be caught before their base
  // classes (statement_completion_unknown derives from transaction_rollback).
  catch (const pqxx::in_doubt_error&) {
    return {failure_kind::in_doubt, "connection lost during COMMIT"};
  } catch (const pqxx::statement_completion_unknown&) {
    return {failure_kind::in_doubt,
            "statement completion unknown (SQLSTATE 40003)"};
  } catch (const pqxx::serialization_failure&) {
    return {failure_kind::conflict, "serialization failure (SQLSTATE 40001)"};
  } catch (const pqxx::deadlock_detected&) {
    return {failure_kind::conflict, "deadlock detected (SQLSTATE 40P01)"};
  } catch (const pqxx::transaction_rollback&) {
    return {failure_kind::conflict, "transaction rolled back (SQLSTATE 40)"};
  } catch (const pqxx::broken_connection&) {
    return {failure_kind::reconnect, "connection to the server lost"};
  } catch (const pqxx::sql_error& e) {
    if (is_connection_sqlstate(e.sqlstate()))
      return {failure_kind::reconnect,
              with_state("server unavailable", e.sqlstate())};
    return {failure_kind::fatal, with_state("SQL error", e.sqlstate())};
  } catch (const pqxx::usage_error& e) {
    return {failure_kind::fatal,
            std::string{"libpqxx usage error: "} + e.what()};
  } catch (const pqxx::conversion_error& e) {
    return {failure_kind::fatal, std::string{"conversion error: "} + e.what()};
  } catch (const pqxx::failure&) {
    return {failure_kind::fatal, "PostgreSQL failure"};
  } catch (const std::exception& e) {
    return {failure_kind::fatal, e.what()};
  } catch (...) {
    return {failure_kind::fatal, "unknown error"};
  }
}

} // namespace durable::storage::pg
