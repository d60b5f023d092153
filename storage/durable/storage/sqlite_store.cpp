#include "durable/storage/sqlite_store.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <iterator>
#include <limits>
#include <set>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "durable/error.hpp"
#include "durable/storage/sqlite/connection.hpp"
#include "durable/store_rules.hpp"
#include "durable/stored_ranges.hpp"

namespace durable::storage {

using sqlite_detail::query;
using sqlite_detail::sqlite_error;

namespace {

// Column order of every full-row statement; bind_row() and decode_row()
// follow it.
constexpr std::array<const char*, 35> columns{
  "id",
  "task_id",
  "kind",
  "parent_id",
  "parent",
  "root_task_id",
  "root_execution_id",
  "sleeping_id",
  "idempotency_key",
  "retry",
  "sleep_before_run_ms",
  "timeout_ms",
  "input",
  "output",
  "run_output",
  "error",
  "status",
  "version",
  "attempt",
  "recoveries",
  "owner",
  "lease_expires_at",
  "start_at",
  "created_at",
  "updated_at",
  "started_at",
  "expires_at",
  "waiting_for_children_started_at",
  "waiting_for_finalize_started_at",
  "finished_at",
  "closed_at",
  "children",
  "finalize",
  "step",
  "watched",
};

constexpr int version_param = static_cast<int>(columns.size()) + 1;

std::string column_list() {
  std::string out;
  for (auto c : columns) {
    if (!out.empty())
      out += ", ";
    out += c;
  }
  return out;
}

// The statement texts are built once from the column names above, never
// from values.
const std::string& select_sql() {
  static const std::string sql = "SELECT " + column_list()
                                 + " FROM executions ";
  return sql;
}

const std::string& insert_sql() {
  static const std::string sql = [] {
    std::string params;
    for (std::size_t i = 1; i <= columns.size(); ++i)
      params += fmt::format("{}?{}", i > 1 ? ", " : "", i);
    return "INSERT INTO executions (" + column_list() + ") VALUES (" + params
           + ")";
  }();
  return sql;
}

const std::string& update_sql() {
  static const std::string sql = [] {
    std::string sets;
    for (std::size_t i = 2; i <= columns.size(); ++i)
      sets += fmt::format("{}{} = ?{}", i > 2 ? ", " : "", columns[i - 1], i);
    return fmt::format("UPDATE executions SET {} WHERE id = ?1", sets);
  }();
  return sql;
}

const std::string& guarded_update_sql() {
  static const std::string sql = update_sql()
                                 + fmt::format(" AND version = ?{}",
                                               version_param);
  return sql;
}

const std::string& by_id_sql() {
  static const std::string sql = select_sql() + "WHERE id = ?1";
  return sql;
}

/// Thrown inside a read transaction that met a corrupt row: the call is
/// re-run as a write, which may repair it.
struct needs_repair {};

// -- JSON columns -------------------------------------------------------------

std::string dump(const nlohmann::json& j) {
  // Replace invalid UTF-8 rather than throw: an error message taken from an
  // exception may carry any bytes, and losing them beats losing the write.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <class T>
std::string to_text(const T& x) {
  return dump(nlohmann::json(x));
}

} // namespace

namespace {

// -- rows ---------------------------------------------------------------------

void bind_row(query& q, const execution_record& r) {
  int i = 0;
  q.bind(++i, r.id);
  q.bind(++i, r.task_id);
  q.bind(++i, static_cast<std::int64_t>(r.kind));
  q.bind(++i, r.parent ? std::optional{r.parent->execution_id} : std::nullopt);
  q.bind(++i, r.parent ? std::optional{to_text(*r.parent)} : std::nullopt);
  q.bind(++i, r.root.task_id);
  q.bind(++i, r.root.execution_id);
  q.bind(++i, r.sleeping_id);
  q.bind(++i, r.idempotency_key);
  q.bind(++i, to_text(r.retry));
  q.bind(++i, static_cast<std::int64_t>(r.sleep_before_run.count()));
  q.bind(++i, static_cast<std::int64_t>(r.timeout.count()));
  q.bind(++i, r.input);
  q.bind(++i, r.output);
  q.bind(++i, r.run_output);
  q.bind(++i, r.error ? std::optional{to_text(*r.error)} : std::nullopt);
  q.bind(++i, static_cast<std::int64_t>(r.status));
  // Versions stay far below 2^63; the cast keeps SQLite's signed INTEGER.
  q.bind(++i, static_cast<std::int64_t>(r.version));
  q.bind(++i, static_cast<std::int64_t>(r.attempt));
  q.bind(++i, static_cast<std::int64_t>(r.recoveries));
  q.bind(++i, r.owner);
  q.bind(++i, r.lease_expires_at);
  q.bind(++i, r.start_at);
  q.bind(++i, r.created_at);
  q.bind(++i, r.updated_at);
  q.bind(++i, r.started_at);
  q.bind(++i, r.expires_at);
  q.bind(++i, r.waiting_for_children_started_at);
  q.bind(++i, r.waiting_for_finalize_started_at);
  q.bind(++i, r.finished_at);
  q.bind(++i, r.closed_at);
  q.bind(++i, to_text(r.children));
  q.bind(++i, r.finalize ? std::optional{to_text(*r.finalize)}
                         : std::nullopt);
  q.bind(++i, static_cast<std::int64_t>(r.step));
  q.bind(++i, static_cast<std::int64_t>(r.watched ? 1 : 0));
}

/// A row as read: the record, what could not be decoded, and the numbers
/// of an unfinished row out of range (stored_ranges.hpp).
struct decoded {
  execution_record row;
  std::vector<std::string> problems;
  std::vector<std::string> invalid;

