#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

/// A copy of the running program started as a separate process, for the
/// demo's crash mode: its stdout is a pipe read line by line, it can be
/// killed with SIGKILL and reaped with a deadline.
///
/// **Threading.** One object is used by one thread.
///
/// **Errors.** A process that cannot be started throws std::runtime_error.
/// A process still running when its object is destroyed is killed with
/// SIGKILL and reaped, so that the demo never leaves a worker behind.
namespace durable::demo {

class worker_process {
public:
  using clock_type = std::chrono::steady_clock;

  /// Starts this program (`/proc/self/exe`) with `args`; stdin is
  /// /dev/null, stderr is inherited.
  explicit worker_process(const std::vector<std::string>& args);

  worker_process(const worker_process&) = delete;
  worker_process& operator=(const worker_process&) = delete;

  ~worker_process();

  pid_t pid() const noexcept {
    return pid_;
  }

  /// The next line the process wrote on stdout, without its newline;
  /// nullopt once it closed stdout or at `deadline`.
  std::optional<std::string> next_line(clock_type::time_point deadline);

  /// Sends SIGKILL and reaps the process.
  void kill_hard();

  /// The exit code once the process ended (128 + the signal if a signal
  /// ended it), or nullopt if it still runs; never blocks.
  std::optional<int> exit_code();

  /// Waits for the exit code until `deadline`; nullopt if it still runs.
  std::optional<int> wait_until(clock_type::time_point deadline);

private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
  std::optional<int> status_;
};

} // namespace durable::demo
