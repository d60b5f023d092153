#pragma once

#include <chrono>
#include <optional>
#include <string_view>

/// What a node tells the service manager that started it, through
/// libsystemd's sd_notify(3), for a systemd unit of `Type=notify`
/// (packaging/systemd/durable-node.service):
///
/// - `READY=1` once the node serves: its store is open, its executor
///   claims work, and its HTTP API (when configured) accepts connections.
///   systemd holds back units ordered after it, and `systemctl start`
///   returns, only then;
/// - `STOPPING=1` when a drain begins (SIGTERM or SIGINT);
/// - `STATUS=…` one line for `systemctl status` at each of these steps;
/// - `WATCHDOG=1` when the unit sets `WatchdogSec=` (`WATCHDOG_USEC` in the
///   environment), sent by the node's main thread while it waits for a stop
///   signal: it tells a frozen or stopped process (SIGSTOP, a hung host
///   thread) from a live one, not a stuck engine from a working one.
///
/// **Without a service manager** (no `NOTIFY_SOCKET` in the environment)
/// every call does nothing, and so does a build without libsystemd
/// (`DURABLE_WITH_SYSTEMD=OFF`).
///
/// **Errors.** None reach the caller: a message the manager does not get
/// is lost (systemd then times the start out, or kills the unit for a
/// missed watchdog, which is what those settings are for).
///
/// **Threading.** Every function may be called from any thread.
namespace durable::nodes::service {

/// `READY=1` with a status line.
void ready(std::string_view status);

/// `STOPPING=1` with a status line.
void stopping(std::string_view status);

/// A status line alone.
void status(std::string_view status);

/// `WATCHDOG=1`.
void watchdog();

/// How often to send watchdog(): half of `WATCHDOG_USEC` when the manager
/// asks for keep-alives (and `WATCHDOG_PID`, if set, is this process),
/// nullopt otherwise.
std::optional<std::chrono::microseconds> watchdog_period();

} // namespace durable::nodes::service
