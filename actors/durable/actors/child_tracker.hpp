#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "durable/execution_record.hpp"

namespace durable::actors {

/// A finished row as a store announced it (store_event::row), shared and
/// never changed; null when the announcement came without it.
using finished_row = std::shared_ptr<const execution_record>;

/// What a supervising execution (a parent, a sequence, a loop, a parent
/// waiting for its finalize task) knows of its children's ends between
/// reads of the store, and whether it must look at them now.
///
/// **Why.** A supervisor learns of its children's ends from announcements
/// (the dispatcher forwards the store's `finished` events) and counts them
/// down instead of reading the store after each one. Two moments make that
/// count unsafe, and this class handles both:
///  - while the write that stores the children is in flight, a child may
///    already end (it was claimed on insert and ran): its announcement must
///    not be counted again once the write applied;
///  - while a read of the children is in flight, the read may have seen a
///    child unfinished whose end is announced meanwhile: the supervisor
///    must not wait for that end again.
/// A `resync` (announcements may have been lost) forces a read instead.
///
/// **What it answers.** Each event returns `verdict::check` when the
/// supervisor must look at its children now (from the rows announced with
/// their ends if all are there, see take_finished(), else by a read), and
/// `verdict::keep_waiting` otherwise (the supervisor arms its recheck
/// timer, the safety net for lost announcements).
///
/// Threading: none; owned by one execution actor. Kept small (16 bytes):
/// what was announced is allocated only once an announcement arrives,
/// since an actor per running execution holds one of these.
class child_tracker {
public:
  enum class verdict { keep_waiting, check };

  /// What the supervisor is doing when an event arrives.
  enum class activity {
    /// Neither writing nor waiting for children (a body runs, a finalize
    /// function runs): an announced row is kept, nothing is counted.
    busy,
    /// A write is in flight: it may be the one storing the children.
    writing,
    /// Waiting for the children the last write stored.
    waiting,
  };

  /// A child `id` ended; `row` is its finished row when the announcement
  /// carried it (null otherwise).
  verdict on_announced(const std::string& id, finished_row row, activity now);

  /// Announcements may have been lost (the store's listener reconnected).
  verdict on_resync(activity now);

  /// The write that stored the children applied; the supervisor now waits
  /// for one child (its finalize task, its current step) ...
  verdict on_write_applied(const std::string& awaited);
  /// ... or for all of them.
  verdict on_write_applied(const std::vector<execution_ref>& awaited);

  /// A read of the children was sent; until read_returned() or
  /// read_failed(), announcements are remembered against it.
  void read_started() noexcept {
    reading_ = true;
  }
  bool reading() const noexcept {
    return reading_;
  }

  /// The read's reply arrived; the supervisor evaluates it (with
  /// on_unfinished()) and then calls read_handled().
  void read_returned() noexcept {
    reading_ = false;
  }

  /// The reply was evaluated: announcements it discounted are dropped.
  void read_handled() noexcept {
    forget_announced();
  }

  /// The read failed: nothing it would have discounted is kept.
  void read_failed() noexcept {
    reading_ = false;
    forget_announced();
  }

  /// A read found the awaited children `unfinished`: wait for those whose
  /// end was not announced while it was in flight (check at once if none
  /// is left).
  verdict on_unfinished(const std::vector<std::string>& unfinished);

  /// The row child `id` was announced finished with, if it was; forgotten
  /// once taken.
  std::optional<execution_record> take_finished(const std::string& id);

  /// The rows of every child in `children`, in that order, if each was
  /// announced finished with its row (finished rows never change, so no
  /// read is needed); all forgotten once taken.
  std::optional<std::vector<execution_record>>
  take_all_finished(const std::vector<execution_ref>& children);

  /// Ends still awaited before the next check (for tests).
  int remaining() const noexcept {
    return remaining_;
  }

private:
  /// Counts the awaited ends not announced during the write.
  template <class Ids>
  verdict after_write(const Ids& awaited);

  bool was_announced(std::string_view id) const;

  void forget_announced() noexcept {
    if (seen_)
      seen_->announced.clear();
  }

  struct announcements {
    /// Children announced finished while a write or a read was in flight.
    std::vector<std::string> announced;
    /// Children announced with their rows, by id.
    std::unordered_map<std::string, finished_row> finished;
  };

  announcements& seen() {
    if (!seen_)
      seen_ = std::make_unique<announcements>();
    return *seen_;
  }

  std::unique_ptr<announcements> seen_;
  int remaining_ = 0;
  bool reading_ = false;
  /// A resync came during a write: check after it instead of counting on
  /// announcements, which may have been lost.
  bool resync_pending_ = false;
};

} // namespace durable::actors
