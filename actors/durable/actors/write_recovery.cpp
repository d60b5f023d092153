#include "durable/actors/write_recovery.hpp"

#include <algorithm>

namespace durable::actors {

read_back settle_write(const write_mark& mark,
                       const std::optional<execution_record>& stored,
                       std::string_view incarnation) noexcept {
  if (!stored)
    return read_back::moved_on;
  if (mark.left_in(*stored))
    return read_back::applied;
  if (stored->version + 1 == mark.version && stored->owner == incarnation)
    return read_back::hand_back;
  return read_back::moved_on;
}

after_refusal on_refusal(const write_mark& mark, const write_outcome& out,
                         bool refusal_stored, bool handing_back) noexcept {
  if (!out.current)
    return after_refusal::read_back;
  if (out.current->version + 1 != mark.version)
    return after_refusal::moved_on;
  // Even the small write that records a refusal or hands the row back
  // was refused: hand it back once; if that is refused, leave it.
  if (handing_back)
    return after_refusal::give_up;
  if (refusal_stored)
    return after_refusal::hand_back;
  return after_refusal::record_failure;
}

millis reread_delay(int rereads) noexcept {
  return std::min(millis{50 << std::clamp(rereads, 0, 6)}, millis{2000});
}

} // namespace durable::actors
