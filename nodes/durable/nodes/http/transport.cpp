#include "durable/nodes/http/transport.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <list>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "durable/error.hpp"
#include "durable/nodes/http/api_error.hpp"

namespace durable::nodes::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using error_code = boost::system::error_code;

namespace {

constexpr std::string_view json_type = "application/json";
/// After an error response on a connection with unread input, reads (and
/// drops) at most this much for at most `linger_time`, so that closing
/// does not reset the connection before the client has read the answer.
constexpr std::size_t linger_bytes = 256 * 1024;
constexpr auto linger_time = std::chrono::seconds{1};

std::string to_string(beast::string_view s) {
  return std::string{s.data(), s.size()};
}

/// Whether header value `v` is `token`, compared case-insensitively.
bool is(std::string_view v, std::string_view token) {
  return beast::iequals(beast::string_view{v.data(), v.size()},
                        beast::string_view{token.data(), token.size()});
}

response error_response(int status, std::string_view kind,
                        std::string_view message) {
  response r;
  r.status = status;
  r.body = error_body(kind, message);
  r.close = true;
  return r;
}

} // namespace

class session;

/// What every connection shares: options, handlers, the event loop, the
/// handler pool and the registry of open connections.
struct transport::core {
  transport_options opts;
  transport_handlers handlers;
  /// Open connections, guarded by `mtx`: read by connections(), from any
  /// thread. An entry expires when its connection ends (on whichever
  /// thread drops the last reference) and is erased by the next accept;
  /// a connection's destructor never takes `mtx`, since the last
  /// reference may be dropped while it is held.
  mutable std::mutex mtx;
  std::list<std::weak_ptr<session>> sessions;
  asio::io_context io{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>>
    work;
  std::optional<asio::thread_pool> pool;
  tcp::acceptor acceptor{io};
  std::thread loop;
  std::atomic<bool> stopping{false};

  core(transport_options o, transport_handlers h)
    : opts(std::move(o)), handlers(std::move(h)) {}

  void accept();
  void admit(tcp::socket socket);
  /// Closes the slowest evictable connection (of `address` when given);
  /// false when every connection in scope is running a handler.
  bool evict_slowest(const std::optional<asio::ip::address>& address);
  void close_all();
};

/// One connection: reads a request, runs it on the pool, writes the
/// response, and again while the client keeps it alive. Everything but
/// the handler itself runs on the event-loop thread.
class session : public std::enable_shared_from_this<session> {
public:
  enum class phase { idle, head, body, busy, closed };

  session(transport::core& core, tcp::socket socket)
    : core_(core), socket_(std::move(socket)), timer_(socket_.get_executor()) {
    error_code ec;
    address_ = socket_.remote_endpoint(ec).address();
  }

  void start() {
    error_code ec;
    socket_.set_option(tcp::no_delay{true}, ec);
    wait_for_request();
  }

  /// Closes the connection: any pending read or write ends.
  void close() {
    phase_ = phase::closed;
    disarm();
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  phase current() const {
    return phase_;
  }

  steady::time_point waiting_since() const {
    return since_;
  }

  const asio::ip::address& address() const {
    return address_;
  }

private:
  /// Cancels what the connection is doing when `d` has passed: the
  /// pending read or write ends with operation_aborted and `timed_out_`
  /// set, so that the reader can still answer 408.
  void arm(std::chrono::milliseconds d) {
    const auto generation = ++timer_generation_;
    timed_out_ = false;
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
      if (ec || generation != self->timer_generation_)
        return; // disarmed, or armed again since
      self->timed_out_ = true;
      error_code ignored;
      self->socket_.cancel(ignored);
    });
  }

  void disarm() {
    ++timer_generation_;
    timer_.cancel();
  }

  void enter(phase p) {
    if (phase_ == phase::closed)
      return;
    phase_ = p;
    if (p == phase::idle)
      since_ = steady::now();
  }

