// libFuzzer target: decode_notification() on any payload text.
//
// A NOTIFY on the channel may come from anyone who can connect, so the
// decoder must reject every payload it does not understand, without
// undefined behaviour. Beyond that, what it accepts must survive a round
// trip: re-encoding the decoded events and decoding again is a fixed point.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "durable/storage/pg/notification.hpp"

namespace pgs = durable::storage::pg;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  std::string payload(reinterpret_cast<const char*>(data), size);
  auto n = pgs::decode_notification(payload);
  if (!n || n->overflow)
    return 0;
  auto again = pgs::encode_notification(n->sender, n->events);
  if (!again)
    return 0;
  auto m = pgs::decode_notification(*again);
  if (!m || m->sender != n->sender)
    std::abort();
  if (m->overflow)
    return 0;
  if (pgs::encode_notification(m->sender, m->events) != again)
    std::abort();
  return 0;
}
