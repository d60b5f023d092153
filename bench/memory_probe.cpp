#include "memory_probe.hpp"

#include <dlfcn.h>
#include <fstream>
#include <stdexcept>
#include <string>
#include <sys/resource.h>

#include <fmt/format.h>

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

std::string running_allocator() {
  // Looked up at run time rather than linked: the harness must tell which
  // allocator it got even when built without jemalloc (LD_PRELOAD).
  using mallctl_fn = int (*)(const char*, void*, std::size_t*, void*,
                             std::size_t);
  auto mallctl = reinterpret_cast<mallctl_fn>(dlsym(RTLD_DEFAULT, "mallctl"));
  if (mallctl == nullptr)
    return "glibc";
  const char* version = nullptr;
  std::size_t size = sizeof(version);
  if (mallctl("version", &version, &size, nullptr, 0) != 0
      || version == nullptr)
    return "jemalloc";
  return fmt::format("jemalloc {}", version);
}

void check_allocator() {
  const std::string built = DURABLE_ALLOCATOR;
  const auto running = running_allocator();
  if (built == "jemalloc" && running.rfind("jemalloc", 0) != 0)
    throw std::runtime_error(fmt::format(
      "built to run on jemalloc, but runs on {}: the link did not take",
      running));
}

} // namespace durable::bench
