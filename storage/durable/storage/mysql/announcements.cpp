#include "durable/storage/mysql/announcements.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <random>
#include <string_view>

#include <fmt/format.h>

#include "durable/storage/event_codes.hpp"

namespace durable::storage::mysql_detail {

namespace {

/// Any bytes as a hexadecimal literal: nothing from a row is ever quoted.
void append_hex(std::string& out, std::string_view s) {
  static constexpr char digits[] = "0123456789abcdef";
  out += "X'";
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  out += '\'';
}

const char* const insert_head = "INSERT INTO events (sender, created_at, "
                                "kind, at_time, execution_id, parent_id, "
                                "owner) VALUES ";

constexpr const char* columns = "seq, sender, created_at, kind, at_time, "
                                "execution_id, parent_id, owner";

/// The reader's reads are small: a server that stops answering is given
/// up on (and the destructor's wait bounded) well before `io_timeout`.
constexpr millis max_reader_io_timeout{10000};

announcement_row read_row(connection::query& q) {
  announcement_row r;
  r.seq = q.int64(0);
  r.sender = static_cast<std::uint64_t>(q.int64(1));
  r.created_at = from_micros(q.int64(2));
  if (auto k = event_codes::kind_of(q.text(3))) {
    store_event e;
    e.kind = *k;
    e.at = from_micros(q.int64(4));
    e.execution_id = q.text(5);
    e.parent_id = q.text(6);
    e.owner = q.text(7);
    r.event = std::move(e);
  }
  return r;
}

store_event resync_event() {
  store_event e;
  e.kind = store_event::type::resync;
  e.from_other_process = true;
  return e;
}

} // namespace

const std::string& events_poll_sql() {
  static const std::string sql = fmt::format(
    "SELECT {} FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2", columns);
  return sql;
}

const std::string& events_by_seq_sql() {
  static const std::string sql = fmt::format(
    "SELECT {} FROM events WHERE seq = ?1", columns);
  return sql;
}

const std::string& events_prune_sql() {
  static const std::string sql = fmt::format(
    "DELETE FROM events WHERE seq <= ?1 ORDER BY seq LIMIT {}", prune_batch);
  return sql;
}

std::optional<std::string>
announcement_insert_sql(std::uint64_t sender, timestamp now,
                        const std::vector<store_event>& events) {
  const store_event* ready = nullptr;
  const store_event* deadline = nullptr;
  std::vector<const store_event*> rows;
  bool resync = false;
  for (const auto& e : events) {
    switch (e.kind) {
      case store_event::type::work_ready:
        if (!ready || e.at < ready->at)
          ready = &e;
        break;
      case store_event::type::deadline:
        if (!deadline || e.at < deadline->at)
          deadline = &e;
        break;
      case store_event::type::corrupt:
        break; // this process's own finding, for its own listeners
      case store_event::type::resync:
        resync = true;
        break;
      default:
        rows.push_back(&e);
    }
  }
  for (const auto* e : {ready, deadline})
    if (e)
      rows.push_back(e);
  if (rows.empty() && !resync)
    return std::nullopt;
  for (const auto* e : rows)
    if (e->execution_id.size() > max_field_bytes
        || e->parent_id.size() > max_field_bytes
        || e->owner.size() > max_field_bytes)
      resync = true;
  if (rows.size() > max_rows_per_commit)
    resync = true;
  const auto sender_sql = static_cast<std::int64_t>(sender);
  const auto now_us = to_micros(now);
  std::string sql = insert_head;
  if (resync) {
    fmt::format_to(std::back_inserter(sql), "({}, {}, 's', 0, X'', X'', X'')",
                   sender_sql, now_us);
    return sql;
  }
  bool first = true;
  for (const auto* e : rows) {
    fmt::format_to(std::back_inserter(sql), "{}({}, {}, '{}', {}, ",
                   first ? "" : ", ", sender_sql, now_us,
                   event_codes::code_of(e->kind), to_micros(e->at));
    append_hex(sql, e->execution_id);
    sql += ", ";
    append_hex(sql, e->parent_id);
    sql += ", ";
    append_hex(sql, e->owner);
    sql += ')';
    first = false;
  }
  return sql;
}

// -- constructors, destructors, and assignment operators ----------------------

announcements::announcements(url_parts where, mysql_options opts,
                             std::function<timestamp()> clock, callback cb)
  : where_(std::move(where)),
    opts_(std::move(opts)),
    clock_(std::move(clock)),
    cb_(std::move(cb)) {
  opts_.io_timeout = std::min(opts_.io_timeout, max_reader_io_timeout);
  // A random id per store instance (never 0): its own rows are skipped.
  std::random_device rd;
  std::mt19937_64 gen{(static_cast<std::uint64_t>(rd()) << 32) ^ rd()};
  do
    sender_ = gen() >> 1; // fits a signed BIGINT
  while (sender_ == 0);
}

announcements::~announcements() {
  {
    std::lock_guard guard{mutex_};
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

// -- writing ------------------------------------------------------------------

void announcements::publish(connection& db,
                            const std::vector<store_event>& events) const {
  if (events.empty())
    return;
  if (auto sql = announcement_insert_sql(sender_, clock_(), events))
    db.exec(*sql);
}

// -- the reader ---------------------------------------------------------------

void announcements::start() {
  std::lock_guard guard{mutex_};
  if (started_ || stopping_)
    return;
  started_ = true;
  try {
    connect();
  } catch (const std::exception&) {
    // The reader keeps trying, and owes a resync once it gets through.
    db_.reset();
    resync_due_ = true;
  }
  thread_ = std::thread([this] { run(); });
}

announcements::stats announcements::counters() const {
  std::lock_guard guard{mutex_};
  return stats_;
}

void announcements::connect() {
  db_ = std::make_unique<connection>(where_, opts_);
  if (positioned_)
    return;
  auto max = db_->scalar("SELECT COALESCE(MAX(seq), 0) FROM events");
  high_ = max ? std::stoll(*max) : 0;
  positioned_ = true;
}

bool announcements::sleep(millis d) {
  std::unique_lock lock{mutex_};
  wake_.wait_for(lock, d, [this] { return stopping_; });
  return !stopping_;
}

void announcements::run() {
  constexpr millis first_backoff{10};
  constexpr millis max_backoff{1000};
  auto backoff = first_backoff;
  for (;;) {
    {
      std::lock_guard guard{mutex_};
      if (stopping_)
        return;
    }
    try {
      if (!db_) {
        connect();
        {
          std::lock_guard guard{mutex_};
          ++stats_.reconnects;
        }
        // What was committed while the link was down may be pruned by
        // the time the reader gets there, or was never looked for.
        resync_due_ = true;
      }
      const bool more = poll();
      backoff = first_backoff;
      if (!more && !sleep(opts_.announce_interval))
        return;
    } catch (const std::exception&) {
      db_.reset();
      if (!sleep(backoff))
        return;
      backoff = std::min(backoff * 2, max_backoff);
    }
  }
}

bool announcements::poll() {
  std::vector<store_event> out;
  std::size_t n = 0;
  {
    auto q = db_->prepare(events_poll_sql());
    q.bind(1, high_).bind(2, static_cast<std::int64_t>(poll_rows));
    while (q.step()) {
      ++n;
      auto row = read_row(q);
      if (row.seq > high_ + 1)
        note_gap(high_ + 1, row.seq - 1);
      high_ = std::max(high_, row.seq);
      if (marks_.empty()
          || row.created_at - marks_.back().first
               >= opts_.announce_retention / 64) {
        if (marks_.size() < 4 * max_watched)
          marks_.push_back({row.seq, row.created_at, row.created_at});
      } else {
        marks_.back().seq = row.seq;
        marks_.back().latest = std::max(marks_.back().latest, row.created_at);
      }
      take(row, out);
    }
  }
  check_watched(out);
  prune(clock_());
  if (resync_due_) {
    resync_due_ = false;
    out.insert(out.begin(), resync_event());
  }
  deliver(std::move(out));
  return n == poll_rows;
}

void announcements::note_gap(std::int64_t first, std::int64_t last) {
  const auto now = std::chrono::steady_clock::now();
  if (static_cast<std::uint64_t>(last - first) >= max_watched) {
    // Far more than commits in flight: rows pruned before this reader
    // got to them (it lagged by the retention), or the counter jumped.
    resync_due_ = true;
    return;
  }
  for (auto s = first; s <= last; ++s)
    watched_.emplace(s, gap{now, false});
  while (watched_.size() > max_watched) {
    if (!watched_.begin()->second.resynced)
      resync_due_ = true;
    watched_.erase(watched_.begin());
  }
}

void announcements::take(const announcement_row& row,
                         std::vector<store_event>& out) {
  if (row.sender == sender_)
    return; // announced in-process after its commit
  if (!row.event) {
    resync_due_ = true; // a kind of a newer binary
    return;
  }
  auto e = *row.event;
  e.from_other_process = true;
  if (e.kind == store_event::type::resync)
    resync_due_ = true;
  else
    out.push_back(std::move(e));
}

void announcements::check_watched(std::vector<store_event>& out) {
  if (watched_.empty())
    return;
  constexpr std::size_t per_query = 256;
  std::string in;
  std::size_t k = 0;
  for (auto it = watched_.begin(); it != watched_.end() && k < per_query;
       ++it, ++k)
    fmt::format_to(std::back_inserter(in), "{}{}", k == 0 ? "" : ",",
                   it->first);
  auto found = db_->scalar(
    fmt::format("SELECT GROUP_CONCAT(seq) FROM events WHERE seq IN ({})", in));
  if (found) {
    std::string_view rest = *found;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto one = rest.substr(0, comma);
      std::int64_t seq = 0;
      std::from_chars(one.data(), one.data() + one.size(), seq);
      auto q = db_->prepare(events_by_seq_sql());
      q.bind(1, seq);
      if (q.step()) {
        take(read_row(q), out);
        watched_.erase(seq);
        std::lock_guard guard{mutex_};
        ++stats_.late;
      }
      if (comma == std::string_view::npos)
        break;
      rest.remove_prefix(comma + 1);
    }
  }
  const auto now = std::chrono::steady_clock::now();
  for (auto it = watched_.begin(); it != watched_.end();) {
    auto age = now - it->second.since;
    if (!it->second.resynced && age >= opts_.announce_gap_timeout) {
      // Rolled back after its INSERT, or a COMMIT that stalls: the
      // listeners re-check; a late row is still delivered below.
      it->second.resynced = true;
      resync_due_ = true;
    }
    if (age >= opts_.announce_retention)
      it = watched_.erase(it);
    else
      ++it;
  }
}

void announcements::prune(timestamp now) {
  const auto every = std::max<millis>(opts_.announce_retention / 6, millis{1});
  if (last_prune_ && now - *last_prune_ < every)
    return;
  last_prune_ = now;
  std::optional<std::int64_t> cutoff;
  while (!marks_.empty()
         && marks_.front().latest < now - opts_.announce_retention) {
    cutoff = marks_.front().seq;
    marks_.pop_front();
  }
  if (!cutoff)
    return;
  std::uint64_t removed = 0;
  for (int i = 0; i < prune_statements; ++i) {
    auto q = db_->prepare(events_prune_sql());
    q.bind(1, *cutoff);
    auto n = q.run();
    removed += n;
    if (n < prune_batch)
      break;
  }
  // A number still missing that far back never comes.
  for (auto it = watched_.begin();
       it != watched_.end() && it->first <= *cutoff;) {
    if (!it->second.resynced)
      resync_due_ = true;
    it = watched_.erase(it);
  }
  std::lock_guard guard{mutex_};
  stats_.pruned += removed;
}

void announcements::deliver(std::vector<store_event>&& events) {
  if (events.empty())
    return;
  {
    std::lock_guard guard{mutex_};
    for (const auto& e : events)
      if (e.kind == store_event::type::resync)
        ++stats_.resyncs;
      else
        ++stats_.delivered;
  }
  try {
    cb_(std::move(events));
  } catch (...) {
    // The reader stays up whatever a callback does.
  }
}

} // namespace durable::storage::mysql_detail
