#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "durable/time.hpp"

/// The bind() overloads of a prepared statement, shared by the SQLite and
/// the MySQL store's `query` (sqlite/connection.hpp, mysql/connection.hpp).
/// Internal to storage/sql.
///
/// `Self` provides the three primitives, `bind_int64(i, x)`,
/// `bind_text(i, s)` and `bind_null(i)`, and derives from `binds<Self>`;
/// every overload returns `Self&`, so that binds chain into step() and
/// run(). Parameters are numbered from 1.
///
/// **Threading.** That of the statement (not thread-safe).
///
/// **Errors.** What the primitives throw (the backend's error type).
namespace durable::storage::sql_detail {

template <class Self>
class binds {
public:
  Self& bind(int i, std::int64_t x) {
    self().bind_int64(i, x);
    return self();
  }

  Self& bind(int i, const std::string& x) {
    self().bind_text(i, x);
    return self();
  }

  Self& bind(int i, std::nullopt_t) {
    self().bind_null(i);
    return self();
  }

  /// Times are stored as integer microseconds since the epoch.
  Self& bind(int i, timestamp t) {
    return bind(i, to_micros(t));
  }

  template <class T>
  Self& bind(int i, const std::optional<T>& x) {
    return x ? bind(i, *x) : bind(i, std::nullopt);
  }

  // -- reading, from the primitives is_null(i), int64(i) and text(i) --------

  std::optional<std::string> opt_text(int i) const {
    if (self().is_null(i))
      return std::nullopt;
    return self().text(i);
  }

  std::optional<timestamp> opt_time(int i) const {
    if (self().is_null(i))
      return std::nullopt;
    return from_micros(self().int64(i));
  }

private:
  Self& self() {
    return static_cast<Self&>(*this);
  }

  const Self& self() const {
    return static_cast<const Self&>(*this);
  }
};

} // namespace durable::storage::sql_detail
