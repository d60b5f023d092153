#pragma once

#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <string_view>
#include <utility>
#include <vector>

#include "durable/execution_record.hpp"

namespace durable::storage {

/// The rows of the memory store by id: an open-addressing table of
/// (hash of the id, row) pairs, linear probing, backward-shift deletion.
///
/// Why not a std::unordered_map: with a hundred thousand rows every
/// lookup there chases a bucket, the node before the match, the match and
/// its key's characters, each a cache miss; here a lookup reads one slot
/// and the row it finds, which the caller reads next anyway.
///
/// Rows live in chunks of rows taken from `memory` (exactly the rows'
/// size, where a general pool would round each up to its next size class;
/// a freed row is reused by the next insert). They never move while
/// stored, so pointers to them stay valid until erase() or the table's
/// destruction.
///
/// **Threading.** None: the memory store calls it under its mutex.
class row_table {
public:
  /// An empty table whose slots and row chunks come from `memory`, which
  /// must outlive the table.
  explicit row_table(std::pmr::memory_resource* memory);

  ~row_table();

  row_table(const row_table&) = delete;
  row_table& operator=(const row_table&) = delete;

  /// The number of rows stored.
  std::size_t size() const noexcept {
    return size_;
  }

  /// The row with this id, or nullptr.
  execution_record* find(std::string_view id) const noexcept;

  /// Stores `r` unless its id is taken: returns the stored row and true, or
  /// the row holding the id and false (then `r` is left untouched).
  std::pair<execution_record*, bool> insert(execution_record&& r);

  /// Removes and destroys the row with this id; false if there is none.
  bool erase(std::string_view id) noexcept;

  /// Rows that can be stored without allocating a chunk.
  std::size_t spare_rows() const noexcept {
    return chunk_left_ + free_count_;
  }

  /// The size in bytes of the chunk allocated once the spare rows are used.
  std::size_t next_chunk_bytes() const noexcept;

  /// Calls `f(const execution_record&)` for every row, in no order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& s : slots_)
      if (s.row)
        f(*s.row);
  }

private:
  struct slot {
    std::uint64_t hash = 0;
    execution_record* row = nullptr;
  };

  static std::uint64_t hash_of(std::string_view id) noexcept;

  std::size_t mask() const noexcept {
    return slots_.size() - 1;
  }

  /// The slot holding `id`, or the empty slot where it would go.
  std::size_t probe(std::string_view id, std::uint64_t h) const noexcept;

  void grow();

  /// Memory for one row: a freed one, or the next of the current chunk.
  execution_record* take_memory();

  void give_back(execution_record* row) noexcept;

  struct chunk {
    execution_record* rows;
    std::size_t count;
  };

  std::pmr::memory_resource* memory_;
  std::pmr::vector<slot> slots_;
  std::size_t size_ = 0;
  std::pmr::vector<chunk> chunks_;
  /// Rows of the last chunk not handed out yet.
  std::size_t chunk_left_ = 0;
  /// Freed rows, each holding the next one's address in its first bytes.
  void* free_ = nullptr;
  std::size_t free_count_ = 0;
};

} // namespace durable::storage
