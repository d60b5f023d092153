#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "durable/execution_fields.hpp"
#include "durable/execution_record.hpp"
#include "durable/stored_ranges.hpp"

/// How an execution_record maps to the columns of `executions` and back,
/// in the SQLite and the MySQL store alike. Internal to storage/sql.
///
/// **Threading.** Pure functions of their arguments; the `Query` they read
/// or bind is the caller's: a backend's prepared statement, with the
/// bind() overloads of binds.hpp and the readers `is_null(i)`,
/// `is_integer(i)`, `int64(i)`, `text(i)`, `opt_text(i)`, `opt_time(i)`.
///
/// **Durability.** Nothing is written here. Times go in and out as integer
/// microseconds, exactly; JSON columns are written with invalid UTF-8
/// replaced (an error message taken from an exception may carry any bytes,
/// and losing them beats losing the write).
///
/// **Errors.** decode_row() never throws for what a row holds: a column
/// that cannot be decoded (broken JSON, a non-integer where an integer
/// belongs, an unknown status or kind) is listed in `decoded::problems`
/// and its field keeps its default; an unfinished row holding a number out
/// of range (stored_ranges.hpp) is listed in `decoded::invalid`. The
/// caller repairs such a row (transaction.hpp). Binding throws the
/// backend's error.
///
/// **Columns.** The fields of execution_fields.hpp, in that order, each
/// laid out by its type (`layout` below): scalars as one column named as
/// the field (an integer for numbers, enumerations, booleans and times;
/// text or bytes for strings, as each schema declares them), the root as
/// two text columns, the other composites as one JSON column each. The parent
/// takes two: `parent_id` (its execution id, for children_sql()) beside its
/// JSON.
namespace durable::storage::sql_detail {

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

/// As its number (status.hpp), unlike PostgreSQL.
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
inline std::string column_list() {
  std::string out;
  for (auto c : columns) {
    if (!out.empty())
      out += ", ";
    out += c;
  }
  return out;
}

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
  std::string error_message() const {
    if (!problems.empty())
      return fmt::format("Corrupt stored execution: {}",
                         fmt::join(problems, "; "));
    return stored_ranges::invalid_message(
      fmt::format("{}", fmt::join(invalid, "; ")));
  }

  /// What was wrong, for the `corrupt` event.
  std::string detail() const {
    return fmt::format("{}",
                       fmt::join(problems.empty() ? invalid : problems, "; "));
  }
};

