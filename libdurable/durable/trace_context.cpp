#include "durable/trace_context.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace durable::trace_context {

namespace {

bool is_lower_hex(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

bool all_zero(std::string_view s) noexcept {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

// Field positions of `vv-<trace id>-<parent id>-ff`.
constexpr std::size_t trace_id_at = 3;
constexpr std::size_t trace_id_size = 32;
constexpr std::size_t parent_id_at = 36;
constexpr std::size_t parent_id_size = 16;
constexpr std::size_t flags_at = 53;

} // namespace

std::optional<std::string> traceparent_problem(std::string_view text) {
  auto invalid = [](std::string_view why) {
    return fmt::format("Invalid traceparent: {} (expected "
                       "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>, "
                       "lowercase)",
                       why);
  };
  if (text.size() > max_traceparent_header)
    return invalid(
      fmt::format("longer than {} characters", max_traceparent_header));
  if (text.size() < traceparent_length)
    return invalid(
      fmt::format("{} characters, not {}", text.size(), traceparent_length));
  const auto version = text.substr(0, 2);
  if (!is_lower_hex(version) || version == "ff")
    return invalid("the version is not two lowercase hex digits other than ff");
  if (text[2] != '-' || text[parent_id_at - 1] != '-'
      || text[flags_at - 1] != '-')
    return invalid("the fields are not separated by '-'");
  const auto trace_id = text.substr(trace_id_at, trace_id_size);
  if (!is_lower_hex(trace_id) || all_zero(trace_id))
    return invalid("the trace id is not 32 lowercase hex digits, not all zero");
  const auto parent_id = text.substr(parent_id_at, parent_id_size);
  if (!is_lower_hex(parent_id) || all_zero(parent_id))
    return invalid(
      "the parent id is not 16 lowercase hex digits, not all zero");
  if (!is_lower_hex(text.substr(flags_at, 2)))
    return invalid("the flags are not two lowercase hex digits");
  if (text.size() > traceparent_length) {
    if (version == "00")
      return invalid("version 00 has exactly four fields");
    if (text[traceparent_length] != '-')
      return invalid("the fields are not separated by '-'");
  }
  return std::nullopt;
}

std::string stored_traceparent(std::string_view text) {
  return std::string{text.substr(0, traceparent_length)};
}

std::string_view trace_id_of(std::string_view traceparent) noexcept {
  if (traceparent.size() < trace_id_at + trace_id_size)
    return {};
  return traceparent.substr(trace_id_at, trace_id_size);
}

} // namespace durable::trace_context
