#include "nodes.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

namespace durable::bench {

namespace {

/// Reads `fd` until a newline; false at end of file first.
bool read_line(int fd, std::string& line) {
  line.clear();
  char c;
  for (;;) {
    auto n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    if (c == '\n')
      return true;
    line += c;
  }
}

} // namespace

node_group::~node_group() {
  stop();
}

void node_group::start(std::size_t count,
                       const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < count; ++i) {
    // Close-on-exec, so that a later worker does not hold an earlier one's
    // stdin open (dup2 clears the flag on the worker's own ends).
    int in[2];
    int out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0)
      throw std::runtime_error("cannot create a pipe for a worker node");
    // argv is built before fork: the child only calls async-signal-safe
    // functions.
    std::vector<char*> argv;
    static char self[] = "durable-bench";
    argv.push_back(self);
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    auto pid = fork();
    if (pid < 0)
      throw std::runtime_error("cannot fork a worker node");
    if (pid == 0) {
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      close(in[0]);
      close(in[1]);
      close(out[0]);
      close(out[1]);
      execv("/proc/self/exe", argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    workers_.push_back({pid, in[1]});
    std::string line;
    bool ready = read_line(out[0], line) && line == "ready";
    close(out[0]);
    if (!ready)
      throw std::runtime_error(fmt::format(
        "worker node {} (pid {}) exited before it was ready", i + 1, pid));
  }
}

int node_group::stop() {
  int failed = 0;
  for (auto& w : workers_) {
    if (w.stdin_fd >= 0)
      close(w.stdin_fd);
    w.stdin_fd = -1;
  }
  for (auto& w : workers_) {
    int status = 0;
    while (waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      ++failed;
  }
  workers_.clear();
  return failed;
}

void wait_for_stdin_eof() {
  char buf[256];
  for (;;) {
    auto n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return;
  }
}

} // namespace durable::bench
