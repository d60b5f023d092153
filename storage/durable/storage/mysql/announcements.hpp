#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "durable/storage/mysql/connection.hpp"
#include "durable/storage/mysql_store.hpp"
#include "durable/store.hpp"

/// Cross-node announcements of the MySQL store: what PostgreSQL's
/// NOTIFY/LISTEN does for pg_store, over a table. Internal to storage/mysql.
///
/// **Writing.** A write transaction that has events inserts them into
/// `events` (migration 2) as its last statement before COMMIT, one
/// multi-row INSERT (publish()): the rows exist if and only if the commit
/// happened. Coalesced as PostgreSQL's payload is: `finished` and
/// `cancelled` one row each, `work_ready` and `deadline` one row each (the
/// earliest), `corrupt` never (this process's own finding); a commit with
/// more than max_rows_per_commit rows, a field longer than a column, or a
/// `resync` writes one `resync` row instead.
///
/// **Reading.** One reader per store: a thread with a connection of its
/// own, started by start() (the store's first subscribe), polls `SELECT …
/// WHERE seq > high ORDER BY seq LIMIT n` every `announce_interval` and
/// hands the other stores' events to the callback with
/// `from_other_process` set; its own store's rows (same sender) are
/// skipped, since the store announced them in-process after its commit.
///
/// **Gaps.** `seq` is AUTO_INCREMENT, taken at INSERT and visible at
/// COMMIT, so at READ COMMITTED a lower number can become visible after a
/// higher one was read. Every number skipped over is *watched*: looked up
/// again at each poll and delivered when it appears. One still missing
/// after `announce_gap_timeout` (a commit that stalled, or rolled back
/// after its INSERT, or rows pruned before this reader read them) makes
/// the reader emit one `resync`; it stays watched (and is delivered if it
/// appears) until `announce_retention` passed or more than max_watched
/// numbers are watched (the oldest dropped; each was covered by a resync
/// already or gets one then).
///
/// **Failures.** Any failure of the reader's connection (killed, server
/// gone, a timeout) drops it; the reader reconnects with backoff (10 ms
/// doubling to 1 s) and then emits `resync`, since rows may have been
/// pruned meanwhile. It keeps its position and its watched numbers.
///
/// **Pruning.** The reader deletes rows older than `announce_retention`
/// (by the store's clock, the rows' `created_at`) every sixth of it, by
/// primary key range (`seq <=` the newest number it read that old), at
/// most prune_batch rows per statement and prune_statements statements
/// per round.
///
/// **Threading.** publish() is safe from any thread (it touches only the
/// caller's connection). start() is safe from any thread and idempotent.
/// The callback runs on the reader's thread, never two at once. The
/// destructor stops and joins the reader (a poll in flight finishes
/// first, bounded by `io_timeout` capped at 10 s); after it returns the
/// callback is never
/// called again.
namespace durable::storage::mysql_detail {

/// A commit announcing more rows than this writes one `resync` row.
constexpr std::size_t max_rows_per_commit = 500;

/// Rows one poll reads at most; a full page is followed by the next at
/// once.
constexpr std::size_t poll_rows = 500;

/// Missing numbers watched at most.
constexpr std::size_t max_watched = 1024;

/// Rows one pruning DELETE removes at most, and DELETEs per round.
constexpr std::size_t prune_batch = 1000;
constexpr int prune_statements = 10;

/// The longest id, parent id or owner an `events` row holds (its columns'
/// size, the same as `executions`').
constexpr std::size_t max_field_bytes = 255;

/// The INSERT that announces `events` from `sender` at `now`, or nullopt
/// when there is nothing to announce (see the file comment for what is
/// coalesced). Pure: tested without a server.
std::optional<std::string>
announcement_insert_sql(std::uint64_t sender, timestamp now,
                        const std::vector<store_event>& events);

/// The reader's statements (exposed for the plan test: each reads
/// `events` by its primary key). `?1` is a seq; the poll's `?2` its limit.
const std::string& events_poll_sql();
const std::string& events_by_seq_sql();
const std::string& events_prune_sql();

/// One row of `events`, as read.
struct announcement_row {
  std::int64_t seq = 0;
  std::uint64_t sender = 0;
  timestamp created_at{};
  /// The event; nullopt for a kind this binary does not know (announced
  /// as a resync).
  std::optional<store_event> event;
};

/// The announcing side and the reader of one store (file comment).
class announcements {
public:
  using callback = std::function<void(std::vector<store_event>)>;