  /// Whether the row must be failed instead of used.
  bool corrupt() const noexcept {
    return !problems.empty() || !invalid.empty();
  }

  /// The error the row is failed with.
  std::string error_message() const {
    if (!problems.empty())
      return fmt::format("Corrupt stored execution: {}",
                         fmt::join(problems, "; "));
    return stored_ranges::invalid_message(
      fmt::format("{}", fmt::join(invalid, "; ")));
  }

  /// What was wrong, for the `corrupt` event.
  std::string detail() const {
    return fmt::format("{}", fmt::join(problems.empty() ? invalid : problems,
                                       "; "));
  }
};

template <class T>
void parse_json(const query& q, int col, const char* name, T& out,
                std::vector<std::string>& problems) {
  try {
    nlohmann::json::parse(q.text(col)).get_to(out);
  } catch (const std::exception& e) {
    problems.push_back(fmt::format("column {}: {}", name, e.what()));
  }
}

template <class T>
void parse_json(const query& q, int col, const char* name,
                std::optional<T>& out, std::vector<std::string>& problems) {
  if (q.is_null(col)) {
    out.reset();
    return;
  }
  T x;
  std::size_t before = problems.size();
  parse_json(q, col, name, x, problems);
  if (problems.size() == before)
    out = std::move(x);
}

/// The JSON integer `key` of `j`, if present, checked against `range`
/// before it is narrowed into the record: a value out of it goes to
/// `narrowed`. nlohmann converts a real to an integer with a cast that is
/// undefined out of range, so a real where an integer belongs is a
/// problem, not read.
void check_json_integer(const nlohmann::json& j, const char* key,
                        const char* field, stored_ranges::range range,
                        std::vector<std::string>& problems,
                        std::vector<std::string>& narrowed) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null())
    return;
  if (!it->is_number_integer()) {
    problems.push_back(fmt::format("{} is not an integer", field));
    return;
  }
  // An unsigned value past 2^63 reads as negative: out of range as well.
  if (auto p = stored_ranges::check(field, it->get<std::int64_t>(), range))
    narrowed.push_back(std::move(*p));
}

/// parse_json() for `retry` and `parent`, whose integers are checked
/// first (check_json_integer).
template <class T>
void parse_checked_json(const query& q, int col, const char* name, T& out,
                        std::vector<std::string>& problems,
                        std::vector<std::string>& narrowed) {
  try {
    auto j = nlohmann::json::parse(q.text(col));
    std::vector<std::string> found;
    if constexpr (std::is_same_v<T, retry_options>) {
      check_json_integer(j, "max_attempts", "retry_max_attempts",
                         stored_ranges::retry_max_attempts, found, narrowed);
      check_json_integer(j, "base_delay_ms", "retry_base_delay_ms",
                         stored_ranges::retry_base_delay_ms, found, narrowed);
      check_json_integer(j, "max_delay_ms", "retry_max_delay_ms",
                         stored_ranges::retry_max_delay_ms, found, narrowed);
      check_json_integer(j, "jitter", "retry_jitter",
                         stored_ranges::retry_jitter, found, narrowed);
    } else {
      check_json_integer(j, "index", "parent_index", stored_ranges::index,
                         found, narrowed);
    }
    for (auto& f : found)
      problems.push_back(fmt::format("column {}: {}", name, f));
    if (found.empty())
      j.get_to(out);
  } catch (const std::exception& e) {
    problems.push_back(fmt::format("column {}: {}", name, e.what()));
  }
}

template <class T>
void parse_checked_json(const query& q, int col, const char* name,
                        std::optional<T>& out,
                        std::vector<std::string>& problems,
                        std::vector<std::string>& narrowed) {
  if (q.is_null(col)) {
    out.reset();
    return;
  }
  T x;
  std::size_t before = problems.size();
  parse_checked_json(q, col, name, x, problems, narrowed);
  if (problems.size() == before)
    out = std::move(x);
}

decoded decode_row(const query& q) {
  decoded d;
  auto& r = d.row;
  auto& bad = d.problems;
  // Integers the record holds in fewer bits, checked before they are
  // narrowed (a recovery count of 2^32 would read as 0).
  std::vector<std::string> narrowed;
  auto narrow = [&narrowed](const char* field, std::int64_t value,
                            stored_ranges::range range) {
    if (auto p = stored_ranges::check(field, value, range))
      narrowed.push_back(std::move(*p));
    return value;
  };
  // SQLite converts any text to 0 when asked for an integer: check the
  // stored types first, so that a damaged number is reported, not guessed.
  for (int c = 0; c < static_cast<int>(columns.size()); ++c) {
    std::string_view name = columns[static_cast<std::size_t>(c)];
    bool integer = name == "kind" || name == "status" || name == "version"
                   || name == "attempt" || name == "recoveries"
                   || name == "step" || name == "watched"
                   || name.ends_with("_ms") || name.ends_with("_at");
    if (integer && !q.is_integer(c) && !q.is_null(c))
      bad.push_back(fmt::format("column {} is not an integer", name));
  }
  int i = 0;
  r.id = q.text(i++);
  r.task_id = q.text(i++);
  auto kind = q.int64(i++);
  if (kind < 0 || kind > static_cast<int>(task_kind::sleeping))
    bad.push_back(fmt::format("unknown kind {}", kind));
  else
    r.kind = static_cast<task_kind>(kind);
  auto parent_id = q.opt_text(i++);
  parse_checked_json(q, i++, "parent", r.parent, bad, narrowed);
  if (!r.parent && parent_id)
    r.parent = parent_link{{}, *parent_id, 0, false, false};
  r.root.task_id = q.text(i++);
  r.root.execution_id = q.text(i++);
  r.sleeping_id = q.opt_text(i++);
  r.idempotency_key = q.opt_text(i++);
  parse_checked_json(q, i++, "retry", r.retry, bad, narrowed);
  r.sleep_before_run = millis{q.int64(i++)};
  r.timeout = millis{q.int64(i++)};
  r.input = q.is_null(i) ? "null" : q.text(i);
  ++i;
  r.output = q.opt_text(i++);
  r.run_output = q.opt_text(i++);
  parse_json(q, i++, "error", r.error, bad);
  auto status = q.int64(i++);
  if (status < 0 || status > static_cast<int>(execution_status::cancelled))
    bad.push_back(fmt::format("unknown status {}", status));
  else
    r.status = static_cast<execution_status>(status);
  r.version = static_cast<std::uint64_t>(
    narrow("version", q.int64(i++), stored_ranges::version));
  r.attempt = static_cast<int>(
    narrow("attempt", q.int64(i++), stored_ranges::attempt));
  r.recoveries = static_cast<int>(
    narrow("recoveries", q.int64(i++), stored_ranges::recoveries));
  r.owner = q.opt_text(i++);
  r.lease_expires_at = q.opt_time(i++);
  r.start_at = from_micros(q.int64(i++));
  r.created_at = from_micros(q.int64(i++));
  r.updated_at = from_micros(q.int64(i++));
  r.started_at = q.opt_time(i++);
  r.expires_at = q.opt_time(i++);
  r.waiting_for_children_started_at = q.opt_time(i++);
  r.waiting_for_finalize_started_at = q.opt_time(i++);
  r.finished_at = q.opt_time(i++);
  r.closed_at = q.opt_time(i++);
  parse_json(q, i++, "children", r.children, bad);
  parse_json(q, i++, "finalize", r.finalize, bad);
  r.step = static_cast<std::uint32_t>(
    narrow("step", q.int64(i++), stored_ranges::index));
  r.watched = q.int64(i++) != 0;
  // Numbers out of range matter while the row may still be claimed or
  // written; a finished row keeps the ones it was failed for.
  if (bad.empty() && !r.is_finished()) {
    d.invalid = std::move(narrowed);
    if (d.invalid.empty())
      if (auto p = stored_ranges::problem(r))
        d.invalid.push_back(std::move(*p));
  }
  return d;
}

std::string parent_id_of(const execution_record& r) {
  return r.parent ? r.parent->execution_id : std::string{};
}

bool is_live_sleeper(const execution_record& r) noexcept {
  return r.is_sleeping() && r.status == execution_status::running
         && r.expires_at.has_value();
}

/// Due time of a claim candidate; a missing lease is due at once.
constexpr std::int64_t no_lease = std::numeric_limits<std::int64_t>::min();

} // namespace

