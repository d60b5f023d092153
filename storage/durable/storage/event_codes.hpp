#pragma once

#include <optional>
#include <string_view>

#include "durable/store.hpp"

/// The one-letter code of a store_event's kind, as the server stores
/// announce them to other nodes: in PostgreSQL's NOTIFY payload
/// (pg/notification.cpp) and in MySQL's `events` table
/// (mysql/announcements.cpp). Internal to the storage targets.
///
/// `corrupt` has no code: it is a store's own finding, never announced.
namespace durable::storage::event_codes {

/// The code of `t`: r(eady), f(inished), c(ancelled), d(eadline),
/// (re)s(ync); `?` for `corrupt`, which callers never announce.
inline char code_of(store_event::type t) noexcept {
  switch (t) {
    case store_event::type::work_ready:
      return 'r';
    case store_event::type::finished:
      return 'f';
    case store_event::type::cancelled:
      return 'c';
    case store_event::type::deadline:
      return 'd';
    case store_event::type::resync:
      return 's';
    case store_event::type::corrupt:
      break;
  }
  return '?';
}

/// The kind a code names; nullopt for anything else (a code of a newer
/// binary, or damaged text).
inline std::optional<store_event::type> kind_of(std::string_view s) noexcept {
  if (s.size() != 1)
    return std::nullopt;
  switch (s[0]) {
    case 'r':
      return store_event::type::work_ready;
    case 'f':
      return store_event::type::finished;
    case 'c':
      return store_event::type::cancelled;
    case 'd':
      return store_event::type::deadline;
    case 's':
      return store_event::type::resync;
    default:
      return std::nullopt;
  }
}

} // namespace durable::storage::event_codes
