#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "durable/execution_record.hpp"

namespace durable::actors {

/// How one wait for the end of an execution ended.
struct wait_end {
  enum class kind : std::uint8_t {
    finished,  ///< `row` is the finished execution
    not_found, ///< the execution does not exist (or was erased)
    timed_out, ///< the waiter's own timeout passed first
    shut_down, ///< the executor shut down while it waited
    failed,    ///< the store could not be asked; `message` says why
  };
  kind what = kind::finished;
  std::optional<execution_record> row;
  std::string message;
};

/// Who waits for the end of which execution, and when to look again.
///
/// **Why.** A wait is answered by the store's announcement that its
/// execution finished (store_event::finished). Announcements can be lost
/// without a `resync`: a PostgreSQL store that does not LISTEN
/// (pg_options::listen) hears nothing of other nodes' commits, a NOTIFY
/// can be dropped. So besides announcements the owner re-reads the rows
/// of the executions waited on, a bounded batch per tick: recheck_tick()
/// names at most `limit` of them, those read longest ago first, so every
/// watched execution is read again within `ceil(watched() / limit)` ticks.
/// Ticks are needed only while someone waits (arm_recheck()), so an idle
/// node pays nothing.
///
/// **Delivery.** Each wait is ended exactly once, through its `deliver`
/// function, by the first of: its execution found finished or gone
/// (resolve()), its timeout (expire()), a failure of the store (fail()),
/// the owner's shutdown (shut_down()). A wait that ends releases its timer
/// through the `cancel_timer` hook. remove() forgets a wait without ending
/// it (its caller answered it otherwise).
///
/// Threading: none; owned by one actor (the dispatcher; the executor actor
/// keeps one for its own pending waits), every member is called from it.
/// `deliver` and `cancel_timer` run inside the calls that end waits, after
/// the wait left the registry: they may read it but must not change it.
class waiter_registry {
public:
  using deliver_fn = std::function<void(wait_end)>;
  using cancel_timer_fn = std::function<void(std::uint64_t)>;

  /// Ids re-read per tick by default: one store read each.
  static constexpr std::size_t default_recheck_batch = 100;

  explicit waiter_registry(cancel_timer_fn cancel_timer = nullptr)
    : cancel_timer_(std::move(cancel_timer)) {}

  // -- waits ------------------------------------------------------------------

  /// Registers a wait for the end of `id`; returns its sequence number
  /// (unique in this registry, never 0).
  std::uint64_t add(const std::string& id, deliver_fn deliver);

  /// Gives the wait `seq` a timer token, handed to `cancel_timer` when the
  /// wait ends otherwise. No-op if it ended already.
  void set_timer(const std::string& id, std::uint64_t seq, std::uint64_t timer);

  /// Ends every wait on `id` if `row` is finished (with it) or missing
  /// (not found); an unfinished row changes nothing. Returns the waits
  /// ended.
  std::size_t resolve(const std::string& id,
                      const std::optional<execution_record>& row);

  /// Ends the wait `seq` as timed out (its timer fired: not cancelled);
  /// false if it ended already.
  bool expire(const std::string& id, std::uint64_t seq);

  /// Forgets the wait `seq` without ending it; false if it ended already.
  bool remove(const std::string& id, std::uint64_t seq);

  /// Ends every wait on `id` as failed with `message`.
  std::size_t fail(const std::string& id, const std::string& message);

  /// Ends every wait as shut down. Returns the waits ended.
  std::size_t shut_down();

  // -- re-checks --------------------------------------------------------------

  /// Call after add(): true when the owner must schedule a tick now
  /// (someone waits and no tick is pending).
  bool arm_recheck();

  /// What one tick asks for.
  struct recheck_plan {
    /// Ids to re-read now and hand to resolve(); then call recheck_done().
    /// Empty when nobody waits or the previous re-read is still under way.
    std::vector<std::string> ids;
    /// Whether to schedule the next tick (someone still waits).
    bool again = false;
  };

  /// A tick came: at most `limit` (>= 1) watched ids, those re-read
  /// longest ago first.
  recheck_plan recheck_tick(std::size_t limit = default_recheck_batch);

  /// The re-read that the last non-empty plan asked for has ended.
  void recheck_done() noexcept {
    rereading_ = false;
  }

  // -- observers --------------------------------------------------------------

  /// Whether anyone waits for `id`.
  bool watches(const std::string& id) const {
    return by_id_.count(id) != 0;
  }

  /// Every id waited on (for a resync).
  std::vector<std::string> watched_ids() const;

  /// Waits in progress.
  std::size_t size() const noexcept {
    return waiters_;
  }

  /// Executions waited on.
  std::size_t watched() const noexcept {
    return by_id_.size();
  }

  bool empty() const noexcept {
    return waiters_ == 0;
  }

private:
  struct waiter {
    std::uint64_t seq;
    std::uint64_t timer;
    deliver_fn deliver;
  };

  struct entry {
    std::vector<waiter> waiters;
    /// Position in `order_`.
    std::list<std::string>::iterator pos;
  };

  using map_type = std::unordered_map<std::string, entry>;

  /// Ends every wait of `i` with `end` and drops the entry.
  std::size_t end_all(map_type::iterator i, const wait_end& end);

  /// Ends one wait with `end` (if any) and drops it, and its entry once
  /// empty; `cancel` releases its timer.
  bool end_one(const std::string& id, std::uint64_t seq,
               std::optional<wait_end> end, bool cancel);

  void erase_entry(map_type::iterator i);

  cancel_timer_fn cancel_timer_;
  map_type by_id_;
  /// Watched ids, re-read longest ago first.
  std::list<std::string> order_;
  std::size_t waiters_ = 0;
  std::uint64_t next_seq_ = 1;
  bool armed_ = false;
  bool rereading_ = false;
};

} // namespace durable::actors