// -- transactions -------------------------------------------------------------

/// One transaction of one store call: BEGIN in the constructor, ROLLBACK in
/// the destructor unless commit() ran. Holds what the call announces.
class sqlite_store::txn {
public:
  txn(sqlite_detail::connection& db, timestamp now, bool write)
    : db_(db), now_(now), write_(write) {
    db_.exec(write ? "BEGIN IMMEDIATE" : "BEGIN");
  }

  ~txn() {
    if (!done_) {
      // Nothing to report if it fails: the connection drops the transaction
      // anyway, and the caller already has an exception in flight.
      try {
        db_.exec("ROLLBACK");
      } catch (...) {
      }
    }
  }

  txn(const txn&) = delete;
  txn& operator=(const txn&) = delete;

  void commit() {
    db_.exec("COMMIT");
    done_ = true;
  }

  timestamp now() const noexcept {
    return now_;
  }

  std::vector<store_event>& events() noexcept {
    return events_;
  }

  query prepare(const std::string& sql) {
    return db_.prepare(sql);
  }

  // -- reading rows -----------------------------------------------------------

  /// Every row `q` returns, corrupt ones repaired (or skipped if they
  /// cannot be). The statement is finished before any repair writes.
  std::vector<execution_record> rows(query& q) {
    std::vector<decoded> raw;
    while (q.step())
      raw.push_back(decode_row(q));
    std::vector<execution_record> out;
    out.reserve(raw.size());
    for (auto& d : raw) {
      if (!d.corrupt()) {
        out.push_back(std::move(d.row));
      } else if (repair(d)) {
        out.push_back(std::move(d.row));
      }
    }
    return out;
  }

