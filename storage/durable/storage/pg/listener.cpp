#include "durable/storage/pg/listener.hpp"

#include <algorithm>
#include <poll.h>
#include <system_error>
#include <unistd.h>

#include <pqxx/pqxx>

#include "durable/storage/pg/notification.hpp"

namespace durable::storage::pg {

namespace {

class receiver final : public pqxx::notification_receiver {
public:
  receiver(pqxx::connection_base& c, const std::string& channel,
           std::function<void(const std::string&)> on_payload)
    : pqxx::notification_receiver(c, channel),
      on_payload_(std::move(on_payload)) {}

  void operator()(const std::string& payload, int) override {
    on_payload_(payload);
  }

private:
  std::function<void(const std::string&)> on_payload_;
};

} // namespace

struct listener::connection_state {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<receiver> recv;

  void reset() {
    recv.reset();
    conn.reset();
  }
};

listener::listener(std::string url, std::string channel, std::string own_sender,
                   std::string application_name, callback cb)
  : url_(std::move(url)),
    channel_(std::move(channel)),
    own_sender_(std::move(own_sender)),
    application_name_(std::move(application_name)),
    cb_(std::move(cb)),
    conn_(std::make_unique<connection_state>()) {
  if (::pipe(stop_pipe_) != 0)
    throw std::system_error(errno, std::generic_category(), "listener: pipe");
  try {
    conn_->conn = std::make_unique<pqxx::connection>(url_);
    conn_->conn->set_variable("application_name",
                              conn_->conn->quote(application_name_));
    conn_->recv = std::make_unique<receiver>(
      *conn_->conn, channel_, [this](const std::string& p) { deliver(p); });
    // The receiver's LISTEN is issued lazily by libpqxx; make it take
    // effect now.
    conn_->conn->get_notifs();
  } catch (...) {
    conn_->reset();
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
    throw;
  }
  thread_ = std::thread([this] { run(); });
}

listener::~listener() {
  stopping_ = true;
  char b = 1;
  [[maybe_unused]] auto n = ::write(stop_pipe_[1], &b, 1);
  if (thread_.joinable())
    thread_.join();
  conn_->reset();
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

bool listener::wait(int fd, std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0}, {fd, POLLIN, 0}};
  const nfds_t n = fd >= 0 ? 2 : 1;
  ::poll(fds, n, static_cast<int>(timeout.count()));
  return !stopping_.load();
}

bool listener::reconnect() {
  auto backoff = std::chrono::milliseconds{10};
  while (!stopping_.load()) {
    try {
      conn_->reset();
      conn_->conn = std::make_unique<pqxx::connection>(url_);
      conn_->conn->set_variable("application_name",
                                conn_->conn->quote(application_name_));
      conn_->recv = std::make_unique<receiver>(
        *conn_->conn, channel_, [this](const std::string& p) { deliver(p); });
      conn_->conn->get_notifs();
      return true;
    } catch (const std::exception&) {
      conn_->reset();
      if (!wait(-1, backoff))
        return false;
      backoff = std::min(backoff * 2, std::chrono::milliseconds{1'000});
    }
  }
  return false;
}

void listener::run() {
  while (!stopping_.load()) {
    try {
      if (!wait(conn_->conn->sock(), std::chrono::milliseconds{1'000}))
        return;
      conn_->conn->get_notifs();
      if (!conn_->conn->is_open())
        throw pqxx::broken_connection{"listener connection closed"};
    } catch (const std::exception&) {
      if (!reconnect())
        return;
      // Whatever was sent while the link was down is lost.
      try {
        cb_({store_event{store_event::type::resync, {}, {}, {}, {}}});
      } catch (...) {
      }
    }
  }
}

void listener::deliver(const std::string& payload) {
  auto n = decode_notification(payload);
  if (!n || n->sender == own_sender_)
    return;
  std::vector<store_event> events;
  if (n->overflow)
    events.push_back({store_event::type::resync, {}, {}, {}, {}});
  else
    events = std::move(n->events);
  if (events.empty())
    return;
  for (auto& e : events)
    e.from_other_process = true;
  try {
    cb_(std::move(events));
  } catch (...) {
    // The listener stays up whatever a callback does.
  }
}

} // namespace durable::storage::pg