  /// Waits for the first byte of the next request (or uses one already
  /// buffered: a pipelined request).
  void wait_for_request() {
    enter(phase::idle);
    if (buffer_.size() > 0)
      return read_head();
    arm(core_.opts.idle_timeout);
    socket_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](error_code ec,
                                                        std::size_t n) {
                              if (ec || n == 0)
                                return self->close();
                              self->buffer_.commit(n);
                              self->read_head();
                            });
  }

  void read_head() {
    enter(phase::head);
    parser_.emplace();
    parser_->header_limit(
      static_cast<std::uint32_t>(core_.opts.max_header_bytes));
    parser_->body_limit(core_.opts.max_body_bytes);
    arm(core_.opts.header_timeout);
    bhttp::async_read_header(socket_, buffer_, *parser_,
                             [self = shared_from_this()](error_code ec,
                                                         std::size_t) {
                               self->on_head(ec);
                             });
  }

  void on_head(error_code ec) {
    if (ec)
      return refuse_for(ec);
    const auto& m = parser_->get();
    request_ = request{};
    request_.method = to_string(m.method_string());
    request_.target = to_string(m.target());
    std::size_t fields = 0;
    for (const auto& f : m) {
      if (++fields > core_.opts.max_header_fields)
        return refuse(error_response(
          431, kind_headers_too_large,
          fmt::format("The request has more than {} header fields",
                      core_.opts.max_header_fields)));
      request_.headers.emplace_back(to_string(f.name_string()),
                                    to_string(f.value()));
    }
    keep_alive_ = m.keep_alive();
    version_ = m.version();
    head_ = request_.method == "HEAD";
    if (auto te = request_.header("Transfer-Encoding");
        te && !is(*te, "chunked"))
      return refuse(error_response(
        501, kind_bad_request,
        "Transfer-Encoding other than chunked is not supported"));
    if (auto ce = request_.header("Content-Encoding");
        ce && !is(*ce, "identity"))
      return refuse(error_response(
        415, kind_unsupported_media_type,
        "Content-Encoding is not supported: send the body uncompressed"));
    std::optional<response> early;
    try {
      early = core_.handlers.on_head(request_);
    } catch (...) {
      early = error_response(500, kind_internal, "Internal server error");
    }
    if (early) {
      // The body, if any, stays unread: the connection cannot be reused.
      if (!parser_->is_done())
        early->close = true;
      return write(std::move(*early));
    }
    if (parser_->is_done())
      return run();
    if (auto expect = request_.header("Expect");
        expect && is(*expect, "100-continue")) {
      static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
      arm(core_.opts.write_timeout);
      return asio::async_write(
        socket_, asio::buffer(go_on.data(), go_on.size()),
        [self = shared_from_this()](error_code ec, std::size_t) {
          if (ec)
            return self->close();
          self->read_body();
        });
    }
    read_body();
  }

  void read_body() {
    enter(phase::body);
    arm(core_.opts.body_timeout);
    bhttp::async_read(socket_, buffer_, *parser_,
                      [self = shared_from_this()](error_code ec, std::size_t) {
                        if (ec)
                          return self->refuse_for(ec);
                        self->request_.body = std::move(
                          self->parser_->get().body());
                        self->run();
                      });
  }

  /// Runs the complete request on the handler pool; the response comes
  /// back to the event loop.
  void run() {
    enter(phase::busy);
    disarm();
    asio::post(*core_.pool, [self = shared_from_this()] {
      response r;
      try {
        r = self->core_.handlers.on_request(self->request_);
      } catch (...) {
        r = error_response(500, kind_internal, "Internal server error");
      }
      asio::post(self->socket_.get_executor(),
                 [self, r = std::move(r)]() mutable {
                   self->write(std::move(r));
                 });
    });
  }

  /// The answer to a request that cannot be read: the reason the read
  /// failed, as a status, or just a close when the client went away.
  void refuse_for(error_code ec) {
    if (timed_out_) {
      return refuse(error_response(
        408, kind_request_timeout,
        phase_ == phase::head
          ? fmt::format("The request head was not complete within {} ms",
                        core_.opts.header_timeout.count())
          : fmt::format("The request body was not complete within {} ms",
                        core_.opts.body_timeout.count())));
    }
    if (ec == bhttp::error::header_limit)
      return refuse(
        error_response(431, kind_headers_too_large,
                       fmt::format("The request head exceeds {} bytes",
                                   core_.opts.max_header_bytes)));
    if (ec == bhttp::error::body_limit)
      return refuse(
        error_response(413, kind_payload_too_large,
                       fmt::format("The request body exceeds {} bytes",
                                   core_.opts.max_body_bytes)));
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof
        || ec == asio::error::operation_aborted
        || ec == asio::error::connection_reset
        || ec == bhttp::error::partial_message)
      return close();
    if (ec == bhttp::error::bad_content_length)
      return refuse(error_response(400, kind_bad_request,
                                   "The Content-Length header is malformed, "
                                   "repeated with another value, or sent "
                                   "with Transfer-Encoding"));
    if (ec == bhttp::error::bad_transfer_encoding)
      return refuse(error_response(400, kind_bad_request,
                                   "The Transfer-Encoding header is repeated "
                                   "or sent with Content-Length"));
    refuse(
      error_response(400, kind_bad_request,
                     fmt::format("Malformed HTTP request: {}", ec.message())));
  }

  /// Answers and closes; HTTP/1.1 unless the request said otherwise.
  void refuse(response r) {
    r.close = true;
    write(std::move(r));
  }

  void write(response r) {
    enter(phase::busy);
    close_after_ = r.close || !keep_alive_ || core_.stopping.load();
    out_.emplace(static_cast<bhttp::status>(r.status),
                 version_ == 10 ? 10 : 11);
    for (auto& [name, value] : r.headers)
      out_->set(name, value);
    // JSON unless the handler said otherwise (`/metrics` is text).
    if (!r.body.empty()
        && out_->find(bhttp::field::content_type) == out_->end())
      out_->set(bhttp::field::content_type,
                beast::string_view{json_type.data(), json_type.size()});
    out_->body() = std::move(r.body);
    out_->keep_alive(!close_after_);
    out_->prepare_payload();
    serializer_.emplace(*out_);
    arm(core_.opts.write_timeout);
    auto done = [self = shared_from_this()](error_code ec, std::size_t) {
      self->on_written(ec);
    };
    if (head_)
      bhttp::async_write_header(socket_, *serializer_, std::move(done));
    else
      bhttp::async_write(socket_, *serializer_, std::move(done));
  }

  void on_written(error_code ec) {
    disarm();
    serializer_.reset();
    out_.reset();
    head_ = false;
    if (ec)
      return close();
    if (close_after_)
      return linger();
    request_ = request{};
    wait_for_request();
  }

  /// Half-closes, then drops what the client still sends for a moment:
  /// closing a socket with unread input resets the connection, and the
  /// client could lose the response it has not read yet.
  void linger() {
    phase_ = phase::closed; // leaving: neither counted nor evicted
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec)
      return close();
    arm(linger_time);
    drain();
  }

  void drain() {
    if (drained_ >= linger_bytes)
      return close();
    socket_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](error_code ec,
                                                        std::size_t n) {
                              self->drained_ += n;
                              if (ec)
                                return self->close();
                              self->drain();
                            });
  }

  transport::core& core_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  std::uint64_t timer_generation_ = 0;
  bool timed_out_ = false;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  request request_;
  std::optional<bhttp::response<bhttp::string_body>> out_;
  std::optional<bhttp::response_serializer<bhttp::string_body>> serializer_;
  asio::ip::address address_;
  phase phase_ = phase::idle;
  steady::time_point since_ = steady::now();
  unsigned version_ = 11;
  bool keep_alive_ = true;
  bool head_ = false;
  bool close_after_ = false;
  std::size_t drained_ = 0;
  std::array<char, 4096> scratch_{};
};

