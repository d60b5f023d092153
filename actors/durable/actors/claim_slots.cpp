#include "durable/actors/claim_slots.hpp"

#include <algorithm>

#include "durable/actors/task_registry.hpp"

namespace durable::actors {

void task_kinds::refresh(const task_registry& tasks) {
  const auto gen = tasks.generation();
  if (gen == generation_)
    return;
  all_ = tasks.ids();
  blocking_set_.clear();
  blocking_list_.clear();
  inline_.clear();
  for (const auto& id : all_) {
    // Only tasks and parent tasks have bodies; sequences and loops never
    // need a worker thread.
    auto def = tasks.find(id);
    const bool blocking = def && def->options.may_block
                          && (def->kind == task_kind::task
                              || def->kind == task_kind::parent);
    if (!blocking) {
      inline_.push_back(id);
    } else {
      blocking_set_.insert(id);
      blocking_list_.push_back(id);
    }
  }
  generation_ = gen;
}

bool task_kinds::runs(const std::string& task_id) const {
  return std::find(all_.begin(), all_.end(), task_id) != all_.end();
}

claim_rounds::plan claim_rounds::next(const task_kinds& kinds, std::size_t free,
                                      std::size_t batch, std::size_t room) {
  plan out;
  out.limit = std::min(batch, free);
  const bool has_blocking = !kinds.blocking().empty();
  const bool has_inline = !kinds.inline_tasks().empty();
  bool blocking_claim = false;
  out.round_start = !second_kind_due_;
  out.task_ids = &kinds.all();
  if (has_blocking && has_inline) {
    if (!second_kind_due_) { // a round begins
      blocking_claim = blocking_first_;
      second_kind_due_ = true;
    } else { // and ends, with the other kind; the next starts with it
      blocking_claim = !blocking_first_;
      second_kind_due_ = false;
      blocking_first_ = !blocking_first_;
    }
    out.task_ids = blocking_claim ? &kinds.blocking() : &kinds.inline_tasks();
  } else {
    blocking_claim = has_blocking;
  }
  out.blocking_waits = has_blocking && room == 0;
  if (blocking_claim && room == 0) {
    if (!second_kind_due_) // and the inline half ran already (or none)
      return out;
    // The inline half of the round runs now, and ends it.
    second_kind_due_ = false;
    blocking_claim = false;
    out.task_ids = &kinds.inline_tasks();
  }
  if (blocking_claim)
    out.limit = std::min(out.limit, room);
  out.blocking = blocking_claim;
  out.claim = true;
  return out;
}

} // namespace durable::actors
