#pragma once

#include <cstddef>
#include <memory_resource>
#include <mutex>
#include <vector>

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
/// **Stock.** Even one fault per 2 MiB is milliseconds on a virtual
/// machine (the host backs and clears the page), and the store allocates
/// under its lock. stock_up() maps and faults in huge pages ahead of time,
/// on the caller's thread and outside any lock of the store; a later
/// allocation of at most one huge page takes a stocked one and costs no
/// fault. Stocked pages are unmapped when the resource is destroyed.
///
/// **Threading.** Safe from any thread (the stock has a mutex of its own;
/// mapping and faulting happen outside it).
/// **Errors.** Allocation throws std::bad_alloc when the system has no
/// memory left; stock_up() never throws (it stocks less instead).
class huge_page_resource final : public std::pmr::memory_resource {
public:
  /// The size of one huge page (2 MiB, x86-64's): the unit of the stock
  /// and of every mapping.
  static constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;
  /// Allocations smaller than this (1 MiB), or aligned beyond a huge page,
  /// go to the global `operator new` instead of huge pages.
  static constexpr std::size_t huge_threshold = std::size_t{1} << 20;

  huge_page_resource() = default;

  ~huge_page_resource() override;

  huge_page_resource(const huge_page_resource&) = delete;
  huge_page_resource& operator=(const huge_page_resource&) = delete;

  /// Makes sure that at least `bytes` (rounded up to huge pages) are in
  /// stock, faulted in.
  void stock_up(std::size_t bytes) noexcept;

  /// Huge pages in stock (tests).
  std::size_t stocked() const;

private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override;

  void do_deallocate(void* p, std::size_t bytes,
                     std::size_t alignment) override;

  bool
  do_is_equal(const std::pmr::memory_resource& other) const noexcept override;

  mutable std::mutex stock_mutex_;
  /// Mapped, faulted-in blocks of one huge page each.
  std::vector<void*> stock_;
};

} // namespace durable::storage