  /// Reader state and counters, for tests and metrics.
  struct stats {
    std::uint64_t delivered = 0;
    std::uint64_t resyncs = 0;
    std::uint64_t reconnects = 0;
    std::uint64_t pruned = 0;
    std::uint64_t late = 0; ///< watched numbers that appeared and were
                            ///< delivered
  };

  /// `clock` is the store's (created_at, pruning); `cb` gets the other
  /// stores' events. Opens nothing until start(). The sender id is drawn
  /// at random.
  announcements(url_parts where, mysql_options opts,
                std::function<timestamp()> clock, callback cb);

  ~announcements();

  announcements(const announcements&) = delete;
  announcements& operator=(const announcements&) = delete;

  /// This store's id in `events.sender`.
  std::uint64_t sender() const noexcept {
    return sender_;
  }

  /// Inserts `events` on `db`, inside the caller's open transaction, just
  /// before its COMMIT; `created_at` is the store's clock now (about when
  /// the row took its number, which pruning relies on). Throws
  /// mysql_error as any statement does.
  void publish(connection& db, const std::vector<store_event>& events) const;

  /// Starts the reader unless it runs: connects and reads the current
  /// highest `seq` before returning, so every commit after it is heard
  /// (if the server cannot be reached, the reader keeps trying and emits
  /// `resync` once it can). Never throws for the server.
  void start();

  stats counters() const;

private:
  void run();

  /// Opens the connection; the first time, sets high_ to the highest seq.
  void connect();

  /// One poll; true when a full page was read (poll again at once).
  bool poll();

  /// Notes the numbers from `first` to `last` as missing.
  void note_gap(std::int64_t first, std::int64_t last);

  /// Adds the event of `row` to `out` unless it is this store's own.
  void take(const announcement_row& row, std::vector<store_event>& out);

  /// Looks up the watched numbers; delivers those that appeared.
  void check_watched(std::vector<store_event>& out);

  void prune(timestamp now);

  void deliver(std::vector<store_event>&& events);

  /// Waits up to `d` or until stopping; false when stopping.
  bool sleep(millis d);

  url_parts where_;
  /// The store's options, `io_timeout` capped for the reader (its reads
  /// are small; the destructor waits at most that long for one in flight).
  mysql_options opts_;
  std::function<timestamp()> clock_;
  callback cb_;
  std::uint64_t sender_;

  // Only the reader's thread (and start(), before it runs) touches these.
  std::unique_ptr<connection> db_;
  bool positioned_ = false;
  std::int64_t high_ = 0;
  /// Missing numbers: when first seen missing (steady clock) and whether
  /// a resync covered them.
  struct gap {
    std::chrono::steady_clock::time_point since;
    bool resynced = false;
  };
  std::map<std::int64_t, gap> watched_;
  /// Pruning's cut-offs: the rows read, in slices of 1/64 of the
  /// retention (by created_at): the slice's last seq, its first and its
  /// latest created_at. A slice whose latest row is older than the
  /// retention is deleted up to its last seq.
  struct mark {
    std::int64_t seq;
    timestamp first;
    timestamp latest;
  };
  std::deque<mark> marks_;
  std::optional<timestamp> last_prune_;
  /// A resync is owed to the listeners (sent with the next delivery).
  bool resync_due_ = false;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool started_ = false;
  stats stats_;
  std::thread thread_;
};

} // namespace durable::storage::mysql_detail
