#include "durable/storage/pg/json_rows.hpp"

namespace durable::storage::pg {

void append_json_string(std::string& out, const std::string& s) {
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

json_rows::json_rows(std::vector<std::size_t> indexes)
  : indexes_(std::move(indexes)) {
  embedded_.reserve(indexes_.size());
  for (auto i : indexes_)
    embedded_.push_back(columns()[i].type == "jsonb");
}

void json_rows::add(const std::vector<param>& encoded) {
  out_ += rows_ == 0 ? "{" : ",{";
  for (std::size_t k = 0; k < indexes_.size(); ++k) {
    if (k > 0)
      out_ += ',';
    out_ += '"';
    out_ += columns()[indexes_[k]].name;
    out_ += "\":";
    const auto& value = encoded[indexes_[k]];
    if (!value)
      out_ += "null";
    else if (embedded_[k])
      out_ += *value;
    else
      append_json_string(out_, *value);
  }
  out_ += '}';
  ++rows_;
}

std::string json_rows::take() {
  out_ += ']';
  std::string done = std::move(out_);
  out_ = "[";
  rows_ = 0;
  return done;
}

} // namespace durable::storage::pg