  std::optional<execution_record> row_by_id(const std::string& id) {
    std::vector<execution_record> found;
    {
      auto q = prepare(by_id_sql());
      q.bind(1, id);
      found = rows(q);
    }
    if (found.empty())
      return std::nullopt;
    return std::move(found.front());
  }

  /// Writes `r` over the stored row if its version is still `expected`.
  bool update(const execution_record& r, std::uint64_t expected) {
    auto q = prepare(guarded_update_sql());
    bind_row(q, r);
    q.bind(version_param, static_cast<std::int64_t>(expected));
    return q.run() == 1;
  }

  /// Stores a new row; one already claimed gets its lease counted from
  /// now (store_rules::lease_from_write).
  void insert(const execution_record& r) {
    auto q = prepare(insert_sql());
    if (r.owner) {
      auto leased = r;
      store_rules::lease_from_write(leased, now_);
      bind_row(q, leased);
    } else {
      bind_row(q, r);
    }
    q.run();
  }

  /// The id of the row where `column` (a constant) equals `value`.
  std::optional<std::string> id_where(const char* sql,
                                      const std::string& value) {
    auto q = prepare(sql);
    q.bind(1, value);
    if (q.step())
      return q.text(0);
    return std::nullopt;
  }

private:
  /// Rewrites a corrupt row as failed. False if the row cannot be written
  /// either (it is then skipped by whoever read it).
  bool repair(decoded& d) {
    if (!write_)
      throw needs_repair{};
    auto what = d.detail();
    auto& r = d.row;
    auto old_owner = r.owner;
    r.status = execution_status::failed;
    r.error = execution_error{error_kind::generic, d.error_message(), false,
                              true};
    r.finished_at = now_;
    r.closed_at = now_;
    r.updated_at = now_;
    r.lease_expires_at.reset();
    r.owner.reset();
    r.run_output.reset();
    r.version += 1;
    try {
      // Guarded by id only: the stored version may be what is broken, and
      // the write lock keeps anyone else out.
      auto q = prepare(update_sql());
      bind_row(q, r);
      if (q.run() != 1)
        throw durable::error("the row vanished");
    } catch (const std::exception& e) {
      found_corrupt(r.id, fmt::format("{}; it cannot be marked failed, so "
                                      "it is skipped: {}",
                                      what, e.what()));
      return false;
    }
    found_corrupt(r.id, fmt::format("{}; marked failed", what));
    if (r.parent || r.watched)
      events_.push_back({store_event::type::finished, r.id, parent_id_of(r),
                         {}, now_});
    return true;
  }

  sqlite_detail::connection& db_;
  timestamp now_;
  bool write_;
  bool done_ = false;
  /// Announces (after commit) that row `id` was found corrupt.
  void found_corrupt(const std::string& id, std::string detail) {
    store_event e{store_event::type::corrupt, id, {}, {}, now_};
    e.detail = std::move(detail);
    events_.push_back(std::move(e));
  }

  std::vector<store_event> events_;
};

template <class F>
auto sqlite_store::run(const char* what, bool write, F&& fn) {
  using result_type = decltype(fn(std::declval<txn&>()));
  std::optional<result_type> result;
  std::vector<store_event> events;
  {
    std::lock_guard guard{mutex_};
    try {
      for (bool w = write;; w = true) {
        txn tx{*db_, clock_(), w};
        try {
          result.emplace(fn(tx));
        } catch (const needs_repair&) {
          if (w)
            throw durable::error("repair requested inside a write");
          continue; // ~txn rolls back; run again as a write
        }
        tx.commit();
        events = std::move(tx.events());
        break;
      }
    } catch (const sqlite_error& e) {
      throw durable::error(fmt::format("sqlite store {} ({}): {}", what,
                                       path_, e.what()));
    }
  }
  notify(std::move(events));
  return std::move(*result);
}

// -- constructors, destructors, and assignment operators ----------------------

sqlite_store::sqlite_store(const std::string& path, sqlite_options opts)
  : path_(path),
    clock_(std::move(opts.clock)),
    db_(std::make_unique<sqlite_detail::connection>(path, opts)) {
  if (!clock_)
    clock_ = durable::system_now;
}

sqlite_store::~sqlite_store() = default;

// -- properties ---------------------------------------------------------------

void sqlite_store::set_clock(std::function<timestamp()> clock) {
  std::lock_guard guard{mutex_};
  clock_ = std::move(clock);
}

int sqlite_store::stored_schema_version() {
  return run("schema version", false, [](txn& tx) {
    auto q = tx.prepare("PRAGMA user_version");
    return q.step() ? static_cast<int>(q.int64(0)) : 0;
  });
}

std::size_t sqlite_store::size() {
  return run("size", false, [](txn& tx) {
    auto q = tx.prepare("SELECT COUNT(*) FROM executions");
    return q.step() ? static_cast<std::size_t>(q.int64(0)) : std::size_t{0};
  });
}