// -- core
// ----------------------------------------------------------------------

void transport::core::accept() {
  acceptor.async_accept([this](error_code ec, tcp::socket socket) {
    if (stopping.load() || !acceptor.is_open())
      return;
    if (!ec)
      admit(std::move(socket));
    accept();
  });
}

void transport::core::admit(tcp::socket socket) {
  error_code ec;
  const auto address = socket.remote_endpoint(ec).address();
  if (ec)
    return;
  std::size_t total = 0;
  std::size_t same = 0;
  {
    std::lock_guard lock{mtx};
    for (auto it = sessions.begin(); it != sessions.end();) {
      auto s = it->lock();
      if (!s) {
        it = sessions.erase(it);
        continue;
      }
      if (s->current() != session::phase::closed) {
        ++total;
        same += s->address() == address ? 1 : 0;
      }
      ++it;
    }
  }
  if (same >= opts.max_connections_per_address && !evict_slowest(address))
    return; // every connection of that address is running a handler
  if (total >= opts.max_connections && !evict_slowest(std::nullopt))
    return;
  auto s = std::make_shared<session>(*this, std::move(socket));
  {
    std::lock_guard lock{mtx};
    sessions.push_back(s);
  }
  s->start();
}

bool transport::core::evict_slowest(
  const std::optional<asio::ip::address>& address) {
  std::shared_ptr<session> victim;
  {
    std::lock_guard lock{mtx};
    for (auto& w : sessions) {
      auto s = w.lock();
      if (!s || s->current() == session::phase::busy
          || s->current() == session::phase::closed
          || (address && s->address() != *address))
        continue;
      if (!victim || s->waiting_since() < victim->waiting_since())
        victim = std::move(s);
    }
  }
  if (!victim)
    return false;
  victim->close();
  return true;
}

