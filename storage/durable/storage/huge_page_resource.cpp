#include "durable/storage/huge_page_resource.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <new>

namespace durable::storage {

namespace {

std::size_t round_up(std::size_t n, std::size_t to) {
  return (n + to - 1) / to * to;
}

} // namespace

void* huge_page_resource::do_allocate(std::size_t bytes,
                                      std::size_t alignment) {
  if (bytes < huge_threshold || alignment > huge_page_bytes)
    return ::operator new(bytes, std::align_val_t{alignment});
  // Map one huge page more than needed and trim both ends, so that the
  // block starts on a huge page boundary (a huge page must be aligned).
  const auto size = round_up(bytes, huge_page_bytes);
  const auto mapped = size + huge_page_bytes;
  void* p = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw std::bad_alloc{};
  auto base = reinterpret_cast<std::uintptr_t>(p);
  auto aligned = round_up(base, huge_page_bytes);
  if (aligned > base)
    ::munmap(p, aligned - base);
  if (auto tail = base + mapped - (aligned + size); tail > 0)
    ::munmap(reinterpret_cast<void*>(aligned + size), tail);
  // Advice only: without huge pages the block is ordinary memory.
  ::madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);
}

void huge_page_resource::do_deallocate(void* p, std::size_t bytes,
                                       std::size_t alignment) {
  if (bytes < huge_threshold || alignment > huge_page_bytes) {
    ::operator delete(p, bytes, std::align_val_t{alignment});
    return;
  }
  ::munmap(p, round_up(bytes, huge_page_bytes));
}

bool huge_page_resource::do_is_equal(
  const std::pmr::memory_resource& other) const noexcept {
  return this == &other;
}

} // namespace durable::storage
