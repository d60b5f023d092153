#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/connection>

/// A small pool of libpqxx connections for one pg_store.
///
/// A libpqxx connection is not thread-safe, so a connection is lent to one
/// caller at a time. Connections open lazily, up to `size`; a caller that
/// finds none free waits. A caller that saw its connection break discards it,
/// and the next acquire opens a new one (so a server restart costs one failed
/// attempt per pooled connection at most, which the store retries).
///
/// **Threading.** acquire() and the lease are safe from any thread; a lease
/// must be used by one thread at a time.
namespace durable::storage::pg {

class connection_pool {
public:
  /// Called once on every new connection (prepares statements).
  using setup_fn = std::function<void(pqxx::connection&)>;

  /// A borrowed connection; returned to the pool on destruction.
  class lease {
  public:
    lease(connection_pool* pool, std::unique_ptr<pqxx::connection> c)
      : pool_(pool), conn_(std::move(c)) {}

    lease(lease&&) noexcept = default;
    lease& operator=(lease&&) = delete;

    ~lease();

    pqxx::connection& operator*() const noexcept {
      return *conn_;
    }

    pqxx::connection* operator->() const noexcept {
      return conn_.get();
    }

    /// Closes the connection instead of returning it to the pool.
    void discard() noexcept;

  private:
    connection_pool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
  };

  connection_pool(std::string url, std::size_t size, setup_fn setup);

  ~connection_pool();

  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;

  /// Borrows a connection, opening one if none is idle and fewer than `size`
  /// exist; otherwise waits. @throws what pqxx throws on connect.
  lease acquire();

  /// As acquire(), but waits at most `wait` for a connection to come free:
  /// nullopt if none did (every connection busy for that long).
  std::optional<lease> acquire_for(std::chrono::milliseconds wait);

  /// Borrows an idle (or new) connection only if that needs no waiting.
  std::optional<lease> try_acquire();

  /// The most connections this pool opens.
  std::size_t size() const noexcept {
    return size_;
  }

  /// Sets up `c` and adds it to the idle connections (if there is room).
  void adopt(std::unique_ptr<pqxx::connection> c);

  /// Closes every idle connection (tests: force reconnects).
  void clear_idle();

private:
  /// With a connection idle or room for one (under `guard`): borrows the
  /// idle one, or counts and opens a new one after unlocking.
  lease take(std::unique_lock<std::mutex>& guard);

  void give_back(std::unique_ptr<pqxx::connection> c) noexcept;

  std::unique_ptr<pqxx::connection> open();

  std::string url_;
  std::size_t size_;
  setup_fn setup_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  /// Connections that exist (idle or lent) or are being opened.
  std::size_t open_ = 0;
};

} // namespace durable::storage::pg