void transport::core::close_all() {
  std::vector<std::shared_ptr<session>> open;
  {
    std::lock_guard lock{mtx};
    for (auto& w : sessions)
      if (auto s = w.lock())
        open.push_back(std::move(s));
  }
  // Connections running a handler are answered first and close then.
  for (auto& s : open)
    if (s->current() != session::phase::busy
        && s->current() != session::phase::closed)
      s->close();
}

// -- transport
// -------------------------------------------------------------------

transport::transport(transport_options opts, transport_handlers handlers)
  : core_(std::make_shared<core>(std::move(opts), std::move(handlers))) {}

transport::~transport() {
  stop();
}

std::uint16_t transport::start() {
  auto& c = *core_;
  error_code ec;
  const auto address = asio::ip::make_address(c.opts.bind_address, ec);
  auto fail = [&](const error_code& why) {
    throw durable::error::non_retryable(
      fmt::format("Cannot listen on {}:{}: {}", c.opts.bind_address,
                  c.opts.port, why.message()));
  };
  if (ec)
    fail(ec);
  const tcp::endpoint endpoint{address, c.opts.port};
  c.acceptor.open(endpoint.protocol(), ec);
  if (!ec)
    c.acceptor.set_option(asio::socket_base::reuse_address{true}, ec);
  if (!ec)
    c.acceptor.bind(endpoint, ec);
  if (!ec)
    c.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    c.acceptor.close(ignored);
    fail(ec);
  }
  const auto port = c.acceptor.local_endpoint().port();
  c.pool.emplace(c.opts.handler_threads);
  c.work.emplace(c.io.get_executor());
  c.accept();
  c.loop = std::thread{[&c] { c.io.run(); }};
  return port;
}

void transport::stop() {
  auto& c = *core_;
  if (!c.loop.joinable())
    return;
  c.stopping.store(true);
  asio::post(c.io, [&c] {
    error_code ec;
    c.acceptor.close(ec);
    c.close_all();
  });
  // Handlers in progress finish and post their responses to the loop,
  // which still runs; then the loop ends once every connection has.
  c.pool->join();
  c.work.reset();
  asio::post(c.io, [&c] { c.close_all(); });
  c.loop.join();
  c.pool.reset();
}

std::size_t transport::connections() const {
  std::lock_guard lock{core_->mtx};
  return static_cast<std::size_t>(
    std::count_if(core_->sessions.begin(), core_->sessions.end(),
                  [](const auto& w) { return !w.expired(); }));
}

} // namespace durable::nodes::http
