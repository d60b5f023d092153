#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "durable/execution_record.hpp"
#include "durable/store.hpp"
#include "durable/time.hpp"

/// What an execution actor concludes about a write whose reply did not say
/// plainly that it applied: a reply that was an error (the store
/// unreachable past its reconnect timeout, a commit in doubt, a broken
/// batch: the commit may or may not have happened), or a write the store
/// refused alone (its data). Pure decisions; the actor reads and writes.
///
/// **Why.** The node keeps renewing the row's lease whatever the reply
/// was. An actor that simply ended would strand the row: owned, renewed,
/// and carried by no actor until the node stops. So it reads the row back
/// until the store answers and goes on as the row says.
namespace durable::actors {

/// What a transition leaves in its row, to recognize it when the row is
/// read back: the version after it, its status and its updated_at, which
/// this node's clock set to the microsecond.
struct write_mark {
  std::uint64_t version = 0;
  execution_status status = execution_status::ready;
  timestamp updated_at{};

  static write_mark of(const transition& t) noexcept {
    return {t.expected_version + 1, t.next.status, t.next.updated_at};
  }

  bool left_in(const execution_record& r) const noexcept {
    return r.version == version && r.status == status
           && r.updated_at == updated_at;
  }
};

/// What the row read back after a failed write says.
enum class read_back {
  /// The write committed: carry on as if its reply had said so.
  applied,
  /// It did not, and the row is still this node's as the actor left it:
  /// hand it back to the cluster (transitions::hand_back), whose next
  /// claim runs it again.
  hand_back,
  /// Another writer moved it on (or it is gone): end, writing nothing.
  moved_on,
};

read_back settle_write(const write_mark& mark,
                       const std::optional<execution_record>& stored,
                       std::string_view incarnation) noexcept;

/// What follows a write the store refused alone.
enum class after_refusal {
  /// The refusal came without the stored row: read it back (and end).
  read_back,
  /// The row is not as the actor left it: end.
  moved_on,
  /// Store the refusal as the execution's failure (non-retryable).
  record_failure,
  /// Recording the failure was refused too: hand the row back instead.
  hand_back,
  /// Even the hand-back was refused: this node cannot move the row; end.
  give_up,
};

/// `refusal_stored` / `handing_back`: the refused write was the failure
/// record or the hand-back.
after_refusal on_refusal(const write_mark& mark, const write_outcome& out,
                         bool refusal_stored, bool handing_back) noexcept;

/// The wait before read-back number `rereads` (from 0) of a store that did
/// not answer: 50 ms doubling to 2 s.
millis reread_delay(int rereads) noexcept;

} // namespace durable::actors
