#include "durable/storage/pg/json_rows.hpp"

#include <fmt/format.h>

namespace durable::storage::pg {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\0') {
      // PostgreSQL text cannot hold NUL (and jsonb refuses \u0000): drop
      // it, so one odd message never fails the whole batch it is in.
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

namespace {

const std::size_t version_column = column_index("version");

/// The columns embedded as JSON rather than written as JSON strings.
const column_set jsonb_columns = [] {
  column_set out;
  for (std::size_t i = 0; i < column_count; ++i)
    out.set(i, columns()[i].type == "jsonb");
  return out;
}();

} // namespace

json_rows::json_rows(const column_set& columns) : columns_(columns) {}

void json_rows::add(const execution_record& r,
                    std::optional<std::uint64_t> version) {
  out_ += rows_ == 0 ? "{" : ",{";
  first_in_row_ = true;
  version_ = version;
  encode(r, columns_, *this);
  out_ += '}';
  ++rows_;
}

void json_rows::key(std::size_t i) {
  if (!first_in_row_)
    out_ += ',';
  first_in_row_ = false;
  out_ += '"';
  out_ += columns()[i].name;
  out_ += "\":";
}

void json_rows::value(std::size_t i, std::string_view text) {
  key(i);
  if (i == version_column && version_)
    fmt::format_to(std::back_inserter(out_), "\"{}\"", *version_);
  else if (jsonb_columns[i])
    out_ += text;
  else
    append_json_string(out_, text);
}

void json_rows::null(std::size_t) {
  // Absent: populate reads a missing key as NULL, and the server parses
  // fewer bytes (a running child has 15 NULL columns of 46).
}

std::string json_rows::take() {
  out_ += ']';
  std::string done = std::move(out_);
  // clear() and push_back rather than `= "["`: GCC 12 warns (-Wrestrict,
  // a false positive) on assigning a literal to a moved-from string.
  out_.clear();
  out_.push_back('[');
  rows_ = 0;
  return done;
}

} // namespace durable::storage::pg
