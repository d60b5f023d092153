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

/// The names of the columns, built from the fields and their layouts.
constexpr auto column_names = [] {
  std::array<fields::column_name, column_count> out{};
  std::size_t i = 0;
  fields::for_each([&](const auto& f) {
    for (const auto& p : layout<fields::type_of<decltype(f)>>::columns)
      out[i++] = fields::join(f.name, p.suffix);
  });
  return out;
}();

constexpr auto all_columns = [] {
  std::array<column, column_count> out{};
  std::size_t i = 0;
  fields::for_each([&](const auto& f) {
    for (const auto& p : layout<fields::type_of<decltype(f)>>::columns) {
      out[i] = column{column_names[i].view(), p.type, f.writer};
      ++i;
    }
  });
  return out;
}();

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

// -- encoding, one overload per type (layout<T> in row_codec.hpp) -------------

void put(emitter& e, const std::string& s) {
  e.text(s);
}

void put(emitter& e, const std::optional<std::string>& s) {
  e.opt_text(s);
}

void put(emitter& e, const shared_text& s) {
  e.opt_text(s.to_optional());
}

void put(emitter& e, task_kind k) {
  e.integer(static_cast<int>(k));
}

void put(emitter& e, execution_status s) {
  e.text(to_string(s));
}

void put(emitter& e, bool b) {
  e.boolean(b);
}

void put(emitter& e, int x) {
  e.integer(x);
}

void put(emitter& e, std::uint32_t x) {
  e.integer(x);
}

void put(emitter& e, std::uint64_t x) {
  e.integer(static_cast<std::int64_t>(x));
}

void put(emitter& e, millis d) {
  e.integer(d.count());
}

void put(emitter& e, timestamp t) {
  e.time(t);
}

void put(emitter& e, const std::optional<timestamp>& t) {
  e.opt_time(t);
}

void put(emitter& e, const std::optional<parent_link>& p) {
  if (!p) {
    e.null(layout<parent_link>::columns.size());
    return;
  }
  e.text(p->task_id);
  e.text(p->execution_id);
  e.integer(p->index);
  e.boolean(p->is_only_child);
  e.boolean(p->is_finalize);
}

void put(emitter& e, const execution_ref& r) {
  e.text(r.task_id);
  e.text(r.execution_id);
}

void put(emitter& e, const std::optional<execution_ref>& r) {
  if (r)
    put(e, *r);
  else
    e.null(layout<execution_ref>::columns.size());
}

void put(emitter& e, const retry_options& r) {
  e.integer(r.max_attempts);
  e.integer(r.base_delay.count());
  e.computed([&] { return num(r.multiplier); });
  if (r.max_delay)
    e.integer(r.max_delay->count());
  else
    e.null();
  e.integer(static_cast<int>(r.jitter));
}

void put(emitter& e, const std::optional<execution_error>& x) {
  if (!x) {
    e.null(layout<execution_error>::columns.size());
    return;
  }
  e.integer(static_cast<int>(x->kind));
  e.text(x->message);
  e.boolean(x->retryable);
  e.boolean(x->internal);
}

void put(emitter& e, const std::vector<execution_ref>& children) {
  e.computed([&] { return nlohmann::json(children).dump(); });
}

// -- decoding, one overload per type: the columns from `i` on -----------------

void get(const reader& in, std::size_t i, std::string& out) {
  out = in.text(i);
}

void get(const reader& in, std::size_t i, std::optional<std::string>& out) {
  out = in.opt_text(i);
}

void get(const reader& in, std::size_t i, shared_text& out) {
  out = in.opt_text(i);
}

void get(const reader& in, std::size_t i, task_kind& out) {
  out = static_cast<task_kind>(in.integer(i));
}

void get(const reader& in, std::size_t i, execution_status& out) {
  auto st = parse_status(in.field(i));
  if (!st)
    bad_value(all_columns[i].name);
  out = *st;
}

void get(const reader& in, std::size_t i, bool& out) {
  out = in.boolean(i);
}

void get(const reader& in, std::size_t i, int& out) {
  out = static_cast<int>(in.integer(i));
}

void get(const reader& in, std::size_t i, std::uint32_t& out) {
  out = static_cast<std::uint32_t>(in.integer(i));
}

void get(const reader& in, std::size_t i, std::uint64_t& out) {
  out = static_cast<std::uint64_t>(in.integer(i));
}

void get(const reader& in, std::size_t i, millis& out) {
  out = millis{in.integer(i)};
}

void get(const reader& in, std::size_t i, timestamp& out) {
  out = in.time(i);
}

void get(const reader& in, std::size_t i, std::optional<timestamp>& out) {
  out = in.opt_time(i);
}

void get(const reader& in, std::size_t i, std::optional<parent_link>& out) {
  if (in.null(i + 1))
    return;
  parent_link p;
  p.task_id = in.text(i);
  p.execution_id = in.text(i + 1);
  p.index = static_cast<std::uint32_t>(in.integer(i + 2));
  p.is_only_child = in.boolean(i + 3);
  p.is_finalize = in.boolean(i + 4);
  out = std::move(p);
}

void get(const reader& in, std::size_t i, execution_ref& out) {
  out.task_id = in.text(i);
  out.execution_id = in.text(i + 1);
}

void get(const reader& in, std::size_t i, std::optional<execution_ref>& out) {
  if (!in.null(i + 1))
    get(in, i, out.emplace());
}

void get(const reader& in, std::size_t i, retry_options& out) {
  out.max_attempts = static_cast<int>(in.integer(i));
  out.base_delay = millis{in.integer(i + 1)};
  out.multiplier = in.multiplier(i + 2);
  if (!in.null(i + 3))
    out.max_delay = millis{in.integer(i + 3)};
  out.jitter = static_cast<jitter_mode>(in.integer(i + 4));
}

void get(const reader& in, std::size_t i, std::optional<execution_error>& out) {
  if (in.null(i))
    return;
  execution_error e;
  e.kind = static_cast<error_kind>(in.integer(i));
  e.message = in.text(i + 1);
  e.retryable = in.boolean(i + 2);
  e.internal = in.boolean(i + 3);
  out = std::move(e);
}

void get(const reader& in, std::size_t i, std::vector<execution_ref>& out) {
  auto text = in.field(i);
  out = nlohmann::json::parse(text.begin(), text.end())
          .get<std::vector<execution_ref>>();
}

} // namespace

void encode(const execution_record& r, const column_set& wanted,
            column_visitor& out) {
  emitter e{wanted, out};
  fields::for_each([&](const auto& f) { put(e, f.of(r)); });
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
  fields::for_each([&](const auto& f) {
    get(in, i, f.of(r));
    i += width<decltype(f)>;
  });
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
