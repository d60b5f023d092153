// libFuzzer target: any bytes a client can send to a node's HTTP API.
//
// One node (memory store, a few tasks, the real server on a loopback
// port) lives for the whole run; each input is sent on a fresh connection
// whose write side is then shut, and every response read back. The
// request line, header fields, framing (Content-Length, chunked), URL
// decoding, JSON parsing and every route's handler run as in production.
//
// What must hold for every input:
// - every response is well-formed HTTP/1.x with a status in 100..599;
// - no response is a 500: whatever a client sends is its own error (4xx)
//   or served; a 500 means a path that the API failed to check;
// - the node keeps answering (checked every 256 inputs).
// A crash, a sanitizer report or a hang (-timeout) in the server is a
// finding too: it runs in this process.
//
// Not covered: TLS (none is built in), and the parts of the transport that
// need time to pass (deadlines, idle timeouts), which http.slow_clients
// and http.hostile_input test.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <strings.h>

#include "durable/durable.hpp"
#include "durable/nodes/http/server.hpp"
#include "durable/storage/memory_store.hpp"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

struct node {
  std::unique_ptr<durable::executor> exec;
  std::unique_ptr<durable::nodes::http::server> api;

  node() {
    exec = std::make_unique<durable::executor>(
      durable::storage::memory(),
      durable::executor_options{.worker_threads = 2, .poll_interval = 20ms});
    exec->task<json, json>({.id = "echo", .timeout = 10s},
                           [](durable::task_context&, const json& in) {
                             return in;
                           });
    exec->sleeping_task<json>({.id = "approval", .timeout = 60s});
    api = std::make_unique<durable::nodes::http::server>(
      *exec,
      durable::nodes::http::server_options{.max_wait = durable::millis{20},
                                           .wait_slice = durable::millis{10},
                                           .log = [](std::string_view) {}});
    api->start();
  }
};

/// Never destroyed: libFuzzer ends the process with exit(), and the
/// actor system must not be torn down from an exit handler while its
/// threads still run.
node& the_node() {
  static node* n = new node;
  return *n;
}

/// Sends `bytes` on a new connection, half-closes it and reads until the
/// server closes (or 5 s pass: a hang).
std::string exchange(std::uint16_t port, std::string_view bytes) {
  // libFuzzer's watchdog sends the process SIGALRM every few seconds; it
  // interrupts connect() and poll() (EINTR, never restarted). Blocked on
  // this thread, it goes to another one, where the watchdog works as well.
  struct alarm_blocked {
    sigset_t old;
    alarm_blocked() {
      sigset_t alarm;
      sigemptyset(&alarm);
      sigaddset(&alarm, SIGALRM);
      pthread_sigmask(SIG_BLOCK, &alarm, &old);
    }
    ~alarm_blocked() {
      pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
  } guard;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    std::abort();
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    std::abort();
  while (!bytes.empty()) {
    auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; // the server closed early: a refusal, read it
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  ::shutdown(fd, SHUT_WR);
  std::string out;
  char buf[65536];
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    const int ready = left.count() > 0
                        ? ::poll(&p, 1, static_cast<int>(left.count()))
                        : 0;
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0) {
      std::fprintf(stderr, "the server neither answered nor closed\n");
      std::abort();
    }
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

void fail(const char* why, std::string_view at) {
  std::fprintf(stderr, "%s: %.*s\n", why,
               static_cast<int>(std::min<std::size_t>(at.size(), 400)),
               at.data());
  std::abort();
}

/// The Content-Length of a response head, 0 when it has none.
std::size_t content_length(std::string_view head) {
  for (std::size_t pos = 0; (pos = head.find("\r\n", pos)) != head.npos;) {
    pos += 2;
    if (head.size() - pos > 15
        && strncasecmp(head.data() + pos, "content-length:", 15) == 0)
      return std::strtoul(std::string{head.substr(pos + 15, 20)}.c_str(),
                          nullptr, 10);
  }
  return 0;
}

/// Walks the responses one by one and checks each status line. (The
/// answer to HEAD has a Content-Length but no body: when skipping the body
/// lands nowhere, the next response may start right after the head.)
void check(std::string_view responses) {
  std::size_t pos = 0;
  while (pos < responses.size()) {
    auto rest = responses.substr(pos);
    if (!rest.starts_with("HTTP/1.") || rest.size() < 12)
      fail("not an HTTP response", rest);
    const auto status = std::atoi(std::string{rest.substr(9, 3)}.c_str());
    if (status < 100 || status > 599)
      fail("bad status line", rest);
    if (status == 500)
      fail("500 for a client's input", rest);
    const auto end = rest.find("\r\n\r\n");
    if (end == rest.npos)
      fail("a response head without its end", rest);
    const auto after_head = pos + end + 4;
    const auto after_body = after_head + content_length(rest.substr(0, end));
    auto next_at = [&](std::size_t at) {
      return at == responses.size()
             || (at < responses.size()
                 && responses.substr(at).starts_with("HTTP/1."));
    };
    if (next_at(after_body))
      pos = after_body;
    else if (next_at(after_head))
      pos = after_head; // the answer to HEAD
    else
      fail("a response body of the wrong length", rest);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size) {
  static std::uint64_t runs = 0;
  auto& n = the_node();
  const auto port = n.api->port();
  check(exchange(port, {reinterpret_cast<const char*>(data), size}));
  if (++runs % 256 == 0) {
    auto health = exchange(port, "GET /v1/health HTTP/1.1\r\nHost: f\r\n\r\n");
    if (!health.starts_with("HTTP/1.1 200")) {
      std::fprintf(stderr, "the node stopped answering its health check\n");
      std::abort();
    }
  }
  return 0;
}
