#pragma once

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/row>

#include "durable/execution_fields.hpp"
#include "durable/execution_record.hpp"

/// How an execution_record maps to the columns of `executions` and back,
/// and the small SQL-text helpers the PostgreSQL store needs. Internal to
/// storage/pg.
///
/// The columns are the fields of execution_fields.hpp, in that order, each
/// laid out by its type (`layout` below): a scalar is one column named as
/// the field, a composite is flattened into columns named
/// `<field>_<part>` (`parent_task_id`, `retry_multiplier`, ...), and the
/// children are one `jsonb` column.
namespace durable::storage::pg {

/// One column of the executions table.
struct column {
  std::string_view name;
  std::string_view type; ///< the SQL type parameters are cast to
  fields::role writer;   ///< who writes the field the column belongs to
};

/// One of the columns a field takes: its name after the field's (empty
/// for the field's name alone) and its SQL type.
struct part {
  std::string_view suffix;
  std::string_view type;
};

/// The columns a field of type `T` takes, in order. A type without a
/// layout here (and an encoder and decoder in row_codec.cpp) cannot be a
/// field: the list does not compile until it has them.
template <class T>
struct layout;

/// An optional value takes its value's columns, all NULL when unset.
template <class T>
struct layout<std::optional<T>> : layout<T> {};

template <std::size_t N>
using parts = std::array<part, N>;

template <>
struct layout<std::string> {
  static constexpr parts<1> columns{{{"", "text"}}};
};

template <>
struct layout<shared_text> : layout<std::string> {};

template <>
struct layout<task_kind> {
  static constexpr parts<1> columns{{{"", "smallint"}}};
};

/// By name (to_string()), which operators' SQL reads.
template <>
struct layout<execution_status> {
  static constexpr parts<1> columns{{{"", "text"}}};
};

template <>
struct layout<bool> {
  static constexpr parts<1> columns{{{"", "boolean"}}};
};

template <>
struct layout<int> {
  static constexpr parts<1> columns{{{"", "integer"}}};
};

template <>
struct layout<std::uint32_t> {
  static constexpr parts<1> columns{{{"", "bigint"}}};
};

template <>
struct layout<std::uint64_t> {
  static constexpr parts<1> columns{{{"", "bigint"}}};
};

/// Milliseconds.
template <>
struct layout<millis> {
  static constexpr parts<1> columns{{{"", "bigint"}}};
};

/// Microseconds since the epoch.
template <>
struct layout<timestamp> {
  static constexpr parts<1> columns{{{"", "bigint"}}};
};

/// A parent link is present when its `_id` is not NULL.
template <>
struct layout<parent_link> {
  static constexpr parts<5> columns{{{"task_id", "text"},
                                     {"id", "text"},
                                     {"index", "bigint"},
                                     {"only", "boolean"},
                                     {"is_finalize", "boolean"}}};
};

/// An optional reference is present when its `_id` is not NULL.
template <>
struct layout<execution_ref> {
  static constexpr parts<2> columns{{{"task_id", "text"}, {"id", "text"}}};
};

template <>
struct layout<retry_options> {
  static constexpr parts<5> columns{{{"max_attempts", "integer"},
                                     {"base_delay_ms", "bigint"},
                                     {"multiplier", "double precision"},
                                     {"max_delay_ms", "bigint"},
                                     {"jitter", "smallint"}}};
};

/// An error is present when its `_kind` is not NULL.
template <>
struct layout<execution_error> {
  static constexpr parts<4> columns{{{"kind", "smallint"},
                                     {"message", "text"},
                                     {"retryable", "boolean"},
                                     {"internal", "boolean"}}};
};

/// `[{"task_id": ..., "execution_id": ...}, ...]`.
template <>
struct layout<std::vector<execution_ref>> {
  static constexpr parts<1> columns{{{"", "jsonb"}}};
};

/// The number of columns field `F` takes.
template <class F>
inline constexpr std::size_t width = layout<fields::type_of<F>>::columns.size();

inline constexpr std::size_t column_count = [] {
  std::size_t n = 0;
  fields::for_each([&n](const auto& f) { n += width<decltype(f)>; });
  return n;
}();

/// Every column, in the order encode() produces and decode() reads.
const std::array<column, column_count>& columns();

/// The position of a column in columns() (a programming error if unknown).
std::size_t column_index(std::string_view name);

/// "id, task_id, ..." with an optional table alias ("t.id, t.task_id, ...").
std::string column_list(std::string_view alias = {});

/// A statement parameter: text or NULL.
using param = std::optional<std::string>;

/// A set of columns: bit i stands for columns()[i].
using column_set = std::bitset<column_count>;

/// Receives the encoded columns of one record (see encode()).
class column_visitor {
public:
  virtual ~column_visitor() = default;
  /// Column `i` has this text form (valid only during the call).
  virtual void value(std::size_t i, std::string_view text) = 0;
  /// Column `i` is NULL.
  virtual void null(std::size_t i) = 0;
};

/// Passes the columns of `r` that are in `wanted` to `out`, in columns()
/// order, each in the text form its SQL type reads. The other columns are
/// neither encoded nor copied (a transition never sends its input).
void encode(const execution_record& r, const column_set& wanted,
            column_visitor& out);

/// The text form of each column of one row, in columns() order, as
/// PostgreSQL's text protocol returns it; nullopt stands for NULL.
using column_texts = std::array<std::optional<std::string_view>, column_count>;

/// Reads a record from its column texts: the whole decoder, without a
/// server (the fuzz target tests/fuzz/row_codec_fuzz.cpp calls it).
/// @throws std::runtime_error for a column it cannot read (a number that is
///   not one, an unknown status), nlohmann::json::exception for a damaged
///   `children`; never undefined behaviour, whatever the texts.
execution_record decode(const column_texts& row);

/// Reads a row whose columns start at `offset` in columns() order.
/// @throws like decode(const column_texts&).
execution_record decode(const pqxx::row& row, std::size_t offset = 0);

/// Parameters ready for `pqxx::prepare::make_dynamic_params`: pointers
/// into `values` (which must outlive them), nullptr for NULL.
std::vector<const char*> pointers(const std::vector<param>& values);

/// A PostgreSQL array literal of text values (`{"a","b\"c"}`), every
/// element quoted, with `"` and `\` escaped; `{}` when empty. Cast it with
/// `$n::text[]`. libpqxx 6.4 has no vector-to-array conversion.
std::string to_array_literal(const std::vector<std::string>& values);

/// `x` in its text form, as a bigint parameter.
std::string str(std::int64_t x);

/// A bigint column of microseconds since the epoch (every time column).
timestamp time_of(const pqxx::field& f);

/// The server's clock in microseconds, or the parameter `$k` when that is
/// not NULL (the test clock). The transaction's start (now()).
std::string now_expr(int k);

/// As now_expr(), but the clock as the statement reads it
/// (clock_timestamp()), later than the transaction's start.
std::string clock_expr(int k);

} // namespace durable::storage::pg
