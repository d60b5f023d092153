#include "storage_conformance/conformance.hpp"

#include <string_view>
#include <utility>

#include "durable/status.hpp"

namespace durable::test::conformance {

// -- fake_clock ---------------------------------------------------------------

namespace {

constexpr std::int64_t start_of_2024_us = 1'704'067'200'000'000;

} // namespace

fake_clock::fake_clock()
  : micros_(std::make_shared<std::atomic<std::int64_t>>(start_of_2024_us)) {}

timestamp fake_clock::now() const noexcept {
  return from_micros(micros_->load());
}

void fake_clock::advance(std::chrono::microseconds d) noexcept {
  micros_->fetch_add(d.count());
}

void fake_clock::set(timestamp t) noexcept {
  micros_->store(to_micros(t));
}

std::function<timestamp()> fake_clock::function() const {
  return [micros = micros_] { return from_micros(micros->load()); };
}

// -- event_recorder -----------------------------------------------------------

event_recorder::event_recorder(durable::store& s) : store_(s) {
  token_ = store_.subscribe([this](std::vector<store_event> events) {
    std::lock_guard guard{mutex_};
    calls_.push_back(std::move(events));
  });
}

event_recorder::~event_recorder() {
  unsubscribe();
}

std::vector<std::vector<store_event>> event_recorder::calls() const {
  std::lock_guard guard{mutex_};
  return calls_;
}

std::vector<store_event> event_recorder::events() const {
  std::lock_guard guard{mutex_};
  std::vector<store_event> out;
  for (const auto& call : calls_)
    out.insert(out.end(), call.begin(), call.end());
  return out;
}

std::vector<store_event> event_recorder::of(store_event::type kind) const {
  std::vector<store_event> out;
  for (auto& e : events())
    if (e.kind == kind)
      out.push_back(e);
  return out;
}

void event_recorder::clear() {
  std::lock_guard guard{mutex_};
  calls_.clear();
}

void event_recorder::unsubscribe() {
  if (token_) {
    store_.unsubscribe(*token_);
    token_.reset();
  }
}

// -- fixture ------------------------------------------------------------------

fixture::fixture(const store_factory& make) : store(make(clock.function())) {
  REQUIRE(store != nullptr);
}

execution_record fixture::make_row(std::string id, std::string task) const {
  task_options opts;
  opts.id = task;
  opts.timeout = 10s;
  auto r = make_execution(std::move(task), task_kind::task, opts, "null",
                          clock.now());
  r.id = std::move(id);
  r.root = {r.task_id, r.id};
  return r;
}

execution_record fixture::make_sleeper(std::string id, std::string sleeping_id,
                                       millis timeout) const {
  task_options opts;
  opts.id = "sleeper";
  opts.timeout = timeout;
  auto r = make_execution("sleeper", task_kind::sleeping, opts, "null",
                          clock.now());
  r.id = std::move(id);
  r.root = {r.task_id, r.id};
  r.sleeping_id = std::move(sleeping_id);
  return r;
}

execution_record fixture::make_child(const execution_record& parent,
                                     std::string id, std::uint32_t index,
                                     bool is_finalize) const {
  auto r = make_row(std::move(id), "task_child");
  r.parent = parent_link{parent.task_id, parent.id, index, false, is_finalize};
  r.root = parent.root;
  return r;
}

void fixture::put(std::vector<execution_record> rows) {
  auto n = rows.size();
  auto out = store->insert(std::move(rows));
  REQUIRE(out.size() == n);
  for (const auto& o : out)
    REQUIRE(o.result == insert_outcome::kind::inserted);
}

execution_record fixture::put(execution_record row) {
  auto id = row.id;
  put(std::vector<execution_record>{std::move(row)});
  return must_get(id);
}

execution_record fixture::must_get(const std::string& id) {
  auto r = store->get(id);
  REQUIRE_MESSAGE(r.has_value(), "no execution ", id);
  return std::move(*r);
}

claim_result fixture::claim(std::string owner, std::vector<std::string> tasks,
                            std::size_t limit, millis lease) {
  claim_request req;
  req.owner = std::move(owner);
  req.lease = lease;
  req.limit = limit;
  req.task_ids = std::move(tasks);
  return store->claim(req);
}

execution_record fixture::claim_one(const std::string& id, std::string owner) {
  auto res = claim(std::move(owner), {"task_a", "task_child"}, 1);
  REQUIRE(res.claimed.size() == 1);
  REQUIRE(res.claimed[0].id == id);
  return res.claimed[0];
}

write_outcome fixture::apply(transition t) {
  auto out = store->apply({std::move(t)});
  REQUIRE(out.size() == 1);
  return std::move(out[0]);
}

transition fixture::finish(const execution_record& r, execution_status s,
                           std::string message) const {
  transition t;
  t.next = r;
  t.expected_version = r.version;
  t.next.status = s;
  t.next.finished_at = clock.now();
  t.next.closed_at = clock.now();
  t.next.updated_at = clock.now();
  t.next.lease_expires_at.reset();
  if (is_errored(s))
    t.next.error = execution_error{error_kind::generic, std::move(message),
                                   false, false};
  else
    t.next.output = "\"done\"";
  return t;
}

transition fixture::touch(const execution_record& r) const {
  transition t;
  t.next = r;
  t.expected_version = r.version;
  t.next.updated_at = clock.now();
  return t;
}

// -- helpers ------------------------------------------------------------------

void check_same_row(const execution_record& expected,
                    const execution_record& actual) {
  INFO("execution ", expected.id);
  CHECK(actual.id == expected.id);
  CHECK(actual.task_id == expected.task_id);
  CHECK(actual.kind == expected.kind);
  CHECK(actual.parent == expected.parent);
  CHECK(actual.root == expected.root);
  CHECK(actual.sleeping_id == expected.sleeping_id);
  CHECK(actual.idempotency_key == expected.idempotency_key);
  CHECK(actual.retry == expected.retry);
  CHECK(actual.sleep_before_run == expected.sleep_before_run);
  CHECK(actual.timeout == expected.timeout);
  CHECK(actual.input == expected.input);
  CHECK(actual.output == expected.output);
  CHECK(actual.run_output == expected.run_output);
  CHECK(actual.error == expected.error);
  CHECK(actual.status == expected.status);
  CHECK(actual.version == expected.version);
  CHECK(actual.attempt == expected.attempt);
  CHECK(actual.recoveries == expected.recoveries);
  CHECK(actual.owner == expected.owner);
  CHECK(actual.lease_expires_at == expected.lease_expires_at);
  CHECK(actual.start_at == expected.start_at);
  CHECK(actual.created_at == expected.created_at);
  CHECK(actual.updated_at == expected.updated_at);
  CHECK(actual.started_at == expected.started_at);
  CHECK(actual.expires_at == expected.expires_at);
  CHECK(actual.waiting_for_children_started_at
        == expected.waiting_for_children_started_at);
  CHECK(actual.waiting_for_finalize_started_at
        == expected.waiting_for_finalize_started_at);
  CHECK(actual.finished_at == expected.finished_at);
  CHECK(actual.closed_at == expected.closed_at);
  CHECK(actual.children == expected.children);
  CHECK(actual.finalize == expected.finalize);
  CHECK(actual.step == expected.step);
  CHECK(actual.watched == expected.watched);
}

std::vector<std::string> ids_of(const std::vector<execution_record>& rows) {
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& r : rows)
    out.push_back(r.id);
  return out;
}

} // namespace durable::test::conformance