void sqlite_store::execute(const std::string& sql) {
  std::lock_guard guard{mutex_};
  try {
    db_->exec(sql);
  } catch (const sqlite_error& e) {
    throw durable::error(
      fmt::format("sqlite store execute ({}): {}", path_, e.what()));
  }
}

timestamp sqlite_store::now() {
  std::lock_guard guard{mutex_};
  return clock_();
}

// -- writes -------------------------------------------------------------------

namespace {

constexpr const char* id_by_key_sql
  = "SELECT id FROM executions WHERE idempotency_key = ?1";
constexpr const char* task_by_id_sql
  = "SELECT task_id FROM executions WHERE id = ?1";
constexpr const char* id_by_id_sql
  = "SELECT id FROM executions WHERE id = ?1";
constexpr const char* id_by_sleeping_sql
  = "SELECT id FROM executions WHERE sleeping_id = ?1";

} // namespace

std::vector<insert_outcome>
sqlite_store::insert(std::vector<execution_record> rows) {
  if (rows.empty())
    return {};
  return run("insert", true, [&rows](txn& tx) {
    using kind = insert_outcome::kind;
    std::vector<insert_outcome> out;
    out.reserve(rows.size());
    const execution_record* earliest = nullptr;
    for (const auto& r : rows) {
      if (auto refused = stored_ranges::refused_insert(r)) {
        out.push_back(std::move(*refused));
        continue;
      }
      // Same order of checks as memory_store::check_new_row.
      if (r.idempotency_key)
        if (auto id = tx.id_where(id_by_key_sql, *r.idempotency_key)) {
          auto task = tx.id_where(task_by_id_sql, *id);
          out.push_back({kind::duplicate_key, std::move(*id),
                         task.value_or("")});
          continue;
        }
      if (tx.id_where(id_by_id_sql, r.id)) {
        out.push_back({kind::duplicate_id, r.id});
        continue;
      }
      if (r.sleeping_id)
        if (auto id = tx.id_where(id_by_sleeping_sql, *r.sleeping_id)) {
          out.push_back({kind::duplicate_sleeping_id, std::move(*id)});
          continue;
        }
      tx.insert(r);
      out.push_back({kind::inserted, r.id});
      if (r.status == execution_status::ready
          && (!earliest || r.start_at < earliest->start_at))
        earliest = &r;
      if (r.is_sleeping())
        tx.events().push_back({store_event::type::deadline, r.id, {}, {},
                               r.expires_at.value_or(r.start_at)});
    }
    if (earliest)
      tx.events().push_back({store_event::type::work_ready, earliest->id, {},
                             {}, earliest->start_at});
    return out;
  });
}

namespace {

const std::string& children_sql() {
  static const std::string sql = select_sql() + "WHERE parent_id = ?1";
  return sql;
}

/// Cancels every unfinished descendant of `root`, as memory_store does.
template <class Txn>
void cascade(Txn& tx, const execution_record& root,
             std::vector<store_event>& events) {
  const auto now = tx.now();
  std::vector<execution_record> todo{root};
  // Guards against a parent link that loops back (only a corrupt row could
  // make one).
  std::unordered_set<std::string> seen{root.id};
  while (!todo.empty()) {
    auto parent = std::move(todo.back());
    todo.pop_back();
    std::vector<execution_record> kids;
    {
      auto q = tx.prepare(children_sql());
      q.bind(1, parent.id);
      kids = tx.rows(q);
    }
    for (auto& child : kids) {
      if (!seen.insert(child.id).second)
        continue;
      if (!child.is_finished()) {
        auto prev_owner = child.owner;
        auto old_version = child.version;
        store_rules::cancel_descendant(child, parent, now);
        if (!tx.update(child, old_version))
          throw durable::error("cascade lost the row " + child.id);
        if (prev_owner)
          events.push_back({store_event::type::cancelled, child.id, {},
                            std::move(*prev_owner), now});
        events.push_back({store_event::type::finished, child.id,
                          parent_id_of(child), {}, now});
      }
      todo.push_back(std::move(child));
    }
  }
}

} // namespace

