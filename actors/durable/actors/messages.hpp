#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "durable/actors/child_tracker.hpp"
#include "durable/actors/wire.hpp"
#include "durable/execution_record.hpp"
#include "durable/store.hpp"
#include "durable/task_definition.hpp"

/// The messages the engine's actors exchange inside one process. None of
/// them crosses the network (the executor actor's types are in wire.hpp,
/// with the atoms both share), so they are allowed as local-only message
/// types.
namespace durable::actors {

// -- atoms (at most 10 characters in CAF 0.17) -------------------------------

using insert_atom = caf::atom_constant<caf::atom("insert")>;
using apply_atom = caf::atom_constant<caf::atom("apply")>;
using claim_atom = caf::atom_constant<caf::atom("claim")>;
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
using children_atom = caf::atom_constant<caf::atom("children")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;
using events_atom = caf::atom_constant<caf::atom("events")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;
using poll_atom = caf::atom_constant<caf::atom("poll")>;
using slot_free_atom = caf::atom_constant<caf::atom("slotfree")>;
using gone_atom = caf::atom_constant<caf::atom("gone")>;
using body_done_atom = caf::atom_constant<caf::atom("bodydone")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using timer_set_atom = caf::atom_constant<caf::atom("tset")>;
using timer_cancel_atom = caf::atom_constant<caf::atom("tcancel")>;
using timer_fire_atom = caf::atom_constant<caf::atom("tfire")>;
using child_done_atom = caf::atom_constant<caf::atom("childdone")>;
using recheck_atom = caf::atom_constant<caf::atom("recheck")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
using renew_atom = caf::atom_constant<caf::atom("renew")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using erase_atom = caf::atom_constant<caf::atom("erase")>;
using rerun_atom = caf::atom_constant<caf::atom("rerun")>;
using resync_atom = caf::atom_constant<caf::atom("resync")>;
using lost_atom = caf::atom_constant<caf::atom("lost")>;
using renewed_atom = caf::atom_constant<caf::atom("renewed")>;
using leader_atom = caf::atom_constant<caf::atom("leader")>;
using unwatch_atom = caf::atom_constant<caf::atom("unwatch")>;
using take_atom = caf::atom_constant<caf::atom("take")>;
using reread_atom = caf::atom_constant<caf::atom("reread")>;
using handback_atom = caf::atom_constant<caf::atom("handback")>;
using reclaimed_atom = caf::atom_constant<caf::atom("reclaimed")>;
using prune_atom = caf::atom_constant<caf::atom("prune")>;

// -- payload types ----------------------------------------------------------

/// A row that may not exist.
struct maybe_record {
  std::optional<execution_record> record;
};

/// A time that may not exist.
struct maybe_time {
  std::optional<timestamp> at;
};

/// What one run of a body (or an inline finalize) produced.
struct body_outcome {
  /// A task's output, or an inline finalize's output.
  std::optional<std::string> output;
  /// A parent body's output and children.
  std::optional<parent_run> parent;
  /// Set when the run failed.
  std::optional<execution_error> error;
  /// Why a body queued on the worker pool was not started at all (then
  /// nothing above is set).
  enum class skip : std::uint8_t {
    none,
    stopped,  ///< its execution actor ended (cancelled, lost, done)
    draining, ///< the node shuts down: the row is handed back instead
    lease,    ///< the row's lease may have passed (another node's now)
  };
  skip skipped = skip::none;
};

/// Reply to a wake_request: the execution as stored afterwards, or an error.
struct wake_reply {
  std::optional<execution_record> record;
  std::optional<execution_error> error;
};

/// Counters of one node.
struct engine_stats {
  std::size_t running_bodies = 0;
  std::size_t live_executions = 0;
  std::uint64_t claimed = 0;
  std::uint64_t claims = 0;
  /// Executions stopped because another node took their row over.
  std::uint64_t leases_lost = 0;
  /// Callers waiting for an execution to finish.
  std::size_t waiters = 0;
};

/// Reply to an insert: one outcome per row, or the store's error.
struct insert_reply {
  std::vector<insert_outcome> outcomes;
  std::string error;
  /// The error is an insert whose commit is in doubt: the rows may be
  /// stored (store_failure::in_doubt), so enqueuing them again may run
  /// them twice.
  bool in_doubt = false;
};

using insert_callback = std::function<void(insert_reply)>;

} // namespace durable::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::transition)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::write_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::claim_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::claim_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::prune_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::prune_result)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::actors::insert_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<durable::store_event>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::timestamp)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::actors::maybe_record)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<durable::actors::maybe_record>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::actors::maybe_time)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::actors::finished_row)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::actors::body_outcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::actors::wake_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::actors::engine_stats)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(durable::actors::insert_callback)
