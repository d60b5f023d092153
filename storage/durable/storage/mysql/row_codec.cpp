#include "durable/storage/mysql/row_codec.hpp"

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

namespace durable::storage::mysql_detail {

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
void parse_json(const query& q, int col, std::string_view name, T& out,
                std::vector<std::string>& problems) {
  try {
    nlohmann::json::parse(q.text(col)).get_to(out);
  } catch (const std::exception& e) {
    problems.push_back(fmt::format("column {}: {}", name, e.what()));
  }
}

template <class T>
void parse_json(const query& q, int col, std::string_view name,
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
void parse_checked_json(const query& q, int col, std::string_view name, T& out,
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
void parse_checked_json(const query& q, int col, std::string_view name,
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

// -- binding, one overload per type (layout<T> in row_codec.hpp) --------------

void bind(query& q, int& i, const std::string& s) {
  q.bind(++i, s);
}

void bind(query& q, int& i, const std::optional<std::string>& s) {
  q.bind(++i, s);
}

void bind(query& q, int& i, const shared_text& s) {
  q.bind(++i, s.to_optional());
}

void bind(query& q, int& i, task_kind k) {
  q.bind(++i, static_cast<std::int64_t>(k));
}

void bind(query& q, int& i, execution_status s) {
  q.bind(++i, static_cast<std::int64_t>(s));
}

void bind(query& q, int& i, bool b) {
  q.bind(++i, static_cast<std::int64_t>(b ? 1 : 0));
}

void bind(query& q, int& i, int x) {
  q.bind(++i, static_cast<std::int64_t>(x));
}

void bind(query& q, int& i, std::uint32_t x) {
  q.bind(++i, static_cast<std::int64_t>(x));
}

void bind(query& q, int& i, std::uint64_t x) {
  // Versions stay far below 2^63; the cast keeps the signed BIGINT.
  q.bind(++i, static_cast<std::int64_t>(x));
}

void bind(query& q, int& i, millis d) {
  q.bind(++i, static_cast<std::int64_t>(d.count()));
}

void bind(query& q, int& i, timestamp t) {
  q.bind(++i, t);
}

void bind(query& q, int& i, const std::optional<timestamp>& t) {
  q.bind(++i, t);
}

void bind(query& q, int& i, const std::optional<parent_link>& p) {
  q.bind(++i, p ? std::optional{p->execution_id} : std::nullopt);
  q.bind(++i, p ? std::optional{to_text(*p)} : std::nullopt);
}

void bind(query& q, int& i, const execution_ref& r) {
  q.bind(++i, r.task_id);
  q.bind(++i, r.execution_id);
}

void bind(query& q, int& i, const std::optional<execution_ref>& r) {
  q.bind(++i, r ? std::optional{to_text(*r)} : std::nullopt);
}

void bind(query& q, int& i, const retry_options& r) {
  q.bind(++i, to_text(r));
}

void bind(query& q, int& i, const std::optional<execution_error>& e) {
  q.bind(++i, e ? std::optional{to_text(*e)} : std::nullopt);
}

void bind(query& q, int& i, const std::vector<execution_ref>& children) {
  q.bind(++i, to_text(children));
}

// -- decoding, one overload per type: the columns from `i` on -----------------

/// What decode_row() reads from and reports to.
struct reader {
  const query& q;
  std::vector<std::string>& problems;
  /// Integers the record holds in fewer bits, checked before they are
  /// narrowed (a recovery count of 2^32 would read as 0).
  std::vector<std::string>& narrowed;

  /// The integer of column `i`, checked against the field's range if it
  /// has one.
  template <class Field>
  std::int64_t narrow(const Field& f, int i) const {
    auto value = q.int64(i);
    if (f.range)
      if (auto p = stored_ranges::check(f.name, value, *f.range))
        narrowed.push_back(std::move(*p));
    return value;
  }

  /// The enumerator of column `i`, a problem if past `max`.
  template <class Field, class E>
  void enumeration(const Field& f, int i, E max, E& out) const {
    auto v = q.int64(i);
    if (v < 0 || v > static_cast<std::int64_t>(max))
      problems.push_back(fmt::format("unknown {} {}", f.name, v));
    else
      out = static_cast<E>(v);
  }
};

std::string_view name_of(int i) {
  return columns[static_cast<std::size_t>(i)];
}

template <class Field>
void get(const reader& in, const Field&, int i, std::string& out) {
  // A NULL keeps the default (an input of "null").
  if (!in.q.is_null(i))
    out = in.q.text(i);
}

template <class Field>
void get(const reader& in, const Field&, int i,
         std::optional<std::string>& out) {
  out = in.q.opt_text(i);
}

template <class Field>
void get(const reader& in, const Field&, int i, shared_text& out) {
  out = in.q.opt_text(i);
}

template <class Field>
void get(const reader& in, const Field& f, int i, task_kind& out) {
  in.enumeration(f, i, task_kind::sleeping, out);
}

template <class Field>
void get(const reader& in, const Field& f, int i, execution_status& out) {
  in.enumeration(f, i, execution_status::cancelled, out);
}

template <class Field>
void get(const reader& in, const Field&, int i, bool& out) {
  out = in.q.int64(i) != 0;
}

template <class Field>
void get(const reader& in, const Field& f, int i, int& out) {
  out = static_cast<int>(in.narrow(f, i));
}

template <class Field>
void get(const reader& in, const Field& f, int i, std::uint32_t& out) {
  out = static_cast<std::uint32_t>(in.narrow(f, i));
}

template <class Field>
void get(const reader& in, const Field& f, int i, std::uint64_t& out) {
  out = static_cast<std::uint64_t>(in.narrow(f, i));
}

template <class Field>
void get(const reader& in, const Field&, int i, millis& out) {
  out = millis{in.q.int64(i)};
}

template <class Field>
void get(const reader& in, const Field&, int i, timestamp& out) {
  out = from_micros(in.q.int64(i));
}

template <class Field>
void get(const reader& in, const Field&, int i, std::optional<timestamp>& out) {
  out = in.q.opt_time(i);
}

template <class Field>
void get(const reader& in, const Field&, int i,
         std::optional<parent_link>& out) {
  auto parent_id = in.q.opt_text(i);
  parse_checked_json(in.q, i + 1, name_of(i + 1), out, in.problems,
                     in.narrowed);
  if (!out && parent_id)
    out = parent_link{{}, *parent_id, 0, false, false};
}

template <class Field>
void get(const reader& in, const Field&, int i, execution_ref& out) {
  out.task_id = in.q.text(i);
  out.execution_id = in.q.text(i + 1);
}

template <class Field>
void get(const reader& in, const Field&, int i,
         std::optional<execution_ref>& out) {
  parse_json(in.q, i, name_of(i), out, in.problems);
}

template <class Field>
void get(const reader& in, const Field&, int i, retry_options& out) {
  parse_checked_json(in.q, i, name_of(i), out, in.problems, in.narrowed);
}

template <class Field>
void get(const reader& in, const Field&, int i,
         std::optional<execution_error>& out) {
  parse_json(in.q, i, name_of(i), out, in.problems);
}

template <class Field>
void get(const reader& in, const Field&, int i,
         std::vector<execution_ref>& out) {
  parse_json(in.q, i, name_of(i), out, in.problems);
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
  fields::for_each([&](const auto& f) { bind(q, i, f.of(r)); });
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
  return fmt::format("{}",
                     fmt::join(problems.empty() ? invalid : problems, "; "));
}

decoded decode_row(const query& q) {
  decoded d;
  auto& r = d.row;
  std::vector<std::string> narrowed;
  // The columns' types are the schema's; check them anyway, so that a
  // column altered by hand is reported, not guessed.
  for (std::size_t c = 0; c < column_count; ++c) {
    const int col = static_cast<int>(c);
    if (integer_columns[c] && !q.is_integer(col) && !q.is_null(col))
      d.problems.push_back(
        fmt::format("column {} is not an integer", columns[c]));
  }
  reader in{q, d.problems, narrowed};
  int i = 0;
  fields::for_each([&](const auto& f) {
    get(in, f, i, f.of(r));
    i += static_cast<int>(width<decltype(f)>);
  });
  // Numbers out of range matter while the row may still be claimed or
  // written; a finished row keeps the ones it was failed for.
  if (d.problems.empty() && !r.is_finished()) {
    d.invalid = std::move(narrowed);
    if (d.invalid.empty())
      if (auto p = stored_ranges::problem(r))
        d.invalid.push_back(std::move(*p));
  }
  return d;
}

} // namespace durable::storage::mysql_detail
