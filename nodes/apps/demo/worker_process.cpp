#include "demo/worker_process.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdexcept>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <spawn.h>

extern char** environ;

namespace durable::demo {

namespace {

[[noreturn]] void fail(const char* what, int err) {
  throw std::runtime_error(
    fmt::format("cannot start a worker: {}: {}", what, std::strerror(err)));
}

int decode(int status) {
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return -1;
}

} // namespace

worker_process::worker_process(const std::vector<std::string>& args) {
  // posix_spawn rather than fork: the calling process may run threads (the
  // store's), and a forked child of a threaded process may only make
  // async-signal-safe calls before exec.
  std::string exe = "/proc/self/exe";
  std::vector<std::string> owned{exe};
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : owned)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    fail("pipe", errno);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  int rc = ::posix_spawn(&pid_, exe.c_str(), &actions, nullptr, argv.data(),
                         environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    fail("posix_spawn", rc);
  }
  out_ = fds[0];
}

worker_process::~worker_process() {
  if (!status_ && pid_ > 0)
    kill_hard();
  if (out_ >= 0)
    ::close(out_);
}

std::optional<std::string>
worker_process::next_line(clock_type::time_point deadline) {
  for (;;) {
    if (auto pos = buffer_.find('\n'); pos != std::string::npos) {
      auto line = buffer_.substr(0, pos);
      buffer_.erase(0, pos + 1);
      return line;
    }
    if (out_ < 0)
      return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
    if (left.count() <= 0)
      return std::nullopt;
    pollfd p{out_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return std::nullopt;
    char chunk[512];
    auto got = ::read(out_, chunk, sizeof(chunk));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      ::close(out_);
      out_ = -1;
      continue;
    }
    buffer_.append(chunk, static_cast<std::size_t>(got));
  }
}

void worker_process::kill_hard() {
  if (status_ || pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = decode(status);
}

std::optional<int> worker_process::exit_code() {
  if (status_ || pid_ <= 0)
    return status_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_)
    status_ = decode(status);
  return status_;
}

std::optional<int> worker_process::wait_until(clock_type::time_point deadline) {
  using namespace std::chrono_literals;
  while (!exit_code() && clock_type::now() < deadline)
    std::this_thread::sleep_for(20ms);
  return status_;
}

} // namespace durable::demo
