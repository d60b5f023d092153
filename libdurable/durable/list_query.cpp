#include "durable/list_query.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "durable/error.hpp"

namespace durable {

namespace {

// A cursor is "c1" + hex(micros) + "." + hex-encoded id: printable, safe in
// URLs without escaping, and versioned so that the format can change.
constexpr std::string_view cursor_prefix = "c1";
constexpr std::size_t max_cursor_length = 1024;
constexpr char hex_digits[] = "0123456789abcdef";

[[noreturn]] void bad_cursor(std::string_view why) {
  throw error::non_retryable(fmt::format("Invalid cursor: {}", why));
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

} // namespace

bool matches(const execution_filter& f, const execution_record& r) {
  if (!f.statuses.empty()
      && std::find(f.statuses.begin(), f.statuses.end(), r.status)
           == f.statuses.end())
    return false;
  if (f.task_id && r.task_id != *f.task_id)
    return false;
  if (f.parent_id && (!r.parent || r.parent->execution_id != *f.parent_id))
    return false;
  if (f.created_from && r.created_at < *f.created_from)
    return false;
  if (f.created_before && r.created_at >= *f.created_before)
    return false;
  if (f.root_id && r.root.execution_id != *f.root_id)
    return false;
  if (f.idempotency_key && r.idempotency_key != *f.idempotency_key)
    return false;
  if (f.sleeping_id && r.sleeping_id != *f.sleeping_id)
    return false;
  if (f.error_contains
      && (!r.error
          || r.error->message.find(*f.error_contains) == std::string::npos))
    return false;
  return true;
}

std::string encode_cursor(const list_position& p) {
  std::string out{cursor_prefix};
  out += fmt::format("{:x}.",
                     static_cast<std::uint64_t>(to_micros(p.created_at)));
  for (unsigned char c : p.id) {
    out += hex_digits[c >> 4];
    out += hex_digits[c & 0xf];
  }
  return out;
}

list_position decode_cursor(std::string_view cursor) {
  if (cursor.size() > max_cursor_length)
    bad_cursor("too long");
  if (!cursor.starts_with(cursor_prefix))
    bad_cursor("not a cursor returned by a listing");
  cursor.remove_prefix(cursor_prefix.size());
  auto dot = cursor.find('.');
  if (dot == std::string_view::npos || dot == 0)
    bad_cursor("not a cursor returned by a listing");
  std::uint64_t micros = 0;
  auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + dot, micros,
                                   16);
  if (ec != std::errc{} || end != cursor.data() + dot)
    bad_cursor("not a cursor returned by a listing");
  auto hex = cursor.substr(dot + 1);
  if (hex.empty() || hex.size() % 2 != 0)
    bad_cursor("not a cursor returned by a listing");
  list_position p;
  p.created_at = from_micros(static_cast<std::int64_t>(micros));
  p.id.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    auto hi = hex_value(hex[i]);
    auto lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0)
      bad_cursor("not a cursor returned by a listing");
    p.id += static_cast<char>(hi * 16 + lo);
  }
  return p;
}

std::optional<list_position> validate(const list_request& req) {
  if (req.limit < 1 || req.limit > list_request::max_limit)
    throw error::non_retryable(
      fmt::format("Invalid limit: must be between 1 and {} [limit={}]",
                  list_request::max_limit, req.limit));
  if (req.cursor.empty())
    return std::nullopt;
  return decode_cursor(req.cursor);
}

bool is_after(const list_position& p, timestamp created_at, std::string_view id,
              bool oldest_first) {
  if (created_at != p.created_at)
    return oldest_first ? created_at > p.created_at : created_at < p.created_at;
  return oldest_first ? id > std::string_view{p.id}
                      : id < std::string_view{p.id};
}

} // namespace durable
