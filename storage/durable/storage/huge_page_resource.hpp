#pragma once

#include <cstddef>
#include <memory_resource>

namespace durable::storage {

/// A memory resource for stores that keep many rows in memory: large
/// blocks (at least `huge_threshold` bytes) are mapped on their own and
/// marked for transparent huge pages, everything smaller comes from
/// `operator new`.
///
/// Why: touching fresh memory costs one page fault per 4 KiB page, and on
/// virtual machines a fault costs microseconds, more than storing the row
/// whose memory it maps. Handed large chunks by a pool resource, the
/// memory store faults once per 2 MiB instead (when the kernel has a huge
/// page to give; otherwise it behaves like ordinary memory).
///
/// **Threading.** Stateless apart from the upstream: safe from any thread.
/// **Errors.** Throws std::bad_alloc when the system has no memory left.
class huge_page_resource final : public std::pmr::memory_resource {
public:
  static constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;
  static constexpr std::size_t huge_threshold = std::size_t{1} << 20;

private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override;

  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override;

  bool do_is_equal(const std::pmr::memory_resource& other) const
    noexcept override;
};

} // namespace durable::storage
