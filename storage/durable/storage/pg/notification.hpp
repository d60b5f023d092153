#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "durable/store.hpp"

/// The payload of the one NOTIFY a committing transaction sends, so that the
/// other nodes of a cluster learn in milliseconds what the commit did.
///
/// Pure text handling, no libpqxx: tested without a server.
namespace durable::storage::pg {

/// What a NOTIFY carries: who sent it and the commit's events.
struct notification {
  /// The store instance that committed (receivers drop their own: a store
  /// announces its own commits in-process already).
  std::string sender;
  std::vector<store_event> events;
  /// The events did not fit (or could not be encoded): receivers must
  /// re-check everything (`store_event::type::resync`).
  bool overflow = false;
};

/// PostgreSQL refuses payloads of 8000 bytes or more.
constexpr std::size_t max_notification_bytes = 7900;

/// Encodes the events of one commit, coalesced for receivers: one
/// `work_ready` (the earliest) and one `deadline` (the earliest) stand for
/// all, since a receiver only needs to know when to look next; `finished`
/// and `cancelled` are kept one by one. Returns the payload, or an overflow
/// payload when the result would exceed max_notification_bytes. Returns
/// nullopt when there is nothing to announce.
std::optional<std::string>
encode_notification(const std::string& sender,
                    const std::vector<store_event>& events);

/// Decodes a payload; nullopt if it is not one of ours (a foreign NOTIFY on
/// the channel is ignored, never trusted).
std::optional<notification> decode_notification(const std::string& payload);

/// The channel a schema's stores notify and listen on.
std::string notification_channel(const std::string& schema);

} // namespace durable::storage::pg
