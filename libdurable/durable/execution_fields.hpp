#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "durable/execution_record.hpp"
#include "durable/stored_ranges.hpp"

/// # The fields of an execution_record, listed once
///
/// `fields::all` names every field of execution_record, in the one order
/// every form of a record follows: its JSON (execution_record.cpp), its CAF
/// wire form (actors/wire.hpp), the columns of both SQL stores
/// (storage/pg/row_codec.hpp, storage/sql/row_codec.hpp) and the range
/// checks (stored_ranges.cpp). Each of them iterates this list and encodes
/// a field by its C++ type, one overload per type; what the list says per
/// field is what the type cannot: its names, whether a string is a JSON
/// payload, who writes it, the range of its number.
///
/// **Adding a field.** Add the member to execution_record, then one line
/// here at the place it takes in the order above (that order is the wire
/// format and the column order: append unless you mean to change both),
/// then one migration per SQL store adding its column(s)
/// (storage/pg/schema.cpp, storage/sqlite/schema.cpp). Nothing else: a
/// member missing from the list fails the static_assert below, and a
/// field of a type some codec cannot encode yet fails to compile in that
/// codec (each has one overload or column layout per type, none generic).
///
/// **Deliberate differences between forms** are attributes of a field
/// (`json_key`, `payload`) or rules of a codec for a type (how
/// PostgreSQL flattens a parent link into five columns where SQLite keeps
/// it as JSON), never a second list.
///
/// **Threading.** Constants and pure functions: safe from any thread.
namespace durable::fields {

/// Who writes a field after the row is inserted.
enum class role : std::uint8_t {
  /// The row's key (`id`): sent with every write to find the row.
  key,
  /// Fixed at insert: a transition never changes it (store.hpp), so a
  /// store may leave it as it is instead of writing it again.
  insert,
  /// Replaced by every transition.
  transition,
  /// Managed by the store, never overwritten by a transition (`watched`).
  store,
};

/// One field: its names, its member and what its type does not say.
template <class T>
struct field {
  /// The member's C++ type: what decides how each codec encodes it.
  using type = T;

  /// The column name in both stores; a composite's columns start with it
  /// where a store flattens it (`parent` -> `parent_task_id`, ...).
  std::string_view name;
  /// The member of execution_record the field is.
  T execution_record::*member;
  /// The key in the record's JSON (to_json).
  std::string_view json_key;
  /// A string holding JSON text (input, output): embedded in the record's
  /// JSON as parsed JSON where it parses.
  bool payload = false;
  /// Who writes it after insert; a transition unless said otherwise.
  role writer = role::transition;
  /// The range every store keeps the number in (stored_ranges.hpp), for
  /// the numbers that have one.
  std::optional<stored_ranges::range> range;

  /// This field with JSON key `key` instead of its name.
  constexpr field json(std::string_view key) const {
    auto f = *this;
    f.json_key = key;
    return f;
  }

  /// This field marked as a JSON payload.
  constexpr field json_payload() const {
    auto f = *this;
    f.payload = true;
    return f;
  }

  /// This field written by `r` instead of by transitions.
  constexpr field written_by(role r) const {
    auto f = *this;
    f.writer = r;
    return f;
  }

  /// This field with its number kept in `r`.
  constexpr field in(stored_ranges::range r) const {
    auto f = *this;
    f.range = r;
    return f;
  }

  /// The field of `r`.
  ///@{
  T& of(execution_record& r) const noexcept {
    return r.*member;
  }

