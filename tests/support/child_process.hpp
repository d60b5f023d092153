#pragma once

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <string>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>

/// Real child processes for tests (crash and cluster tiers): spawn a
/// binary, read its stdout line by line, signal it, reap it. A child still
/// running when its object is destroyed is killed with SIGKILL.
namespace durable::test {

using clock_type = std::chrono::steady_clock;

/// Where a child's stderr goes (inherited by default).
struct child_stderr {
  /// Into the same pipe as its stdout.
  bool merge = false;
  /// Appended to this file (when not merged and not empty).
  std::string path{};
};

/// A child process whose stdout is read line by line.
class child_process {
public:
  /// Starts `exe` with `args`; its stdout is readable with next_line().
  child_process(std::string exe, std::vector<std::string> args,
                const child_stderr& err = {}) {
    // Everything the child needs is built before fork(): between fork and
    // exec only async-signal-safe calls are allowed.
    std::vector<char*> argv;
    argv.push_back(exe.data());
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    int err_fd = -1;
    if (!err.merge && !err.path.empty())
      err_fd = ::open(err.path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      if (err_fd >= 0) {
        ::dup2(err_fd, STDERR_FILENO);
        ::close(err_fd);
      }
      ::dup2(fds[1], STDOUT_FILENO);
      if (err.merge)
        ::dup2(fds[1], STDERR_FILENO);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    if (err_fd >= 0)
      ::close(err_fd);
    fd_ = fds[0];
  }

  ~child_process() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0)
      ::close(fd_);
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept {
    return pid_;
  }

  /// The next line, or nullopt at end of output or when `deadline` passed.
  std::optional<std::string> next_line(clock_type::time_point deadline) {
    for (;;) {
      if (auto pos = buffer_.find('\n'); pos != std::string::npos) {
        auto line = buffer_.substr(0, pos);
        buffer_.erase(0, pos + 1);
        return line;
      }
      if (eof_)
        return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - clock_type::now());
      if (left <= std::chrono::milliseconds::zero())
        return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
        continue;
      char chunk[4096];
      auto n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0)
        eof_ = true;
      else
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  /// Every remaining line until end of output (or `deadline`).
  std::vector<std::string> rest(clock_type::time_point deadline) {
    std::vector<std::string> lines;
    while (auto line = next_line(deadline))
      lines.push_back(std::move(*line));
    return lines;
  }

  /// Sends `sig` (e.g. SIGSTOP, SIGCONT, SIGTERM) without waiting.
  void signal(int sig) {
    REQUIRE(::kill(pid_, sig) == 0);
  }

  /// Waits for the next line that starts with `prefix` (nullopt at end of
  /// output or at `deadline`).
  std::optional<std::string>
  line_starting_with(const std::string& prefix,
                     clock_type::time_point deadline) {
    while (auto line = next_line(deadline))
      if (line->rfind(prefix, 0) == 0)
        return line;
    return std::nullopt;
  }

  void kill_hard() {
    REQUIRE(::kill(pid_, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    reaped_ = true;
    CHECK(WIFSIGNALED(status));
  }

  /// Waits for the exit; returns the exit code (-1 if it did not exit).
  int join() {
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool eof_ = false;
  bool reaped_ = false;
  std::string buffer_;
};

} // namespace durable::test
