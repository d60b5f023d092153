#include "durable/storage/pg/notification.hpp"

#include <charconv>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>

#include "durable/storage/event_codes.hpp"

namespace durable::storage::pg {

namespace {

// Format, one line per event after the header "d1 <sender>":
//   <kind> <at, microseconds since the epoch> <id> <parent or -> <owner or ->
// An overflow payload is the header followed by " *".
constexpr std::string_view magic = "d1";

/// A field must be one non-empty token: no blanks, no line breaks.
bool is_token(const std::string& s) {
  return !s.empty() && s != "-"
         && s.find_first_of(" \t\r\n") == std::string::npos;
}

std::string field(const std::string& s) {
  return s.empty() ? std::string{"-"} : s;
}

std::string unfield(std::string_view s) {
  return s == "-" ? std::string{} : std::string{s};
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    auto pos = s.find(sep);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos)
      return out;
    s.remove_prefix(pos + 1);
  }
}

std::string overflow_payload(const std::string& sender) {
  return fmt::format("{} {} *", magic, sender);
}

} // namespace

std::optional<std::string>
encode_notification(const std::string& sender,
                    const std::vector<store_event>& events) {
  if (events.empty())
    return std::nullopt;
  const store_event* ready = nullptr;
  const store_event* deadline = nullptr;
  std::string out = fmt::format("{} {}", magic, sender);
  auto append = [&](const store_event& e) {
    if ((!e.execution_id.empty() && !is_token(e.execution_id))
        || (!e.parent_id.empty() && !is_token(e.parent_id))
        || (!e.owner.empty() && !is_token(e.owner)))
      return false;
    fmt::format_to(std::back_inserter(out), "\n{} {} {} {} {}",
                   event_codes::code_of(e.kind), to_micros(e.at),
                   field(e.execution_id), field(e.parent_id), field(e.owner));
    return true;
  };
  for (const auto& e : events) {
    switch (e.kind) {
      case store_event::type::work_ready:
        if (!ready || e.at < ready->at)
          ready = &e;
        continue;
      case store_event::type::deadline:
        if (!deadline || e.at < deadline->at)
          deadline = &e;
        continue;
      case store_event::type::resync:
        return overflow_payload(sender);
      case store_event::type::corrupt:
        continue; // this process's own finding, for its own listeners
      default:
        if (!append(e))
          return overflow_payload(sender);
    }
  }
  for (const auto* e : {ready, deadline})
    if (e && !append(*e))
      return overflow_payload(sender);
  if (out.size() > max_notification_bytes)
    return overflow_payload(sender);
  return out;
}

std::optional<notification> decode_notification(const std::string& payload) {
  auto lines = split(payload, '\n');
  auto header = split(lines.front(), ' ');
  if (header.size() < 2 || header.size() > 3 || header[0] != magic
      || header[1].empty())
    return std::nullopt;
  notification n;
  n.sender = std::string{header[1]};
  if (header.size() == 3) {
    if (header[2] != "*" || lines.size() != 1)
      return std::nullopt;
    n.overflow = true;
    return n;
  }
  for (std::size_t i = 1; i < lines.size(); ++i) {
    auto f = split(lines[i], ' ');
    if (f.size() != 5)
      return std::nullopt;
    auto kind = event_codes::kind_of(f[0]);
    std::int64_t us = 0;
    auto [end, ec] = std::from_chars(f[1].data(), f[1].data() + f[1].size(),
                                     us);
    if (!kind || ec != std::errc{} || end != f[1].data() + f[1].size()
        || f[2].empty() || f[3].empty() || f[4].empty())
      return std::nullopt;
    n.events.push_back(
      {*kind, unfield(f[2]), unfield(f[3]), unfield(f[4]), from_micros(us)});
  }
  return n;
}

std::string notification_channel(const std::string& schema) {
  // Channel names are identifiers: at most 63 bytes. A long schema name is
  // replaced by its FNV-1a hash (stable across processes and builds).
  std::string channel = "durable_events_" + schema;
  if (channel.size() <= 63)
    return channel;
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : schema) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("durable_events_{:016x}", h);
}

} // namespace durable::storage::pg