  const T& of(const execution_record& r) const noexcept {
    return r.*member;
  }
  ///@}
};

/// A field named `name` in every form.
template <class T>
constexpr field<T> make(std::string_view name, T execution_record::*m) {
  field<T> f{};
  f.name = name;
  f.member = m;
  f.json_key = name;
  return f;
}

/// Every field, in wire and column order.
inline constexpr auto all = [] {
  using r = execution_record;
  namespace sr = stored_ranges;
  constexpr auto fixed = role::insert;
  return std::tuple{
    make("id", &r::id).json("execution_id").written_by(role::key),
    make("task_id", &r::task_id).written_by(fixed),
    make("kind", &r::kind).in(sr::kind),
    make("parent", &r::parent).written_by(fixed),
    make("root", &r::root).written_by(fixed),
    make("sleeping_id", &r::sleeping_id).written_by(fixed),
    make("idempotency_key", &r::idempotency_key).written_by(fixed),
    make("retry", &r::retry).written_by(fixed),
    make("sleep_before_run_ms", &r::sleep_before_run)
      .written_by(fixed)
      .in(sr::sleep_before_run_ms),
    make("timeout_ms", &r::timeout).written_by(fixed).in(sr::timeout_ms),
    make("input", &r::input).json_payload().written_by(fixed),
    make("output", &r::output).json_payload(),
    make("run_output", &r::run_output).json_payload(),
    make("error", &r::error),
    make("status", &r::status),
    make("version", &r::version).in(sr::version),
    make("attempt", &r::attempt).in(sr::attempt),
    make("recoveries", &r::recoveries).in(sr::recoveries),
    make("owner", &r::owner),
    make("lease_expires_at", &r::lease_expires_at)
      .json("lease_expires_at_us")
      .in(sr::time_us),
    make("start_at", &r::start_at).json("start_at_us").in(sr::time_us),
    make("created_at", &r::created_at)
      .json("created_at_us")
      .written_by(fixed)
      .in(sr::time_us),
    make("updated_at", &r::updated_at).json("updated_at_us").in(sr::time_us),
    make("started_at", &r::started_at).json("started_at_us").in(sr::time_us),
    make("expires_at", &r::expires_at).json("expires_at_us").in(sr::time_us),
    make("waiting_for_children_started_at", &r::waiting_for_children_started_at)
      .json("waiting_for_children_started_at_us")
      .in(sr::time_us),
    make("waiting_for_finalize_started_at", &r::waiting_for_finalize_started_at)
      .json("waiting_for_finalize_started_at_us")
      .in(sr::time_us),
    make("finished_at", &r::finished_at).json("finished_at_us").in(sr::time_us),
    make("closed_at", &r::closed_at).json("closed_at_us").in(sr::time_us),
    make("children", &r::children),
    make("finalize", &r::finalize),
    make("step", &r::step).in(sr::index),
    make("watched", &r::watched).written_by(role::store),
    make("traceparent", &r::traceparent).written_by(fixed),
  };
}();

/// The number of fields.
inline constexpr std::size_t count = std::tuple_size_v<decltype(all)>;

/// Calls `f(field)` for each field, in order.
template <class F>
constexpr void for_each(F&& f) {
  std::apply([&f](const auto&... d) { (f(d), ...); }, all);
}

/// Calls `f(field)` for each field, in order, until one returns true;
/// returns whether one did.
template <class F>
constexpr bool any_of(F&& f) {
  return std::apply([&f](const auto&... d) { return (f(d) || ...); }, all);
}

/// The type of a field descriptor's member (`int` for
/// `field<int>`), for codecs' compile-time tables.
template <class Field>
using type_of = typename std::remove_cvref_t<Field>::type;

/// Whether `T` is a std::optional.
template <class T>
inline constexpr bool is_optional = false;

template <class T>
inline constexpr bool is_optional<std::optional<T>> = true;

/// A shared_text is an optional string too (left out of JSON when empty).
template <>
inline constexpr bool is_optional<shared_text> = true;

// -- the list covers the record ---------------------------------------------

namespace detail {

/// Converts to any member type: counts an aggregate's members.
struct any_member {
  template <class T>
  operator T() const;
};

template <class T, std::size_t... I>
constexpr bool initializable_with(std::index_sequence<I...>) {
  return requires {
    T{(void(I), any_member{})...};
  };
}

/// The number of members of aggregate `T`.
template <class T, std::size_t N = 0>
constexpr std::size_t member_count() {
  if constexpr (initializable_with<T>(std::make_index_sequence<N + 1>{}))
    return member_count<T, N + 1>();
  else
    return N;
}

constexpr bool unique_names() {
  std::array<std::string_view, count> names{};
  std::array<std::string_view, count> keys{};
  std::size_t n = 0;
  for_each([&](const auto& f) {
    names[n] = f.name;
    keys[n] = f.json_key;
    ++n;
  });
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t j = i + 1; j < count; ++j)
      if (names[i] == names[j] || keys[i] == keys[j])
        return false;
  return true;
}

} // namespace detail

static_assert(detail::member_count<execution_record>() == count,
              "every member of execution_record must be in fields::all");
static_assert(detail::unique_names(),
              "field names and JSON keys must be unique");

// -- column names built at compile time -------------------------------------

/// A column name made of a field's name and a suffix, held by value so that
/// codecs can build their column tables as constants.
struct column_name {
  /// The characters; only the first #size count (not NUL-terminated).
  std::array<char, 48> text{};
  /// The name's length, below 48.
  std::size_t size = 0;

  /// The name.
  constexpr std::string_view view() const noexcept {
    return {text.data(), size};
  }
};

/// `prefix` alone when `suffix` is empty, else `prefix_suffix`.
constexpr column_name join(std::string_view prefix, std::string_view suffix) {
  column_name out;
  auto put = [&out](std::string_view s) {
    for (char c : s) {
      if (out.size + 1 >= out.text.size())
        throw "column name too long"; // not a constant: fails to compile
      out.text[out.size++] = c;
    }
  };
  put(prefix);
  if (!suffix.empty()) {
    put("_");
    put(suffix);
  }
  return out;
}

} // namespace durable::fields
