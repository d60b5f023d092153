#include "durable/storage/pg/row_codec.hpp"

#include <cassert>
#include <charconv>
#include <cmath>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/field>

#include "durable/status.hpp"

namespace durable::storage::pg {

namespace {

constexpr std::array<column, column_count> all_columns{{
  {"id", "text"},
  {"task_id", "text"},
  {"kind", "smallint"},
  {"parent_task_id", "text"},
  {"parent_id", "text"},
  {"parent_index", "bigint"},
  {"parent_only", "boolean"},
  {"parent_is_finalize", "boolean"},
  {"root_task_id", "text"},
  {"root_id", "text"},
  {"sleeping_id", "text"},
  {"idempotency_key", "text"},
  {"retry_max_attempts", "integer"},
  {"retry_base_delay_ms", "bigint"},
  {"retry_multiplier", "double precision"},
  {"retry_max_delay_ms", "bigint"},
  {"retry_jitter", "smallint"},
  {"sleep_before_run_ms", "bigint"},
  {"timeout_ms", "bigint"},
  {"input", "text"},
  {"output", "text"},
  {"run_output", "text"},
  {"error_kind", "smallint"},
  {"error_message", "text"},
  {"error_retryable", "boolean"},
  {"error_internal", "boolean"},
  {"status", "text"},
  {"version", "bigint"},
  {"attempt", "integer"},
  {"recoveries", "integer"},
  {"owner", "text"},
  {"lease_expires_at", "bigint"},
  {"start_at", "bigint"},
  {"created_at", "bigint"},
  {"updated_at", "bigint"},
  {"started_at", "bigint"},
  {"expires_at", "bigint"},
  {"waiting_for_children_started_at", "bigint"},
  {"waiting_for_finalize_started_at", "bigint"},
  {"finished_at", "bigint"},
  {"closed_at", "bigint"},
  {"children", "jsonb"},
  {"finalize_task_id", "text"},
  {"finalize_id", "text"},
  {"step", "bigint"},
  {"watched", "boolean"},
}};

template <class T>
std::string num(T x) {
  return fmt::format("{}", x);
}

// -- decoding -----------------------------------------------------------------

[[noreturn]] void bad_value(std::string_view column) {
  throw std::runtime_error(
    fmt::format("unreadable value in column {} of executions", column));
}

std::int64_t to_int(std::string_view s, std::string_view column) {
  std::int64_t x = 0;
  const char* b = s.data();
  const char* e = b + s.size();
  auto [p, ec] = std::from_chars(b, e, x);
  if (ec != std::errc{} || p != e)
    bad_value(column);
  return x;
}

/// Reads columns as text; a NULL reads as the empty text, as libpqxx's
/// `field::c_str()` gives it.
struct reader {
  const column_texts& row;

  std::string_view field(std::size_t i) const {
    return row[i].value_or(std::string_view{});
  }

  bool null(std::size_t i) const {
    return !row[i].has_value();
  }

  std::string text(std::size_t i) const {
    return std::string{field(i)};
  }

  std::optional<std::string> opt_text(std::size_t i) const {
    if (null(i))
      return std::nullopt;
    return text(i);
  }

  std::int64_t integer(std::size_t i) const {
    return to_int(field(i), all_columns[i].name);
  }

  /// A finite double, all of the text: strtod read garbage as 0 and
  /// "Infinity" as a multiplier that enqueue never accepts (and that CAF
  /// 0.17's serializer hangs on).
  double multiplier(std::size_t i) const {
    auto f = field(i);
    double x = 0;
    auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), x);
    if (ec != std::errc{} || p != f.data() + f.size() || !std::isfinite(x))
      bad_value(all_columns[i].name);
    return x;
  }

  bool boolean(std::size_t i) const {
    auto f = field(i);
    return !f.empty() && f[0] == 't';
  }

  std::optional<timestamp> opt_time(std::size_t i) const {
    if (null(i))
      return std::nullopt;
    return from_micros(integer(i));
  }

  timestamp time(std::size_t i) const {
    return from_micros(integer(i));
  }
};

} // namespace

const std::array<column, column_count>& columns() {
  return all_columns;
}