/// The per-type binders and decoders behind bind_row() and decode_row().
namespace codec {

// -- JSON columns -------------------------------------------------------------

inline std::string dump(const nlohmann::json& j) {
  // Replace invalid UTF-8 rather than throw: an error message taken from an
  // exception may carry any bytes, and losing them beats losing the write.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <class T>
std::string to_text(const T& x) {
  return dump(nlohmann::json(x));
}

template <class Query, class T>
void parse_json(const Query& q, int col, std::string_view name, T& out,
                std::vector<std::string>& problems) {
  try {
    nlohmann::json::parse(q.text(col)).get_to(out);
  } catch (const std::exception& e) {
    problems.push_back(fmt::format("column {}: {}", name, e.what()));
  }
}

template <class Query, class T>
void parse_json(const Query& q, int col, std::string_view name,
                std::optional<T>& out, std::vector<std::string>& problems) {
  if (q.is_null(col)) {
    out.reset();
    return;
  }
  T x;
  std::size_t before = problems.size();
  parse_json(q, col, name, x, problems);
  if (problems.size() == before)
    out = std::move(x);
}

/// The JSON integer `key` of `j`, if present, checked against `range`
/// before it is narrowed into the record: a value out of it goes to
/// `narrowed`. nlohmann converts a real to an integer with a cast that is
/// undefined out of range, so a real where an integer belongs is a
/// problem, not read.
inline void check_json_integer(const nlohmann::json& j, const char* key,
                               const char* field, stored_ranges::range range,
                               std::vector<std::string>& problems,
                               std::vector<std::string>& narrowed) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return;
  if (!it->is_number_integer()) {
    problems.push_back(fmt::format("{} is not an integer", field));
    return;
  }
  // An unsigned value past 2^63 reads as negative: out of range as well.
  if (auto p = stored_ranges::check(field, it->get<std::int64_t>(), range))
    narrowed.push_back(std::move(*p));
}

/// parse_json() for `retry` and `parent`, whose integers are checked
/// first (check_json_integer).
template <class Query, class T>
void parse_checked_json(const Query& q, int col, std::string_view name, T& out,
                        std::vector<std::string>& problems,
                        std::vector<std::string>& narrowed) {
  try {
    auto j = nlohmann::json::parse(q.text(col));
    std::vector<std::string> found;
    if constexpr (std::is_same_v<T, retry_options>) {
      check_json_integer(j, "max_attempts", "retry_max_attempts",
                         stored_ranges::retry_max_attempts, found, narrowed);
      check_json_integer(j, "base_delay_ms", "retry_base_delay_ms",
                         stored_ranges::retry_base_delay_ms, found, narrowed);
      check_json_integer(j, "max_delay_ms", "retry_max_delay_ms",
                         stored_ranges::retry_max_delay_ms, found, narrowed);
      check_json_integer(j, "jitter", "retry_jitter",
                         stored_ranges::retry_jitter, found, narrowed);
    } else {
      check_json_integer(j, "index", "parent_index", stored_ranges::index,
                         found, narrowed);
    }
    for (auto& f : found)
      problems.push_back(fmt::format("column {}: {}", name, f));
    if (found.empty())
      j.get_to(out);
  } catch (const std::exception& e) {
    problems.push_back(fmt::format("column {}: {}", name, e.what()));
  }
}

template <class Query, class T>
void parse_checked_json(const Query& q, int col, std::string_view name,
                        std::optional<T>& out,
                        std::vector<std::string>& problems,
                        std::vector<std::string>& narrowed) {
  if (q.is_null(col)) {
    out.reset();
    return;
  }
  T x;
  std::size_t before = problems.size();
  parse_checked_json(q, col, name, x, problems, narrowed);
  if (problems.size() == before)
    out = std::move(x);
}

// -- binding, one overload per type (layout<T> in row_codec.hpp) --------------

template <class Query>
void bind(Query& q, int& i, const std::string& s) {
  q.bind(++i, s);
}

template <class Query>
void bind(Query& q, int& i, const std::optional<std::string>& s) {
  q.bind(++i, s);
}

template <class Query>
void bind(Query& q, int& i, const shared_text& s) {
  q.bind(++i, s.to_optional());
}

template <class Query>
void bind(Query& q, int& i, task_kind k) {
  q.bind(++i, static_cast<std::int64_t>(k));
}

template <class Query>
void bind(Query& q, int& i, execution_status s) {
  q.bind(++i, static_cast<std::int64_t>(s));
}

template <class Query>
void bind(Query& q, int& i, bool b) {
  q.bind(++i, static_cast<std::int64_t>(b ? 1 : 0));
}

template <class Query>
void bind(Query& q, int& i, int x) {
  q.bind(++i, static_cast<std::int64_t>(x));
}

template <class Query>
void bind(Query& q, int& i, std::uint32_t x) {
  q.bind(++i, static_cast<std::int64_t>(x));
}

template <class Query>
void bind(Query& q, int& i, std::uint64_t x) {
  // Versions stay far below 2^63; the cast keeps the signed 64-bit column.
  q.bind(++i, static_cast<std::int64_t>(x));
}

template <class Query>
void bind(Query& q, int& i, millis d) {
  q.bind(++i, static_cast<std::int64_t>(d.count()));
}

template <class Query>
void bind(Query& q, int& i, timestamp t) {
  q.bind(++i, t);
}

template <class Query>
void bind(Query& q, int& i, const std::optional<timestamp>& t) {
  q.bind(++i, t);
}

template <class Query>
void bind(Query& q, int& i, const std::optional<parent_link>& p) {
  q.bind(++i, p ? std::optional{p->execution_id} : std::nullopt);
  q.bind(++i, p ? std::optional{to_text(*p)} : std::nullopt);
}

template <class Query>
void bind(Query& q, int& i, const execution_ref& r) {
  q.bind(++i, r.task_id);
  q.bind(++i, r.execution_id);
}

template <class Query>
void bind(Query& q, int& i, const std::optional<execution_ref>& r) {
  q.bind(++i, r ? std::optional{to_text(*r)} : std::nullopt);
}

template <class Query>
void bind(Query& q, int& i, const retry_options& r) {
  q.bind(++i, to_text(r));
}

template <class Query>
void bind(Query& q, int& i, const std::optional<execution_error>& e) {
  q.bind(++i, e ? std::optional{to_text(*e)} : std::nullopt);
}

template <class Query>
void bind(Query& q, int& i, const std::vector<execution_ref>& children) {
  q.bind(++i, to_text(children));
}

// -- decoding, one overload per type: the columns from `i` on -----------------

/// What decode_row() reads from and reports to.
template <class Query>
struct reader {
  const Query& q;
  std::vector<std::string>& problems;
  /// Integers the record holds in fewer bits, checked before they are
  /// narrowed (a recovery count of 2^32 would read as 0).
  std::vector<std::string>& narrowed;

