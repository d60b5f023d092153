#include "durable/nodes/service_notify.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

#ifdef DURABLE_WITH_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace durable::nodes::service {

namespace {

/// One status line: systemd shows the text up to the first newline.
std::string status_line(std::string_view text) {
  std::string line{text.substr(0, text.find('\n'))};
  return "STATUS=" + line;
}

void send([[maybe_unused]] const std::string& state) {
#ifdef DURABLE_WITH_SYSTEMD
  // 0: keep NOTIFY_SOCKET in the environment, for the later messages.
  ::sd_notify(0, state.c_str());
#endif
}

} // namespace

void ready(std::string_view status) {
  send("READY=1\n" + status_line(status));
}

void stopping(std::string_view status) {
  send("STOPPING=1\n" + status_line(status));
}

void status(std::string_view status) {
  send(status_line(status));
}

void watchdog() {
  send("WATCHDOG=1");
}

std::optional<std::chrono::microseconds> watchdog_period() {
#ifdef DURABLE_WITH_SYSTEMD
  std::uint64_t usec = 0;
  // At least 1 ms: a shorter WatchdogSec= would only spin the main thread.
  if (::sd_watchdog_enabled(0, &usec) > 0)
    return std::chrono::microseconds{std::max<std::uint64_t>(usec / 2, 1000)};
#endif
  return std::nullopt;
}

} // namespace durable::nodes::service
