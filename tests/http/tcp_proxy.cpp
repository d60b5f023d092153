#include "http/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <system_error>
#include <tuple>
#include <unistd.h>
#include <utility>

namespace durable::test::http {

namespace {

[[noreturn]] void fail(const char* what) {
  throw std::system_error{errno, std::generic_category(), what};
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int listen_on(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    fail("socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = loopback(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0
      || ::listen(fd, 64) != 0) {
    ::close(fd);
    fail("bind/listen");
  }
  return fd;
}

} // namespace

tcp_proxy::tcp_proxy(std::uint16_t target_port) : target_port_(target_port) {
  listen_fd_ = listen_on(0);
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  ::close(listen_fd_);
  listen_fd_ = -1;
  start();
}

tcp_proxy::~tcp_proxy() {
  stop();
}

void tcp_proxy::start() {
  if (running_)
    return;
  listen_fd_ = listen_on(port_);
  if (::pipe(wake_) != 0)
    fail("pipe");
  running_ = true;
  thread_ = std::thread{[this] { run(); }};
}

void tcp_proxy::stop() {
  if (!running_)
    return;
  running_ = false;
  char c = 0;
  [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
  thread_.join();
  ::close(wake_[0]);
  ::close(wake_[1]);
  ::close(listen_fd_);
  listen_fd_ = -1;
}

void tcp_proxy::run() {
  // Pairs of (client, server) sockets; bytes from one go to the other.
  std::vector<std::pair<int, int>> links;
  char buf[16384];
  while (running_) {
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (auto [a, b] : links) {
      fds.push_back({a, POLLIN, 0});
      fds.push_back({b, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR)
      break;
    if (fds[0].revents != 0)
      break;
    if (fds[1].revents & POLLIN) {
      int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client >= 0) {
        int server = ::socket(AF_INET, SOCK_STREAM, 0);
        auto a = loopback(target_port_);
        if (server >= 0
            && ::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a)
                 == 0)
          links.emplace_back(client, server);
        else {
          ::close(client);
          if (server >= 0)
            ::close(server);
        }
      }
    }
    std::vector<std::pair<int, int>> alive;
    for (std::size_t i = 0; i < links.size(); ++i) {
      auto [a, b] = links[i];
      bool open = true;
      for (auto [from, to, ev] : {std::tuple{a, b, fds[2 + 2 * i].revents},
                                  std::tuple{b, a, fds[3 + 2 * i].revents}}) {
        if (!open || ev == 0)
          continue;
        auto n = ::read(from, buf, sizeof buf);
        if (n <= 0
            || ::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n)
          open = false;
      }
      if (open)
        alive.emplace_back(a, b);
      else {
        ::close(a);
        ::close(b);
      }
    }
    links = std::move(alive);
  }
  for (auto [a, b] : links) {
    ::close(a);
    ::close(b);
  }
}

} // namespace durable::test::http
