#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "durable/storage/pg/row_codec.hpp"

/// A batch of rows passed to one statement as a single JSON parameter, read
/// back with `jsonb_populate_recordset(NULL::<table>, $n::jsonb)`: a batch
/// of any size is one prepared statement with one parameter.
///
/// Why JSON: PostgreSQL turns a JSON array of objects into rows of the
/// table's type in one pass, cheaper than one array per column (each
/// `unnest` argument is parsed and materialized on its own) and than
/// thousands of bound parameters (a plan per batch size). Each value is
/// the column's text form as a JSON string, which populate feeds to the
/// column type's input function; `jsonb` columns are embedded as JSON.
/// Internal to storage/pg.
namespace durable::storage::pg {

class json_rows {
public:
  /// Collects the columns at `indexes` (positions in columns()); the others
  /// are absent, so they read as NULL.
  explicit json_rows(std::vector<std::size_t> indexes);

  /// Appends one row: `encoded` has every column, as encode() gives them.
  void add(const std::vector<param>& encoded);

  std::size_t size() const noexcept {
    return rows_;
  }

  /// The JSON array of the rows added; the object is empty after.
  std::string take();

private:
  std::vector<std::size_t> indexes_;
  std::vector<bool> embedded_;
  std::string out_ = "[";
  std::size_t rows_ = 0;
};

/// Appends `s` to `out` as a JSON string literal (RFC 8259: `"` and `\`
/// escaped, control characters as \u00XX, everything else as is), without
/// NUL characters, which no PostgreSQL text value can hold.
void append_json_string(std::string& out, const std::string& s);

} // namespace durable::storage::pg
