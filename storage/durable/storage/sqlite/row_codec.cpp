#include "durable/storage/sqlite/row_codec.hpp"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "durable/stored_ranges.hpp"

namespace durable::storage::sqlite_detail {

namespace {

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

} // namespace

std::string column_list() {
  std::string out;
  for (auto c : columns) {
    if (!out.empty())
      out += ", ";
    out += c;
  }
  return out;
}

// -- writing ------------------------------------------------------------------

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

// -- reading ------------------------------------------------------------------

std::string decoded::error_message() const {
  if (!problems.empty())
    return fmt::format("Corrupt stored execution: {}",
                       fmt::join(problems, "; "));
  return stored_ranges::invalid_message(
    fmt::format("{}", fmt::join(invalid, "; ")));
}

std::string decoded::detail() const {
  return fmt::format("{}", fmt::join(problems.empty() ? invalid : problems,
                                     "; "));
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

} // namespace durable::storage::sqlite_detail
