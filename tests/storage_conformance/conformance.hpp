#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "durable/execution_record.hpp"
#include "durable/store.hpp"

/// # The storage conformance suite
///
/// Every backend of `durable::store` (memory, SQLite, PostgreSQL) must pass
/// the same cases, so the cases know nothing of any backend. A backend is a
/// tag type with
///
///     static std::shared_ptr<durable::store>
///     make(std::function<durable::timestamp()> clock);
///
/// returning a new, empty store whose clock is `clock`. The cases move that
/// clock by hand instead of sleeping, so a backend must take every time it
/// writes or compares from it (store.hpp requires that anyway: "every time
/// comes from now()").
///
/// Each case is a `TEST_CASE_TEMPLATE` over the tag types listed in
/// `DURABLE_CONFORMANCE_BACKENDS` (see backends.hpp), so doctest names it
/// "<behaviour><backend>" and CTest gets one entry per behaviour and backend.
/// An executable that runs other backends (the pg tier) compiles the same
/// case files with its own `DURABLE_CONFORMANCE_BACKENDS` definition and
/// `DURABLE_CONFORMANCE_EXTRA_HEADER` naming the header of its tags.
///
/// Test case names must not contain commas, semicolons, `*` or `?`: CTest's
/// doctest discovery passes them to `--test-case`, which treats those as
/// separators and wildcards.
namespace durable::test::conformance {

using namespace std::chrono_literals;

/// Makes a new, empty store on the given clock.
using store_factory = std::function<std::shared_ptr<durable::store>(
  std::function<timestamp()>)>;

/// A clock that only moves when told to. Copies share the same time, and the
/// function handed to the store stays valid after the clock is gone.
class fake_clock {
public:
  /// Starts at 2024-01-01T00:00:00Z.
  fake_clock();

  timestamp now() const noexcept;

  void advance(std::chrono::microseconds d) noexcept;

  void set(timestamp t) noexcept;

  /// The clock as the store takes it.
  std::function<timestamp()> function() const;

private:
  std::shared_ptr<std::atomic<std::int64_t>> micros_;
};

/// Collects what a store announces; one entry per listener call.
class event_recorder {
public:
  explicit event_recorder(durable::store& s);

  ~event_recorder();

  event_recorder(const event_recorder&) = delete;
  event_recorder& operator=(const event_recorder&) = delete;

  /// Every call so far, each with the events of one commit.
  std::vector<std::vector<store_event>> calls() const;

  /// Every event so far, in order.
  std::vector<store_event> events() const;

  /// The events of one kind, in order.
  std::vector<store_event> of(store_event::type kind) const;

  void clear();

  /// Stops recording (tests of unsubscribe()).
  void unsubscribe();

private:
  durable::store& store_;
  std::optional<std::uint64_t> token_;
  mutable std::mutex mutex_;
  std::vector<std::vector<store_event>> calls_;
};

/// A store on a fake clock plus builders, so cases state only what matters.
struct fixture {
  fake_clock clock;
  std::shared_ptr<durable::store> store;

  explicit fixture(const store_factory& make);

  /// A ready top-level execution of `task`, due now, timeout 10 s.
  execution_record make_row(std::string id, std::string task = "task_a") const;

  /// A sleeping execution, running with its deadline at now + `timeout`.
  execution_record make_sleeper(std::string id, std::string sleeping_id,
                                millis timeout = 60s) const;

  /// A ready child of `parent` at `index`.
  execution_record make_child(const execution_record& parent, std::string id,
                              std::uint32_t index,
                              bool is_finalize = false) const;

  /// Inserts rows and requires every one to be inserted.
  void put(std::vector<execution_record> rows);

  /// Inserts one row, requires it inserted and returns it as stored.
  execution_record put(execution_record row);

  /// The stored row; fails the case if it does not exist.
  execution_record must_get(const std::string& id);

  /// Claims for `owner` with a 30 s lease.
  claim_result claim(std::string owner = "owner_a",
                     std::vector<std::string> tasks = {"task_a"},
                     std::size_t limit = 1000, millis lease = 30s);

  /// Claims one row and requires that it was `id`.
  execution_record claim_one(const std::string& id,
                             std::string owner = "owner_a");

  /// Applies one transition.
  write_outcome apply(transition t);

  /// A transition from `r` to the end state `s` now (with an error for the
  /// errored states), the lease cleared.
  transition finish(const execution_record& r, execution_status s,
                    std::string message = "boom") const;

  /// A transition from `r` that changes nothing but `updated_at`.
  transition touch(const execution_record& r) const;
};

/// Requires that every field of `actual` equals the one of `expected`.
void check_same_row(const execution_record& expected,
                    const execution_record& actual);

/// Ids of rows, in order.
std::vector<std::string> ids_of(const std::vector<execution_record>& rows);

} // namespace durable::test::conformance

// -- readable failure messages ------------------------------------------------

namespace doctest {

template <>
struct StringMaker<durable::timestamp> {
  static String convert(durable::timestamp t);
};

template <>
struct StringMaker<std::optional<durable::timestamp>> {
  static String convert(const std::optional<durable::timestamp>& t);
};

template <>
struct StringMaker<std::optional<std::string>> {
  static String convert(const std::optional<std::string>& s);
};

template <>
struct StringMaker<durable::execution_status> {
  static String convert(durable::execution_status s);
};

template <>
struct StringMaker<durable::write_status> {
  static String convert(durable::write_status s);
};

template <>
struct StringMaker<durable::insert_outcome::kind> {
  static String convert(durable::insert_outcome::kind k);
};

template <>
struct StringMaker<durable::store_event::type> {
  static String convert(durable::store_event::type t);
};

} // namespace doctest

#include "storage_conformance/backends.hpp"

/// Defines one conformance case, run once per backend; the body refers to
/// the backend tag as `Backend`.
#define DURABLE_CONFORMANCE_CASE(name) \
  TEST_CASE_TEMPLATE(name, Backend, DURABLE_CONFORMANCE_BACKENDS)
