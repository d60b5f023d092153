#pragma once

#include <string>
#include <sys/types.h>
#include <vector>

/// Extra executor processes of a multi-node run.
namespace durable::bench {

/// Child processes of this binary in `--worker` mode: each registers the
/// same tasks, runs an executor on the same store, prints "ready" once it
/// runs and shuts down cleanly when its stdin closes (so they also stop if
/// this process dies).
///
/// Threading: one thread. Errors: start() throws std::runtime_error if a
/// worker cannot be started or exits before it is ready.
class node_group {
public:
  node_group() = default;
  ~node_group();

  node_group(const node_group&) = delete;
  node_group& operator=(const node_group&) = delete;

  /// Starts `count` workers running `/proc/self/exe args...` and waits
  /// until each printed "ready".
  void start(std::size_t count, const std::vector<std::string>& args);

  /// Closes every worker's stdin and waits for it to exit. Returns the
  /// number of workers that did not exit with status 0. Idempotent.
  int stop();

  std::size_t size() const noexcept {
    return workers_.size();
  }

private:
  struct worker {
    pid_t pid = -1;
    int stdin_fd = -1;
  };
  std::vector<worker> workers_;
};

/// The `--worker` side: blocks until stdin reaches end of file.
void wait_for_stdin_eof();

} // namespace durable::bench
