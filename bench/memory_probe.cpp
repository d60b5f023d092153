#include "memory_probe.hpp"

#include <fstream>
#include <string>
#include <sys/resource.h>

namespace durable::bench {

namespace {

/// A "Name:   123 kB" line of /proc/self/status, in bytes.
std::size_t status_field(const std::string& name) {
  std::ifstream in{"/proc/self/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + ":", 0) == 0)
      return std::stoull(line.substr(name.size() + 1)) * 1024;
  return 0;
}

} // namespace

std::size_t current_rss_bytes() {
  return status_field("VmRSS");
}

std::size_t peak_rss_bytes() {
  if (auto hwm = status_field("VmHWM"))
    return hwm;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::size_t>(ru.ru_maxrss) * 1024;
}

} // namespace durable::bench
