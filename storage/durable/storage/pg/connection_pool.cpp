#include "durable/storage/pg/connection_pool.hpp"

#include <pqxx/pqxx>

namespace durable::storage::pg {

connection_pool::lease::~lease() {
  if (pool_ && conn_)
    pool_->give_back(std::move(conn_));
}

void connection_pool::lease::discard() noexcept {
  if (!pool_ || !conn_)
    return;
  conn_.reset();
  std::lock_guard guard{pool_->mutex_};
  --pool_->open_;
  pool_->freed_.notify_one();
}

connection_pool::connection_pool(std::string url, std::size_t size,
                                 setup_fn setup)
  : url_(std::move(url)),
    size_(size == 0 ? 1 : size),
    setup_(std::move(setup)) {}

connection_pool::~connection_pool() = default;

std::unique_ptr<pqxx::connection> connection_pool::open() {
  // Called with open_ already counting this connection.
  try {
    auto c = std::make_unique<pqxx::connection>(url_);
    if (setup_)
      setup_(*c);
    return c;
  } catch (...) {
    std::lock_guard guard{mutex_};
    --open_;
    freed_.notify_one();
    throw;
  }
}

connection_pool::lease connection_pool::acquire() {
  std::unique_lock guard{mutex_};
  freed_.wait(guard, [this] { return !idle_.empty() || open_ < size_; });
  return take(guard);
}

std::optional<connection_pool::lease>
connection_pool::acquire_for(std::chrono::milliseconds wait) {
  std::unique_lock guard{mutex_};
  if (!freed_.wait_for(guard, wait,
                       [this] { return !idle_.empty() || open_ < size_; }))
    return std::nullopt;
  return take(guard);
}

connection_pool::lease
connection_pool::take(std::unique_lock<std::mutex>& guard) {
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return lease{this, std::move(c)};
  }
  ++open_;
  guard.unlock();
  return lease{this, open()};
}

std::optional<connection_pool::lease> connection_pool::try_acquire() {
  {
    std::lock_guard guard{mutex_};
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return lease{this, std::move(c)};
    }
    if (open_ >= size_)
      return std::nullopt;
    ++open_;
  }
  return lease{this, open()};
}

void connection_pool::adopt(std::unique_ptr<pqxx::connection> c) {
  if (setup_)
    setup_(*c);
  std::lock_guard guard{mutex_};
  if (open_ >= size_)
    return;
  ++open_;
  idle_.push_back(std::move(c));
  freed_.notify_one();
}

void connection_pool::clear_idle() {
  std::vector<std::unique_ptr<pqxx::connection>> gone;
  {
    std::lock_guard guard{mutex_};
    gone.swap(idle_);
    open_ -= gone.size();
  }
  freed_.notify_all();
}

void connection_pool::give_back(std::unique_ptr<pqxx::connection> c) noexcept {
  std::lock_guard guard{mutex_};
  idle_.push_back(std::move(c));
  freed_.notify_one();
}

} // namespace durable::storage::pg
