#include "durable/storage/huge_page_resource.hpp"

#include <cstdint>
#include <new>
#include <sys/mman.h>

namespace durable::storage {

namespace {

std::size_t round_up(std::size_t n, std::size_t to) {
  return (n + to - 1) / to * to;
}

/// Maps `size` bytes (a multiple of the huge page size) on a huge page
/// boundary, marked for huge pages; nullptr if the system has no memory.
void* map_huge(std::size_t size) noexcept {
  constexpr auto huge = huge_page_resource::huge_page_bytes;
  // Map one huge page more than needed and trim both ends, so that the
  // block starts on a huge page boundary (a huge page must be aligned).
  const auto mapped = size + huge;
  void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return nullptr;
  auto base = reinterpret_cast<std::uintptr_t>(p);
  auto aligned = round_up(base, huge);
  if (aligned > base)
    ::munmap(p, aligned - base);
  if (auto tail = base + mapped - (aligned + size); tail > 0)
    ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  // Advice only: without huge pages the block is ordinary memory.
  ::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

/// Faults the block in now rather than on first use.
void fault_in(void* p, std::size_t size) noexcept {
#ifdef MADV_POPULATE_WRITE
  if (::madvise(p, size, MADV_POPULATE_WRITE) == 0)
    return;
#endif
  // Older kernels: write to every page (4 KiB steps also cover the case
  // where no huge page was available).
  auto* bytes = static_cast<volatile char*>(p);
  for (std::size_t i = 0; i < size; i += 4096)
    bytes[i] = 0;
}

} // namespace

huge_page_resource::~huge_page_resource() {
  for (auto* p : stock_)
    ::munmap(p, huge_page_bytes);
}

void huge_page_resource::stock_up(std::size_t bytes) noexcept {
  const auto wanted = round_up(bytes, huge_page_bytes) / huge_page_bytes;
  for (;;) {
    {
      std::lock_guard guard{stock_mutex_};
      if (stock_.size() >= wanted)
        return;
    }
    auto* p = map_huge(huge_page_bytes);
    if (!p)
      return;
    fault_in(p, huge_page_bytes);
    std::lock_guard guard{stock_mutex_};
    try {
      stock_.push_back(p);
    } catch (...) {
      ::munmap(p, huge_page_bytes);
      return;
    }
  }
}

std::size_t huge_page_resource::stocked() const {
  std::lock_guard guard{stock_mutex_};
  return stock_.size();
}

void* huge_page_resource::do_allocate(std::size_t bytes,
                                      std::size_t alignment) {
  if (bytes < huge_threshold || alignment > huge_page_bytes)
    return ::operator new (bytes, std::align_val_t{alignment});
  if (bytes <= huge_page_bytes) {
    std::lock_guard guard{stock_mutex_};
    if (!stock_.empty()) {
      auto* p = stock_.back();
      stock_.pop_back();
      return p;
    }
  }
  auto* p = map_huge(round_up(bytes, huge_page_bytes));
  if (!p)
    throw std::bad_alloc{};
  return p;
}

void huge_page_resource::do_deallocate(void* p, std::size_t bytes,
                                       std::size_t alignment) {
  if (bytes < huge_threshold || alignment > huge_page_bytes) {
    ::operator delete (p, bytes, std::align_val_t{alignment});
    return;
  }
  ::munmap(p, round_up(bytes, huge_page_bytes));
}

bool huge_page_resource::do_is_equal(
  const std::pmr::memory_resource& other) const noexcept {
  return this == &other;
}

} // namespace durable::storage
