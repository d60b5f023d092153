#include "http/raw_http.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace durable::test::http {

namespace {

using steady = std::chrono::steady_clock;

std::string lower(std::string_view s) {
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

} // namespace

raw_connection::raw_connection(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0)
    throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("connect() failed");
}

raw_connection::~raw_connection() {
  if (fd_ >= 0)
    ::close(fd_);
}

bool raw_connection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

raw_response raw_connection::read_response(std::chrono::milliseconds guard,
                                           bool no_body) {
  const auto deadline = steady::now() + guard;
  raw_response out;
  std::optional<std::size_t> length;
  auto complete = [&] {
    auto end = pending_.find("\r\n\r\n");
    if (end == std::string::npos)
      return false;
    if (!length) {
      out.head = pending_.substr(0, end);
      auto cl = header_of(out.head, "Content-Length");
      length = cl && !no_body ? std::stoul(*cl) : 0;
    }
    return pending_.size() >= end + 4 + *length;
  };
  bool eof = false;
  while (!complete()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - steady::now());
    if (left.count() <= 0)
      break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      break;
    char buf[65536];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof = true;
      break;
    }
    pending_.append(buf, static_cast<std::size_t>(n));
  }
  auto end = pending_.find("\r\n\r\n");
  if (end == std::string::npos)
    return out;
  out.head = pending_.substr(0, end);
  const auto take = std::min(pending_.size() - end - 4, length.value_or(0));
  if (!eof || length)
    out.body = pending_.substr(end + 4, take);
  pending_.erase(0, end + 4 + take);
  if (out.head.size() > 12 && out.head.starts_with("HTTP/1."))
    out.status = std::stoi(out.head.substr(9, 3));
  return out;
}

bool raw_connection::closed_within(std::chrono::milliseconds guard) {
  const auto deadline = steady::now() + guard;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - steady::now());
    if (left.count() <= 0)
      return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
      return false;
    char buf[4096];
    if (::recv(fd_, buf, sizeof buf, 0) <= 0)
      return true;
  }
}

raw_response exchange(std::uint16_t port, std::string_view bytes,
                      std::chrono::milliseconds guard) {
  raw_connection c{port};
  c.send(bytes);
  return c.read_response(guard);
}

std::optional<std::string> header_of(const std::string& head,
                                     std::string_view name) {
  const auto wanted = lower(name) + ":";
  std::size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    auto end = head.find("\r\n", pos);
    auto line = head.substr(pos, end == std::string::npos ? std::string::npos
                                                          : end - pos);
    if (lower(line.substr(0, wanted.size())) == wanted) {
      auto value = line.substr(wanted.size());
      value.erase(0, value.find_first_not_of(' '));
      return value;
    }
  }
  return std::nullopt;
}

} // namespace durable::test::http
