#pragma once

#include <cstddef>
#include <string>

/// Memory of this process as the kernel reports it.
namespace durable::bench {

/// Resident set size now (VmRSS of /proc/self/status), in bytes; 0 if
/// unreadable.
std::size_t current_rss_bytes();

/// Peak resident set size (VmHWM, else getrusage's ru_maxrss), in bytes.
std::size_t peak_rss_bytes();

/// The malloc this process runs on: "jemalloc <version>" when jemalloc is
/// linked in or preloaded (its `mallctl` answers), else "glibc".
std::string running_allocator();

/// Throws if the allocator the program was built to link
/// (DURABLE_ALLOCATOR) is not the one it runs on, so that a number is
/// never reported for an allocator other than the one it names.
void check_allocator();

} // namespace durable::bench