std::vector<write_outcome> sqlite_store::apply(std::vector<transition> ts) {
  if (ts.empty())
    return {};
  return run("apply", true, [&ts](txn& tx) {
    const auto now = tx.now();
    std::vector<write_outcome> out;
    out.reserve(ts.size());
    for (auto& t : ts) {
      auto row = tx.row_by_id(t.next.id);
      if (auto reason = stored_ranges::refused_write(t)) {
        out.push_back({write_status::refused, std::move(row),
                       std::move(*reason)});
        continue;
      }
      if (!row) {
        out.push_back({write_status::not_found, std::nullopt});
        continue;
      }
      if (row->version != t.expected_version) {
        out.push_back({write_status::conflict, std::move(row)});
        continue;
      }
      // A renewal may have moved the lease since the writer read the row:
      // a transition that keeps the owner never moves the lease back.
      auto next = t.next;
      if (next.owner && next.owner == row->owner && row->lease_expires_at
          && (!next.lease_expires_at
              || *next.lease_expires_at < *row->lease_expires_at))
        next.lease_expires_at = row->lease_expires_at;
      next.version = t.expected_version + 1;
      next.watched = row->watched;
      // A child that collides fails its insert on a unique index; the
      // savepoint undoes the whole transition and nothing else.
      std::vector<store_event> events;
      tx.prepare("SAVEPOINT transition").run();
      try {
        if (!tx.update(next, t.expected_version))
          throw durable::error("version moved under the write lock");
        for (const auto& child : t.children)
          tx.insert(child);
        if (t.cancel_descendants)
          cascade(tx, next, events);
      } catch (const sqlite_error& e) {
        tx.prepare("ROLLBACK TO transition").run();
        tx.prepare("RELEASE transition").run();
        if (!e.is_constraint())
          throw;
        out.push_back({write_status::rejected, std::move(row)});
        continue;
      }
      tx.prepare("RELEASE transition").run();
      auto& ev = tx.events();
      // Events describe the state after the whole transition, cascade
      // included, so a child the cascade cancelled is not announced ready.
      if (next.is_finished() && (next.parent || next.watched))
        ev.push_back({store_event::type::finished, next.id,
                      parent_id_of(next), {},
                      next.finished_at.value_or(now),
                      std::make_shared<const execution_record>(next)});
      std::unordered_set<std::string> cancelled;
      for (const auto& e : events)
        if (e.kind == store_event::type::finished)
          cancelled.insert(e.execution_id);
      const execution_record* earliest = nullptr;
      if (next.status == execution_status::ready)
        earliest = &next;
      for (const auto& kid : t.children)
        if (kid.status == execution_status::ready
            && !cancelled.contains(kid.id)
            && (!earliest || kid.start_at < earliest->start_at))
          earliest = &kid;
      if (earliest)
        ev.push_back({store_event::type::work_ready, earliest->id, {}, {},
                      earliest->start_at});
      for (const auto& kid : t.children)
        if (is_live_sleeper(kid) && !cancelled.contains(kid.id))
          ev.push_back({store_event::type::deadline, kid.id, {}, {},
                        *kid.expires_at});
      if (next.status == execution_status::cancelled && row->owner)
        ev.push_back({store_event::type::cancelled, next.id, {}, *row->owner,
                      now});
      std::move(events.begin(), events.end(), std::back_inserter(ev));
      out.push_back({write_status::applied, std::move(next)});
    }
    return out;
  });
}

namespace {

constexpr const char* ready_sql
  = "SELECT start_at, id FROM executions "
    "WHERE status = 0 AND task_id = ?1 AND start_at <= ?2 "
    "ORDER BY start_at, id LIMIT ?3";
constexpr const char* expired_sql
  = "SELECT lease_expires_at, id, kind, status FROM executions "
    "WHERE status IN (1, 2, 3) AND task_id = ?1 AND lease_expires_at <= ?2 "
    "AND NOT (status = 1 AND kind = 4) "
    "ORDER BY lease_expires_at, id LIMIT ?3";
constexpr const char* unleased_sql
  = "SELECT id FROM executions "
    "WHERE status IN (1, 2, 3) AND task_id = ?1 AND lease_expires_at IS NULL "
    "AND NOT (status = 1 AND kind = 4) "
    "ORDER BY id LIMIT ?2";
constexpr const char* next_ready_sql
  = "SELECT MIN(start_at) FROM executions "
    "WHERE status = 0 AND task_id = ?1 AND start_at > ?2";

} // namespace

claim_result sqlite_store::claim(const claim_request& req) {
  std::vector<std::string> tasks(req.task_ids.begin(), req.task_ids.end());
  std::sort(tasks.begin(), tasks.end());
  tasks.erase(std::unique(tasks.begin(), tasks.end()), tasks.end());
  if (tasks.empty())
    return {};
  return run("claim", true, [&](txn& tx) {
    claim_result res;
    const auto now = tx.now();
    const auto limit = static_cast<std::int64_t>(
      std::min<std::size_t>(req.limit, std::numeric_limits<int>::max()));
    // Oldest first across every requested task: the best `limit` of each
    // task's ready and expired rows (each read in index order), merged.
    std::vector<std::pair<std::int64_t, std::string>> due;
    if (limit > 0) {
      for (const auto& task : tasks) {
        {
          auto q = tx.prepare(ready_sql);
          q.bind(1, task).bind(2, now).bind(3, limit);
          while (q.step())
            due.emplace_back(q.int64(0), q.text(1));
        }
        if (!req.take_over)
          continue;
        {
          auto q = tx.prepare(expired_sql);
          q.bind(1, task).bind(2, now).bind(3, limit);
          while (q.step())
            due.emplace_back(q.int64(0), q.text(1));
        }
        {
          auto q = tx.prepare(unleased_sql);
          q.bind(1, task).bind(2, limit);
          while (q.step())
            due.emplace_back(no_lease, q.text(0));
        }
      }
    }
    std::sort(due.begin(), due.end());
    if (due.size() > static_cast<std::size_t>(limit))
      due.resize(static_cast<std::size_t>(limit));
    for (auto& [at, id] : due) {
      auto r = tx.row_by_id(id);
      // A corrupt row was just marked failed by row_by_id: not claimable.
      if (!r || !store_rules::is_claimable(*r, now))
        continue;
      auto old_version = r->version;
      store_rules::claim(*r, now, req.owner, req.lease);
      if (!tx.update(*r, old_version))
        throw durable::error("claim lost the row " + id);
      res.claimed.push_back(std::move(*r));
    }
    for (const auto& task : tasks) {
      auto q = tx.prepare(next_ready_sql);
      q.bind(1, task).bind(2, now);
      if (q.step() && !q.is_null(0)) {
        auto at = from_micros(q.int64(0));
        if (!res.next_ready_at || at < *res.next_ready_at)
          res.next_ready_at = at;
      }
    }
    return res;
  });
}

