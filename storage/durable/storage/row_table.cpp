#include "durable/storage/row_table.hpp"

#include <algorithm>
#include <functional>
#include <memory>

namespace durable::storage {

namespace {

/// Slots of a new table; always a power of two.
constexpr std::size_t initial_slots = 64;

/// Rows of the first chunk; each next chunk doubles, up to as many rows
/// as fill one 2 MiB huge page (see huge_page_resource).
constexpr std::size_t first_chunk_rows = 16;
constexpr std::size_t max_chunk_rows = (std::size_t{2} << 20)
                                       / sizeof(execution_record);

} // namespace

row_table::row_table(std::pmr::memory_resource* memory)
  : memory_(memory), slots_(initial_slots, slot{}, memory), chunks_(memory) {}

row_table::~row_table() {
  for (auto& s : slots_)
    if (s.row)
      std::destroy_at(s.row);
  for (auto& c : chunks_)
    memory_->deallocate(c.rows, c.count * sizeof(execution_record),
                        alignof(execution_record));
}

std::size_t row_table::next_chunk_bytes() const noexcept {
  auto count = chunks_.empty()
                 ? first_chunk_rows
                 : std::min(chunks_.back().count * 2, max_chunk_rows);
  return count * sizeof(execution_record);
}

execution_record* row_table::take_memory() {
  if (free_) {
    auto* row = static_cast<execution_record*>(free_);
    free_ = *static_cast<void**>(free_);
    --free_count_;
    return row;
  }
  if (chunk_left_ == 0) {
    auto count = next_chunk_bytes() / sizeof(execution_record);
    chunks_.reserve(chunks_.size() + 1); // no throw after the allocation
    auto* rows = static_cast<execution_record*>(memory_->allocate(
      count * sizeof(execution_record), alignof(execution_record)));
    chunks_.push_back({rows, count});
    chunk_left_ = count;
  }
  auto& last = chunks_.back();
  return last.rows + (last.count - chunk_left_--);
}

void row_table::give_back(execution_record* row) noexcept {
  static_assert(sizeof(execution_record) >= sizeof(void*));
  *reinterpret_cast<void**>(row) = free_;
  free_ = row;
  ++free_count_;
}

std::uint64_t row_table::hash_of(std::string_view id) noexcept {
  return std::hash<std::string_view>{}(id);
}

std::size_t row_table::probe(std::string_view id,
                             std::uint64_t h) const noexcept {
  auto i = h & mask();
  while (slots_[i].row && (slots_[i].hash != h || slots_[i].row->id != id))
    i = (i + 1) & mask();
  return i;
}

execution_record* row_table::find(std::string_view id) const noexcept {
  return slots_[probe(id, hash_of(id))].row;
}

std::pair<execution_record*, bool> row_table::insert(execution_record&& r) {
  // At most half full: probe sequences stay short.
  if ((size_ + 1) * 2 > slots_.size())
    grow();
  const auto h = hash_of(r.id);
  auto i = probe(r.id, h);
  if (slots_[i].row)
    return {slots_[i].row, false};
  auto* row = take_memory();
  try {
    std::construct_at(row, std::move(r));
  } catch (...) {
    give_back(row);
    throw;
  }
  slots_[i] = {h, row};
  ++size_;
  return {row, true};
}

bool row_table::erase(std::string_view id) noexcept {
  auto i = probe(id, hash_of(id));
  auto* row = slots_[i].row;
  if (!row)
    return false;
  // Backward shift: move later entries of the probe run into the hole
  // unless that would put them before their home slot.
  auto j = i;
  for (;;) {
    j = (j + 1) & mask();
    if (!slots_[j].row)
      break;
    auto home = slots_[j].hash & mask();
    bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays)
      continue;
    slots_[i] = slots_[j];
    i = j;
  }
  slots_[i] = slot{};
  --size_;
  std::destroy_at(row);
  give_back(row);
  return true;
}

void row_table::grow() {
  std::pmr::vector<slot> bigger(slots_.size() * 2, slot{},
                                slots_.get_allocator());
  const auto m = bigger.size() - 1;
  for (const auto& s : slots_) {
    if (!s.row)
      continue;
    auto i = s.hash & m;
    while (bigger[i].row)
      i = (i + 1) & m;
    bigger[i] = s;
  }
  slots_.swap(bigger);
}

} // namespace durable::storage