// -- readable failure messages ------------------------------------------------

namespace doctest {

String StringMaker<durable::timestamp>::convert(durable::timestamp t) {
  return toString(durable::to_micros(t)) + "us";
}

String StringMaker<std::optional<durable::timestamp>>::convert(
  const std::optional<durable::timestamp>& t) {
  return t ? StringMaker<durable::timestamp>::convert(*t) : String("nullopt");
}

String StringMaker<std::optional<std::string>>::convert(
  const std::optional<std::string>& s) {
  return s ? String(("\"" + *s + "\"").c_str()) : String("nullopt");
}

String
StringMaker<durable::execution_status>::convert(durable::execution_status s) {
  auto name = durable::to_string(s);
  return String(name.data(), static_cast<unsigned>(name.size()));
}

String StringMaker<durable::write_status>::convert(durable::write_status s) {
  switch (s) {
    case durable::write_status::applied:
      return "applied";
    case durable::write_status::conflict:
      return "conflict";
    case durable::write_status::not_found:
      return "not_found";
    case durable::write_status::rejected:
      return "rejected";
    case durable::write_status::refused:
      return "refused";
  }
  return "?";
}

String StringMaker<durable::insert_outcome::kind>::convert(
  durable::insert_outcome::kind k) {
  using kind = durable::insert_outcome::kind;
  switch (k) {
    case kind::inserted:
      return "inserted";
    case kind::duplicate_key:
      return "duplicate_key";
    case kind::duplicate_sleeping_id:
      return "duplicate_sleeping_id";
    case kind::duplicate_id:
      return "duplicate_id";
    case kind::refused:
      return "refused";
  }
  return "?";
}

String
StringMaker<durable::store_event::type>::convert(durable::store_event::type t) {
  using type = durable::store_event::type;
  switch (t) {
    case type::work_ready:
      return "work_ready";
    case type::finished:
      return "finished";
    case type::cancelled:
      return "cancelled";
    case type::deadline:
      return "deadline";
    case type::resync:
      return "resync";
    case type::corrupt:
      return "corrupt";
  }
  return "?";
}

} // namespace doctest