std::vector<std::string> sqlite_store::renew_leases(const std::string& owner,
                                                    millis lease) {
  return run("renew_leases", true, [&](txn& tx) {
    // Rows whose lease is not due keep it (store_rules::renewal_due) and
    // are returned too.
    auto q = tx.prepare("UPDATE executions SET lease_expires_at = "
                        "CASE WHEN lease_expires_at IS NULL OR "
                        "lease_expires_at < ?3 THEN ?1 ELSE lease_expires_at "
                        "END WHERE owner = ?2 AND status IN (0, 1, 2, 3) "
                        "RETURNING id");
    const auto now = tx.now();
    q.bind(1, now + lease)
      .bind(2, owner)
      .bind(3, store_rules::renewal_floor(now, lease));
    std::vector<std::string> renewed;
    while (q.step())
      renewed.push_back(q.text(0));
    return renewed;
  });
}

bool sqlite_store::try_lead(const std::string& role, const std::string& owner,
                            millis lease) {
  return run("try_lead", true, [&](txn& tx) {
    auto q = tx.prepare(
      "INSERT INTO leaders (role, owner, expires_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT (role) DO UPDATE SET owner = excluded.owner, "
      "expires_at = excluded.expires_at "
      "WHERE leaders.owner = excluded.owner OR leaders.expires_at <= ?4");
    const auto now = tx.now();
    q.bind(1, role).bind(2, owner).bind(3, now + lease).bind(4, now);
    return q.run() == 1;
  });
}

std::size_t sqlite_store::release_leases(const std::string& owner) {
  // Clearing the owner (without a version bump, like an expiry) is what
  // tells the next claim that this was a hand-over, not a recovery.
  return run("release_leases", true, [&](txn& tx) {
    auto q = tx.prepare("UPDATE executions "
                        "SET lease_expires_at = ?1, owner = NULL "
                        "WHERE owner = ?2 AND status IN (0, 1, 2, 3)");
    q.bind(1, tx.now()).bind(2, owner);
    return q.run();
  });
}

// -- reads --------------------------------------------------------------------

std::optional<execution_record> sqlite_store::get(const std::string& id) {
  return run("get", false, [&](txn& tx) { return tx.row_by_id(id); });
}

std::optional<execution_record>
sqlite_store::get_by_sleeping_id(const std::string& sleeping_id) {
  static const std::string sql = select_sql() + "WHERE sleeping_id = ?1";
  return run("get_by_sleeping_id", false,
             [&](txn& tx) -> std::optional<execution_record> {
               auto q = tx.prepare(sql);
               q.bind(1, sleeping_id);
               auto found = tx.rows(q);
               if (found.empty())
                 return std::nullopt;
               return std::move(found.front());
             });
}

std::vector<execution_record>
sqlite_store::children_of(const std::string& parent_id) {
  auto out = run("children_of", false, [&](txn& tx) {
    auto q = tx.prepare(children_sql());
    q.bind(1, parent_id);
    return tx.rows(q);
  });
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
    auto key = [](const execution_record& r) {
      return std::make_tuple(r.parent ? r.parent->is_finalize : false,
                             r.parent ? r.parent->index : 0u,
                             std::string_view{r.id});
    };
    return key(x) < key(y);
  });
  return out;
}

namespace {

/// The WHERE clause of a listing or count and its parameters. The text is
/// built from constant fragments and numbered placeholders only; every
/// value is bound.
struct filter_sql {
  std::string where = "WHERE 1 = 1";
  std::vector<std::variant<std::int64_t, std::string>> values;

  std::string next() {
    return fmt::format("?{}", values.size() + 1);
  }

  void add(std::string_view condition, std::int64_t x) {
    where += fmt::format(" AND {} {}", condition, next());
    values.emplace_back(x);
  }

  void add(std::string_view condition, const std::string& x) {
    where += fmt::format(" AND {} {}", condition, next());
    values.emplace_back(x);
  }

  explicit filter_sql(const execution_filter& f) {
    if (!f.statuses.empty()) {
      where += " AND status IN (";
      for (std::size_t i = 0; i < f.statuses.size(); ++i) {
        where += (i > 0 ? ", " : "") + next();
        values.emplace_back(static_cast<std::int64_t>(f.statuses[i]));
      }
      where += ")";
    }
    if (f.task_id)
      add("task_id =", *f.task_id);
    if (f.parent_id)
      add("parent_id =", *f.parent_id);
    if (f.created_from)
      add("created_at >=", to_micros(*f.created_from));
    if (f.created_before)
      add("created_at <", to_micros(*f.created_before));
  }

