#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "durable/execution_fields.hpp"
#include "durable/execution_record.hpp"
#include "durable/storage/mysql/connection.hpp"

/// How an execution_record maps to the columns of `executions` and back.
/// Internal to storage/mysql.
///
/// **Threading.** Pure functions of their arguments; the `query` they read
/// or bind is the caller's (connection.hpp).
///
/// **Durability.** Nothing is written here. Times go in and out as BIGINT
/// microseconds, exactly; JSON columns are written with invalid UTF-8
/// replaced (an error message taken from an exception may carry any bytes,
/// and losing them beats losing the write).
///
/// **Errors.** decode_row() never throws for what a row holds: a column
/// that cannot be decoded (broken JSON, a non-integer where an integer
/// belongs, an unknown status or kind) is listed in `decoded::problems`
/// and its field keeps its default; an unfinished row holding a number out
/// of range (stored_ranges.hpp) is listed in `decoded::invalid`. The
/// caller repairs such a row (transaction.hpp). Binding throws mysql_error.
///
/// **Columns.** The fields of execution_fields.hpp, in that order, each
/// laid out by its type (`layout` below): scalars as one column named as
/// the field (BIGINT for numbers, enumerations, booleans and times;
/// VARBINARY or LONGBLOB for strings), the root as two TEXT columns, the other
/// composites as one JSON column each. The parent takes two: `parent_id` (its
/// execution id, for children_sql()) beside its JSON.
namespace durable::storage::mysql_detail {

/// One of the columns a field takes: its name after the field's (empty
/// for the field's name alone) and whether it holds an INTEGER.
struct part {
  std::string_view suffix;
  bool integer;
};

/// The columns a field of type `T` takes, in order. A type without a
/// layout here (and a binder and decoder in row_codec.cpp) cannot be a
/// field: the list does not compile until it has them.
template <class T>
struct layout;

template <std::size_t N>
using parts = std::array<part, N>;

inline constexpr parts<1> text_column{{{"", false}}};
inline constexpr parts<1> integer_column{{{"", true}}};
/// JSON text (the composite's to_json()).
inline constexpr parts<1> json_column{{{"", false}}};

template <>
struct layout<std::string> {
  static constexpr auto columns = text_column;
};

template <>
struct layout<std::optional<std::string>> {
  static constexpr auto columns = text_column;
};

template <>
struct layout<shared_text> {
  static constexpr auto columns = text_column;
};

template <>
struct layout<task_kind> {
  static constexpr auto columns = integer_column;
};

/// As its number (status.hpp), as in the SQLite store.
template <>
struct layout<execution_status> {
  static constexpr auto columns = integer_column;
};

template <>
struct layout<bool> {
  static constexpr auto columns = integer_column;
};

template <>
struct layout<int> {
  static constexpr auto columns = integer_column;
};

template <>
struct layout<std::uint32_t> {
  static constexpr auto columns = integer_column;
};

template <>
struct layout<std::uint64_t> {
  static constexpr auto columns = integer_column;
};

/// Milliseconds.
template <>
struct layout<millis> {
  static constexpr auto columns = integer_column;
};

/// Microseconds since the epoch.
template <>
struct layout<timestamp> {
  static constexpr auto columns = integer_column;
};

template <>
struct layout<std::optional<timestamp>> {
  static constexpr auto columns = integer_column;
};

/// `parent_id` (indexed: children_sql()) and the link as JSON.
template <>
struct layout<std::optional<parent_link>> {
  static constexpr parts<2> columns{{{"id", false}, {"", false}}};
};

template <>
struct layout<execution_ref> {
  static constexpr parts<2> columns{
    {{"task_id", false}, {"execution_id", false}}};
};

template <>
struct layout<std::optional<execution_ref>> {
  static constexpr auto columns = json_column;
};

template <>
struct layout<retry_options> {
  static constexpr auto columns = json_column;
};

template <>
struct layout<std::optional<execution_error>> {
  static constexpr auto columns = json_column;
};

template <>
struct layout<std::vector<execution_ref>> {
  static constexpr auto columns = json_column;
};

/// The number of columns field `F` takes.
template <class F>
inline constexpr std::size_t width = layout<fields::type_of<F>>::columns.size();

inline constexpr std::size_t column_count = [] {
  std::size_t n = 0;
  fields::for_each([&n](const auto& f) { n += width<decltype(f)>; });
  return n;
}();

/// The names of the columns (see `columns`).
inline constexpr auto column_names = [] {
  std::array<fields::column_name, column_count> out{};
  std::size_t i = 0;
  fields::for_each([&](const auto& f) {
    for (const auto& p : layout<fields::type_of<decltype(f)>>::columns)
      out[i++] = fields::join(f.name, p.suffix);
  });
  return out;
}();

/// Column order of every full-row statement (statements.hpp); bind_row()
/// and decode_row() follow it.
inline constexpr auto columns = [] {
  std::array<std::string_view, column_count> out{};
  for (std::size_t i = 0; i < column_count; ++i)
    out[i] = column_names[i].view();
  return out;
}();

/// Which columns hold INTEGERs, in `columns` order.
inline constexpr auto integer_columns = [] {
  std::array<bool, column_count> out{};
  std::size_t i = 0;
  fields::for_each([&](const auto& f) {
    for (const auto& p : layout<fields::type_of<decltype(f)>>::columns)
      out[i++] = p.integer;
  });
  return out;
}();

/// "id, task_id, ...": every column, in order.
std::string column_list();

/// Binds every column of `r` to parameters 1..columns.size() of `q`.
void bind_row(query& q, const execution_record& r);

/// A row as read: the record, what could not be decoded, and the numbers
/// of an unfinished row out of range (stored_ranges.hpp).
struct decoded {
  execution_record row;
  std::vector<std::string> problems;
  std::vector<std::string> invalid;

  /// Whether the row must be failed instead of used.
  bool corrupt() const noexcept {
    return !problems.empty() || !invalid.empty();
  }

  /// The error the row is failed with.
  std::string error_message() const;

  /// What was wrong, for the `corrupt` event.
  std::string detail() const;
};

/// The current row of `q`, a full-row statement.
decoded decode_row(const query& q);

} // namespace durable::storage::mysql_detail