  /// The integer of column `i`, checked against the field's range if it
  /// has one.
  template <class Field>
  std::int64_t narrow(const Field& f, int i) const {
    auto value = q.int64(i);
    if (f.range)
      if (auto p = stored_ranges::check(f.name, value, *f.range))
        narrowed.push_back(std::move(*p));
    return value;
  }

  /// The enumerator of column `i`, a problem if past `max`.
  template <class Field, class E>
  void enumeration(const Field& f, int i, E max, E& out) const {
    auto v = q.int64(i);
    if (v < 0 || v > static_cast<std::int64_t>(max))
      problems.push_back(fmt::format("unknown {} {}", f.name, v));
    else
      out = static_cast<E>(v);
  }
};

inline std::string_view name_of(int i) {
  return columns[static_cast<std::size_t>(i)];
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i, std::string& out) {
  // A NULL keeps the default (an input of "null").
  if (!in.q.is_null(i))
    out = in.q.text(i);
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i,
         std::optional<std::string>& out) {
  out = in.q.opt_text(i);
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i, shared_text& out) {
  out = in.q.opt_text(i);
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field& f, int i, task_kind& out) {
  in.enumeration(f, i, task_kind::sleeping, out);
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field& f, int i,
         execution_status& out) {
  in.enumeration(f, i, execution_status::cancelled, out);
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i, bool& out) {
  out = in.q.int64(i) != 0;
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field& f, int i, int& out) {
  out = static_cast<int>(in.narrow(f, i));
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field& f, int i, std::uint32_t& out) {
  out = static_cast<std::uint32_t>(in.narrow(f, i));
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field& f, int i, std::uint64_t& out) {
  out = static_cast<std::uint64_t>(in.narrow(f, i));
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i, millis& out) {
  out = millis{in.q.int64(i)};
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i, timestamp& out) {
  out = from_micros(in.q.int64(i));
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i,
         std::optional<timestamp>& out) {
  out = in.q.opt_time(i);
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i,
         std::optional<parent_link>& out) {
  auto parent_id = in.q.opt_text(i);
  parse_checked_json(in.q, i + 1, name_of(i + 1), out, in.problems,
                     in.narrowed);
  if (!out && parent_id)
    out = parent_link{{}, *parent_id, 0, false, false};
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i, execution_ref& out) {
  out.task_id = in.q.text(i);
  out.execution_id = in.q.text(i + 1);
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i,
         std::optional<execution_ref>& out) {
  parse_json(in.q, i, name_of(i), out, in.problems);
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i, retry_options& out) {
  parse_checked_json(in.q, i, name_of(i), out, in.problems, in.narrowed);
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i,
         std::optional<execution_error>& out) {
  parse_json(in.q, i, name_of(i), out, in.problems);
}

template <class Query, class Field>
void get(const reader<Query>& in, const Field&, int i,
         std::vector<execution_ref>& out) {
  parse_json(in.q, i, name_of(i), out, in.problems);
}

} // namespace codec

// -- writing ------------------------------------------------------------------

/// Binds every column of `r` to parameters 1..columns.size() of `q`.
template <class Query>
void bind_row(Query& q, const execution_record& r) {
  int i = 0;
  fields::for_each([&](const auto& f) { codec::bind(q, i, f.of(r)); });
}

// -- reading ------------------------------------------------------------------

/// The current row of `q`, a full-row statement.
template <class Query>
decoded decode_row(const Query& q) {
  decoded d;
  auto& r = d.row;
  std::vector<std::string> narrowed;
  // SQLite converts any text to 0 when asked for an integer, and a MySQL
  // column may have been altered by hand: check the stored types first, so
  // that a damaged number is reported, not guessed.
  for (std::size_t c = 0; c < column_count; ++c) {
    const int col = static_cast<int>(c);
    if (integer_columns[c] && !q.is_integer(col) && !q.is_null(col))
      d.problems.push_back(
        fmt::format("column {} is not an integer", columns[c]));
  }
  codec::reader<Query> in{q, d.problems, narrowed};
  int i = 0;
  fields::for_each([&](const auto& f) {
    get(in, f, i, f.of(r));
    i += static_cast<int>(width<decltype(f)>);
  });
  // Numbers out of range matter while the row may still be claimed or
  // written; a finished row keeps the ones it was failed for.
  if (d.problems.empty() && !r.is_finished()) {
    d.invalid = std::move(narrowed);
    if (d.invalid.empty())
      if (auto p = stored_ranges::problem(r))
        d.invalid.push_back(std::move(*p));
  }
  return d;
}

} // namespace durable::storage::sql_detail
