#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "durable/storage/pg/row_codec.hpp"

/// A batch of rows passed to one statement as a single JSON parameter, read
/// back with `json_populate_recordset(NULL::<table>, $n::json)`: a batch
/// of any size is one prepared statement with one parameter.
///
/// Why JSON: PostgreSQL turns a JSON array of objects into rows of the
/// table's type in one pass, cheaper than one array per column (each
/// `unnest` argument is parsed and materialized on its own) and than
/// thousands of bound parameters (a plan per batch size). Each value is
/// the column's text form as a JSON string, which populate feeds to the
/// column type's input function; `jsonb` columns are embedded as JSON; a
/// NULL column is left out of its object (populate reads it as NULL).
/// `json` rather than `jsonb`: the server reads the text once instead of
/// first building a binary copy of the whole array (storage/pg/README.md
/// has the numbers).
/// Only the columns a statement reads are written, straight from the
/// record (encode() with a column_set): a transition's JSON carries
/// neither its input nor the other columns fixed at insert.
/// Internal to storage/pg.
namespace durable::storage::pg {

class json_rows : private column_visitor {
public:
  /// Collects the columns in `columns`; the others are absent, so they
  /// read as NULL, as do NULL values of collected columns.
  explicit json_rows(const column_set& columns);

  /// Appends `r` as one row. `version`, if given, is written instead of
  /// `r.version` (a transition passes the version it expects).
  void add(const execution_record& r,
           std::optional<std::uint64_t> version = std::nullopt);

  std::size_t size() const noexcept {
    return rows_;
  }

  /// The JSON array of the rows added; the object is empty after.
  std::string take();

private:
  void value(std::size_t i, std::string_view text) override;
  void null(std::size_t i) override;
  void key(std::size_t i);

  column_set columns_;
  std::optional<std::uint64_t> version_;
  bool first_in_row_ = true;
  std::string out_ = "[";
  std::size_t rows_ = 0;
};

/// Appends `s` to `out` as a JSON string literal (RFC 8259: `"` and `\`
/// escaped, control characters as \u00XX, everything else as is), without
/// NUL characters, which no PostgreSQL text value can hold.
void append_json_string(std::string& out, std::string_view s);

} // namespace durable::storage::pg