std::size_t column_index(std::string_view name) {
  for (std::size_t i = 0; i < all_columns.size(); ++i)
    if (all_columns[i].name == name)
      return i;
  throw std::logic_error(fmt::format("no column {}", name));
}

std::string column_list(std::string_view alias) {
  std::string out;
  for (const auto& c : all_columns) {
    if (!out.empty())
      out += ", ";
    if (!alias.empty()) {
      out += alias;
      out += '.';
    }
    out += c.name;
  }
  return out;
}

namespace {

/// Walks the columns in order, encoding only the wanted ones.
class emitter {
public:
  emitter(const column_set& wanted, column_visitor& out)
    : wanted_(wanted), out_(out) {}

  /// Whether the next column is wanted; false skips it.
  bool next() {
    return wanted_[i_];
  }

  void text(std::string_view s) {
    if (next())
      out_.value(i_, s);
    ++i_;
  }

  void opt_text(const std::optional<std::string>& s) {
    if (s)
      text(*s);
    else
      null();
  }

  void null(std::size_t n = 1) {
    for (; n > 0; --n, ++i_)
      if (next())
        out_.null(i_);
  }

  void integer(std::int64_t x) {
    if (next()) {
      char buf[24];
      auto end = std::to_chars(std::begin(buf), std::end(buf), x).ptr;
      out_.value(i_, {buf, static_cast<std::size_t>(end - buf)});
    }
    ++i_;
  }

  void boolean(bool b) {
    text(b ? "t" : "f");
  }

  void time(timestamp t) {
    integer(to_micros(t));
  }

  void opt_time(const std::optional<timestamp>& t) {
    if (t)
      time(*t);
    else
      null();
  }

  /// A value whose encoding costs something: `make()` runs only if wanted.
  template <class F>
  void computed(F&& make) {
    if (next())
      out_.value(i_, make());
    ++i_;
  }

  std::size_t position() const noexcept {
    return i_;
  }

private:
  const column_set& wanted_;
  column_visitor& out_;
  std::size_t i_ = 0;
};

} // namespace

void encode(const execution_record& r, const column_set& wanted,
            column_visitor& out) {
  emitter e{wanted, out};
  e.text(r.id);
  e.text(r.task_id);
  e.integer(static_cast<int>(r.kind));
  if (r.parent) {
    e.text(r.parent->task_id);
    e.text(r.parent->execution_id);
    e.integer(r.parent->index);
    e.boolean(r.parent->is_only_child);
    e.boolean(r.parent->is_finalize);
  } else {
    e.null(5);
  }
  e.text(r.root.task_id);
  e.text(r.root.execution_id);
  e.opt_text(r.sleeping_id);
  e.opt_text(r.idempotency_key);
  e.integer(r.retry.max_attempts);
  e.integer(r.retry.base_delay.count());
  e.computed([&] { return num(r.retry.multiplier); });
  if (r.retry.max_delay)
    e.integer(r.retry.max_delay->count());
  else
    e.null();
  e.integer(static_cast<int>(r.retry.jitter));
  e.integer(r.sleep_before_run.count());
  e.integer(r.timeout.count());
  e.text(r.input);
  e.opt_text(r.output);
  e.opt_text(r.run_output);
  if (r.error) {
    e.integer(static_cast<int>(r.error->kind));
    e.text(r.error->message);
    e.boolean(r.error->retryable);
    e.boolean(r.error->internal);
  } else {
    e.null(4);
  }
  e.text(to_string(r.status));
  e.integer(static_cast<std::int64_t>(r.version));
  e.integer(r.attempt);
  e.integer(r.recoveries);
  e.opt_text(r.owner);
  e.opt_time(r.lease_expires_at);
  e.time(r.start_at);
  e.time(r.created_at);
  e.time(r.updated_at);
  e.opt_time(r.started_at);
  e.opt_time(r.expires_at);
  e.opt_time(r.waiting_for_children_started_at);
  e.opt_time(r.waiting_for_finalize_started_at);
  e.opt_time(r.finished_at);
  e.opt_time(r.closed_at);
  e.computed([&] { return nlohmann::json(r.children).dump(); });
  if (r.finalize) {
    e.text(r.finalize->task_id);
    e.text(r.finalize->execution_id);
  } else {
    e.null(2);
  }
  e.integer(r.step);
  e.boolean(r.watched);
  assert(e.position() == column_count);
}