  template <class Query>
  void bind(Query& q) const {
    for (std::size_t i = 0; i < values.size(); ++i)
      std::visit([&](const auto& x) { q.bind(static_cast<int>(i + 1), x); },
                 values[i]);
  }
};

} // namespace

list_page sqlite_store::list(const list_request& req) {
  auto after = validate(req);
  filter_sql f{req.filter};
  if (after) {
    auto a = f.next();
    f.values.emplace_back(to_micros(after->created_at));
    auto b = f.next();
    f.values.emplace_back(after->id);
    f.where += fmt::format(" AND (created_at < {0} OR (created_at = {0} AND "
                           "id < {1}))",
                           a, b);
  }
  auto sql = fmt::format("{}{} ORDER BY created_at DESC, id DESC LIMIT {}",
                         select_sql(), f.where, f.next());
  f.values.emplace_back(static_cast<std::int64_t>(req.limit + 1));
  auto rows = run("list", false, [&](txn& tx) {
    auto q = tx.prepare(sql);
    f.bind(q);
    return tx.rows(q);
  });
  list_page page;
  const bool more = rows.size() > req.limit;
  rows.resize(std::min(rows.size(), req.limit));
  if (more)
    page.next_cursor = encode_cursor({rows.back().created_at, rows.back().id});
  // A row repaired while reading may no longer match.
  std::erase_if(rows, [&](const auto& r) { return !matches(req.filter, r); });
  page.rows = std::move(rows);
  return page;
}

status_counts sqlite_store::count_by_status(const execution_filter& filter) {
  filter_sql f{filter};
  auto sql = fmt::format(
    "SELECT status, COUNT(*) FROM executions {} GROUP BY status", f.where);
  return run("count_by_status", false, [&](txn& tx) {
    status_counts counts;
    auto q = tx.prepare(sql);
    f.bind(q);
    while (q.step()) {
      auto s = q.int64(0);
      if (s >= 0 && s <= static_cast<std::int64_t>(execution_status::cancelled))
        counts[static_cast<execution_status>(s)]
          += static_cast<std::uint64_t>(q.int64(1));
    }
    return counts;
  });
}

sleeper_scan sqlite_store::scan_sleepers(std::size_t limit) {
  static const std::string expired_sql
    = select_sql()
      + "WHERE kind = 4 AND status = 1 AND expires_at <= ?1 "
        "ORDER BY expires_at, id LIMIT ?2";
  return run("scan_sleepers", false, [&](txn& tx) {
    sleeper_scan res;
    const auto now = tx.now();
    if (limit > 0) {
      auto q = tx.prepare(expired_sql);
      q.bind(1, now).bind(
        2, static_cast<std::int64_t>(
             std::min<std::size_t>(limit, std::numeric_limits<int>::max())));
      for (auto& r : tx.rows(q))
        if (is_live_sleeper(r)) // a repaired row is no longer one
          res.expired.push_back(std::move(r));
    }
    auto q = tx.prepare("SELECT MIN(expires_at) FROM executions "
                        "WHERE kind = 4 AND status = 1 AND expires_at > ?1");
    q.bind(1, now);
    if (q.step() && !q.is_null(0))
      res.next_deadline = from_micros(q.int64(0));
    return res;
  });
}

// -- store-managed fields -----------------------------------------------------

std::optional<execution_record> sqlite_store::watch(const std::string& id) {
  return run("watch", true, [&](txn& tx) {
    auto q = tx.prepare("UPDATE executions SET watched = 1 WHERE id = ?1");
    q.bind(1, id);
    q.run();
    return tx.row_by_id(id);
  });
}

bool sqlite_store::erase(const std::string& id) {
  return run("erase", true, [&](txn& tx) {
    auto q = tx.prepare("DELETE FROM executions WHERE id = ?1");
    q.bind(1, id);
    return q.run() == 1;
  });
}

// -- listeners ----------------------------------------------------------------

std::uint64_t sqlite_store::subscribe(store_listener listener) {
  std::lock_guard guard{listeners_mutex_};
  auto token = next_token_++;
  listeners_.emplace_back(token, std::move(listener));
  listener_count_.store(listeners_.size());
  return token;
}

void sqlite_store::unsubscribe(std::uint64_t token) {
  // Taking the mutex waits for a notification in progress.
  std::lock_guard guard{listeners_mutex_};
  std::erase_if(listeners_, [token](const auto& x) {
    return x.first == token;
  });
  listener_count_.store(listeners_.size());
}

void sqlite_store::notify(std::vector<store_event>&& events) {
  if (events.empty() || listener_count_.load() == 0)
    return;
  std::lock_guard guard{listeners_mutex_};
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    // The commit stands whatever a listener does: an exception escaping
    // here would tell the caller that nothing was written.
    try {
      if (i + 1 == listeners_.size())
        listeners_[i].second(std::move(events));
      else
        listeners_[i].second(events);
    } catch (...) {
    }
  }
}

// -- factory ------------------------------------------------------------------

std::shared_ptr<durable::store> sqlite(const std::string& path,
                                       sqlite_options opts) {
  return std::make_shared<sqlite_store>(path, std::move(opts));
}

} // namespace durable::storage
