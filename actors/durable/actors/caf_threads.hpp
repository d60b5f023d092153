#pragma once

#include <caf/logger.hpp>

namespace durable::actors {

/// Drops the calling thread's reference to an actor system's logger.
///
/// CAF 0.17 pins the logger of an actor system to every thread that
/// constructs the system or a scoped actor of it (a thread-local strong
/// reference, caf::logger::set_current_actor_system), and ~actor_system()
/// waits until the logger is destroyed. A thread that once built a system
/// or made a blocking call and still lives would block the destruction of
/// that system on another thread for as long as it lives. The reference
/// only serves CAF's logging, which Debian's build compiles out. Call it
/// after every such construction, spawn from outside an actor or blocking
/// call on a thread that may outlive the system.
inline void release_thread_logger() {
  CAF_SET_LOGGER_SYS(nullptr);
}

/// Calls release_thread_logger() when it goes out of scope: declare one
/// before the scoped actor, spawn or actor system it follows.
struct thread_logger_release {
  thread_logger_release() = default;
  thread_logger_release(const thread_logger_release&) = delete;
  thread_logger_release& operator=(const thread_logger_release&) = delete;

  ~thread_logger_release() {
    release_thread_logger();
  }
};

} // namespace durable::actors
