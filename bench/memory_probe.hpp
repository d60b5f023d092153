#pragma once

#include <cstddef>

/// Memory of this process as the kernel reports it.
namespace durable::bench {

/// Resident set size now (VmRSS of /proc/self/status), in bytes; 0 if
/// unreadable.
std::size_t current_rss_bytes();

/// Peak resident set size (VmHWM, else getrusage's ru_maxrss), in bytes.
std::size_t peak_rss_bytes();

} // namespace durable::bench
