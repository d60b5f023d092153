#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "durable/execution_record.hpp"
#include "durable/options.hpp"
#include "durable/task_definition.hpp"

/// The rows a running execution adds below itself: a parent's children, its
/// finalize task, a sequence's step, a loop's iteration. Pure functions:
/// no store, no clock (the caller passes `now`), no thread.
namespace durable {

/// One child to be built: its task, its input (JSON text) and its place.
struct child_spec {
  /// The child's task id.
  std::string task_id;
  /// The child's input, as JSON text.
  std::string input;
  /// The enqueue options the parent asked for (a loop's pause, too).
  enqueue_options overrides{};
  /// Position among the parent's children (step, iteration).
  std::uint32_t index = 0;
  /// How many children the parent asked for: 1 makes the child
  /// parent_link::is_only_child.
  std::size_t siblings = 1;
  /// The child is the parent's finalize task (parent_link::is_finalize).
  bool is_finalize = false;
};

/// The child of step `k` of sequence or loop `def` with `input`: a
/// sequence's k-th step, or the loop's iteration task paused by
/// `iteration_pause(k)` when the loop has one.
child_spec step_child(const task_definition& def, std::uint32_t k,
                      std::string input);

/// The row of `spec` below `parent`, or the error that fails the parent
/// instead (never retried, since the same child would fail again):
/// its task not registered here (`child_def` null: not_found), options
/// out of range, an input over `max_input_bytes` or not storable text
/// (utf8.hpp), a sleeping child whose input is not its unique id (a JSON
/// string of 1 to 255 bytes, storable; the row's input is then `null`).
std::variant<execution_record, execution_error>
make_child_row(const execution_record& parent, const task_definition* child_def,
               child_spec spec, std::size_t max_input_bytes, timestamp now);

} // namespace durable