execution_record decode(const pqxx::row& row, std::size_t offset) {
  column_texts texts;
  for (std::size_t i = 0; i < column_count; ++i) {
    auto f = row[static_cast<pqxx::row::size_type>(offset + i)];
    if (!f.is_null())
      texts[i] = std::string_view{f.c_str(), f.size()};
  }
  return decode(texts);
}

execution_record decode(const column_texts& row) {
  reader in{row};
  execution_record r;
  std::size_t i = 0;
  r.id = in.text(i++);
  r.task_id = in.text(i++);
  r.kind = static_cast<task_kind>(in.integer(i++));
  if (!in.null(4)) {
    parent_link p;
    p.task_id = in.text(3);
    p.execution_id = in.text(4);
    p.index = static_cast<std::uint32_t>(in.integer(5));
    p.is_only_child = in.boolean(6);
    p.is_finalize = in.boolean(7);
    r.parent = std::move(p);
  }
  i = 8;
  r.root.task_id = in.text(i++);
  r.root.execution_id = in.text(i++);
  r.sleeping_id = in.opt_text(i++);
  r.idempotency_key = in.opt_text(i++);
  r.retry.max_attempts = static_cast<int>(in.integer(i++));
  r.retry.base_delay = millis{in.integer(i++)};
  r.retry.multiplier = in.multiplier(i++);
  if (!in.null(i))
    r.retry.max_delay = millis{in.integer(i)};
  ++i;
  r.retry.jitter = static_cast<jitter_mode>(in.integer(i++));
  r.sleep_before_run = millis{in.integer(i++)};
  r.timeout = millis{in.integer(i++)};
  r.input = in.text(i++);
  r.output = in.opt_text(i++);
  r.run_output = in.opt_text(i++);
  if (!in.null(i)) {
    execution_error e;
    e.kind = static_cast<error_kind>(in.integer(i));
    e.message = in.opt_text(i + 1).value_or("");
    e.retryable = in.boolean(i + 2);
    e.internal = in.boolean(i + 3);
    r.error = std::move(e);
  }
  i += 4;
  auto st = parse_status(in.text(i++));
  if (!st)
    bad_value("status");
  r.status = *st;
  r.version = static_cast<std::uint64_t>(in.integer(i++));
  r.attempt = static_cast<int>(in.integer(i++));
  r.recoveries = static_cast<int>(in.integer(i++));
  r.owner = in.opt_text(i++);
  r.lease_expires_at = in.opt_time(i++);
  r.start_at = in.time(i++);
  r.created_at = in.time(i++);
  r.updated_at = in.time(i++);
  r.started_at = in.opt_time(i++);
  r.expires_at = in.opt_time(i++);
  r.waiting_for_children_started_at = in.opt_time(i++);
  r.waiting_for_finalize_started_at = in.opt_time(i++);
  r.finished_at = in.opt_time(i++);
  r.closed_at = in.opt_time(i++);
  r.children = nlohmann::json::parse(in.text(i++))
                 .get<std::vector<execution_ref>>();
  if (!in.null(i + 1))
    r.finalize = execution_ref{in.text(i), in.text(i + 1)};
  i += 2;
  r.step = static_cast<std::uint32_t>(in.integer(i++));
  r.watched = in.boolean(i++);
  return r;
}

std::vector<const char*> pointers(const std::vector<param>& values) {
  std::vector<const char*> out;
  out.reserve(values.size());
  for (const auto& v : values)
    out.push_back(v ? v->c_str() : nullptr);
  return out;
}

std::string to_array_literal(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0)
      out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\')
        out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string str(std::int64_t x) {
  return fmt::format("{}", x);
}

timestamp time_of(const pqxx::field& f) {
  return from_micros(f.as<std::int64_t>());
}

std::string clock_expr(int k) {
  return fmt::format("coalesce(${}::bigint, (extract(epoch from "
                     "clock_timestamp()) * 1000000)::bigint)",
                     k);
}

std::string now_expr(int k) {
  return fmt::format(
    "coalesce(${}::bigint, (extract(epoch from now()) * 1000000)::bigint)", k);
}

} // namespace durable::storage::pg
